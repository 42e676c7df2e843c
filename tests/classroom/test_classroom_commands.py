"""The classroom's host commands refuse bad input in one line, before building or starting anything."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from labkit.engine import ROOT


def classroom_command(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/lab.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_hub_port_that_is_not_a_number_is_refused_in_one_line():
    proc = classroom_command("classroom-up", HUB_PORT="eight thousand")
    assert proc.returncode == 1
    assert proc.stderr == "error: HUB_PORT must be a port number (1-65535), not 'eight thousand'\n"


def test_a_hub_port_in_use_is_refused_with_the_next_one_to_try():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = classroom_command("classroom-up", HUB_PORT=str(port), CLASSROOM_PROJECT=f"pytorch-lab-unused-{port}")
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == (
        f"error: port {port} is already in use on 127.0.0.1; stop what uses it or pick another port: "
        f"make classroom-up HUB_PORT={port + 1}"
    )


def test_a_bad_language_is_refused_before_anything_is_built():
    proc = classroom_command("classroom-up", LAB_LANG="fr")
    assert proc.returncode == 1
    assert proc.stderr == "error: LAB_LANG must be zh (中文) or en (English), not 'fr'\n"


def test_the_hub_image_starts_from_the_lab_images_default_base():
    def base(path: str) -> str:
        lines = (ROOT / path).read_text().splitlines()
        return next(line for line in lines if line.startswith("ARG BASE_IMAGE="))

    assert base("classroom/Dockerfile") == base("docker/Dockerfile")
