#!/usr/bin/env python3
"""Execute notebooks with papermill, parametrized; see --help or README.md."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from labkit.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
