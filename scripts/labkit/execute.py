"""Run one notebook with papermill and turn what happened into a result record."""

from __future__ import annotations

import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
import papermill
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.engines import NBClientEngine, papermill_engines
from papermill.exceptions import PapermillExecutionError
from papermill.execute import remove_error_markers

from . import warm
from .contract import METRICS_MIME, RAISES_TAG
from .notebooks import display_path

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ENGINE = "labkit"


class SavedAtTheEnd(NBClientEngine):
    """papermill's engine, but the executed copy is written when the run ends (and when it starts), not
    before and after every cell: two JSON writes of the whole notebook per cell were about a quarter of
    what a notebook costs beyond its cells. papermill writes the copy in a finally block, so a timeout or
    a dead kernel still leaves the cell it stopped in marked as started (running_cell reads it)."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        nb_man.save = lambda **_: None  # the manager's own save, called by notebook_complete, is its class's
        try:
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
        finally:
            del nb_man.save


papermill_engines.register(ENGINE, SavedAtTheEnd)


@dataclass
class Task:
    path: Path
    output: Path
    parameters: dict
    kernel_name: str
    timeout: int


@dataclass
class Result:
    path: str
    status: str  # "passed" or "failed"
    seconds: float
    parameters: dict
    metrics: dict = field(default_factory=dict)
    error: str | None = None
    output: str = ""
    traceback: str = ""

    def summary(self) -> dict:
        return asdict(self)


def run(task: Task) -> Result:
    """Execute task.path into task.output; never raises for a failing notebook."""
    log = task.output.with_suffix(".kernel.log")
    task.output.parent.mkdir(parents=True, exist_ok=True)
    task.output.unlink(missing_ok=True)  # a copy left by an earlier run must not be judged
    warm.use_for_new_kernels()  # forked from this process's warm template, unless LAB_WARM_KERNELS=0
    started = time.monotonic()
    error = traceback = None
    # The kernel inherits this process's stderr: keep its chatter in a log beside the copy.
    saved_stderr = os.dup(2)
    with open(log, "w") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            papermill.execute_notebook(
                str(task.path),
                str(task.output),
                parameters=task.parameters,
                kernel_name=task.kernel_name,
                # the copy's folder: writable wherever the lesson itself is not (the image's lessons are root's)
                cwd=str(task.output.parent),
                execution_timeout=task.timeout,
                progress_bar=False,
                log_output=False,
                shutdown_kernel="immediate",  # the run is over: no need to wait for a polite exit
                engine_name=ENGINE,
            )
        except PapermillExecutionError:
            pass  # judged below from the executed copy, where tagged cells may err on purpose
        except CellTimeoutError:
            error = f"{running_cell(task.output)} ran past the {task.timeout} s limit (--timeout) and was stopped"
        except DeadKernelError:
            error = f"the kernel died while running {running_cell(task.output)} (out of memory, or the process was killed); see {display_path(log)}"
        except Exception as exc:  # a kernel that cannot start, an unreadable output folder...
            error = f"{type(exc).__name__}: {first_line(str(exc))}"
        finally:
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
    seconds = round(time.monotonic() - started, 2)
    executed = read_if_written(task.output)
    if error is None and executed is not None:
        error, traceback = first_unexpected_error(executed)
        if error is None:
            # Only tagged cells failed: drop papermill's "An Exception was encountered" banner.
            nbformat.write(remove_error_markers(executed), task.output)
    elif executed is None and error is None:
        error = "papermill wrote no executed copy"
    return Result(
        path=display_path(task.path),
        status="failed" if error else "passed",
        seconds=seconds,
        parameters=task.parameters,
        metrics=collect_metrics(executed) if executed is not None else {},
        error=error,
        output=display_path(task.output),
        traceback=traceback or "",
    )


def read_if_written(path: Path):
    try:
        return nbformat.read(path, as_version=4)
    except (OSError, ValueError):
        return None


def cell_label(nb, index: int) -> str:
    """'cell N (In [k])': N counts the source notebook's cells, without papermill's additions."""
    added = ("injected-parameters", "papermill-error-cell-tag")
    position = sum(1 for c in nb.cells[: index + 1] if not set(added) & set(c.metadata.get("tags", [])))
    count = nb.cells[index].get("execution_count")
    return f"cell {position} (In [{count}])" if count else f"cell {position}"


def running_cell(output: Path) -> str:
    """The cell papermill had started last: the one a timeout or a dead kernel stopped."""
    executed = read_if_written(output)
    if executed is None:
        return "(unknown)"
    started = [
        i
        for i, c in enumerate(executed.cells)
        if c.cell_type == "code" and c.metadata.get("papermill", {}).get("start_time")
    ]
    return cell_label(executed, started[-1]) if started else "(before the first cell)"


def first_unexpected_error(nb) -> tuple[str | None, str | None]:
    """The first error outside a cell tagged raises-exception, as (one line, traceback)."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or RAISES_TAG in cell.metadata.get("tags", []):
            continue
        for out in cell.get("outputs", []):
            # sys.exit() and sys.exit(0) end a notebook without failing it, as in papermill.
            if out.output_type == "error" and not (out.ename == "SystemExit" and out.evalue in ("", "0")):
                line = f"{cell_label(nb, index)}: {out.ename}: {first_line(out.evalue)}"
                return line, ANSI.sub("", "\n".join(out.get("traceback", [])))
        if cell.metadata.get("papermill", {}).get("exception"):
            return f"{cell_label(nb, index)}: execution failed without an error output", ""
    return None, None


def first_line(text: str) -> str:
    lines = [line for line in str(text).splitlines() if line.strip()]
    return lines[0].strip() if lines else ""


def collect_metrics(nb) -> dict:
    """Merge every metrics record a notebook displayed, in cell order."""
    metrics: dict = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if METRICS_MIME in data and isinstance(data[METRICS_MIME], dict):
                metrics.update(data[METRICS_MIME])
    return metrics
