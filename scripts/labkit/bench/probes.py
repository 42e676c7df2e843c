"""Probes that run inside the lab's container, against its own server, through the REST and kernel websocket
API that JupyterLab uses: how soon a lesson's first torch cell answers, and how much memory kernels take.

    python -m labkit.bench first-cell --token T [--port 8888] [--notebook 09_linear_regression.ipynb]
    python -m labkit.bench memory --token T [--kernels 3]
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from ..host.rest import Rest
from ..lab_client import KernelSocket


def first_code_cells(path: Path) -> list[str]:
    """The notebook's code cells up to the first that imports torch: what a student runs first."""
    cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    sources = ["".join(c["source"]) for c in cells]
    last = next(i for i, src in enumerate(sources) if re.search(r"^\s*import torch", src, re.M))
    return sources[: last + 1]


def first_cell(server: Rest, path: str, folder: Path) -> dict:
    """Seconds from asking for the notebook's kernel to the output of its first cell that imports torch."""
    cells = first_code_cells(folder / path)
    started = time.perf_counter()
    kernel = KernelSocket.open_notebook(server, path)
    try:
        opened = time.perf_counter() - started
        ids = [kernel.send(code) for code in cells]
        kernel.until(ids[-1], ("stream", "execute_result", "display_data"))
        output = time.perf_counter() - started
        kernel.until(ids[-1], ("execute_reply",))
    finally:
        kernel.close()
    return {"session_s": round(opened, 3), "first_output_s": round(output, 3)}


def pss_kb(pid: int) -> int:
    text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    return int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1))


def processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process this user can see."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            found[int(entry.name)] = (parent, cmd)
    return found


def idle_kernels_memory(server: Rest, path: str, count: int) -> dict:
    """PSS (MB) of the warm template and of `count` idle kernels that each imported torch, numpy and pyplot."""
    kernels = []
    try:
        # One session per notebook path: as many (unsaved) notebooks as kernels, in the lesson's folder.
        for i in range(count):
            kernels.append(KernelSocket.open_notebook(server, str(Path(path).with_name(f"idle-{i}.ipynb"))))
            result = kernels[-1].execute("import torch, numpy, matplotlib.pyplot", timeout=300)
            if result["status"] != "ok":
                raise RuntimeError(f"an idle kernel could not import torch: {result}")
        time.sleep(1)
        now = processes()
        # A forked kernel keeps its template's command line: the template is the one whose parent is not.
        forked = {pid for pid, (parent, _) in now.items() if "labkit.warm template" in now.get(parent, (0, ""))[1]}
        templates = [pid for pid, (_, cmd) in now.items() if "labkit.warm template" in cmd and pid not in forked]
        spawned = [pid for pid, (_, cmd) in now.items() if "ipykernel_launcher" in cmd]
        return {
            "kernels": count,
            "template_pss_mb": round(sum(pss_kb(p) for p in templates) / 1024, 1),
            "kernel_pss_mb": [round(pss_kb(p) / 1024, 1) for p in sorted(forked) + spawned],
        }
    finally:
        for kernel in kernels:
            kernel.close()
