"""A student's progress, judged inside a throw-away container of the lab's image (make classroom-progress).

    python -m labkit.grade [--timeout SECONDS] [NN ...]   each lesson NN (none: every lesson with exercises)
    python -m labkit.grade --list                         the image's lessons and their exercises

The host (labkit/host/progress.py) starts one container per student, with no network, the classroom's
limits and the student's workspace mounted read-only at /home/student/work, and reads the lines this
prints: one per lesson, `pytorch-lab-grade: {json}`, each written as soon as that lesson is judged.

How a saved copy is judged:
- Its version: the `checks="…"` fingerprint of its setup cell must be the image's lesson's. A copy of another
  version is "older version" and is not run: it is never judged with checks written for another lesson.
- Its cells run in order as the runner runs them (papermill; the lesson's quick profile; solutions off), in a
  kernel of their own, each cell at most --timeout seconds. Cells after the last check are left out.
- Each check cell (tagged "check", or `lesson.check(N)` alone) is replaced by a cell that judges exercise N
  with the check in this image's copy of the lesson, in the kernel's variables, and displays the verdict with
  a nonce made here; a check cell the student deleted is judged after the other cells. What the copy says
  about its checks (its metadata, its own lesson.check) is never read.
- A cell that fails or runs too long stops the run: the exercises judged after it read "error (cell N)" or
  "timeout (cell N)", N counting the copy's cells (markdown too) from 1.

What it cannot promise: the student's code runs in the same kernel as the cell that judges it, so code
written to tamper with Python itself (a builtin the check calls, labkit's modules) can change a verdict.
The container bounds what such code can reach (nothing outside it), not what it can claim.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
import tempfile
from pathlib import Path

import nbformat

from . import contract, course, execute
from .contract import CHECK_TAG, LANGUAGES, LESSONS_DIR, LESSONS_ENV, METADATA_KEY, RAISES_TAG, WORKSPACE
from .lesson import checks_fingerprint
from .notebooks import LESSON_PATTERN

LINE_PREFIX = contract.GRADE_LINE_PREFIX  # the host reads the lines that start with it
VERDICT_MIME = "application/vnd.pytorch-lab.verdict+json"
CELL_KEY = "pytorch_lab_grade"  # in the metadata of the cells this module writes
CHECK_CALL = re.compile(r"lesson\.check\(\s*(\d+)\s*\)")
FINGERPRINT = re.compile(r"""\bchecks\s*=\s*["']([0-9a-f]+)["']""")
KEPT_TAGS = ("parameters", RAISES_TAG)  # where papermill injects parameters; cells that may fail on purpose
JUDGE = """\
def _pytorch_lab_judge():  # exercise {number}, judged by the course's check in the image, not the copy's
    from IPython.display import display
    from labkit.lesson import Lesson

    judge = Lesson({name!r}, {lang!r})
    status, detail = judge._judge(judge.exercises()[{number!r}], {{**globals(), "lesson": judge}})
    verdict = {{"nonce": {nonce!r}, "exercise": {number!r}, "status": status, "detail": detail}}
    display({{{mime!r}: verdict, "text/plain": f"exercise {number}: {{status}}"}}, raw=True)


_pytorch_lab_judge()
del _pytorch_lab_judge
"""


def catalogue(lessons: Path) -> dict[str, dict]:
    """The image's lessons that have exercises: name -> {"exercises": …, "checks": fingerprint, "quick": …}."""
    found = {}
    folder = lessons / LANGUAGES[0]
    for path in sorted(folder.glob("*.ipynb")):
        if not LESSON_PATTERN.match(path.name):
            continue
        meta = json.loads(path.read_text(encoding="utf-8"))["metadata"].get(METADATA_KEY, {})
        if meta.get("exercises"):
            found[path.stem] = {
                "exercises": meta["exercises"],
                "checks": checks_fingerprint(meta["exercises"]),
                "quick": meta.get("profiles", {}).get("quick", {}),
            }
    return found


def numbers(exercises: dict) -> list[str]:
    return sorted(exercises, key=int)


def copy_fingerprint(copy) -> str | None:
    """The checks a copy was made for: the fingerprint in its setup cell's Lesson(...) call, if any."""
    for cell in copy.cells:
        if cell.cell_type == "code" and "Lesson(" in cell.source:
            found = FINGERPRINT.search(cell.source)
            if found:
                return found.group(1)
    return None


def copy_language(copy, record: dict, name: str) -> str:
    """The copy's language: its metadata's, else the workspace's record of it, else the course's default."""
    entry = record.get(f"{name}.ipynb")
    for lang in (
        copy.metadata.get(METADATA_KEY, {}).get("lang"),
        entry.get("lang") if isinstance(entry, dict) else None,
    ):
        if lang in LANGUAGES:
            return lang
    return LANGUAGES[0]


def judge_cell(name: str, lang: str, number: str, nonce: str):
    source = JUDGE.format(name=name, lang=lang, number=number, nonce=nonce, mime=VERDICT_MIME)
    return nbformat.v4.new_code_cell(source, metadata={CELL_KEY: {"exercise": number}})


def grading_notebook(copy, name: str, lang: str, exercises: dict, nonce: str):
    """The copy's code cells, each check cell replaced by the course's judge; cells after the last check left out."""
    wanted = numbers(exercises)
    cells, judged, last_judge = [], [], -1
    for position, cell in enumerate(copy.cells, 1):
        if cell.cell_type != "code":
            continue
        tags = list(cell.metadata.get("tags", []))
        call = CHECK_CALL.fullmatch(cell.source.strip())
        if call or CHECK_TAG in tags:
            # A check cell whose call was edited away stands for the next exercise not judged yet.
            number = call.group(1) if call else next((n for n in wanted if n not in judged), None)
            if number in wanted and number not in judged:
                cells.append(judge_cell(name, lang, number, nonce))
                judged.append(number)
                last_judge = len(cells) - 1
            continue
        kept = [t for t in tags if t in KEPT_TAGS]
        cells.append(nbformat.v4.new_code_cell(cell.source, metadata={"tags": kept, CELL_KEY: {"cell": position}}))
    if last_judge >= 0:
        cells = cells[: last_judge + 1]
    cells += [judge_cell(name, lang, n, nonce) for n in wanted if n not in judged]
    kernelspec = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    return nbformat.v4.new_notebook(
        cells=cells, metadata={"kernelspec": kernelspec, "language_info": {"name": "python"}}
    )


def verdicts(executed, nonce: str) -> dict[str, dict]:
    """exercise -> {"status", "detail"}, from the outputs of the judging cells only, carrying this run's nonce."""
    found = {}
    for cell in executed.cells:
        number = cell.metadata.get(CELL_KEY, {}).get("exercise")
        for out in cell.get("outputs", []) if number else []:
            verdict = out.get("data", {}).get(VERDICT_MIME)
            if isinstance(verdict, dict) and verdict.get("nonce") == nonce and verdict.get("exercise") == number:
                found[number] = {"status": str(verdict.get("status")), "detail": str(verdict.get("detail") or "")}
                break
    return found


def where(cell) -> str:
    """A cell as the teacher finds it in the student's copy: 'cell N', or the check of exercise N."""
    mark = cell.metadata.get(CELL_KEY, {})
    if "cell" in mark:
        return f"cell {mark['cell']}"
    return f"the check of exercise {mark['exercise']}" if "exercise" in mark else "the parameters papermill set"


def stop(executed, result: execute.Result, timeout: float) -> tuple[str, str] | None:
    """Where and why the run stopped early: ('error (cell 7)', a line for the teacher), or None if it did not."""
    for cell in executed.cells:
        if RAISES_TAG in cell.metadata.get("tags", []):
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and not (out.ename == "SystemExit" and out.evalue in ("", "0")):
                evalue = execute.first_line(out.evalue)
                return f"error ({where(cell)})", f"{where(cell)}: {out.ename}" + (f": {evalue}" if evalue else "")
    if not result.error:
        return None
    started = [c for c in executed.cells if c.metadata.get("papermill", {}).get("start_time")]
    cell = where(started[-1]) if started else "cell 1"
    # labkit.execute words a cell's timeout as "... ran past the N s limit ..."
    if "ran past" in result.error:
        return f"timeout ({cell})", f"{cell} ran past the {timeout:.0f} s limit and was stopped"
    if "kernel died" in result.error:
        return f"error ({cell})", f"the kernel died in {cell} (out of memory?)"
    return f"error ({cell})", result.error


def grade(work: Path, name: str, lesson: dict, record: dict, timeout: float, scratch: Path) -> dict:
    """One lesson of one workspace: {"lesson", "lang", "exercises": {N: {"status", "detail"}}, "note", "seconds"}."""
    wanted = numbers(lesson["exercises"])

    def every(status: str, note: str, lang: str = "", seconds: float = 0.0) -> dict:
        marks = {n: {"status": status, "detail": ""} for n in wanted}
        return {"lesson": name, "lang": lang, "exercises": marks, "note": note, "seconds": seconds}

    path = work / f"{name}.ipynb"
    if not path.is_file():
        return every("not started", "")
    try:
        copy = nbformat.read(path, as_version=4)
    except Exception as problem:  # nbformat raises several kinds for a file that is no notebook
        return every("error", f"the copy is not a readable notebook ({type(problem).__name__})")
    lang = copy_language(copy, record, name)
    checks = copy_fingerprint(copy)
    if checks != lesson["checks"]:
        made_for = f"made for checks {checks}" if checks else "made before checks had fingerprints"
        note = (
            f"a copy of an older version ({made_for}; the course's are {lesson['checks']}), not judged; "
            f"the student takes the new one with reset-lesson {int(name[:2])} in a terminal (theirs is kept)"
        )
        return every("older version", note, lang)
    nonce = secrets.token_hex(16)
    source = scratch / name / "copy" / f"{name}.ipynb"
    source.parent.mkdir(parents=True)
    nbformat.write(grading_notebook(copy, name, lang, lesson["exercises"], nonce), source)
    task = execute.Task(
        path=source,
        output=scratch / name / "run" / f"{name}.ipynb",
        parameters={**lesson["quick"], "solutions": False},
        kernel_name="python3",
        timeout=max(1, round(timeout)),
    )
    result = execute.run(task)
    executed = execute.read_if_written(task.output)
    if executed is None:
        return every("error", result.error or "the run wrote no executed copy", lang, result.seconds)
    found = verdicts(executed, nonce)
    stopped = stop(executed, result, timeout)
    marks = {}
    for number in wanted:
        if number in found:
            marks[number] = found[number]
        else:
            marks[number] = {"status": stopped[0] if stopped else "error", "detail": ""}
    silent = [n for n in wanted if n not in found]
    note = stopped[1] if stopped else (f"the check of exercise {silent[0]} gave no verdict" if silent else "")
    return {"lesson": name, "lang": lang, "exercises": marks, "note": note, "seconds": result.seconds}


def results_channel():
    """Where the results go: this process's stdout, kept apart from the kernels', which get /dev/null there."""
    sys.stdout.flush()
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")  # os.dup's copy is not inherited by the kernels
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    return channel


def emit(channel, record: dict) -> None:
    channel.write(f"{LINE_PREFIX} {json.dumps(record, ensure_ascii=False)}\n")
    channel.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.grade", description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", metavar="NN", help="lesson numbers (default: every lesson)")
    parser.add_argument("--timeout", type=float, default=60, help="longest one cell may run, in seconds")
    parser.add_argument("--list", action="store_true", help="print the lessons with exercises and stop")
    args = parser.parse_args(argv)
    folder = Path(os.environ.get(LESSONS_ENV) or LESSONS_DIR)
    lessons = catalogue(folder)
    channel = results_channel()
    if args.list:
        emit(channel, {"lessons": {name: numbers(lesson["exercises"]) for name, lesson in lessons.items()}})
        return 0
    asked = {f"{int(n):02d}" for n in args.lessons if n.isdigit()}
    work = Path(WORKSPACE)
    record = course.Workspace(work, folder).record
    scratch = Path(tempfile.mkdtemp(prefix="grade-"))
    for name, lesson in lessons.items():
        if not asked or name[:2] in asked:
            emit(channel, grade(work, name, lesson, record if isinstance(record, dict) else {}, args.timeout, scratch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
