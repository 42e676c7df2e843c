"""Helpers of the host tests: the Docker CLI, and a lab started as `make up` starts it.

The engine calls, ports, waiting and the repository's root are labkit.engine's, as for the
host commands and the benchmarks (the host venv has labkit installed without its dependencies).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from labkit import engine
from labkit.engine import ROOT, free_port  # noqa: F401  (the tests' one source of both)

DOCKER = engine.docker_command()
LAB_IMAGE = os.environ.get("LAB_IMAGE", "pytorch-lab:cpu")


def docker(*args: str, check: bool = True, timeout: int = 300) -> subprocess.CompletedProcess:
    return engine.docker(*args, check=check, timeout=timeout)


def wait_until(predicate, timeout: float, interval: float = 0.25, what: str = "condition"):
    try:
        return engine.wait_until(predicate, timeout, interval, what)
    except engine.TimedOut as exc:
        pytest.fail(str(exc))


def lab_command(*args: str, env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    """A host command as the Makefile runs it: python3 scripts/lab.py COMMAND."""
    return subprocess.run(
        [sys.executable, "scripts/lab.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


@dataclass
class Lab:
    """A lab started with the host commands, as `make up` starts it, on its own port and workspace."""

    port: int
    workspace: Path
    token_file: Path
    env: dict
    url: str = ""

    @property
    def token(self) -> str:
        return self.token_file.read_text().strip()

    def command(self, *args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
        proc = lab_command(*args, env=self.env, timeout=timeout)
        if check and proc.returncode != 0:
            pytest.fail(f"lab {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return proc

    def up(self) -> str:
        self.url = self.command("up").stdout.strip().splitlines()[-1]
        return self.url

    def container(self) -> str:
        return docker(
            "ps", "-q", "--filter", f"label=com.docker.compose.project={self.env['LAB_PROJECT']}"
        ).stdout.strip()

    def request(
        self,
        path: str,
        token: str | None = None,
        method: str = "GET",
        headers: dict | None = None,
        body: bytes | None = None,
    ):
        """(status, headers, body) of one HTTP request to the lab."""
        import urllib.error
        import urllib.request

        url = f"http://127.0.0.1:{self.port}{path}"
        req = urllib.request.Request(url, method=method, data=body, headers=dict(headers or {}))
        if token is not None:
            req.add_header("Authorization", f"token {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()


def start_lab(image: str, home: Path, lang: str = "zh") -> Lab:
    port = free_port()
    env = {
        **os.environ,
        "IMAGE": image,
        "LAB_PORT": str(port),
        "LAB_LANG": lang,
        "LAB_PROJECT": f"pytorch-lab-test-{port}",
        "LAB_WORKSPACE": str(home / "workspace"),
        "LAB_TOKEN_FILE": str(home / "token"),
        "LAB_GPU": "0",  # the CUDA image is tested on the CPU, as CI can
        "OPEN_BROWSER": "0",
    }
    env.pop("JUPYTER_TOKEN", None)
    env.setdefault("VARIANT", "cuda" if image.endswith(":cuda") else "cpu")
    lab = Lab(port=port, workspace=home / "workspace", token_file=home / "token", env=env)
    lab.up()
    return lab
