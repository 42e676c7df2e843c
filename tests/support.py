"""What every test folder shares: the repository's paths, the runner and the host commands run as a user
runs them, the Docker CLI, a lab started as `make up` starts it. The REST client, the kernel websocket
client and the wait are labkit's own (labkit.host.rest, labkit.lab_client, labkit.host.net.wait_until).

Imported in the image too (tests/image): nothing here needs more than the standard library and labkit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from labkit import contract
from labkit.host.docker import Docker
from labkit.host.net import free_port
from labkit.host.rest import Answer, Rest
from labkit.host.settings import Settings

ROOT = Path(__file__).resolve().parents[1]  # the repository, or /opt/lab in the image
FIXTURES = ROOT / "tests" / "notebooks"
LESSONS = ROOT / "notebooks"
LAB_IMAGE = os.environ.get("LAB_IMAGE", contract.image_name("cpu"))
docker = Docker(Settings())


# ---- the runner, as a user runs it ------------------------------------------------------------------


@dataclass
class RunnerRun:
    returncode: int
    stdout: str
    stderr: str
    output_dir: Path

    @property
    def summary(self) -> dict:
        return json.loads((self.output_dir / "summary.json").read_text())

    def result(self, name: str) -> dict:
        matches = [n for n in self.summary["notebooks"] if Path(n["path"]).name == name]
        assert len(matches) == 1, f"{name} not in summary.json exactly once"
        return matches[0]


def run_runner(*args: str, output_dir: Path, timeout: int = 600) -> RunnerRun:
    """The run-notebooks command in a subprocess, from the repository's root."""
    proc = subprocess.run(
        [sys.executable, "-m", "labkit.runner", *args, "--output-dir", str(output_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return RunnerRun(proc.returncode, proc.stdout, proc.stderr, output_dir)


# ---- the host commands, as a user runs them -----------------------------------------------------------


def lab_command(*args: str, env: dict | None = None, via_make: bool = False, timeout: int = 600):
    """A host command as a user types it: `python3 scripts/lab.py COMMAND` (make's way), or `make COMMAND`."""
    cmd = ["make", "--no-print-directory", *args] if via_make else [sys.executable, "scripts/lab.py", *args]
    return subprocess.run(
        cmd, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )


def require_docker_engine(how_to_run: str) -> None:
    """Go on if a Docker engine answers; else fail loudly where the run requires one (REQUIRE_DOCKER=1,
    as CI and make test set), or skip with how to run these tests."""
    import pytest

    if docker.answer("info", "--format", "{{.ServerVersion}}") is None:
        if os.environ.get("REQUIRE_DOCKER") == "1":
            pytest.fail(f"REQUIRE_DOCKER=1 but no Docker engine answers to '{docker.command} info'")
        pytest.skip(f"no Docker engine; run through `{how_to_run}`")


# ---- a lab started as `make up` starts it -----------------------------------------------------------------


@dataclass
class RunningLab:
    """A lab started with the host commands, on its own port, project and workspace."""

    port: int
    workspace: Path
    token_file: Path
    env: dict
    url: str = ""
    said: str = ""  # what the last `up` printed on stderr

    @property
    def token(self) -> str:
        return self.token_file.read_text().strip()

    def command(self, *args: str, check: bool = True, timeout: int = 600, **env: str) -> subprocess.CompletedProcess:
        proc = lab_command(*args, env={**self.env, **env}, timeout=timeout)
        if check and proc.returncode != 0:
            import pytest

            pytest.fail(f"lab {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return proc

    def up(self, **env: str) -> str:
        proc = self.command("up", **env)
        self.url, self.said = proc.stdout.strip().splitlines()[-1], proc.stderr
        return self.url

    def container(self) -> str:
        return docker.compose_container(self.env["LAB_PROJECT"], "lab")

    def request(
        self, path: str, token: str | None = None, method: str = "GET", headers: dict | None = None, body=None
    ) -> Answer:
        """One request to the lab's server, with the given token (none if None)."""
        server = Rest(f"http://127.0.0.1:{self.port}", token or "", timeout=10)
        return server.request(method, path, body, headers=headers)


def start_lab(image: str, home: Path, lang: str = contract.DEFAULT_LANG, **knobs: str) -> RunningLab:
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
        **knobs,
    }
    env.pop("JUPYTER_TOKEN", None)
    env.setdefault("VARIANT", "cuda" if image.endswith(":cuda") else "cpu")
    lab = RunningLab(port=port, workspace=home / "workspace", token_file=home / "token", env=env)
    lab.up()
    return lab
