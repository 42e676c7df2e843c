#!/usr/bin/env python3
"""The lab's host commands, where there is no make: python3 scripts/lab.py up (see labkit/host.py)."""

import sys

from labkit.host import main

if __name__ == "__main__":
    sys.exit(main())
