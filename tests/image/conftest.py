"""Fixtures of the tests that run wherever the lab's dependencies and labkit are installed (the image, a venv)."""

import pytest

from support import RunnerRun, run_runner


@pytest.fixture
def runner(tmp_path):
    def run(*args: str, timeout: int = 600) -> RunnerRun:
        return run_runner(*args, output_dir=tmp_path / "out", timeout=timeout)

    return run
