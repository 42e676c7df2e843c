"""The run-notebooks command (python -m labkit.runner): check the input, run the notebooks, report."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from papermill.cli import _resolve_type

from . import execute, report, warm
from .contract import PROFILES
from .notebooks import BadInput, display_path, expand, load, resolve_parameters

DEFAULT_OUTPUT = Path("build") / "notebooks"
PROG = "run-notebooks"


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (and exit 2), not the whole usage block."""

    def error(self, message):
        raise BadInput(f"{message} (see {PROG} --help)")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = OneLineParser(
        prog=PROG,
        description="Execute notebooks with papermill, parametrized, into an output folder; "
        "write summary.json and junit.xml there. Exit 0 only if every notebook passed.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="notebooks or folders of notebooks (default: every lesson, notebooks/zh and notebooks/en)",
    )
    parser.add_argument(
        "--profile",
        default="quick",
        help=f"parameter set declared by each lesson: {' or '.join(PROFILES)} (default: quick)",
    )
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a parameter, typed as papermill types it: 1e-3 and 5 are numbers, True/False/None "
        "themselves, anything else a string; overrides the profile",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=DEFAULT_OUTPUT,
        metavar="DIR",
        help=f"where executed copies and reports go (default: {display_path(DEFAULT_OUTPUT)})",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="notebooks run at once (default: the number of cores)",
    )
    parser.add_argument(
        "--timeout", type=int, default=600, metavar="SECONDS", help="longest a single cell may run (default: 600)"
    )
    args = parser.parse_args(argv)
    if args.profile not in PROFILES:
        raise BadInput(f"unknown profile {args.profile!r}; choose {' or '.join(PROFILES)}")
    if args.jobs < 1:
        raise BadInput(f"--jobs must be at least 1, not {args.jobs}")
    if args.timeout < 1:
        raise BadInput(f"--timeout must be at least 1 second, not {args.timeout}")
    return args


def parse_value(raw: str):
    """A -p value as papermill's own -p reads it (its own function): True, False, None, an int, a float, else the string."""
    return _resolve_type(raw)


def plan(args: argparse.Namespace) -> list[execute.Task]:
    """Every task to run, or BadInput before anything has run."""
    overrides = {name: parse_value(value) for name, value in args.parameter}
    paths = expand(args.paths)
    # Executed copies keep the notebooks' layout below their common folder: zh/ and en/ stay apart.
    common = Path(os.path.commonpath([str(p.resolve().parent) for p in paths]))
    tasks = []
    for path in paths:
        info = load(path)
        output = args.output_dir / path.resolve().relative_to(common)
        if output.resolve() == path.resolve():
            raise BadInput(
                f"{display_path(path)}: the output folder is the notebook's own folder; choose another --output-dir"
            )
        params = resolve_parameters(info, args.profile, overrides)
        tasks.append(
            execute.Task(
                path=path, output=output, parameters=params, kernel_name=info.kernel_name, timeout=args.timeout
            )
        )
    return tasks


class Progress:
    """A bar on a terminal; one quiet line per notebook elsewhere (CI logs)."""

    def __init__(self, total: int):
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="notebook", file=sys.stderr)

    def done(self, result: execute.Result) -> None:
        line = f"{result.status.upper():6} {result.path} ({result.seconds:.1f} s)"
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
            self.bar.update(1)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_all(tasks: list[execute.Task], jobs: int) -> list[execute.Result]:
    progress = Progress(len(tasks))
    results: dict[int, execute.Result] = {}
    # Each worker is one process that drives one kernel at a time. spawn, not fork: it exists
    # everywhere (Windows and macOS have no safe fork) and a worker inherits no state. Each worker
    # starts its warm-kernel template at once, while it imports papermill (labkit/warm).
    with ProcessPoolExecutor(
        max_workers=min(jobs, len(tasks)), mp_context=multiprocessing.get_context("spawn"), initializer=warm.prestart
    ) as pool:
        futures = {pool.submit(execute.run, task): i for i, task in enumerate(tasks)}
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            progress.done(result)
    progress.close()
    return [results[i] for i in range(len(tasks))]


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        tasks = plan(args)
        args.output_dir.mkdir(parents=True, exist_ok=True)
    except BadInput as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{PROG}: error: cannot create the output folder: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2
    results = run_all(tasks, args.jobs)
    summary = report.write_summary(results, args.output_dir)
    report.write_junit(results, args.output_dir)
    failed = [r for r in results if r.status != "passed"]
    for r in failed:
        print(f"FAILED {r.path}: {r.error} (executed copy: {r.output})", file=sys.stderr)
    print(
        f"{len(results) - len(failed)} passed, {len(failed)} failed; report: {display_path(summary)}", file=sys.stderr
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
