"""Helpers of the tests that run wherever the lab's dependencies and labkit are installed (the image, a venv)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository, or /opt/lab in the image
FIXTURES = Path(__file__).resolve().parent / "notebooks"
LESSONS = ROOT / "notebooks"


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
    """Run the run-notebooks command as a user would, in a subprocess, from the repository's root."""
    proc = subprocess.run(
        [sys.executable, "-m", "labkit.cli", *args, "--output-dir", str(output_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return RunnerRun(proc.returncode, proc.stdout, proc.stderr, output_dir)


def require_docker_engine(how_to_run: str) -> None:
    """Go on if a Docker engine answers; else fail loudly where the run requires one (REQUIRE_DOCKER=1,
    as CI and make test set), or skip with how to run these tests."""
    import pytest

    from labkit import engine

    try:
        ok = engine.docker("info", check=False, timeout=30).returncode == 0
    except FileNotFoundError:
        ok = False
    if not ok:
        if os.environ.get("REQUIRE_DOCKER") == "1":
            pytest.fail(f"REQUIRE_DOCKER=1 but no Docker engine answers to '{engine.docker_command()} info'")
        pytest.skip(f"no Docker engine; run through `{how_to_run}`")
