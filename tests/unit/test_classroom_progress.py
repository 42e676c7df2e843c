"""classroom-progress without Docker: how a student's copy becomes the notebook that is run (labkit.grade),
how its verdicts are read back, and the host's refusals, sandbox and reports (labkit.host.progress*)."""

from __future__ import annotations

import csv

import nbformat
import pytest

from labkit import grade
from labkit.execute import Result
from labkit.host import progress, progress_report
from labkit.host.settings import Failure, Settings
from support import ROOT

LESSON = ROOT / "notebooks" / "en" / "09_linear_regression.ipynb"


@pytest.fixture
def lesson():
    return grade.catalogue(ROOT / "notebooks")["09_linear_regression"]


@pytest.fixture
def copy():
    return nbformat.read(LESSON, as_version=4)


def test_the_host_and_the_grader_agree_on_how_a_result_line_starts():
    assert progress.LINE_PREFIX == grade.LINE_PREFIX


def test_every_lesson_with_exercises_is_in_the_catalogue_with_its_fingerprint(lesson, copy):
    found = grade.catalogue(ROOT / "notebooks")
    assert sorted(found) == sorted(p.stem for p in (ROOT / "notebooks" / "zh").glob("[0-9][0-9]_*.ipynb"))
    assert grade.numbers(lesson["exercises"]) == ["1", "2"]
    assert grade.copy_fingerprint(copy) == lesson["checks"]
    assert lesson["quick"] == {"epochs": 20, "require_convergence": False}


def test_check_cells_are_replaced_by_the_courses_judge_and_the_cells_after_the_last_are_left_out(lesson, copy):
    run = grade.grading_notebook(copy, "09_linear_regression", "en", lesson["exercises"], "n0nce")
    judges = [c for c in run.cells if "exercise" in c.metadata[grade.CELL_KEY]]
    assert [c.metadata[grade.CELL_KEY]["exercise"] for c in judges] == ["1", "2"]
    assert all("lesson.check" not in c.source and "n0nce" in c.source for c in judges)
    assert run.cells[-1] is judges[-1]  # lesson.report(...) and whatever follows the last check: not run
    positions = [c.metadata[grade.CELL_KEY].get("cell") for c in run.cells if "cell" in c.metadata[grade.CELL_KEY]]
    code = [
        i for i, c in enumerate(copy.cells, 1) if c.cell_type == "code" and "check" not in c.metadata.get("tags", [])
    ]
    assert positions == code[: len(positions)]  # the student's own numbering, markdown cells counted
    assert run.cells[0].metadata["tags"] == ["parameters"]  # papermill injects solutions=False after it


def test_an_edited_check_cell_is_still_judged_and_a_deleted_one_after_every_cell(lesson, copy):
    checks = [c for c in copy.cells if "check" in c.metadata.get("tags", [])]
    checks[0].source = "print('✓ trust me')"  # tagged, but the call is gone: it stands for exercise 1
    copy.cells.remove(checks[1])
    run = grade.grading_notebook(copy, "09_linear_regression", "en", lesson["exercises"], "n")
    judged = [c.metadata[grade.CELL_KEY].get("exercise") for c in run.cells]
    assert [n for n in judged if n] == ["1", "2"] and judged[-1] == "2"
    assert not any("trust me" in c.source for c in run.cells)


def test_only_verdicts_with_this_runs_nonce_from_a_judging_cell_count():
    def cell(exercise, nonce, status):
        out = nbformat.v4.new_output(
            "display_data", data={grade.VERDICT_MIME: {"nonce": nonce, "exercise": exercise, "status": status}}
        )
        meta = {grade.CELL_KEY: {"exercise": exercise} if exercise else {"cell": 3}}
        return nbformat.v4.new_code_cell("", metadata=meta, outputs=[out])

    executed = nbformat.v4.new_notebook(
        cells=[cell(None, "right", "passed"), cell("1", "forged", "passed"), cell("1", "right", "rejected")]
    )
    assert grade.verdicts(executed, "right") == {"1": {"status": "rejected", "detail": ""}}


def result(error: str | None) -> Result:
    return Result(path="x", status="failed" if error else "passed", seconds=1.0, parameters={}, error=error)


def test_a_run_that_stopped_says_where_and_why():
    started = {"papermill": {"start_time": "now"}}
    cells = [nbformat.v4.new_code_cell("", metadata={grade.CELL_KEY: {"cell": n}, **started}) for n in (2, 5)]
    executed = nbformat.v4.new_notebook(cells=cells)
    assert grade.stop(executed, result(None), 60) is None
    assert grade.stop(executed, result("cell 3 (In [2]) ran past the 60 s limit (--timeout)"), 60) == (
        "timeout (cell 5)",
        "cell 5 ran past the 60 s limit and was stopped",
    )
    assert grade.stop(executed, result("the kernel died while running cell 3"), 60)[0] == "error (cell 5)"
    cells[0].outputs = [nbformat.v4.new_output("error", ename="NameError", evalue="name 'x' is not defined")]
    assert grade.stop(executed, result(None), 60) == ("error (cell 2)", "cell 2: NameError: name 'x' is not defined")


def test_a_copy_of_another_version_or_none_at_all_is_not_run(tmp_path, lesson, copy):
    copy.cells[2].source = copy.cells[2].source.replace(lesson["checks"], "0123456789ab")
    nbformat.write(copy, tmp_path / "09_linear_regression.ipynb")
    older = grade.grade(tmp_path, "09_linear_regression", lesson, {}, 60, tmp_path / "scratch")
    assert {m["status"] for m in older["exercises"].values()} == {"older version"}
    assert older["note"].startswith("a copy of an older version (made for checks 0123456789ab;")
    assert older["lang"] == "en"
    missing = grade.grade(tmp_path, "10_network_structure", lesson, {}, 60, tmp_path / "scratch")
    assert {m["status"] for m in missing["exercises"].values()} == {"not started"}


