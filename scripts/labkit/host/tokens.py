"""The secrets the host keeps for the lab and the hub: a token per file, readable by its owner only."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (mode 600), from its first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def ensure_token(path: Path, given: str = "") -> str:
    """The token in path: the one given, else the one already there, else a new random one. No newline after
    it: Jupyter's server reads JUPYTER_TOKEN_FILE's bytes as they are."""
    if given:
        write_private(path, given)
    elif not path.exists() or not path.read_text().strip():
        write_private(path, secrets.token_hex(24))
    os.chmod(path, 0o600)
    return path.read_text().strip()
