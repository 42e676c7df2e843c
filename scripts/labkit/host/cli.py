"""The host commands' front door: `python3 scripts/lab.py COMMAND [ARG]`, which each Makefile target runs
(`make help` lists them). The only module that imports the commands.

Every knob is an environment variable (the Makefile exports them; README lists them). A problem ends a
command with one line, `error: what is wrong; what to do`, and exit status 1.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Callable

from ..bench import measure
from .carry import Carry
from .checks import Checks
from .classroom import ClassroomCommands
from .image import Image
from .lab import LabCommands
from .settings import Failure, Settings
from .tools import host_venv, lessons, lint


def done(_=None) -> int:
    return 0


# name -> what it does with the settings and its arguments; its exit status
COMMANDS: dict[str, Callable[[Settings, list[str]], int]] = {
    "build": lambda s, a: done(Image(s).build()),
    "up": lambda s, a: done(LabCommands(s).up()),
    "prepare": lambda s, a: done(LabCommands(s).prepare()),
    "down": lambda s, a: done(LabCommands(s).down()),
    "logs": lambda s, a: done(LabCommands(s).logs()),
    "shell": lambda s, a: done(LabCommands(s).shell()),
    "run": lambda s, a: LabCommands(s).run_notebooks(),
    "test": lambda s, a: LabCommands(s).test(),
    "test-unit": lambda s, a: LabCommands(s).test_unit(),
    "test-gpu": lambda s, a: LabCommands(s).test_gpu(),
    "reset-lesson": lambda s, a: LabCommands(s).reset_lesson(a[0] if a else s.get("N")),
    "reset-packages": lambda s, a: LabCommands(s).reset_packages(),
    "save": lambda s, a: Carry(s).save(),
    "load": lambda s, a: Carry(s).load(),
    "publish": lambda s, a: Carry(s).publish(),
    "doctor": lambda s, a: Checks(s).doctor(),
    "bench": lambda s, a: measure.main(s, a or s.words("BENCH_ARGS")),
    "lint": lambda s, a: lint(s),
    "lessons": lambda s, a: lessons("--check" in a),
    "host-venv": lambda s, a: done(print(host_venv(s))),
    "classroom-up": lambda s, a: done(ClassroomCommands(s).up()),
    "classroom-down": lambda s, a: done(ClassroomCommands(s).down()),
    "classroom-status": lambda s, a: ClassroomCommands(s).status(),
    "classroom-progress": lambda s, a: ClassroomCommands(s).progress(a[0] if a else s.get("N")),
    "classroom-collect": lambda s, a: ClassroomCommands(s).collect(a[0] if a else s.get("N")),
    "test-classroom": lambda s, a: ClassroomCommands(s).test(),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab", description="The lab's host commands (make help describes each).")
    parser.add_argument("command", choices=COMMANDS, metavar="COMMAND", help=", ".join(COMMANDS))
    parser.add_argument(
        "args", nargs=argparse.REMAINDER, help="the command's arguments (reset-lesson N; lessons --check)"
    )
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](Settings(), args.args)
    except Failure as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as failed:  # a step that had to succeed: still one line
        said = (failed.stderr or "").strip().splitlines() if isinstance(failed.stderr, str) else []
        why = f": {said[-1]}" if said else " (see above)"
        print(
            f"error: {' '.join(map(str, failed.cmd[:6]))} … ended with status {failed.returncode}{why}", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        return 130
