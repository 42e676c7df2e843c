"""python -m labkit.warm status: start a template and print what it holds (the template process itself
is started as python -m labkit.warm template SOCKET FD by its owner)."""

from __future__ import annotations

import asyncio
import json
import sys

from .owner import template
from .template import serve


def main(argv: list[str]) -> int:
    if argv[:1] == ["template"] and len(argv) == 3:
        serve(argv[1], int(argv[2]))
        return 0
    if argv[:1] == ["status"]:
        print(json.dumps(asyncio.run(template().status()), indent=1))
        template().stop()
        return 0
    print("usage: python -m labkit.warm status", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
