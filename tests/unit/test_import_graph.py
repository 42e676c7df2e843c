"""The shape of scripts/: no import circle (imports inside functions count), labkit imported only at the top
of a module, and the host side on the standard library alone, as a student's Python 3.9 has it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from labkit.host.tools import HOST_SIDE
from support import ROOT

SCRIPTS = ROOT / "scripts"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SCRIPTS).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(SCRIPTS.rglob("*.py"))}


def imports(name: str) -> list[tuple[str, bool]]:
    """(imported module, at the module's top level) for every import statement of a module, relative ones resolved."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    inside = {id(n) for f in functions for n in ast.walk(f)}
    top = {id(n) for n in ast.walk(tree)} - inside  # module level, if and try blocks included
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(part for part in [*anchor, base] if part)
            found.append((base, id(node) in top))
            # `from . import execute` imports a module, not a name
            found += [
                (f"{base}.{alias.name}", id(node) in top) for alias in node.names if f"{base}.{alias.name}" in MODULES
            ]
    return found


def ours(module: str) -> str | None:
    """The module of scripts/ an import names (its nearest enclosing one), or None for anything else."""
    while module and module not in MODULES:
        module = module.rpartition(".")[0]
    return module or None


GRAPH = {name: sorted({ours(m) for m, _ in imports(name)} - {None, name}) for name in MODULES}


def test_no_import_circle_in_scripts():
    circles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in GRAPH[node]:
            if state.get(nxt) == "open":
                circles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for name in MODULES:
        if name not in state:
            visit(name, [name])
    assert not circles, circles


def test_labkit_is_imported_only_at_the_top_of_a_module():
    lazy = [(name, m) for name in MODULES for m, at_top in imports(name) if not at_top and ours(m)]
    assert not lazy, f"imported inside a function: {lazy}"


def host_modules() -> set[str]:
    found = set()
    for entry in HOST_SIDE:
        path = ROOT / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        found |= {module_name(f) for f in files}
    return found


def test_the_host_side_imports_only_the_standard_library_and_itself():
    host = host_modules()
    assert {"lab", "labkit.host.cli", "labkit.host.settings", "labkit.contract"} <= host
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    foreign = [
        (name, module)
        for name in sorted(host)
        for module, _ in imports(name)
        if module.split(".")[0] not in stdlib and ours(module) not in host
    ]
    # lesson.py runs in the kernel, where it may import torch, tqdm and IPython inside its functions;
    # the host (the lesson build) imports it for its fingerprint, which needs none of them.
    kernel_only = {
        ("labkit.lesson", m) for m in ("torch", "IPython", "IPython.display", "tqdm.std", "tqdm.notebook", "ipywidgets")
    }
    assert set(foreign) - kernel_only == set(), sorted(set(foreign) - kernel_only)
    top_level_foreign = [
        (name, module)
        for name in sorted(host)
        for module, at_top in imports(name)
        if at_top and module.split(".")[0] not in stdlib and ours(module) not in host
    ]
    assert not top_level_foreign


def test_the_front_door_is_the_only_module_that_imports_the_commands():
    commands = {"labkit.host.lab", "labkit.host.classroom", "labkit.bench.measure"}
    importers = {name for name, deps in GRAPH.items() if set(deps) & commands}
    # the benchmark drives the lab and the classroom in its own process
    assert importers <= {"labkit.host.cli", "labkit.bench.measure", "labkit.bench.classroom_scale"}, importers
    assert "labkit.host.cli" in importers


def test_no_module_of_labkit_is_over_450_lines():
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > 450}
    assert not long, long
