#!/usr/bin/env python3
"""Execute notebooks with papermill, parametrized; the same as the run-notebooks command (see --help)."""

import sys

from labkit.cli import main

if __name__ == "__main__":
    sys.exit(main())
