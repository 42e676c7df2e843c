"""Helpers of the host tests: the Docker CLI, and a lab started as `make up` starts it."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from labtest import ROOT

DOCKER = os.environ.get("DOCKER", "docker")
LAB_IMAGE = os.environ.get("LAB_IMAGE", "pytorch-lab:cpu")


def docker(*args: str, check: bool = True, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, check=check, timeout=timeout)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    """A lab started with scripts/lab.sh, as `make up` starts it, on its own port and workspace."""

    port: int
    workspace: Path
    token_file: Path
    env: dict
    url: str = ""

    @property
    def token(self) -> str:
        return self.token_file.read_text().strip()

    def lab_sh(self, *args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
        proc = subprocess.run(["scripts/lab.sh", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            pytest.fail(f"scripts/lab.sh {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return proc

    def up(self) -> str:
        self.url = self.lab_sh("up").stdout.strip().splitlines()[-1]
        return self.url

    def container(self) -> str:
        return docker("ps", "-q", "--filter", f"label=com.docker.compose.project={self.env['LAB_PROJECT']}").stdout.strip()

    def request(self, path: str, token: str | None = None, method: str = "GET", headers: dict | None = None, body: bytes | None = None):
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
