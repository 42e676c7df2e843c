"""Notebooks as pytest items: `pytest notebooks/` runs every lesson, one item per way it is run.

Loaded through the pytest11 entry point of the installed labkit, as nbmake is, so `-k 09_linear`,
`--lf`, `-n auto` (pytest-xdist), per-item durations and `--junitxml` work on lessons. Each item
executes its notebook in-process through labkit.execute (the kernel is a child process), into a
temporary folder; the source is never written.

- A lesson (NN_topic.ipynb whose metadata has pytorch_lab.profiles) yields:
  ``quick`` and ``full`` (its profiles, reference solutions filled in: every exercise passes),
  ``student`` (quick, solutions off: passes, every exercise "not done"), and in its first
  language also ``wrong`` (every exercise's wrong answer rejected) and ``cuda`` (device="cuda":
  runs on a GPU; elsewhere stops in its first cells with a one-line SystemExit).
- A fixture notebook (metadata pytorch_lab.expect) yields one item that checks the runner's verdict:
  status, the error line (a regular expression), metrics, with the expectation's parameters and timeout.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from . import execute
from .contract import LANGUAGES, METADATA_KEY
from .notebooks import LESSON_PATTERN, display_path, load, resolve_parameters

CUDA_STOP = re.compile(
    r"cell [1-4] \(In \[\d\]\): SystemExit: device='cuda' was asked for, but PyTorch sees no CUDA GPU"
)


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix != ".ipynb" or ".ipynb_checkpoints" in file_path.parts:
        return None
    try:
        meta = json.loads(file_path.read_text(encoding="utf-8")).get("metadata", {}).get(METADATA_KEY)
    except (ValueError, UnicodeDecodeError):
        return None  # not a notebook: the runner's own tests cover what it says about one
    if not isinstance(meta, dict):
        return None
    if "expect" in meta:
        return FixtureNotebook.from_parent(parent, path=file_path)
    if "profiles" in meta and LESSON_PATTERN.match(file_path.name):
        return LessonNotebook.from_parent(parent, path=file_path)
    return None


class NotebookFailure(Exception):
    pass


class NotebookRun(pytest.Item):
    """One execution of a notebook, and what its result must show."""

    def __init__(self, *, profile: str | None, overrides: dict, timeout: int = 600, expect: dict, **kwargs):
        super().__init__(**kwargs)
        self.profile = profile
        self.overrides = overrides
        self.timeout = timeout
        self.expect = expect

    def execute(self):
        info = load(self.path)
        params = resolve_parameters(info, self.profile, self.overrides)
        folder = Path(tempfile.mkdtemp(prefix=f"{self.path.stem}-{self.name}-"))
        task = execute.Task(
            path=self.path,
            output=folder / self.path.name,
            parameters=params,
            kernel_name=info.kernel_name,
            timeout=self.timeout,
        )
        result = execute.run(task)
        return result, folder

    def runtest(self):
        result, folder = self.execute()
        problems = list(self.judge(result))
        if problems:
            raise NotebookFailure(
                f"{display_path(self.path)} [{self.name}]: "
                + "; ".join(problems)
                + f"\n  error: {result.error}\n  executed copy: {result.output}\n{result.traceback}"
            )
        shutil.rmtree(folder, ignore_errors=True)

    def judge(self, result):
        want = self.expect
        if result.status != want["status"]:
            yield f"status {result.status}, expected {want['status']}"
        if want.get("error") and not re.search(want["error"], result.error or ""):
            yield f"error {result.error!r} does not match {want['error']!r}"
        for key, value in want.get("metrics", {}).items():
            if result.metrics.get(key) != value:
                yield f"metric {key} = {result.metrics.get(key)!r}, expected {value!r}"
        exercises = want.get("exercises")
        if exercises:
            got = result.metrics.get("exercises", {})
            wrong = {n: s for n, s in got.items() if s != exercises}
            if wrong:
                yield f"exercises {wrong} should all be {exercises!r}"
        if want.get("metrics_recorded") and not result.metrics:
            yield "it recorded no metrics"

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, NotebookFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{display_path(self.path)}::{self.name}"


class LessonNotebook(pytest.File):
    def collect(self):
        meta = json.loads(self.path.read_text(encoding="utf-8"))["metadata"][METADATA_KEY]
        has_exercises = bool(meta.get("exercises"))
        first_language = meta.get("lang", LANGUAGES[0]) == LANGUAGES[0]
        solved = {"solutions": True}
        passes = {"status": "passed", "metrics_recorded": True}
        for profile in ("quick", "full"):
            yield NotebookRun.from_parent(
                self,
                name=profile,
                profile=profile,
                overrides=solved,
                expect={**passes, "exercises": "passed" if has_exercises else None},
            )
        if has_exercises:
            yield NotebookRun.from_parent(
                self, name="student", profile="quick", overrides={}, expect={**passes, "exercises": "not done"}
            )
        if first_language and has_exercises:
            yield NotebookRun.from_parent(
                self,
                name="wrong",
                profile="quick",
                overrides={"solutions": "wrong"},
                expect={**passes, "exercises": "rejected"},
            )
        if first_language:
            yield NotebookRun.from_parent(
                self, name="cuda", profile="quick", overrides={"device": "cuda"}, expect=cuda_expectation()
            )


def cuda_expectation() -> dict:
    import torch

    if torch.cuda.is_available():
        return {"status": "passed"}
    return {"status": "failed", "error": CUDA_STOP.pattern}


class FixtureNotebook(pytest.File):
    def collect(self):
        expect = json.loads(self.path.read_text(encoding="utf-8"))["metadata"][METADATA_KEY]["expect"]
        yield NotebookRun.from_parent(
            self,
            name="runner",
            profile=None,
            overrides=expect.get("parameters", {}),
            timeout=expect.get("timeout", 600),
            expect=expect,
        )
