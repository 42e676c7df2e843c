"""Build the lesson notebooks, one per language, from their bilingual source.

    python3 -m labkit.lesson_build            # (re)write notebooks/zh/*.ipynb and notebooks/en/*.ipynb
    python3 -m labkit.lesson_build --check    # exit 1 and name every notebook that is out of date

A source file, notebooks/source/NN_topic.md, is a sequence of blocks:

    ---                                   front matter: one JSON object (the profiles)
    {"profiles": {"quick": {}, "full": {}}}
    ---
    ::: zh                                prose in Chinese, one markdown cell ...
    ...
    :::
    ::: en                                ... and the same cell in English, right after it
    ...
    :::
    ```python tags=parameters             a code cell, written once for both languages
    ...
    ```
    ```exercise 1                         an exercise: the student's cell and its check
    names: answer                         the variables the student sets (``...`` = not done)
    --- starter                           what the student sees and edits
    --- solution                          the reference answer (filled in by solutions=True)
    --- wrong                             a plausible wrong answer the check must reject
    --- check                             asserts on the student's variables
    --- hint zh / --- hint en             what a rejected answer is told
    ```

The parameters cell gets ``lang = "zh"`` (or ``"en"``) as its first line: that value is the only
difference between the code of the two notebooks. In a lesson with exercises, the setup cell's
``Lesson("NN_topic", lang, solutions)`` gets ``checks="…"``, the fingerprint of its exercises'
checks (labkit.lesson.checks_fingerprint), so that a student's copy knows which checks it was made for.
Exercise answers and checks go to the notebook's
metadata (pytorch_lab.exercises), where labkit.lesson finds them; the student sees only the
starter cell and a ``lesson.check(N)`` cell. Standard library only, so any Python 3.9 runs it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .contract import LANGUAGES, METADATA_KEY, PARAMETERS_TAG
from .lesson import checks_fingerprint

SOURCE_DIR = "source"
EXERCISE_PARTS = ("starter", "solution", "wrong", "check", "hint zh", "hint en")
LANG_LINE = {
    "zh": 'lang = "zh"  # 课程语言 / language: "zh" 中文, "en" English',
    "en": 'lang = "en"  # language / 课程语言: "en" English, "zh" 中文',
}
SETUP_CALL = re.compile(r'Lesson\("\d\d_\w+", lang, solutions\)')
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


class SourceError(Exception):
    """A malformed lesson source; str() names the file and line."""


@dataclass
class Cell:
    kind: str  # "markdown", "code" or "exercise"
    text: dict = field(default_factory=dict)  # markdown: lang -> text; code: "" -> source
    tags: list = field(default_factory=list)
    exercise: dict = field(default_factory=dict)


@dataclass
class Source:
    path: Path
    meta: dict
    cells: list


def parse(path: Path) -> Source:
    lines = path.read_text(encoding="utf-8").splitlines()
    where = lambda n: f"{path.name}, line {n + 1}"  # noqa: E731
    i = 0
    meta: dict = {}
    if lines and lines[0] == "---":
        end = next((n for n in range(1, len(lines)) if lines[n] == "---"), None)
        if end is None:
            raise SourceError(f"{where(0)}: front matter opened with --- is never closed")
        try:
            meta = json.loads("\n".join(lines[1:end]))
        except json.JSONDecodeError as exc:
            raise SourceError(f"{where(exc.lineno)}: front matter is not JSON: {exc.msg}") from None
        i = end + 1
    cells: list[Cell] = []
    pending_zh: tuple[int, str] | None = None

    def block(start: int, closer: str) -> tuple[list[str], int]:
        for n in range(start + 1, len(lines)):
            if lines[n] == closer:
                return lines[start + 1 : n], n + 1
        raise SourceError(f"{where(start)}: block is never closed with {closer}")

    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        prose = re.fullmatch(r"::: (zh|en)", line)
        if prose:
            body, after = block(i, ":::")
            text = "\n".join(body).strip("\n")
            if prose.group(1) == "zh":
                if pending_zh:
                    raise SourceError(f"{where(pending_zh[0])}: this ::: zh block has no ::: en block after it")
                pending_zh = (i, text)
            else:
                if not pending_zh:
                    raise SourceError(f"{where(i)}: a ::: en block must follow its ::: zh block")
                cells.append(Cell("markdown", {"zh": pending_zh[1], "en": text}))
                pending_zh = None
            i = after
            continue
        if pending_zh:
            raise SourceError(f"{where(pending_zh[0])}: this ::: zh block has no ::: en block after it")
        code = re.fullmatch(r"```python((?: \w+=[\w,-]+)*)", line)
        if code:
            body, i = block(i, "```")
            options = dict(opt.split("=", 1) for opt in code.group(1).split())
            unknown = set(options) - {"tags"}
            if unknown:
                raise SourceError(f"{where(i)}: unknown code block option {sorted(unknown)}; only tags=a,b")
            tags = [t for t in options.get("tags", "").split(",") if t]
            cells.append(Cell("code", {"": "\n".join(body).strip("\n")}, tags))
            continue
        exercise = re.fullmatch(r"```exercise (\d+)", line)
        if exercise:
            start = i
            body, i = block(i, "```")
            cells.append(Cell("exercise", exercise=parse_exercise(body, where(start), exercise.group(1))))
            continue
        raise SourceError(f"{where(i)}: expected ::: zh, ::: en, ```python or ```exercise N, not {line[:40]!r}")
    if pending_zh:
        raise SourceError(f"{where(pending_zh[0])}: this ::: zh block has no ::: en block after it")
    numbers = [c.exercise["number"] for c in cells if c.kind == "exercise"]
    if len(numbers) != len(set(numbers)):
        raise SourceError(f"{path.name}: exercise numbers repeat: {numbers}")
    return Source(path, meta, cells)


def parse_exercise(body: list[str], where: str, number: str) -> dict:
    if not body or not body[0].startswith("names:"):
        raise SourceError(f"{where}: an exercise starts with 'names: var1, var2' (what the student sets)")
    names = [n.strip() for n in body[0][len("names:") :].split(",") if n.strip()]
    parts: dict[str, list[str]] = {}
    current = None
    for line in body[1:]:
        marker = re.fullmatch(r"--- (.+)", line)
        if marker:
            current = marker.group(1).strip()
            if current not in EXERCISE_PARTS:
                raise SourceError(f"{where}: unknown exercise part '--- {current}'; parts: {', '.join(EXERCISE_PARTS)}")
            parts[current] = []
        elif current is None:
            if line.strip():
                raise SourceError(f"{where}: text before the first '--- part' line")
        else:
            parts[current].append(line)
    missing = [p for p in EXERCISE_PARTS if p not in parts]
    if missing:
        raise SourceError(f"{where}: exercise {number} lacks {', '.join('--- ' + p for p in missing)}")
    text = {k: "\n".join(v).strip("\n") for k, v in parts.items()}
    return {
        "number": int(number),
        "names": names,
        "starter": text["starter"],
        "solution": text["solution"],
        "wrong": text["wrong"],
        "check": text["check"],
        "hint": {"zh": text["hint zh"], "en": text["hint en"]},
    }


def source_lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def render(source: Source, lang: str) -> dict:
    """The notebook of one language, as nbformat 4.5 JSON."""
    cells = []
    exercises = {}

    def add(cell_type: str, text: str, tags: list | None = None) -> None:
        cell = {"cell_type": cell_type, "id": f"c{len(cells) + 1:02d}", "metadata": {}, "source": source_lines(text)}
        if tags:
            cell["metadata"]["tags"] = tags
        if cell_type == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
        cells.append(cell)

    fingerprint = None
    decisive = {str(c.exercise["number"]): c.exercise for c in source.cells if c.kind == "exercise"}
    if decisive:
        fingerprint = checks_fingerprint(decisive)
    for cell in source.cells:
        if cell.kind == "markdown":
            add("markdown", cell.text[lang])
        elif cell.kind == "code":
            code = cell.text[""]
            if PARAMETERS_TAG in cell.tags:
                code = LANG_LINE[lang] + "\n" + code
            if fingerprint:
                code = SETUP_CALL.sub(lambda m: f'{m.group(0)[:-1]}, checks="{fingerprint}")', code)
            add("code", code, cell.tags)
        else:
            ex = cell.exercise
            number = ex["number"]
            exercises[str(number)] = {
                "names": ex["names"],
                "solution": ex["solution"],
                "wrong": ex["wrong"],
                "check": ex["check"],
                "hint": ex["hint"][lang],
            }
            add("code", ex["starter"], ["exercise"])
            add("code", f"lesson.check({number})", ["check"])
    lab_meta = {"lang": lang, "profiles": source.meta.get("profiles", {})}
    if exercises:
        lab_meta["exercises"] = exercises
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": KERNELSPEC,
            "language_info": {"name": "python"},
            METADATA_KEY: lab_meta,
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def dumps(notebook: dict) -> str:
    """As Jupyter writes a notebook, so that saving one in the lab changes no byte of a clean one."""
    return json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def notebooks_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "notebooks"


def sources(folder: Path, only: list[str] | None = None) -> list[Path]:
    """The lesson sources of a folder, NN_topic.md in lesson order; only: numbers or names to keep."""
    found = sorted((folder / SOURCE_DIR).glob("[0-9][0-9]_*.md"))
    return [p for p in found if not only or any(p.stem.startswith(o) for o in only)]


def outputs(folder: Path, only: list[str] | None = None) -> dict[Path, str]:
    """Every generated notebook of a lessons folder, with the text it must hold."""
    result = {}
    for path in sources(folder, only):
        source = parse(path)
        for lang in LANGUAGES:
            result[folder / lang / f"{path.stem}.ipynb"] = dumps(render(source, lang))
    return result


def stale(folder: Path) -> list[Path]:
    """Generated notebooks that differ from their source, are missing, or have no source left."""
    wanted = outputs(folder)
    found = {p for lang in LANGUAGES for p in (folder / lang).glob("*.ipynb")}
    differ = [p for p, text in wanted.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    return sorted(differ + sorted(found - set(wanted)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lesson_build", description="Build the lesson notebooks from notebooks/source."
    )
    parser.add_argument("--check", action="store_true", help="only report notebooks that are out of date (exit 1)")
    parser.add_argument("--folder", type=Path, default=notebooks_dir(), help="the lessons folder (default: notebooks/)")
    parser.add_argument("lessons", nargs="*", metavar="NN", help="build only these lessons (e.g. 05 06); default: all")
    args = parser.parse_args(argv)
    try:
        if args.check:
            bad = stale(args.folder)
            for path in bad:
                print(f"out of date: {path}; rebuild with: make lessons", file=sys.stderr)
            return 1 if bad else 0
        wanted = outputs(args.folder, args.lessons)
    except SourceError as exc:
        print(f"lesson_build: error: {exc}", file=sys.stderr)
        return 2
    for lang in LANGUAGES:
        (args.folder / lang).mkdir(exist_ok=True)
        for old in (args.folder / lang).glob("*.ipynb"):
            if not args.lessons and old not in wanted:
                old.unlink()  # generated, never edited by hand: its source is gone
    for path, text in wanted.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(args.folder.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
