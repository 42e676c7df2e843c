"""The classroom under load: a hub as `make classroom-up` starts it, N students' servers asked for at once
through the hub's API, as a class does at the start of a lesson. Baseline from the same run: one student alone.

Then, for the largest class: the same with each student's warm-kernel template started lazily (with their
first kernel) and not at all, beside the classroom's default (WARM_DEFAULT), with the CPU time each student's
container spent until it settled; and `make classroom-progress 9` over that many students, beside one student.
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..host.classroom import ClassroomCommands
from ..host.docker import Docker
from ..host.net import free_port, http_status, wait_until
from ..host.progress import ClassProgress
from ..host.settings import Settings, say

# classroom/jupyterhub_config.py's default for CLASSROOM_WARM_KERNELS (a unit test checks they agree)
WARM_DEFAULT = "lazy"
WARM_MODES = {"1": "with the server", "lazy": "with the first kernel", "0": "never (each kernel spawned)"}
CPU_USAGE = (
    "if [ -r /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then echo ns $(cat /sys/fs/cgroup/cpuacct/cpuacct.usage); "
    "else echo us $(sed -n 's/^usage_usec //p' /sys/fs/cgroup/cpu.stat); fi"
)


def memory_bytes(text: str) -> float:
    """docker stats' figures: 131.2MiB, 1.02GiB, 512KiB, 0B."""
    number, unit = re.match(r"([\d.]+)\s*([KMG]i)?B", text).groups()
    return float(number) * {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}[unit]


def cpu_seconds(docker: Docker, container: str) -> float | None:
    """CPU time a container has used so far (its cgroup's, v1 or v2)."""
    unit, _, value = (docker("exec", container, "sh", "-c", CPU_USAGE, check=False).stdout or "").strip().partition(" ")
    if not value.isdigit():
        return None
    return int(value) / (1e9 if unit == "ns" else 1e6)


class Class:
    """One hub, on its own port and project, for the whole measurement."""

    def __init__(self, base: Settings):
        self.home = Path(tempfile.mkdtemp(prefix="bench-classroom-"))
        port = free_port()
        self.port = port
        self.project = f"pytorch-lab-bench-classroom-{port}"
        self.knobs = {
            "HUB_PORT": str(port),
            "CLASSROOM_PROJECT": self.project,
            "CLASSROOM_ADMIN_TOKEN_FILE": str(self.home / "admin-token"),
            "CLASSROOM_IDLE_TIMEOUT": "0",
            "CLASSROOM_OUT": str(self.home / "reports"),
            # 30 servers at once on two cores take longer than one: wait as long as they need.
            "CLASSROOM_START_TIMEOUT": "600",
            "CLASSROOM_HTTP_TIMEOUT": "600",
        }
        self.base = base
        self.room = self.start()
        self.docker = Docker(self.room.s)

    def start(self, **knobs: str) -> ClassroomCommands:
        """The hub (re)started with these knobs on top of the measurement's own."""
        room = ClassroomCommands(Settings({**self.base.env, **self.knobs, **knobs}))
        room.up()
        self.api = room.api()
        return room

    def stats(self, *names: str) -> list[str]:
        out = self.docker("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", *names, check=False).stdout
        return [line for line in out.split("\n") if line]

    def spawn(self, names: list[str], active: bool = False) -> dict:
        """Ask for every server at once, wait until all answer; their time, memory and CPU, then stop them."""
        self.api.call("POST", "users", {"usernames": names})
        started = time.perf_counter()
        # Every request at once, as a class's browsers send them; the hub answers each within its slow_spawn_timeout.
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            list(pool.map(lambda name: self.api.request("POST", f"users/{name}/server", timeout=120), names))

        def all_answer() -> bool:
            return all(http_status(self.port, f"/user/{name}/api", timeout=5) == 200 for name in names)

        wait_until(all_answer, 900, interval=0.5, what=f"{len(names)} student servers")
        seconds = round(time.perf_counter() - started, 2)
        time.sleep(5)  # let the servers settle (a template finishes its imports) before memory and CPU are read
        containers = [f"{self.project}-{name}" for name in names]
        per_student = [memory_bytes(line.split()[1]) for line in self.stats(*containers)]
        cpu = [c for c in (cpu_seconds(self.docker, name) for name in containers) if c is not None]
        run = {
            "all_answer_s": seconds,
            "memory_per_student_mb": round(statistics.mean(per_student) / 1e6) if per_student else None,
            "hub_memory_mb": round(memory_bytes(self.stats(self.room.hub_container())[0].split()[1]) / 1e6),
            "cpu_s_per_student": round(statistics.mean(cpu), 2) if cpu else None,
        }
        if active:  # the first student after importing torch, as a lesson's first cell does
            self.docker("exec", "-d", containers[0], "python", "-c", "import torch, time; time.sleep(60)")
            time.sleep(10)
            run["active_student_mb"] = round(memory_bytes(self.stats(containers[0])[0].split()[1]) / 1e6)
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            list(pool.map(lambda name: self.api.request("DELETE", f"users/{name}/server", timeout=120), names))
        wait_until(lambda: not self.room.student_containers(), 300, interval=1, what="the servers to stop")
        return run

    def progress(self, names: list[str]) -> float:
        """make classroom-progress 9 over these students' volumes (their untouched lesson 09): seconds."""
        roster = {name: f"{self.project}-work-{name}" for name in names}
        started = time.perf_counter()
        ClassProgress(self.room.s, self.project, roster).run("09")
        return round(time.perf_counter() - started, 2)

    def close(self) -> None:
        self.room.down()
        volumes = self.docker("volume", "ls", "-q", "--filter", f"name={self.project}", check=False).stdout.split()
        if volumes:
            self.docker("volume", "rm", "-f", *volumes, check=False)


def measure(base: Settings, counts: list[int]) -> dict:
    room = Class(base)
    docker = room.docker
    result = {"cores": os.cpu_count(), "mem_limit": "1G", "runs": {}, "warm_default": WARM_DEFAULT}
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        docker.run_in_image(room.room.s.image, "python", "-c", "pass", check=True)
        runs.append(time.perf_counter() - started)
    result["baseline_docker_run_s"] = round(statistics.median(runs), 3)
    largest = max([1, *counts])
    try:
        for n in [1, *counts]:
            names = [f"s{n:02d}x{i:02d}" for i in range(n)]
            run = room.spawn(names, active=n == 1)
            if n == 1:
                result["active_student_mb"] = run.pop("active_student_mb")
            result["runs"][str(n)] = run
            say(f"bench: classroom: {n} student(s) answered in {run['all_answer_s']:.1f} s")
        if largest > 1:
            one, everyone = ["s01x00"], [f"s{largest:02d}x{i:02d}" for i in range(largest)]
            result["progress"] = {"one_s": room.progress(one), "students": largest, "all_s": room.progress(everyone)}
            say(f"bench: classroom: progress of {largest} students in {result['progress']['all_s']:.1f} s")
            result["warm_modes"] = {WARM_DEFAULT: result["runs"][str(largest)]}
            for mode in WARM_MODES:
                if mode == WARM_DEFAULT:
                    continue
                room.room = room.start(CLASSROOM_WARM_KERNELS=mode)
                names = [f"w{mode[:1]}{largest:02d}x{i:02d}" for i in range(largest)]
                result["warm_modes"][mode] = room.spawn(names)
                say(
                    f"bench: classroom: {largest} students, template {WARM_MODES[mode]}: "
                    f"{result['warm_modes'][mode]['all_answer_s']:.1f} s"
                )
    finally:
        room.close()
    return result
