"""The lessons' code as plain Python: the baseline that prices the notebook machinery."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import time
import types
from pathlib import Path

import nbformat

from ..contract import METADATA_KEY, PARAMETERS_TAG, RAISES_TAG


def notebook_source(path: Path, parameters: dict) -> str:
    """The code cells in order, parameters set after the parameters cell as papermill sets them.

    Cells tagged raises-exception are left out: they err on purpose.
    """
    node = nbformat.read(path, as_version=4)
    chunks = []
    for cell in node.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type != "code" or RAISES_TAG in tags:
            continue
        chunks.append(cell.source)
        if PARAMETERS_TAG in tags:
            chunks.extend(f"{name} = {value!r}" for name, value in parameters.items())
    return "\n\n".join(chunks) + "\n"


def run_in_one_process(paths: list[Path], profile: str) -> dict[str, float]:
    """Execute each notebook's code in a fresh namespace of this one process; seconds per notebook."""
    os.environ.setdefault("MPLBACKEND", "Agg")  # no window; plt.show() does nothing
    import matplotlib.pyplot as plt

    seconds = {}
    for path in paths:
        node = nbformat.read(path, as_version=4)
        params = node.metadata.get(METADATA_KEY, {}).get("profiles", {}).get(profile, {})
        code = compile(notebook_source(path, params), str(path), "exec")
        started = time.perf_counter()
        cwd = os.getcwd()
        # a folder of its own, writable, as the runner gives each notebook (the image's lessons are root's)
        with tempfile.TemporaryDirectory(prefix=f"{path.stem}-") as folder:
            os.chdir(folder)
            # a fresh __main__, as `python script.py` has: what the code pickles must be found there
            script, main = types.ModuleType("__main__"), sys.modules["__main__"]
            sys.modules["__main__"] = script
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(code, script.__dict__)
            finally:
                sys.modules["__main__"] = main
                os.chdir(cwd)
                plt.close("all")
        seconds[path.name] = time.perf_counter() - started
    return seconds