# ---- the host side ----------------------------------------------------------------------------------------


def test_a_lesson_is_named_by_its_number():
    assert progress.lesson_number("9") == progress.lesson_number("09") == "09"
    assert progress.lesson_number("") is None
    for bad in ("x9", "100", "-1"):
        with pytest.raises(Failure, match=f"a lesson is named by its number, such as 9 or 09, not '{bad}'"):
            progress.lesson_number(bad)


def test_the_sandbox_has_no_network_no_capabilities_and_the_classrooms_limits():
    options = progress.sandbox(Settings({"CLASSROOM_MEM_LIMIT": "2G", "CLASSROOM_CPU_LIMIT": "0.5"}))
    for wanted in ("--network=none", "--cap-drop=ALL", "--security-opt=no-new-privileges", "--read-only"):
        assert wanted in options
    assert {"--memory=2G", "--memory-swap=2G", "--cpus=0.5", "--pids-limit=1024"} <= set(options)


def test_only_lines_with_the_prefix_are_read_and_a_timeouts_bytes_too():
    out = f'noise\n{progress.LINE_PREFIX} {{"lesson": "a"}}\n{progress.LINE_PREFIX} not json\n'
    assert progress.records(out) == progress.records(out.encode()) == [{"lesson": "a"}]


@pytest.mark.parametrize(
    ("knob", "value", "line"),
    [
        (
            "CLASSROOM_MEM_LIMIT",
            "512m",
            "CLASSROOM_MEM_LIMIT must be an amount of memory such as 512M or 1G, not '512m'",
        ),
        (
            "CLASSROOM_PIDS_LIMIT",
            "12",
            "CLASSROOM_PIDS_LIMIT must be a whole number of processes, 128 or more, not '12'",
        ),
        ("CLASSROOM_CELL_TIMEOUT", "0", "CLASSROOM_CELL_TIMEOUT must be a number of seconds above 0, not '0'"),
        (
            "CLASSROOM_PROGRESS_JOBS",
            "two",
            "CLASSROOM_PROGRESS_JOBS must be a whole number of students at once (1 or more), not 'two'",
        ),
    ],
)
def test_a_bad_classroom_knob_is_refused_in_one_line(knob, value, line):
    names = {
        "CLASSROOM_MEM_LIMIT": "classroom_mem_limit",
        "CLASSROOM_PIDS_LIMIT": "classroom_pids_limit",
        "CLASSROOM_CELL_TIMEOUT": "cell_timeout",
        "CLASSROOM_PROGRESS_JOBS": "progress_jobs",
    }
    with pytest.raises(Failure) as refused:
        getattr(Settings({knob: value}), names[knob])
    assert str(refused.value) == line


def test_classroom_up_refuses_a_bad_limit_before_docker_is_asked(host, engine):
    code, _, err = host("classroom-up", CLASSROOM_PIDS_LIMIT="lots")
    line = "error: CLASSROOM_PIDS_LIMIT must be a whole number of processes, 128 or more, not 'lots'\n"
    assert (code, err) == (1, line)
    assert engine.calls("docker") == []


def test_a_bad_lesson_number_is_refused_before_docker_is_asked(host, engine):
    code, _, err = host("classroom-progress", "nine")
    assert (code, err) == (
        1,
        "error: a lesson is named by its number, such as 9 or 09, not 'nine'; make classroom-progress 9\n",
    )
    assert engine.calls("docker") == []


RESULTS = [
    {
        "student": "ana",
        "lesson": "09_linear_regression",
        "exercises": {"1": {"status": "passed", "detail": ""}, "2": {"status": "rejected", "detail": "=HYPERLINK(1)"}},
        "note": "",
    },
    {
        "student": "ben",
        "lesson": "09_linear_regression",
        "exercises": {"1": {"status": "error (cell 7)", "detail": ""}, "2": {"status": "error (cell 7)", "detail": ""}},
        "note": "cell 7: NameError: <script>",
    },
]


def test_the_reports_show_each_exercise_and_keep_a_students_text_inert(tmp_path):
    lessons = {"09_linear_regression": ["1", "2"]}
    table, files = progress_report.write_reports(RESULTS, lessons, tmp_path, "09", "pytorch-lab:cpu", 12.0)
    assert table.splitlines()[1:] == [
        "student  exercise 1      exercise 2      note",
        "ana      ✓               rejected",
        "ben      error (cell 7)  error (cell 7)  cell 7: NameError: <script>",
    ]
    assert [f.name for f in files] == ["progress-09.csv", "progress-09.html"]
    with open(files[0], encoding="utf-8") as sheet:
        rows = list(csv.reader(sheet))
    assert rows[2] == ["ana", "09_linear_regression", "2", "rejected", "'=HYPERLINK(1)", ""]
    page = files[1].read_text(encoding="utf-8")
    assert "<script>" not in page and "cell 7: NameError: &lt;script&gt;" in page
    assert '<td class="passed">✓</td>' in page and '<td class="failed">error (cell 7)</td>' in page


def test_the_grading_line_is_json_a_host_can_read(capfd):
    channel = open(1, "w", closefd=False)  # stdout itself, left open
    grade.emit(channel, {"lesson": "09", "note": "中文"})
    assert progress.records(capfd.readouterr().out) == [{"lesson": "09", "note": "中文"}]
