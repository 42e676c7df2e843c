"""The teacher's side: make classroom-progress 9 judges each student's saved copy of lesson 09 in a sandbox,
make classroom-collect copies everyone's work out without changing a byte of it."""

from __future__ import annotations

import copy
import csv
import json
import time

import pytest

from conftest import STUDENTS
from support import ROOT, lab_command

pytestmark = [pytest.mark.docker, pytest.mark.slow]
LESSON = "09_linear_regression.ipynb"
ORIGINAL = json.loads((ROOT / "notebooks" / "zh" / LESSON).read_text(encoding="utf-8"))
EXERCISES = ORIGINAL["metadata"]["pytorch_lab"]["exercises"]
LOOPS_AT = 6  # the cell of dave's copy that never ends (counting every cell from 1, as the report does)


def answered(kind: str) -> dict:
    """Lesson 09 with every exercise answered by its reference ("solution") or its wrong answer ("wrong")."""
    lesson = copy.deepcopy(ORIGINAL)
    exercise = 0
    for cell in lesson["cells"]:
        if "exercise" in cell["metadata"].get("tags", []):
            exercise += 1
            cell["source"] = "".join(cell["source"]) + "\n" + EXERCISES[str(exercise)][kind]
    return lesson


def code_cell(source: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None}


def failing_after_exercise_1() -> tuple[dict, int]:
    """Exercise 1 answered, then a cell that raises before exercise 2; and that cell's number."""
    lesson = answered("solution")
    check_1 = next(i for i, c in enumerate(lesson["cells"]) if "".join(c["source"]).strip() == "lesson.check(1)")
    lesson["cells"].insert(check_1 + 1, code_cell("raise ValueError('a slip before exercise 2')"))
    return lesson, check_1 + 2


@pytest.fixture(scope="module")
def class_work(hub, students, tmp_path_factory):
    """Saved copies of lesson 09 in six volumes: right, wrong, untouched, never ending, failing, and none at all.
    dave, erin and frank have a volume but no account: the report still names them."""
    looping = copy.deepcopy(ORIGINAL)
    looping["cells"].insert(LOOPS_AT - 1, code_cell("while True:\n    pass"))
    failing, fails_at = failing_after_exercise_1()
    copies = {"alice": answered("solution"), "bob": answered("wrong"), "carol": ORIGINAL, "dave": looping}
    copies["erin"] = failing
    folder = tmp_path_factory.mktemp("class-work")
    for name, lesson in copies.items():
        (folder / name).mkdir()
        (folder / name / LESSON).write_text(json.dumps(lesson, ensure_ascii=False), encoding="utf-8")
    for name in (*copies, "frank"):
        source = f"cp /src/{name}/{LESSON} /w/ && " if name in copies else ""
        hub.in_volume(name, f"{source}chown -R 1000:1000 /w", f"{folder}:/src:ro")
    return {"fails_at": fails_at, "names": sorted([*STUDENTS, "dave", "erin", "frank"])}


def test_progress_judges_each_students_copy_exercise_by_exercise(hub, class_work, tmp_path):
    started = time.monotonic()
    knobs = {"CLASSROOM_CELL_TIMEOUT": "10", "CLASSROOM_OUT": str(tmp_path)}
    proc = lab_command("classroom-progress", "9", env={**hub.env, **knobs}, timeout=600)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    fails = f"error (cell {class_work['fails_at']})"
    loops = f"timeout (cell {LOOPS_AT})"
    expected = {
        "alice": ("passed", "passed"),
        "bob": ("rejected", "rejected"),
        "carol": ("not done", "not done"),
        "dave": (loops, loops),
        "erin": ("passed", fails),
        "frank": ("not started", "not started"),
    }
    with open(tmp_path / "progress-09.csv", encoding="utf-8") as sheet:
        rows = list(csv.DictReader(sheet))
    found = {}
    for row in rows:
        assert row["lesson"] == "09_linear_regression"
        found.setdefault(row["student"], {})[row["exercise"]] = row["status"]
    assert {name: (marks["1"], marks["2"]) for name, marks in found.items()} == expected
    assert "teacher" not in found  # the hub's admin is no student
    notes = {row["student"]: row["note"] for row in rows}
    assert notes["dave"] == f"cell {LOOPS_AT} ran past the 10 s limit and was stopped"
    assert notes["erin"] == f"cell {class_work['fails_at']}: ValueError: a slip before exercise 2"
    details = {(row["student"], row["exercise"]): row["detail"] for row in rows}
    # The course's own message, in the copy's language.
    assert details[("bob", "1")].startswith("一步之后 w 不是"), details

    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.split()[:1] in [[n] for n in expected]}
    assert lines["alice"].split()[1:3] == ["✓", "✓"] and "rejected" in lines["bob"] and loops in lines["dave"]
    page = (tmp_path / "progress-09.html").read_text(encoding="utf-8")
    assert page.count('<td class="passed">✓</td>') == 3 and loops in page and "frank" in page
    # Two at a time on two cores: the never-ending copy costs its 10 s, not the whole class's time.
    assert seconds < 180, f"classroom-progress took {seconds:.0f} s for {len(expected)} students"


def test_progress_refuses_a_lesson_it_does_not_have_in_one_line(hub):
    proc = lab_command("classroom-progress", "99", env=hub.env, timeout=120)
    known = " ".join(f"{n:02d}" for n in range(1, 15))
    assert (proc.returncode, proc.stderr.splitlines()[-1]) == (
        1,
        f"error: the course has no lesson 99 with exercises; the lessons with exercises are: {known}",
    )


def test_collect_copies_every_students_files_and_changes_none(hub, class_work, tmp_path):
    names = class_work["names"]
    before = {name: hub.hashes(name) for name in names}
    proc = lab_command("classroom-collect", env={**hub.env, "DEST": str(tmp_path / "all")}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {name: hub.hashes(name) for name in names} == before
    manifest = json.loads((tmp_path / "all" / "manifest.json").read_text())
    assert manifest["left_behind"] == [".lab/packages"] and manifest["collected_at"]
    for name in names:
        kept = {path: digest for path, digest in before[name].items() if not path.startswith(".lab/packages/")}
        taken = {f["path"]: f["sha256"] for f in manifest["students"][name]["files"]}
        assert taken == kept, name
        on_disk = {p.relative_to(tmp_path / "all" / name).as_posix() for p in (tmp_path / "all" / name).rglob("*")}
        assert set(kept) <= on_disk, name

    proc = lab_command("classroom-collect", "9", env={**hub.env, "DEST": str(tmp_path / "nine")}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lesson_only = json.loads((tmp_path / "nine" / "manifest.json").read_text())["students"]
    assert {name: [f["path"] for f in entry["files"]] for name, entry in lesson_only.items()} == {
        name: [LESSON] if name != "frank" else [] for name in names
    }
