"""What decides that the image must be rebuilt (its inputs' hash), which notebooks `make run` means, and
which Compose the commands use."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from labkit.host import image as image_module
from labkit.host.docker import Docker, compose_command
from labkit.host.image import Image, files_hash
from labkit.host.lab import notebook_paths
from labkit.host.settings import Failure, Settings
from support import ROOT


@pytest.fixture
def tree(tmp_path):
    """A copy of the image's inputs, to edit."""
    for top in image_module.INPUTS:
        source = ROOT / top
        if source.is_dir():
            shutil.copytree(source, tmp_path / top, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, tmp_path / top)
    return tmp_path


def digest(root: Path) -> str:
    return files_hash(root, image_module.INPUTS).hexdigest()


def test_the_inputs_hash_is_stable_and_changes_with_a_lesson_or_labkit(tree):
    before = digest(tree)
    assert digest(tree) == before
    lesson = tree / "notebooks" / "zh" / "09_linear_regression.ipynb"
    lesson.write_text(lesson.read_text().replace("09", "09 ", 1))
    after_lesson = digest(tree)
    assert after_lesson != before
    (tree / "scripts" / "labkit" / "lesson.py").write_text("# changed\n")
    assert digest(tree) not in (before, after_lesson)


def test_the_inputs_hash_ignores_what_the_image_does_not_copy(tree):
    before = digest(tree)
    (tree / "README.md").write_text("anything")
    (tree / "scripts" / "labkit" / "__pycache__").mkdir(exist_ok=True)
    (tree / "scripts" / "labkit" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (tree / "notebooks" / "zh" / ".ipynb_checkpoints").mkdir()
    (tree / "notebooks" / "zh" / ".ipynb_checkpoints" / "a.ipynb").write_text("{}")
    assert digest(tree) == before


def test_a_different_variant_is_a_different_image():
    assert Image(Settings({"VARIANT": "cpu"})).inputs_hash() != Image(Settings({"VARIANT": "cuda"})).inputs_hash()


def test_a_lesson_named_without_its_language_runs_in_the_labs_language(monkeypatch):
    monkeypatch.chdir(ROOT)
    [(path, note)] = notebook_paths(["notebooks/09_linear_regression.ipynb"], "en")
    assert path == ROOT / "notebooks" / "en" / "09_linear_regression.ipynb"
    assert note == (
        "notebooks/09_linear_regression.ipynb: running notebooks/en/09_linear_regression.ipynb, "
        "the lesson in the lab's language"
    )


def test_a_notebook_of_the_repository_runs_as_it_is(monkeypatch):
    monkeypatch.chdir(ROOT)
    found = notebook_paths(["tests/notebooks/never_ends.ipynb", "notebooks/zh"], "zh")
    assert found == [(ROOT / "tests" / "notebooks" / "never_ends.ipynb", None), (ROOT / "notebooks" / "zh", None)]


def test_a_notebook_outside_the_repository_is_refused(tmp_path):
    outside = tmp_path / "mine.ipynb"
    outside.write_text("{}")
    with pytest.raises(Failure) as refused:
        notebook_paths([str(outside)], "zh")
    assert str(refused.value) == f"{outside} is outside this folder; the image sees only the repository"


def test_a_missing_notebook_is_refused_with_an_example_in_the_labs_language(monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(Failure) as refused:
        notebook_paths(["notebooks/en/99_nothing.ipynb"], "en")
    assert str(refused.value) == (
        "notebooks/en/99_nothing.ipynb: no such notebook; give paths under this folder, "
        "e.g. NB=notebooks/en/09_linear_regression.ipynb"
    )


@pytest.mark.parametrize(
    ("v2", "v1", "choice", "expected"),
    [
        (True, True, "auto", "v2"),
        (False, True, "auto", "v1"),
        (True, False, "auto", "v2"),
        (False, False, "auto", None),
        (True, True, "v1", "v1"),
        (True, False, "v1", None),
        (False, True, "v2", None),
    ],
)
def test_compose_v2_is_preferred_and_v1_is_taken_where_it_is_alone(stand_in, v2, v1, choice, expected):
    answers = {("compose", "version"): ("Docker Compose version v2.26.1\n", 0)} if v2 else {}
    docker = stand_in.program("docker", answers)
    if v1:
        stand_in.program("docker-compose", {("version",): ("docker-compose version 1.29.2\n", 0)})
    found = compose_command(Docker(Settings({"DOCKER": str(docker), "PATH": str(docker.parent)})), choice)
    assert found == {"v2": [str(docker), "compose"], "v1": ["docker-compose"], None: None}[expected]
