"""classroom-progress's three views of the same results: a table for the terminal, a CSV file for a
spreadsheet, an HTML page to read in a browser (build/classroom/progress-09.csv and .html, or progress-all).

A result is one student's one lesson: {"student", "lesson", "exercises": {N: {"status", "detail"}}, "note"}.
Statuses: passed (shown ✓), rejected, not done, error (cell N), timeout (cell N), timeout, error,
older version, not started. Details and notes may carry what a student's code printed or raised: the CSV
keeps a spreadsheet from reading them as formulas, and the page escapes them.
"""

from __future__ import annotations

import csv
import html
import time
from pathlib import Path

SHOWN = {"passed": "✓"}
# The page's colour for each kind of status (the word before any parenthesis).
KINDS = {
    "passed": "passed",
    "rejected": "rejected",
    "not done": "open",
    "not started": "open",
    "older version": "older",
    "error": "failed",
    "timeout": "failed",
}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: .3em .7em; text-align: left; vertical-align: top; }
td.passed { background: #d9f2d9; } td.rejected { background: #f8d7d7; } td.open { color: #777; }
td.older { background: #e8e8f4; } td.failed { background: #fbe6c8; } td.note { color: #555; font-size: .9em; }
"""


def shown(status: str) -> str:
    return SHOWN.get(status, status)


def kind(status: str) -> str:
    return KINDS.get(status.split(" (")[0], "failed")


def by_lesson(results: list[dict], lessons: dict[str, list[str]]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {lesson: [] for lesson in lessons}
    for result in results:
        grouped.setdefault(result["lesson"], []).append(result)
    return grouped


def table(results: list[dict], lessons: dict[str, list[str]]) -> str:
    """One block per lesson: a row per student, a column per exercise, then the note."""
    blocks = []
    for lesson, rows in by_lesson(results, lessons).items():
        numbers = lessons.get(lesson, [])
        header = ["student", *[f"exercise {n}" for n in numbers], "note"]
        lines = [
            [r["student"], *[shown(r["exercises"].get(n, {}).get("status", "")) for n in numbers], r["note"]]
            for r in rows
        ]
        widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header) - 1)]
        text = [f"lesson {lesson}"]
        for line in [header, *lines]:
            cells = [cell.ljust(width) for cell, width in zip(line, widths)]
            text.append("  ".join([*cells, line[-1]]).rstrip())
        blocks.append("\n".join(text))
    return "\n\n".join(blocks)


def spreadsheet_safe(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (=, +, -, @ first)."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def write_csv(results: list[dict], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["student", "lesson", "exercise", "status", "detail", "note"])
        for r in results:
            for number, mark in r["exercises"].items():
                row = [r["student"], r["lesson"], number, mark["status"], mark.get("detail", ""), r["note"]]
                writer.writerow([spreadsheet_safe(str(value)) for value in row])


def page(results: list[dict], lessons: dict[str, list[str]], image: str, seconds: float) -> str:
    e = html.escape
    when = time.strftime("%Y-%m-%d %H:%M")
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Classroom progress</title>',
        f"<style>{STYLE}</style></head><body>",
        "<h1>Classroom progress</h1>",
        f"<p>{e(when)}; judged with the lessons of {e(image)} in {seconds:.0f} s. "
        "✓ passed; hover over a cell for the check's message.</p>",
    ]
    for lesson, rows in by_lesson(results, lessons).items():
        numbers = lessons.get(lesson, [])
        parts.append(f"<h2>{e(lesson)}</h2><table><tr><th>student</th>")
        parts += [f"<th>exercise {e(n)}</th>" for n in numbers]
        parts.append("<th>note</th></tr>")
        for r in rows:
            parts.append(f"<tr><td>{e(r['student'])}</td>")
            for n in numbers:
                mark = r["exercises"].get(n, {"status": "", "detail": ""})
                title = f' title="{e(mark["detail"])}"' if mark.get("detail") else ""
                parts.append(f'<td class="{kind(mark["status"])}"{title}>{e(shown(mark["status"]))}</td>')
            parts.append(f'<td class="note">{e(r["note"])}</td></tr>')
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_reports(
    results: list[dict], lessons: dict[str, list[str]], folder: Path, number: str | None, image: str, seconds: float
) -> tuple[str, list[Path]]:
    """The table to print, and the CSV and HTML files written (progress-NN or progress-all, in folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"progress-{number or 'all'}"
    csv_path, html_path = stem.with_suffix(".csv"), stem.with_suffix(".html")
    write_csv(results, csv_path)
    html_path.write_text(page(results, lessons, image, seconds), encoding="utf-8")
    return table(results, lessons), [csv_path, html_path]
