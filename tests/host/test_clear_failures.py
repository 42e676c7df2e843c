"""What a user sees when something is missing: one line, what is wrong, what to do, within seconds."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import ROOT, lab_command

pytestmark = pytest.mark.docker

HAS_GPU = shutil.which("nvidia-smi") is not None


def make(*args: str, env: dict | None = None, timeout: int = 60) -> tuple[subprocess.CompletedProcess, float]:
    """make ARGS, as a user types it; with how long it took."""
    started = time.monotonic()
    proc = lab_command(*args, env={"CI": "1", **(env or {})}, via_make=True, timeout=timeout)
    return proc, time.monotonic() - started


def error_lines(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if not re.match(r"make(\[\d+\])?: \*\*\*", line)]


def check_name(doctor_line: str) -> str:
    """doctor prints 'ok    NAME            finding' with NAME in a 15-wide column."""
    return doctor_line[6:21].strip()


def test_missing_docker_says_what_to_install():
    proc, _ = make("up", env={"DOCKER": "/nonexistent/docker"})
    assert proc.returncode != 0
    assert error_lines(proc) == [
        "error: Docker is not installed ('/nonexistent/docker' not found); "
        "install Docker Engine (Linux) or Docker Desktop, then retry"
    ]


def test_a_stopped_engine_says_to_start_it(tmp_path):
    proc, _ = make("up", env={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"})
    assert proc.returncode != 0
    [line] = error_lines(proc)
    assert line.startswith("error: the Docker engine is not running") and "start it" in line


@pytest.mark.skipif(HAS_GPU, reason="this host has an NVIDIA driver: the no-GPU path cannot be shown here")
@pytest.mark.parametrize("target", [["test-gpu"], ["up", "VARIANT=cuda"]], ids=["test-gpu", "up-cuda"])
def test_cuda_without_an_nvidia_stack_fails_fast_before_building(target):
    proc, seconds = make(*target, env={"IMAGE": "pytorch-lab:must-not-be-built"})
    assert proc.returncode != 0
    [line] = error_lines(proc)
    assert line.startswith("error: no NVIDIA driver on this host (nvidia-smi not found)")
    assert seconds < 15
    assert "building" not in proc.stderr


def test_doctor_passes_for_the_cpu_lab():
    proc, _ = make("doctor", "VARIANT=cpu", env={"LAB_PORT": "18765"})
    assert proc.returncode == 0, proc.stdout
    names = [check_name(line) for line in proc.stdout.splitlines()]
    assert names == ["docker", "engine", "buildkit", "platform", "compose", "disk", "port", "base image", "indexes"]
    platform_line = next(line for line in proc.stdout.splitlines() if check_name(line) == "platform")
    assert re.search(r"images are built for linux/(amd64|arm64), natively$", platform_line), platform_line
    assert all(line.startswith("ok ") for line in proc.stdout.splitlines())


def test_doctor_reports_the_gpu_stack_for_cuda():
    proc, _ = make("doctor", "VARIANT=cuda", env={"LAB_PORT": "18765"})
    lines = {check_name(line): line for line in proc.stdout.splitlines()}
    assert {"nvidia driver", "nvidia runtime", "disk"} <= set(lines)
    if not HAS_GPU:
        assert proc.returncode != 0
        assert lines["nvidia driver"].startswith("FAIL  nvidia driver   no NVIDIA driver on this host")
        assert lines["nvidia runtime"].startswith("FAIL  nvidia runtime  Docker has no NVIDIA runtime")


def test_doctor_names_a_busy_port_and_the_fix():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc, _ = make("doctor", env={"LAB_PORT": str(port), "LAB_PROJECT": "pytorch-lab-doctor"})
    assert proc.returncode != 0
    [line] = [line for line in proc.stdout.splitlines() if check_name(line) == "port"]
    assert (
        line
        == f"FAIL  port            port {port} is already in use on 127.0.0.1; stop what uses it or pick another port: "
        f"make up LAB_PORT={port + 1}"
    )


def test_hadolint_passes_on_the_dockerfile():
    hadolint = Path(sys.executable).with_name("hadolint")
    proc = subprocess.run([str(hadolint), str(ROOT / "docker" / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


NEWER_CLIENT = os.environ.get("DOCKER_WITHOUT_BUILDX", "/usr/local/bin/docker")


@pytest.fixture
def client_without_buildx(tmp_path):
    """A Docker client of 23 or newer with no buildx plugin: an empty DOCKER_CONFIG hides the user's plugins."""
    version = (
        subprocess.run([NEWER_CLIENT, "--version"], capture_output=True, text=True).stdout
        if Path(NEWER_CLIENT).exists()
        else ""
    )
    found = re.search(r"(\d+)\.\d+\.\d+", version)
    if not found or int(found.group(1)) < 23:
        pytest.fail(
            f"no Docker client of 23 or newer at {NEWER_CLIENT} (set DOCKER_WITHOUT_BUILDX); this machine kind has one"
        )
    env = {"DOCKER": NEWER_CLIENT, "DOCKER_CONFIG": str(tmp_path / "empty-docker-config")}
    probe = subprocess.run(
        [NEWER_CLIENT, "buildx", "version"], capture_output=True, text=True, env={**os.environ, **env}
    )
    if probe.returncode == 0:
        pytest.fail(
            f"{NEWER_CLIENT} finds buildx even with an empty DOCKER_CONFIG (a system-wide plugin); "
            "install buildx under ~/.docker/cli-plugins instead, as .ci/run does"
        )
    return env


