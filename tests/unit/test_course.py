"""The course's lessons in a workspace (labkit.course): the update rule, its record, resets and their backups."""

from __future__ import annotations

import json
import time

import pytest

from labkit import course


def notebook(title: str, code: str = "x = 1") -> dict:
    return {
        "cells": [
            {"cell_type": "markdown", "id": "a", "metadata": {}, "source": [title]},
            {"cell_type": "code", "id": "b", "metadata": {}, "source": [code], "outputs": [], "execution_count": None},
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture
def lab(tmp_path):
    """An image's lessons (zh and en) and an empty workspace."""
    lessons, work = tmp_path / "lessons", tmp_path / "work"
    for lang in ("zh", "en"):
        (lessons / lang).mkdir(parents=True)
    work.mkdir()

    def publish(name: str, lang: str, title: str, code: str = "x = 1") -> None:
        (lessons / lang / name).write_text(json.dumps(notebook(title, code)))

    publish("01_a.ipynb", "zh", "# 01 第一版")
    publish("01_a.ipynb", "en", "# 01 first")
    publish("02_b.ipynb", "zh", "# 02 第一版")
    return lessons, work, publish


def test_the_first_start_copies_every_lesson_and_records_it(lab):
    lessons, work, _ = lab
    assert course.Workspace(work, lessons).update("zh") == []
    assert (work / "01_a.ipynb").read_bytes() == (lessons / "zh" / "01_a.ipynb").read_bytes()
    record = json.loads((work / ".lab" / "lessons.json").read_text())["lessons"]
    assert record["01_a.ipynb"]["lang"] == "zh" and len(record["01_a.ipynb"]["cells"]) == 2


def test_an_untouched_lesson_follows_the_course_even_with_outputs_saved(lab):
    lessons, work, publish = lab
    course.Workspace(work, lessons).update("zh")
    ran = json.loads((work / "01_a.ipynb").read_text())
    ran["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["1\n"]}]
    ran["cells"][1]["execution_count"] = 3
    ran["metadata"]["widgets"] = {"state": {}}
    (work / "01_a.ipynb").write_text(json.dumps(ran))
    publish("01_a.ipynb", "zh", "# 01 第二版")
    assert course.Workspace(work, lessons).update("zh") == []
    assert json.loads((work / "01_a.ipynb").read_text())["cells"][0]["source"] == ["# 01 第二版"]


def test_an_edited_lesson_is_kept_byte_for_byte_and_named_once(lab):
    lessons, work, publish = lab
    course.Workspace(work, lessons).update("zh")
    edited = json.loads((work / "01_a.ipynb").read_text())
    edited["cells"][1]["source"] = ["x = 2  # mine"]
    (work / "01_a.ipynb").write_text(json.dumps(edited))
    mine = (work / "01_a.ipynb").read_bytes()
    publish("01_a.ipynb", "zh", "# 01 第二版")
    lines = course.Workspace(work, lessons).update("zh")
    assert lines == [
        "lesson 01: the course has a newer version; you changed yours, so it is kept as it is. "
        "To take the new one: make reset-lesson 1 (yours is kept as a backup)"
    ]
    assert (work / "01_a.ipynb").read_bytes() == mine


def test_a_lesson_keeps_the_language_it_was_copied_in_and_a_new_one_comes_in_the_labs(lab):
    lessons, work, publish = lab
    course.Workspace(work, lessons).update("zh")
    publish("01_a.ipynb", "zh", "# 01 第二版")
    publish("03_c.ipynb", "en", "# 03 new")
    publish("03_c.ipynb", "zh", "# 03 新的")
    course.Workspace(work, lessons).update("en")
    assert json.loads((work / "01_a.ipynb").read_text())["cells"][0]["source"] == ["# 01 第二版"]
    assert json.loads((work / "03_c.ipynb").read_text())["cells"][0]["source"] == ["# 03 new"]


def test_a_workspace_without_a_record_keeps_what_differs_from_the_image(lab):
    lessons, work, _ = lab
    (work / "01_a.ipynb").write_text(json.dumps(notebook("# 01 older")))
    (work / "02_b.ipynb").write_bytes((lessons / "zh" / "02_b.ipynb").read_bytes())
    lines = course.Workspace(work, lessons).update("zh")
    assert [line[:9] for line in lines] == ["lesson 01"]
    assert json.loads((work / "01_a.ipynb").read_text())["cells"][0]["source"] == ["# 01 older"]
    assert course.Workspace(work, lessons).record["02_b.ipynb"]["lang"] == "zh"


def test_a_reset_keeps_the_students_copy_and_the_record_follows(lab, capsys):
    lessons, work, publish = lab
    course.Workspace(work, lessons).update("zh")
    (work / "01_a.ipynb").write_text(json.dumps(notebook("# 01 mine")))
    assert course.Workspace(work, lessons).reset("1", "en") == 0
    [backup] = work.glob("01_a.backup-*.ipynb")
    assert json.loads(backup.read_text())["cells"][0]["source"] == ["# 01 mine"]
    assert (work / "01_a.ipynb").read_bytes() == (lessons / "en" / "01_a.ipynb").read_bytes()
    assert course.Workspace(work, lessons).record["01_a.ipynb"]["lang"] == "en"
    assert f"kept your version as {backup.name}" in capsys.readouterr().out


def test_a_second_backup_in_the_same_second_takes_the_next_number(tmp_path, monkeypatch):
    monkeypatch.setattr(time, "strftime", lambda _: "20260101-000000")
    lesson = tmp_path / "09_x.ipynb"
    lesson.write_text("{}")
    first = course.unique_backup(lesson)
    first.write_text("{}")
    second = course.unique_backup(lesson)
    assert (first.name, second.name) == ("09_x.backup-20260101-000000.ipynb", "09_x.backup-20260101-000000-2.ipynb")


@pytest.mark.parametrize(
    ("number", "line"), [("x", "give a lesson number"), ("42", "there is no lesson 42; the lessons are: 01")]
)
def test_a_reset_of_what_is_not_a_lesson_is_refused_in_one_line(lab, capsys, number, line):
    lessons, work, _ = lab
    assert course.Workspace(work, lessons).reset(number, "en") == 2
    assert line in capsys.readouterr().err
