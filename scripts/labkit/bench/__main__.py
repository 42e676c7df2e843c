"""What the benchmarks run inside the image (the host's `make bench` starts these in containers):

python -m labkit.bench plain --profile quick        the lessons' code as plain Python: seconds per lesson
python -m labkit.bench first-cell --token T         in the lab: lesson 09's first torch cell, timed
python -m labkit.bench memory --token T --kernels 3 in the lab: the memory of idle kernels
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import contract
from ..host.rest import Rest
from ..notebooks import lesson_paths
from .plain import run_in_one_process
from .probes import first_cell, idle_kernels_memory


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    plain = sub.add_parser("plain", help="the lessons' code as plain Python, one process")
    plain.add_argument("--profile", choices=contract.PROFILES, default="quick")
    for name in ("first-cell", "memory"):
        probe = sub.add_parser(name, help="a probe of the lab this container serves")
        probe.add_argument("--port", type=int, default=contract.LAB_PORT)
        probe.add_argument("--token", required=True)
        probe.add_argument("--notebook", default="09_linear_regression.ipynb")
        probe.add_argument("--folder", type=Path, default=Path(contract.WORKSPACE))
        if name == "memory":
            probe.add_argument("--kernels", type=int, required=True, help="idle kernels to open at once")
    args = parser.parse_args(argv)
    if args.what == "plain":
        print(json.dumps(run_in_one_process(lesson_paths(), args.profile)))
        return 0
    server = Rest(f"http://127.0.0.1:{args.port}", args.token, timeout=120)
    if args.what == "first-cell":
        print(json.dumps(first_cell(server, args.notebook, args.folder)))
    else:
        print(json.dumps(idle_kernels_memory(server, args.notebook, args.kernels)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
