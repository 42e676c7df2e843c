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
