"""The host side's helpers: the repository, the Docker engine and Compose, ports, waiting, tokens.

Used by the host commands (labkit.host), the benchmarks (labkit.bench) and the host tests.
Standard library only, Python 3.9 or newer: it runs on Linux, macOS and Windows as they come.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, TypeVar

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DOCKER = "docker"
T = TypeVar("T")


def docker_command() -> str:
    return os.environ.get("DOCKER") or DEFAULT_DOCKER


def docker(
    *args: str, check: bool = True, timeout: float = 300, docker_cmd: str | None = None, capture: bool = True
) -> subprocess.CompletedProcess:
    """Run the Docker CLI; stdout and stderr captured as text unless capture is False."""
    return subprocess.run(
        [docker_cmd or docker_command(), *args], capture_output=capture, text=True, check=check, timeout=timeout
    )


def answers(cmd: list[str], timeout: float = 30) -> str | None:
    """The first line a command prints, or None when it is missing or fails."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    lines = proc.stdout.strip().splitlines()
    return lines[0] if lines else ""


def compose_command(docker_cmd: str, choice: str = "auto") -> list[str] | None:
    """The Compose to use: v2 (`docker compose`) or v1 (`docker-compose`); auto prefers v2."""
    v2 = [docker_cmd, "compose"]
    v1 = ["docker-compose"]
    if choice == "v2":
        return v2 if answers([*v2, "version"]) is not None else None
    if choice == "v1":
        return v1 if shutil.which("docker-compose") else None
    if answers([*v2, "version"]) is not None:
        return v2
    return v1 if shutil.which("docker-compose") else None


def client_version(docker_cmd: str) -> tuple[int, ...] | None:
    """The Docker client's version, e.g. (20, 10, 24), from `docker --version`."""
    line = answers([docker_cmd, "--version"])
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", line or "")
    return tuple(int(n) for n in found.groups()) if found else None


def engine_platform(docker_cmd: str) -> str | None:
    """The engine's platform as images name it: linux/amd64, linux/arm64, ..."""
    line = answers([docker_cmd, "info", "--format", "{{.OSType}}/{{.Architecture}}"])
    if not line:
        return None
    os_type, _, arch = line.partition("/")
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(arch, arch)
    return f"{os_type}/{arch}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    """True when something on this machine accepts connections on 127.0.0.1:port."""
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def http_status(port: int, path: str, timeout: float = 2, host: str = "127.0.0.1") -> int | None:
    """The status of GET path on 127.0.0.1:port, or None when nothing answers."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


class TimedOut(Exception):
    pass


def wait_until(predicate: Callable[[], T], timeout: float, interval: float = 0.2, what: str = "a condition") -> T:
    """Poll predicate() until it returns something truthy; TimedOut after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimedOut(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def new_token() -> str:
    return secrets.token_hex(24)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (mode 600), from its first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def words(text: str | None) -> list[str]:
    """A knob that holds a list (NB, PARAMS, PYTEST_ARGS), split as a shell would."""
    return shlex.split(text or "")
