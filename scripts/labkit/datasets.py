"""Small real data sets that ship with labkit, for the lessons: nothing is downloaded at run time.

    from labkit.datasets import load_digits
    images, labels = load_digits()      # torch tensors: (1797, 8, 8) float32 in [0, 1], (1797,) int64

The files live in labkit/data (package data, see data/README.md for their source, licence and sha256),
so they reach the lab, the runner and any environment where labkit is installed.
Standard library at import; torch (and nothing else) is imported when a loader is called.
"""

from __future__ import annotations

import gzip
import hashlib
from importlib import resources

DIGITS_FILE = "digits.csv.gz"
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
DIGITS_COUNT = 1797
DIGITS_SIDE = 8
DIGITS_MAX_PIXEL = 16
DIGITS_CLASSES = 10


def _data_bytes(name: str, sha256: str) -> bytes:
    data = (resources.files(__package__) / "data" / name).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise RuntimeError(
            f"labkit/data/{name} is damaged (sha256 {digest[:12]}…, expected {sha256[:12]}…): reinstall labkit"
            f" / 数据文件 labkit/data/{name} 已损坏，请重新安装 labkit"
        )
    return data


def digits_rows() -> list[list[int]]:
    """The digits as plain integers: one row per image, 64 pixel values (0–16, row by row) then the label (0–9)."""
    text = gzip.decompress(_data_bytes(DIGITS_FILE, DIGITS_SHA256)).decode("ascii")
    rows = [[int(float(v)) for v in line.split(",")] for line in text.splitlines() if line.strip()]
    width = DIGITS_SIDE * DIGITS_SIDE + 1
    if len(rows) != DIGITS_COUNT or any(len(r) != width for r in rows):
        raise RuntimeError(f"labkit/data/{DIGITS_FILE}: expected {DIGITS_COUNT} rows of {width} values")
    return rows


def load_digits():
    """The UCI optical handwritten digits (Alpaydin & Kaynak, CC BY 4.0), as torch tensors.

    Returns ``(images, labels)``:

    - ``images``: float32 tensor of shape (1797, 8, 8): each image's 8×8 pixels, row by row,
      scaled from the original integers 0–16 to 0.0–1.0 (divided by 16);
    - ``labels``: int64 (``torch.long``) tensor of shape (1797,): the digit shown, 0–9.

    The images are in the file's order (not shuffled, not split). Read from labkit's package data:
    no network is needed.
    """
    import torch

    rows = digits_rows()
    values = torch.tensor(rows, dtype=torch.int64)
    images = values[:, :-1].to(torch.float32).reshape(-1, DIGITS_SIDE, DIGITS_SIDE) / DIGITS_MAX_PIXEL
    labels = values[:, -1].clone()
    return images, labels
