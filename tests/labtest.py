"""Helpers shared by the lab's tests: running the runner as a user would, waiting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "scripts" / "run_notebooks.py"
FIXTURES = Path(__file__).resolve().parent / "notebooks"


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
    """Run scripts/run_notebooks.py as a user would, in a subprocess."""
    proc = subprocess.run(
        [sys.executable, str(RUNNER), *args, "--output-dir", str(output_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return RunnerRun(proc.returncode, proc.stdout, proc.stderr, output_dir)


def wait_until(predicate, timeout: float, interval: float = 0.25, what: str = "condition"):
    """Poll predicate() until it returns something truthy; fail after timeout seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
