#!/usr/bin/env python3
"""The lab's host commands where there is no make: `python -m scripts.lab up` from the repository's
root, or `python scripts/lab.py up` (see labkit/host/cli.py)."""

import sys

if __package__:  # python -m scripts.lab: labkit is this folder's package
    from .labkit.host.cli import main
else:  # python scripts/lab.py: this folder is on the path
    from labkit.host.cli import main

if __name__ == "__main__":
    sys.exit(main())
