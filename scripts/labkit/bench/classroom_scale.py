"""The classroom under load: a hub as `make classroom-up` starts it, N students' servers asked for at once
through the hub's API, as a class does at the start of a lesson. Baseline from the same run: one student alone."""

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
from ..host.settings import Settings, say


def memory_bytes(text: str) -> float:
    """docker stats' figures: 131.2MiB, 1.02GiB, 512KiB, 0B."""
    number, unit = re.match(r"([\d.]+)\s*([KMG]i)?B", text).groups()
    return float(number) * {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}[unit]


def measure(base: Settings, counts: list[int]) -> dict:
    home = Path(tempfile.mkdtemp(prefix="bench-classroom-"))
    port = free_port()
    project = f"pytorch-lab-bench-classroom-{port}"
    knobs = {
        "HUB_PORT": str(port),
        "CLASSROOM_PROJECT": project,
        "CLASSROOM_ADMIN_TOKEN_FILE": str(home / "admin-token"),
        "CLASSROOM_IDLE_TIMEOUT": "0",
        # 30 servers at once on two cores take longer than one: wait as long as they need.
        "CLASSROOM_START_TIMEOUT": "600",
        "CLASSROOM_HTTP_TIMEOUT": "600",
    }
    room = ClassroomCommands(Settings({**base.env, **knobs}))
    docker = Docker(room.s)
    room.up()
    api = room.api()
    result = {"cores": os.cpu_count(), "mem_limit": "1G", "runs": {}}
    image = room.s.image
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        docker.run_in_image(image, "python", "-c", "pass", check=True)
        runs.append(time.perf_counter() - started)
    result["baseline_docker_run_s"] = round(statistics.median(runs), 3)

    def stats(*names: str) -> list[str]:
        return docker("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", *names, check=False).stdout.split(
            "\n"
        )

    try:
        for n in [1, *counts]:
            names = [f"s{n:02d}x{i:02d}" for i in range(n)]
            api.call("POST", "users", {"usernames": names})
            started = time.perf_counter()
            # Every request at once, as a class's browsers send them; the hub answers each within its slow_spawn_timeout.
            with ThreadPoolExecutor(max_workers=n) as pool:
                list(pool.map(lambda name: api.request("POST", f"users/{name}/server", timeout=120), names))

            def all_answer(names: list[str] = names) -> bool:
                return all(http_status(port, f"/user/{name}/api", timeout=5) == 200 for name in names)

            wait_until(all_answer, 900, interval=0.5, what=f"{n} student servers")
            seconds = round(time.perf_counter() - started, 2)
            time.sleep(5)  # let the servers settle before their memory is read
            per_student = [memory_bytes(line.split()[1]) for line in stats(*[f"{project}-{x}" for x in names]) if line]
            hub = stats(room.hub_container())[0].split()[1]
            if n == 1:  # the same student after importing torch, as a lesson's first cell does
                container = f"{project}-{names[0]}"
                docker("exec", "-d", container, "python", "-c", "import torch, time; time.sleep(60)")
                time.sleep(10)
                result["active_student_mb"] = round(memory_bytes(stats(container)[0].split()[1]) / 1e6)
            result["runs"][str(n)] = {
                "all_answer_s": seconds,
                "memory_per_student_mb": round(statistics.mean(per_student) / 1e6) if per_student else None,
                "hub_memory_mb": round(memory_bytes(hub) / 1e6),
            }
            say(f"bench: classroom: {n} student(s) answered in {seconds:.1f} s")
            with ThreadPoolExecutor(max_workers=n) as pool:
                list(pool.map(lambda name: api.request("DELETE", f"users/{name}/server", timeout=120), names))
            wait_until(lambda: not room.student_containers(), 300, interval=1, what="the servers to stop")
    finally:
        room.down()
        volumes = docker("volume", "ls", "-q", "--filter", f"name={project}", check=False).stdout.split()
        if volumes:
            docker("volume", "rm", "-f", *volumes, check=False)
    return result
