"""The maintainer's tools on the host: the test tools' virtualenv, the linters, the lesson build."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .. import lesson_build
from .settings import ROOT, Settings, say

HOST_VENV = ROOT / "build" / "venv"
HOST_LOCK = ROOT / "tests" / "requirements-host.lock"
# Code that runs on the student's host: the standard library of Python 3.9 and nothing newer
# (vermin checks the version here; tests/unit/test_import_graph.py the imports).
HOST_SIDE = (
    "scripts/lab.py",
    "scripts/labkit/__init__.py",
    "scripts/labkit/bench/__init__.py",
    "scripts/labkit/contract.py",
    "scripts/labkit/host",
    "scripts/labkit/lesson_build.py",
    "scripts/labkit/lesson.py",
    "scripts/labkit/bench/measure.py",
    "scripts/labkit/bench/report.py",
    "scripts/labkit/bench/classroom_scale.py",
)


def host_venv(settings: Settings) -> Path:
    """build/venv with the host's test and lint tools (tests/requirements-host.lock) and labkit, made once per lock."""
    python = HOST_VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    stamp = HOST_VENV / ".lock"
    if not python.exists() or not stamp.exists() or stamp.read_bytes() != HOST_LOCK.read_bytes():
        say("installing the host test tools into build/venv")
        subprocess.run([sys.executable, "-m", "venv", str(HOST_VENV)], check=True, env=settings.env)
        pip = [str(python), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "--require-hashes", "-r", str(HOST_LOCK)], check=True, env=settings.env)
        # labkit itself; its dependencies are in the lock already.
        subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True, env=settings.env)
        shutil.copyfile(HOST_LOCK, stamp)
    return python


def pytest(settings: Settings, folder: str, env: dict) -> int:
    """A folder of tests run with the host's test tools, PYTEST_ARGS added: pytest's exit status."""
    args = [str(host_venv(settings)), "-m", "pytest", "-p", "no:cacheprovider", folder, *settings.words("PYTEST_ARGS")]
    return subprocess.run(args, cwd=ROOT, env={**settings.env, **env}).returncode


def lint(settings: Settings) -> int:
    python = host_venv(settings)
    tools = python.parent
    shell_scripts = sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*.sh") if "build" not in p.parts)
    python_files = ["scripts", "tests", "classroom", "docker"]
    steps = [
        [str(tools / "hadolint"), "docker/Dockerfile", "classroom/Dockerfile"],
        [str(tools / "shellcheck"), *shell_scripts, ".ci/run"],
        [str(tools / "ruff"), "check", *python_files],
        [str(tools / "ruff"), "format", "--check", *python_files],
        # The host commands run on the Python that macOS ships (3.9): nothing newer may creep in.
        [str(tools / "vermin"), "--no-tips", "--violations", "--target=3.9-", "--eval-annotations", *HOST_SIDE],
    ]
    failed = 0
    for step in steps:
        proc = subprocess.run(step, cwd=ROOT, env=settings.env)
        name = Path(step[0]).name + (" " + step[1] if Path(step[0]).name == "ruff" else "")
        if proc.returncode != 0:
            print(f"lint: {name} found problems (above)", file=sys.stderr)
            failed = 1
        else:
            say(f"{name}: clean")
    return failed


def lessons(check: bool) -> int:
    return lesson_build.main(["--check"] if check else [])
