"""The READMEs say what the Makefile does: the command tables of README.md and README.zh-CN.md name the same
commands, every public target of the Makefile."""

from __future__ import annotations

import re

from support import ROOT


def table_commands(path: str) -> set[str]:
    """The `make TARGET` names in the first column of a README's table rows."""
    names = set()
    for line in (ROOT / path).read_text(encoding="utf-8").splitlines():
        if line.startswith("| `make") or line.startswith("| `make"):
            first = line.split(" | ")[0]
            names |= set(re.findall(r"`make ([a-z-]+)", first)) | set(re.findall(r"/ `([a-z-]+)`", first))
    return names


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z-]+):.*## ", text, re.M)) - {"help"}


def test_the_english_readme_lists_every_public_target():
    assert table_commands("README.md") == makefile_targets()


def test_the_chinese_readme_lists_the_same_commands():
    assert table_commands("README.zh-CN.md") == table_commands("README.md")
