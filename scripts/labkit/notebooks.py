"""What the runner knows about a notebook before running it: its parameters and profiles."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .contract import LANGUAGES, LESSONS_ENV, METADATA_KEY, PARAMETERS_TAG

LESSON_PATTERN = re.compile(r"^\d\d_.+\.ipynb$")


class BadInput(Exception):
    """Input the runner refuses before running anything; str() is the one-line message."""


@dataclass
class NotebookInfo:
    path: Path
    node: dict  # an nbformat.NotebookNode
    declared: dict = field(default_factory=dict)  # parameter name -> papermill's description

    @property
    def parameters_cells(self) -> list[int]:
        return [i for i, cell in enumerate(self.node.cells) if PARAMETERS_TAG in cell.metadata.get("tags", [])]

    @property
    def profiles(self) -> dict:
        return self.node.metadata.get(METADATA_KEY, {}).get("profiles", {})

    @property
    def kernel_name(self) -> str:
        return self.node.metadata.get("kernelspec", {}).get("name") or "python3"


def lessons_dir() -> Path:
    """Where the lessons are: $LAB_LESSONS_DIR, else notebooks/ in the working folder."""
    return Path(os.environ.get(LESSONS_ENV) or "notebooks")


def lesson_paths(folder: Path | None = None) -> list[Path]:
    """The lessons of a folder and of its language folders (zh/, en/), NN_topic.ipynb, in order."""
    folder = lessons_dir() if folder is None else folder
    found = [
        p
        for sub in (folder, *(folder / lang for lang in LANGUAGES))
        if sub.is_dir()
        for p in sub.iterdir()
        if LESSON_PATTERN.match(p.name)
    ]
    return sorted(found, key=lambda p: (p.parent != folder, p.parent.name != LANGUAGES[0], p.name))


def display_path(path: Path) -> str:
    """A path as a person would type it: relative to the working folder where possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def expand(paths: list[str]) -> list[Path]:
    """Turn the command line's paths into notebook files; no path means every lesson."""
    if not paths:
        found = lesson_paths()
        if not found:
            raise BadInput(f"no lessons (NN_name.ipynb) in {display_path(lessons_dir())}; give notebooks or a folder")
        return found
    result = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise BadInput(f"{raw}: no such file or folder; give a notebook (.ipynb) or a folder of them")
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
            if not inside:
                raise BadInput(f"{raw}: this folder holds no notebooks (.ipynb)")
            result.extend(inside)
        elif path.suffix != ".ipynb":
            raise BadInput(f"{raw}: not a notebook (expected a .ipynb file)")
        else:
            result.append(path)
    return result


def load(path: Path) -> NotebookInfo:
    """Read and validate a notebook, and the parameters its parameters cell declares."""
    import nbformat
    from papermill.inspection import inspect_notebook

    try:
        node = nbformat.read(path, as_version=4)
    except (json.JSONDecodeError, UnicodeDecodeError, nbformat.reader.NotJSONError) as exc:
        raise BadInput(
            f"{display_path(path)}: not a readable notebook ({type(exc).__name__}); is it a .ipynb saved by Jupyter?"
        ) from None
    except Exception as exc:  # nbformat raises several kinds for malformed documents
        raise BadInput(f"{display_path(path)}: not a valid notebook: {str(exc).splitlines()[0]}") from None
    info = NotebookInfo(path=path, node=node)
    if info.parameters_cells:
        info.declared = inspect_notebook(str(path))
    return info


def resolve_parameters(info: NotebookInfo, profile: str | None, overrides: dict) -> dict:
    """Parameters for one run: the notebook's profile, then -p overrides; refuse undeclared names."""
    params = dict(info.profiles.get(profile, {})) if profile else {}
    params.update(overrides)
    unknown = [name for name in params if name not in info.declared]
    if unknown:
        where = display_path(info.path)
        names = ", ".join(repr(n) for n in unknown)
        if not info.parameters_cells:
            raise BadInput(
                f"{where} has no cell tagged 'parameters', so {names} cannot be set; drop -p for it or tag its parameters cell"
            )
        declared = ", ".join(info.declared) or "nothing"
        source = f"profile '{profile}'" if profile and not set(unknown) & set(overrides) else "-p"
        raise BadInput(f"{where} declares no parameter {names} (from {source}); it declares: {declared}")
    return params


def is_clean(node) -> bool:
    """True when no code cell carries outputs or an execution count."""
    return all(
        not cell.get("outputs") and cell.get("execution_count") is None
        for cell in node.cells
        if cell.cell_type == "code"
    )
