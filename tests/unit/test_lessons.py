"""Every lesson, in both languages: well-formed, clean, the same code, exercises hidden.

Static: nothing runs here. Each lesson notebook is itself a set of pytest items (labkit.pytest_plugin:
quick, full, student, wrong, cuda), collected by `pytest notebooks` in the image; tests/image/test_lesson_runs.py
runs a few more.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from labkit.contract import LANGUAGES, PROFILES
from labkit.notebooks import is_clean, lesson_paths, load
from support import LESSONS

BY_LANGUAGE = {lang: lesson_paths(LESSONS / lang) for lang in LANGUAGES}
ALL = [p for lang in LANGUAGES for p in BY_LANGUAGE[lang]]
IDS = [f"{p.parent.name}/{p.stem}" for p in ALL]
NAMES = [p.name for p in BY_LANGUAGE["zh"]]


def cells(path):
    return nbformat.read(path, as_version=4).cells


def test_the_course_has_its_fourteen_lessons_in_both_languages():
    assert [p.name[:2] for p in BY_LANGUAGE["zh"]] == [f"{n:02d}" for n in range(1, 15)]
    assert [p.name for p in BY_LANGUAGE["en"]] == NAMES


@pytest.mark.parametrize("lesson", ALL, ids=IDS)
def test_lesson_is_committed_clean(lesson):
    assert is_clean(nbformat.read(lesson, as_version=4)), (
        f"{lesson.name}: code cells carry outputs or execution counts; clear them before committing"
    )


@pytest.mark.parametrize("lesson", ALL, ids=IDS)
def test_lesson_declares_its_parameters_and_profiles(lesson):
    info = load(lesson)
    assert len(info.parameters_cells) == 1, "exactly one cell must be tagged 'parameters'"
    assert {"lang", "device", "seed", "solutions"} <= set(info.declared), f"declares {list(info.declared)}"
    assert info.declared["device"]["default"] == '"auto"'
    assert info.declared["solutions"]["default"] == "False"
    assert info.declared["lang"]["default"] == f'"{lesson.parent.name}"'
    assert set(info.profiles) == set(PROFILES)
    for profile, values in info.profiles.items():
        undeclared = set(values) - set(info.declared)
        assert not undeclared, f"profile {profile} sets undeclared {sorted(undeclared)}"


@pytest.mark.parametrize("lesson", ALL, ids=IDS)
def test_lesson_is_titled_with_number_title_and_original_chinese_title(lesson):
    title = cells(lesson)[0].source.splitlines()[0]
    assert re.match(rf"# {lesson.name[:2]} · .+ — .*[\u4e00-\u9fff]", title), title


@pytest.mark.parametrize("name", NAMES)
def test_code_is_the_same_in_both_languages_but_for_the_language_value(name):
    zh, en = ([c.source for c in cells(LESSONS / lang / name) if c.cell_type == "code"] for lang in LANGUAGES)
    assert len(zh) == len(en)
    differ = [i for i, (a, b) in enumerate(zip(zh, en)) if a != b]
    assert all("lang =" in zh[i] for i in differ), f"code cells {differ} differ beyond the parameters cell"
    for i in differ:
        rest = lambda src: [line for line in src.splitlines() if not line.startswith("lang =")]  # noqa: E731
        assert rest(zh[i]) == rest(en[i])


@pytest.mark.parametrize("name", NAMES)
def test_prose_is_chinese_in_zh_and_english_in_en(name):
    def chinese_share(path):
        text = "".join(c.source for c in cells(path) if c.cell_type == "markdown")
        letters = [ch for ch in text if ch.isalpha()]
        return sum("\u4e00" <= ch <= "\u9fff" for ch in letters) / max(len(letters), 1)

    assert chinese_share(LESSONS / "zh" / name) > 0.3
    assert chinese_share(LESSONS / "en" / name) < 0.05


@pytest.mark.parametrize("lesson", ALL, ids=IDS)
def test_exercises_answer_back_and_hide_their_solutions(lesson):
    node = nbformat.read(lesson, as_version=4)
    exercises = node.metadata["pytorch_lab"].get("exercises", {})
    if int(lesson.name[:2]) >= 5:
        assert 2 <= len(exercises) <= 3, (
            f"{lesson.name} has {len(exercises)} exercises; lessons 05-14 end with two or three"
        )

    def statements(source: str) -> list[str]:
        return [
            line.split("  #")[0].strip()
            for line in source.splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]

    visible = [statements(c.source) for c in node.cells if c.cell_type == "code"]
    starters = [c for c in node.cells if "exercise" in c.metadata.get("tags", [])]
    checks = [c.source for c in node.cells if "check" in c.metadata.get("tags", [])]
    assert len(starters) == len(exercises) and sorted(checks) == sorted(f"lesson.check({n})" for n in exercises)
    for number, exercise in exercises.items():
        solution = statements(exercise["solution"])
        shown = [cell for cell in visible if all(line in cell for line in solution)]
        assert not shown, f"exercise {number}'s solution is visible in the notebook: {shown}"
        assert exercise["hint"] and exercise["check"] and exercise["wrong"] != exercise["solution"]
    for cell in starters:
        assert "..." in cell.source, "an unattempted exercise must hold ... so that Run All never stops on it"


def test_lesson_09_declares_its_training_knobs():
    info = load(LESSONS / "zh" / "09_linear_regression.ipynb")
    assert {"epochs", "lr"} <= set(info.declared)
    assert info.profiles["full"]["epochs"] >= 1000
