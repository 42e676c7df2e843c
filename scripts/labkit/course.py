"""The course's lessons in a student's workspace: copied at the first start, brought up to date at every
start by one rule, reset on request. The student's edits always win (as with nbgitpuller):

- A lesson counts as edited when the source of any of its cells differs from what was copied. Outputs,
  execution counts and notebook metadata do not count: opening and running a lesson is not editing it.
- At every start a lesson the student never edited is brought to the image's version, in the language it
  was copied in; an edited one is kept as it is, with one line saying that a newer version exists and how
  to take it (make reset-lesson N, which keeps theirs as a backup); a new lesson is copied in the lab's
  language; a lesson the student deleted is copied again.
- What was copied is recorded in the workspace (.lab/lessons.json: language, version, each cell's hash).
  A workspace made before the record existed counts a lesson as untouched only if its cell sources
  equal the image's version.

Runs in the image, at the lab's start (labkit.start) and for reset-lesson; standard library only.
Nothing here deletes or overwrites a file the student edited: reset keeps their copy as a backup.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

from . import contract
from .notebooks import LESSON_PATTERN


def cell_hashes(path: Path) -> list[str]:
    """A hash of each cell's kind and source, in order: what counts as the lesson's content."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [
        hashlib.sha256(json.dumps([c["cell_type"], "".join(c.get("source", ""))]).encode()).hexdigest()[:16]
        for c in cells
    ]


def version(hashes: list[str]) -> str:
    return hashlib.sha256("".join(hashes).encode()).hexdigest()[:16]


def say(line: str) -> None:
    """A line for the student, as the lab's start writes them (`make up` repeats them)."""
    print(f"{contract.START_LOG_PREFIX} {line}", file=sys.stderr, flush=True)


class Workspace:
    """The lessons of one workspace, against the lessons of the image (folder/zh, folder/en)."""

    def __init__(self, work: Path, lessons: Path):
        self.work = work
        self.lessons = lessons
        self.record_path = work / contract.LESSON_RECORD
        self.record = self.read_record()

    def read_record(self) -> dict:
        try:
            record = json.loads(self.record_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return record.get("lessons", {}) if isinstance(record, dict) else {}

    def write_record(self) -> None:
        self.record_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.record_path.with_name(f".{self.record_path.name}.tmp")
        temporary.write_text(json.dumps({"format": 1, "lessons": self.record}, indent=1, sort_keys=True) + "\n")
        os.replace(temporary, self.record_path)

    def original(self, name: str, lang: str) -> Path:
        return self.lessons / lang / name

    def copy(self, name: str, lang: str) -> None:
        """The image's lesson into the workspace, written beside and renamed: never half-written."""
        source = self.original(name, lang)
        temporary = self.work / f".{name}.tmp"
        shutil.copyfile(source, temporary)
        os.replace(temporary, self.work / name)
        hashes = cell_hashes(source)
        self.record[name] = {"lang": lang, "version": version(hashes), "cells": hashes}

    def edited(self, name: str) -> bool:
        """Whether the student changed a cell's source since the copy (a lesson without a record: since any
        version the image has of it)."""
        mine = cell_hashes(self.work / name)
        entry = self.record.get(name)
        if entry:
            return mine != entry["cells"]
        for lang in contract.LANGUAGES:
            if self.original(name, lang).exists() and mine == cell_hashes(self.original(name, lang)):
                self.record[name] = {"lang": lang, "version": version(mine), "cells": mine}
                return False
        return True

    def update(self, lang: str) -> list[str]:
        """Apply the rule to every lesson of the image; the lines a student should read (also printed)."""
        lines = []
        names = sorted(p.name for p in (self.lessons / lang).glob("*.ipynb") if LESSON_PATTERN.match(p.name))
        for name in names:
            mine = self.work / name
            if not mine.exists():
                self.copy(name, lang)
                continue
            try:
                edited = self.edited(name)
            except (OSError, ValueError, KeyError):
                edited = True  # unreadable as a notebook: it is the student's, whatever it holds
            entry = self.record.get(name, {})
            kept_lang = entry.get("lang", lang)
            original = self.original(name, kept_lang if self.original(name, kept_lang).exists() else lang)
            newest = version(cell_hashes(original))
            if entry.get("version") == newest:
                continue
            if not edited and entry:
                self.copy(name, original.parent.name)
                continue
            lines.append(
                f"lesson {name[:2]}: the course has a newer version; you changed yours, so it is kept as it is. "
                f"To take the new one: make reset-lesson {int(name[:2])} (yours is kept as a backup)"
            )
        self.write_record()
        for line in lines:
            say(line)
        return lines

    def reset(self, number: str, lang: str) -> int:
        """Put lesson N's original back, in lang, keeping the student's copy beside it; exit status."""
        if not re.fullmatch(r"\d{1,2}", number or ""):
            print("reset-lesson: give a lesson number, e.g. 'make reset-lesson 9'", file=sys.stderr)
            return 2
        nn = f"{int(number):02d}"
        originals = sorted((self.lessons / lang).glob(f"{nn}_*.ipynb"))
        if not originals:
            known = " ".join(sorted(p.name[:2] for p in (self.lessons / lang).glob("*.ipynb")))
            print(f"reset-lesson: there is no lesson {nn}; the lessons are: {known}", file=sys.stderr)
            return 2
        name = originals[0].name
        mine = self.work / name
        if mine.exists():
            backup = unique_backup(mine)
            shutil.copy2(mine, backup)
            print(f"kept your version as {backup.name}")
        self.copy(name, lang)
        self.write_record()
        print(f"restored {name}")
        return 0


def unique_backup(path: Path) -> Path:
    """NAME.backup-YYYYmmdd-HHMMSS.EXT, with -2, -3 ... when a second backup falls in the same second."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    stem, suffix = (path.stem, path.suffix) if path.is_file() else (path.name, "")
    candidate = path.with_name(f"{stem}.backup-{stamp}{suffix}")
    n = 2
    while candidate.exists():
        candidate = path.with_name(f"{stem}.backup-{stamp}-{n}{suffix}")
        n += 1
    return candidate


def main(argv: list[str]) -> int:
    """reset-lesson N (docker/reset-lesson.sh): in the lab's language, LAB_LANG."""
    lang = os.environ.get("LAB_LANG") or contract.DEFAULT_LANG
    lessons = Path(os.environ.get(contract.LESSONS_ENV) or contract.LESSONS_DIR)
    return Workspace(Path(contract.WORKSPACE), lessons).reset(argv[0] if argv else "", lang)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
