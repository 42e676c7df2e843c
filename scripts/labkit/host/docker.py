"""The Docker engine and Compose, as the host commands use them: one wrapper each, the containers a
project owns, a command in a throw-away container of an image, and waiting for a container to serve."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

from .net import TimedOut, wait_until
from .settings import Failure, Settings


def answers(cmd: list[str], timeout: float = 30, env: dict | None = None) -> str | None:
    """The first line a command prints, or None when it is missing, fails or hangs."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    lines = proc.stdout.strip().splitlines()
    return lines[0] if lines else ""


class Docker:
    """The Docker CLI that DOCKER names, run with the settings' environment."""

    def __init__(self, settings: Settings):
        self.command = settings.docker
        self.env = settings.env

    def __call__(
        self, *args: str, check: bool = True, timeout: float | None = 300, capture: bool = True, cwd: Path | None = None
    ) -> subprocess.CompletedProcess:
        """Run `docker ARGS`; stdout and stderr captured as text unless capture is False."""
        return subprocess.run(
            [self.command, *args],
            capture_output=capture,
            text=True,
            check=check,
            timeout=timeout,
            env=self.env,
            cwd=cwd,
        )

    def shown(self, *args: str) -> int:
        """Run `docker ARGS` for the user to watch (a pull, a push), on stderr: stdout stays for what a command
        answers. Its exit status."""
        return subprocess.run([self.command, *args], stdout=sys.stderr, env=self.env).returncode

    def answer(self, *args: str, timeout: float = 30) -> str | None:
        return answers([self.command, *args], timeout, self.env)

    def installed(self) -> bool:
        return shutil.which(self.command, path=self.env.get("PATH")) is not None

    def client_version(self) -> tuple[int, ...] | None:
        """The client's version, e.g. (20, 10, 24), from `docker --version`."""
        found = re.search(r"(\d+)\.(\d+)\.(\d+)", self.answer("--version") or "")
        return tuple(int(n) for n in found.groups()) if found else None

    def platform(self) -> str | None:
        """The engine's platform as images name it: linux/amd64, linux/arm64, ..."""
        line = self.answer("info", "--format", "{{.OSType}}/{{.Architecture}}")
        if not line:
            return None
        os_type, _, arch = line.partition("/")
        arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(arch, arch)
        return f"{os_type}/{arch}"

    # ---- containers and images ----------------------------------------------------------------

    def containers(self, *labels: str, running: bool = False) -> list[str]:
        """IDs of the containers carrying every label (`key=value` or `key`), stopped ones too unless running."""
        filters = [arg for label in labels for arg in ("--filter", f"label={label}")]
        out = self.answer_all("ps", *([] if running else ["-a"]), "-q", *filters)
        return out.split()

    def answer_all(self, *args: str) -> str:
        proc = self(*args, check=False)
        return proc.stdout if proc.returncode == 0 else ""

    def compose_container(self, project: str, service: str) -> str:
        """The container of one Compose service (v1 and v2 both label theirs), or ''."""
        found = self.containers(f"com.docker.compose.project={project}", f"com.docker.compose.service={service}")
        return found[0] if found else ""

    def state(self, cid: str) -> str:
        """healthy / unhealthy / starting where the image has a health check, else running, exited...; 'gone'."""
        template = "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}"
        return (self.answer("inspect", "--format", template, cid) if cid else None) or "gone"

    def running(self, cid: str) -> bool:
        return bool(cid) and self.answer("inspect", "--format", "{{.State.Running}}", cid) == "true"

    def image_label(self, image: str, label: str) -> str | None:
        return self.answer("image", "inspect", "--format", f'{{{{index .Config.Labels "{label}"}}}}', image)

    def image_id(self, image: str) -> str | None:
        """The image's ID (sha256:…), or None when there is no such image here."""
        return self.answer("image", "inspect", "--format", "{{.Id}}", image)

    def has_image(self, image: str) -> bool:
        return self.image_id(image) is not None

    def run_args(
        self,
        image: str,
        *command: str,
        volumes: tuple = (),
        env: tuple = (),
        workdir: str | None = None,
        user: str | None = None,
        entrypoint: str | None = None,
        options: tuple = (),
    ) -> list[str]:
        """The command line of `docker run --rm` of one command in a throw-away container, without the image's
        health check. volumes: "host:container[:ro]" strings; env: "NAME=value" or "NAME" (passed on from here)."""
        args = [self.command, "run", "--rm", "--no-healthcheck", *options]
        for volume in volumes:
            args += ["-v", volume]
        for item in env:
            args += ["-e", item]
        if workdir:
            args += ["-w", workdir]
        if user:
            args += ["--user", user]
        if entrypoint:
            args += ["--entrypoint", entrypoint]
        return [*args, image, *command]

    def run_in_image(
        self,
        image: str,
        *command: str,
        capture: bool = True,
        check: bool = False,
        timeout: float | None = None,
        **where,
    ) -> subprocess.CompletedProcess:
        """Run one command in a throw-away container of image (run_args says how), to its end."""
        return self(*self.run_args(image, *command, **where)[1:], check=check, capture=capture, timeout=timeout)

    def wait_serving(
        self, cid: str, ready: Callable[[], bool], timeout: float, name: str, logs: Callable[[], object], fix: str
    ) -> None:
        """Wait until ready() while the container lives; a dead or unhealthy one shows its log and stops the command."""

        def serving() -> bool:
            state = self.state(cid)
            if state in ("unhealthy", "exited", "dead", "gone"):
                logs()
                raise Failure(f"{name} did not start ({state}); its log is above ({fix})")
            return state == "healthy" or ready()

        try:
            wait_until(serving, timeout, interval=0.2, what=name)
        except TimedOut:
            raise Failure(f"{name} did not answer after {timeout:.0f}s; {fix}") from None


# ---- Compose -------------------------------------------------------------------------------------


def compose_command(docker: Docker, choice: str) -> list[str] | None:
    """The Compose to use: v2 (`docker compose`) or v1 (`docker-compose`); auto prefers v2; None when missing."""
    v2 = [docker.command, "compose"]
    v1 = ["docker-compose"]
    has_v2 = lambda: answers([*v2, "version"], env=docker.env) is not None  # noqa: E731
    has_v1 = lambda: shutil.which("docker-compose", path=docker.env.get("PATH")) is not None  # noqa: E731
    if choice == "v2":
        return v2 if has_v2() else None
    if choice == "v1":
        return v1 if has_v1() else None
    if has_v2():
        return v2
    return v1 if has_v1() else None


def compose_missing(choice: str) -> Failure:
    wanted = {"v1": "docker-compose (v1)", "v2": "the compose plugin (docker compose)"}.get(
        choice, "the compose plugin (docker compose) or docker-compose"
    )
    return Failure(f"Docker Compose is missing; install {wanted} (package docker-compose-plugin)")


class Compose:
    """One Compose project: its file, its name and the variables its file reads."""

    def __init__(self, settings: Settings, file: Path, project: str, variables: dict):
        self.docker = Docker(settings)
        self.choice = settings.compose_choice
        self.file = file
        self.project = project
        self.env = {**settings.env, **variables}

    def command(self) -> list[str]:
        cmd = compose_command(self.docker, self.choice)
        if cmd is None:
            raise compose_missing(self.choice)
        return cmd

    def __call__(self, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.command(), "-f", str(self.file), "-p", self.project, *args],
            cwd=self.file.parent,
            env=self.env,
            capture_output=capture,
            text=True,
        )

    def container(self, service: str) -> str:
        return self.docker.compose_container(self.project, service)