BUILDX_FIX = (
    "has no buildx plugin, so it cannot build the lab's image; install buildx (package docker-buildx-plugin, "
    "or docker-buildx on Debian and Ubuntu; Docker Desktop ships it), then check 'docker buildx version'"
)


def test_doctor_fails_in_one_line_without_buildx(client_without_buildx):
    proc, _ = make("doctor", "VARIANT=cpu", env={**client_without_buildx, "LAB_PORT": "18765"})
    assert proc.returncode != 0
    [line] = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
    assert line.startswith("FAIL  buildkit        the Docker client ") and line.endswith(BUILDX_FIX), line


def test_a_build_without_buildx_stops_before_docker_says_anything(client_without_buildx):
    proc, _ = make("build", "VARIANT=cpu", env={**client_without_buildx, "IMAGE": "pytorch-lab:must-not-be-built"})
    assert proc.returncode != 0
    [line] = error_lines(proc)
    assert line.startswith("error: the Docker client ") and line.endswith(BUILDX_FIX), line


@pytest.fixture
def arm64_engine(tmp_path):
    """The Docker CLI as it answers on Apple Silicon: the engine reports aarch64; all else is the real engine's.

    No arm64 engine can run here (no emulation), so this one answer is substituted; the command
    under test is the real one."""
    real = subprocess.run(
        ["sh", "-c", f"command -v {os.environ.get('DOCKER', 'docker')}"], capture_output=True, text=True
    ).stdout.strip()
    shim = tmp_path / "docker"
    shim.write_text(f"""#!/bin/sh
if [ "$1" = info ] && [ "$3" = '{{{{.OSType}}}}/{{{{.Architecture}}}}' ]; then echo linux/aarch64; exit 0; fi
exec {real} "$@"
""")
    shim.chmod(0o755)
    return {"DOCKER": str(shim)}


ARM64_CUDA = "the CUDA image is built for linux/amd64 only, and this Docker engine is linux/arm64; use VARIANT=cpu"


def test_cuda_on_an_arm64_engine_is_refused_in_one_line(arm64_engine):
    proc, seconds = make("up", "VARIANT=cuda", env={**arm64_engine, "IMAGE": "pytorch-lab:must-not-be-built"})
    assert proc.returncode != 0
    assert error_lines(proc) == [f"error: {ARM64_CUDA}"]
    proc, _ = make("doctor", "VARIANT=cuda", env={**arm64_engine, "LAB_PORT": "18765"})
    [line] = [line for line in proc.stdout.splitlines() if check_name(line) == "platform"]
    assert line == f"FAIL  platform        {ARM64_CUDA}"
    proc, _ = make("doctor", "VARIANT=cpu", env={**arm64_engine, "LAB_PORT": "18765"})
    [line] = [line for line in proc.stdout.splitlines() if check_name(line) == "platform"]
    assert line == "ok    platform        images are built for linux/arm64, natively"
