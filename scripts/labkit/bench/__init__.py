"""Benchmarks of the lab, each against a baseline measured in the same run (make bench).

Where each part runs: measure (the host: builds, starts the lab and the classroom, times them; standard
library only), probes (inside the lab's container, against its own server), plain (inside the image: the
lessons' code as plain Python, the baseline of the runner), report (BENCHMARKS.md from build/bench.json).
"""
