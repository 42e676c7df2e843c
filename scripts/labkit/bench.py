"""Benchmarks of the lab, each against a baseline measured in the same run.

    make bench [BENCH_ARGS="--variants cpu cuda --repeats 3 --suite-repeats 2"]

Writes build/bench.json and rewrites BENCHMARKS.md. Needs Docker and the built images
(it builds them). `python -m labkit.bench plain --profile quick` is the baseline it runs
inside an image: the lessons' code as plain Python, in one process. `make bench BENCH_ARGS=render`
rewrites BENCHMARKS.md from build/bench.json without measuring.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from . import engine
from .engine import ROOT, free_port

DOCKER = engine.docker_command()
LAB = (sys.executable, "scripts/lab.py")  # the host commands, as make runs them
TARGETS = {
    "cpu_image_gb": 1.5,
    "up_to_served_s": 5.0,
    "suite_ratio_all_cores": 1.5,
    # warm kernels (issue 12): the quick suite with all cores and with one job, the lab's first cell,
    # the template and one kernel against one cold kernel that imported torch
    "quick_ratio_all_cores": 1.3,
    "quick_ratio_one_job": 2.0,
    "first_cell_s": 0.5,
    "warm_memory_ratio": 1.3,
}
IDLE_KERNELS = 3


def sh(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, capture_output=True, text=True, check=check, env={**os.environ, **(env or {})}, cwd=ROOT
    )


def timed(fn, repeats: int) -> list[float]:
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        runs.append(round(time.perf_counter() - started, 3))
    return runs


def stat(runs: list[float]) -> dict:
    return {"median": round(statistics.median(runs), 3), "runs": runs}


def http_ok(url: str, predicate=lambda body: True) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200 and predicate(resp.read())
    except OSError:
        return False


def wait_for(check, timeout: float = 120) -> None:
    try:
        engine.wait_until(check, timeout, interval=0.05, what="the lab")
    except engine.TimedOut as exc:
        raise SystemExit(f"bench: {exc}") from None


# ---- image sizes -------------------------------------------------------------------------


def image_sizes(image: str) -> dict:
    size = int(sh(DOCKER, "image", "inspect", "--format", "{{.Size}}", image).stdout)
    save = subprocess.Popen([DOCKER, "save", image], stdout=subprocess.PIPE)
    compressed = 0

    class Counter:
        def write(self, data):
            nonlocal compressed
            compressed += len(data)

        def flush(self):
            pass

    with gzip.GzipFile(fileobj=Counter(), mode="wb", compresslevel=6) as gz:
        shutil.copyfileobj(save.stdout, gz, 1 << 20)
    save.wait()
    packages = sh(
        DOCKER,
        "run",
        "--rm",
        "--no-healthcheck",
        "--entrypoint",
        "bash",
        image,
        "-c",
        "du -sm /opt/venv/lib/python3*/site-packages/* | sort -rn | head -8",
    ).stdout
    layers = sh(DOCKER, "history", "--no-trunc", "--format", "{{.Size}}\t{{.CreatedBy}}", image).stdout
    biggest_layers = sorted(
        (line.split("\t", 1) for line in layers.splitlines() if "\t" in line),
        key=lambda row: to_bytes(row[0]),
        reverse=True,
    )[:4]
    return {
        "uncompressed_bytes": size,
        "gzip_bytes": compressed,
        "largest_packages_mb": [
            [Path(p).name, int(mb)] for mb, p in (line.split("\t") for line in packages.splitlines())
        ],
        "largest_layers": [[s, re.sub(r"\s+", " ", cmd)[:90] or "(the base image)"] for s, cmd in biggest_layers],
    }


def to_bytes(text: str) -> float:
    number, unit = re.match(r"([\d.]+)\s*([kMG]?B)", text).groups()
    return float(number) * {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[unit]


# ---- start-up ----------------------------------------------------------------------------


def lab_env(image: str, variant: str, port: int, home: Path) -> dict:
    """The knobs of a lab of the benchmark's own: its port, project, workspace and token, no browser."""
    return {
        "IMAGE": image,
        "VARIANT": variant,
        "LAB_GPU": "0",
        "LAB_PORT": str(port),
        "OPEN_BROWSER": "0",
        "LAB_PROJECT": f"pytorch-lab-bench-{port}",
        "LAB_WORKSPACE": str(home / "work"),
        "LAB_TOKEN_FILE": str(home / "token"),
    }


def startup(image: str, variant: str, repeats: int) -> dict:
    home = Path(tempfile.mkdtemp(prefix="bench-lab-"))
    port = free_port()
    env = lab_env(image, variant, port, home)
    sh(*LAB, "up", env=env)  # first start: copies the lessons, makes the token
    sh(*LAB, "down", env=env)
    token = (home / "token").read_text().strip()
    listing = f"http://127.0.0.1:{port}/api/contents?token={token}"
    healthy, served = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        sh(*LAB, "up", env=env)
        healthy.append(round(time.perf_counter() - started, 3))
        wait_for(lambda: http_ok(listing, lambda body: b"09_linear_regression" in body))
        served.append(round(time.perf_counter() - started, 3))
        sh(*LAB, "down", env=env)

    def python_pass():
        sh(DOCKER, "run", "--rm", "--no-healthcheck", image, "python", "-c", "pass")

    def bare_jupyter():
        bare_port = free_port()
        cid = sh(
            DOCKER,
            "run",
            "-d",
            "--rm",
            "--no-healthcheck",
            "-p",
            f"127.0.0.1:{bare_port}:8888",
            image,
            "jupyter",
            "lab",
            "--port=8888",
            "--IdentityProvider.token=bench",
        ).stdout.strip()
        try:
            wait_for(lambda: http_ok(f"http://127.0.0.1:{bare_port}/api"))
        finally:
            sh(DOCKER, "rm", "-f", cid, check=False)

    return {
        "make_up_to_healthy_s": stat(healthy),
        "make_up_to_lesson_list_s": stat(served),
        "baseline_docker_run_python_pass_s": stat(timed(python_pass, repeats)),
        "baseline_bare_jupyter_lab_s": stat(timed(bare_jupyter, repeats)),
    }


# ---- the lesson suite --------------------------------------------------------------------


def suite(image: str, repeats: int) -> dict:
    cores = os.cpu_count() or 1

    def seconds(*args: str, env: str = "1") -> dict:
        in_image = [DOCKER, "run", "--rm", "--no-healthcheck", "-e", f"LAB_WARM_KERNELS={env}", image, "python"]
        return stat(timed(lambda: subprocess.run([*in_image, *args], check=True, capture_output=True), repeats))

    result = {"cores": cores}
    for profile in ("quick", "full"):
        plain = seconds("-m", "labkit.bench", "plain", "--profile", profile)
        result[f"{profile}_plain_python_s"] = plain
        for jobs in sorted({1, cores}):
            runner = seconds("-m", "labkit.cli", "--profile", profile, "--jobs", str(jobs), "--output-dir", "/tmp/out")
            result[f"{profile}_runner_jobs{jobs}_s"] = runner
            result[f"{profile}_ratio_jobs{jobs}"] = round(runner["median"] / plain["median"], 2)
            # The same with every kernel spawned: what warm kernels save.
            cold = seconds(
                "-m", "labkit.cli", "--profile", profile, "--jobs", str(jobs), "--output-dir", "/tmp/out", env="0"
            )
            result[f"{profile}_runner_cold_jobs{jobs}_s"] = cold
            result[f"{profile}_cold_ratio_jobs{jobs}"] = round(cold["median"] / plain["median"], 2)
    return result


# ---- warm kernels (labkit/warm.py) -------------------------------------------------------
# In the lab these run inside the lab's container (python -m labkit.bench first-cell|memory),
# against its own server, through the REST and kernel websocket API that JupyterLab uses.


class LabKernel:
    """A notebook opened as JupyterLab opens one: a session with a kernel, and its websocket."""

    def __init__(self, base: str, token: str, path: str):
        self.base, self.token, self.path = base.rstrip("/"), token, path
        self.session = self.kernel = self.ws = None

    def rest(self, method: str, url: str, body: dict | None = None):
        request = urllib.request.Request(
            f"{self.base}{url}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as resp:
            data = resp.read()
        return json.loads(data) if data else None

    async def open(self) -> None:
        import uuid

        from tornado.websocket import websocket_connect

        reply = await asyncio.to_thread(
            self.rest,
            "POST",
            "/api/sessions",
            {"path": self.path, "name": self.path, "type": "notebook", "kernel": {"name": "python3"}},
        )
        self.session, self.kernel = reply["id"], reply["kernel"]["id"]
        self.client_session = uuid.uuid4().hex
        ws_base = self.base.replace("http", "ws", 1)
        self.ws = await websocket_connect(
            f"{ws_base}/api/kernels/{self.kernel}/channels?session_id={self.client_session}&token={self.token}"
        )

    async def execute(self, code: str) -> str:
        import uuid

        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "username": "bench",
            "session": self.client_session,
            "version": "5.3",
            "date": datetime.now(timezone.utc).isoformat(),
        }
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False}
        message = {"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"}
        await self.ws.write_message(json.dumps(message))
        return msg_id

    async def until(self, msg_id: str, kinds: tuple[str, ...], timeout: float = 300) -> dict:
        """The next message of one of these types answering msg_id (an error output raises)."""
        deadline = time.monotonic() + timeout
        while True:
            raw = await asyncio.wait_for(self.ws.read_message(), max(0.1, deadline - time.monotonic()))
            if raw is None:
                raise SystemExit("bench: the kernel's websocket closed")
            message = json.loads(raw)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = message["header"]["msg_type"]
            if kind == "error":
                raise SystemExit(f"bench: {message['content']['ename']}: {message['content']['evalue']}")
            if kind in kinds:
                return message

    async def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        if self.session is not None:
            await asyncio.to_thread(self.rest, "DELETE", f"/api/sessions/{self.session}")


def first_code_cells(path: Path) -> list[str]:
    """The notebook's code cells up to the first that imports torch: what a student runs first."""
    cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    sources = ["".join(c["source"]) for c in cells]
    last = next(i for i, src in enumerate(sources) if re.search(r"^\s*import torch", src, re.M))
    return sources[: last + 1]


async def first_cell(base: str, token: str, path: str, folder: Path) -> dict:
    """Seconds from asking for the notebook's kernel to the output of its first cell that imports torch."""
    cells = first_code_cells(folder / path)
    lab = LabKernel(base, token, path)
    started = time.perf_counter()
    try:
        await lab.open()
        opened = time.perf_counter() - started
        ids = [await lab.execute(code) for code in cells]
        await lab.until(ids[-1], ("stream", "execute_result", "display_data"))
        output = time.perf_counter() - started
        await lab.until(ids[-1], ("execute_reply",))
    finally:
        await lab.close()
    return {"session_s": round(opened, 3), "first_output_s": round(output, 3)}


def pss_kb(pid: int) -> int:
    text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    return int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1))


def processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process this user can see."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            found[int(entry.name)] = (parent, cmd)
    return found


async def idle_kernels_memory(base: str, token: str, path: str, count: int) -> dict:
    """PSS (MB) of the template and of `count` idle kernels that each imported torch, numpy and pyplot."""
    # One session per notebook path: as many (unsaved) notebooks as kernels, in the lesson's folder.
    labs = [LabKernel(base, token, str(Path(path).with_name(f"idle-{i}.ipynb"))) for i in range(count)]
    try:
        for lab in labs:
            await lab.open()
            msg_id = await lab.execute("import torch, numpy, matplotlib.pyplot")
            await lab.until(msg_id, ("execute_reply",))
        await asyncio.sleep(1)
        now = processes()
        # A forked kernel keeps its template's command line: the template is the one whose parent is not.
        forked = {pid for pid, (parent, cmd) in now.items() if "labkit.warm template" in now.get(parent, (0, ""))[1]}
        templates = [pid for pid, (_, cmd) in now.items() if "labkit.warm template" in cmd and pid not in forked]
        spawned = [pid for pid, (_, cmd) in now.items() if "ipykernel_launcher" in cmd]
        return {
            "kernels": count,
            "template_pss_mb": round(sum(pss_kb(p) for p in templates) / 1024, 1),
            "kernel_pss_mb": [round(pss_kb(p) / 1024, 1) for p in sorted(forked) + spawned],
        }
    finally:
        for lab in labs:
            await lab.close()


def lab_kernels(image: str, repeats: int, idle: int) -> dict:
    """In the lab, warm and cold: lesson 09's first torch cell, and the memory of idle kernels."""
    result = {}
    # lazy: warm kernels whose template starts with the first kernel instead of with the server
    for mode, knob in (("warm", "1"), ("lazy", "lazy"), ("cold", "0")):
        home = Path(tempfile.mkdtemp(prefix="bench-warm-"))
        port = free_port()
        env = {**lab_env(image, "cpu", port, home), "LAB_WARM_KERNELS": knob}
        sh(*LAB, "up", env=env)  # the first start copies the lessons and makes the token
        sh(*LAB, "down", env=env)
        started = time.perf_counter()
        sh(*LAB, "up", env=env)
        up = round(time.perf_counter() - started, 3)
        try:
            cid = container_of(port)
            where = ("--port", str(port), "--token", (home / "token").read_text().strip())
            # The first kernel right after `make up` is healthy: the template may still be importing.
            runs = [in_lab(cid, "first-cell", *where) for _ in range(repeats)]
            memory = in_lab(cid, "memory", "--kernels", str(idle), *where) if mode != "lazy" else {}
        finally:
            sh(*LAB, "down", env=env, check=False)
        result[mode] = {
            "make_up_to_healthy_s": up,
            "first_after_up": runs[0],
            "first_output_s": stat([r["first_output_s"] for r in runs[1:]] or [runs[0]["first_output_s"]]),
            "memory": memory,
        }
    return result


def in_lab(cid: str, *args: str) -> dict:
    done = sh(DOCKER, "exec", cid, "python", "-m", "labkit.bench", *args, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench: in the lab, {args[0]} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def container_of(port: int) -> str:
    rows = sh(DOCKER, "ps", "--format", "{{.ID}}\t{{.Ports}}").stdout.splitlines()
    for row in rows:
        cid, ports = row.split("\t", 1)
        if f"127.0.0.1:{port}->" in ports:
            return cid
    raise SystemExit(f"bench: no running container publishes port {port}")


# ---- rebuilds ----------------------------------------------------------------------------


def rebuilds(variant: str) -> dict:
    env = {"VARIANT": variant, "FORCE_BUILD": "1"}

    def build() -> tuple[float, bool]:
        started = time.perf_counter()
        out = sh(*LAB, "build", env=env)
        log = out.stdout + out.stderr
        # The lab's own package (labkit) is reinstalled after a script changes, by design; a
        # dependency reinstalled would be any other name on pip's "Installing collected packages" line.
        installed = {
            name.strip()
            for line in log.splitlines()
            if "Installing collected packages:" in line
            for name in line.split("Installing collected packages:", 1)[1].split(",")
        }
        return round(time.perf_counter() - started, 3), bool(installed - {"pytorch-lab"})

    build()  # the image as the tree is now, so the baseline below really changes nothing
    nothing, _ = build()
    result = {"baseline_no_change_s": nothing}
    for name, path in (
        ("lesson", ROOT / "notebooks" / "zh" / "12_activation_functions.ipynb"),
        ("script", ROOT / "scripts" / "labkit" / "__init__.py"),
    ):
        original = path.read_bytes()
        try:
            if path.suffix == ".ipynb":
                node = json.loads(original)
                node["cells"][0]["source"].append("\n")
                path.write_text(json.dumps(node, indent=1, ensure_ascii=False) + "\n")
            else:
                path.write_bytes(original + b"# edited by the benchmark\n")
            seconds, reinstalled = build()
        finally:
            path.write_bytes(original)
        result[f"after_editing_a_{name}_s"] = seconds
        result[f"after_editing_a_{name}_reinstalled_dependencies"] = reinstalled
    build()  # leave the image as the tree is
    return result


# ---- the classroom (issue 11) ------------------------------------------------------------
# A hub as `make classroom-up` starts it; N students' servers asked for at once through the hub's
# API, as a class does at the start of a lesson. Baseline from the same run: one student alone.


def classroom(counts: list[int]) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    from .classroom import Classroom
    from .host import Settings

    home = Path(tempfile.mkdtemp(prefix="bench-classroom-"))
    port = free_port()
    project = f"pytorch-lab-bench-classroom-{port}"
    env = {
        "HUB_PORT": str(port),
        "CLASSROOM_PROJECT": project,
        "CLASSROOM_ADMIN_TOKEN_FILE": str(home / "admin-token"),
        "CLASSROOM_IDLE_TIMEOUT": "0",
        # 30 servers at once on two cores take longer than one: wait as long as they need.
        "CLASSROOM_START_TIMEOUT": "600",
        "CLASSROOM_HTTP_TIMEOUT": "600",
    }
    room = Classroom(Settings({**os.environ, **env}))
    sh(*LAB, "classroom-up", env=env)
    result = {"cores": os.cpu_count(), "mem_limit": "1G", "runs": {}}
    image = room.s.image
    result["baseline_docker_run_s"] = stat(
        timed(lambda: sh(DOCKER, "run", "--rm", "--no-healthcheck", image, "python", "-c", "pass"), 3)
    )["median"]
    try:
        for n in [1, *counts]:
            names = [f"s{n:02d}x{i:02d}" for i in range(n)]
            room.api("users", "POST", body={"usernames": names})
            started = time.perf_counter()
            # Every request at once, as a class's browsers send them; the hub answers each within its slow_spawn_timeout.
            with ThreadPoolExecutor(max_workers=n) as pool:
                list(pool.map(lambda name: room.api(f"users/{name}/server", "POST", timeout=120), names))

            def all_answer(names: list[str] = names) -> bool:
                return all(engine.http_status(port, f"/user/{name}/api", timeout=5) == 200 for name in names)

            try:
                engine.wait_until(all_answer, 900, interval=0.5, what=f"{n} student servers")
            except engine.TimedOut as exc:
                raise SystemExit(f"bench: {exc}") from None
            seconds = round(time.perf_counter() - started, 2)
            time.sleep(5)  # let the servers settle before their memory is read
            usage = sh(
                DOCKER,
                "stats",
                "--no-stream",
                "--format",
                "{{.Name}} {{.MemUsage}}",
                *[f"{project}-{name}" for name in names],
                check=False,
            ).stdout
            per_student = [memory_bytes(line.split()[1]) for line in usage.splitlines() if line.strip()]
            hub_usage = sh(DOCKER, "stats", "--no-stream", "--format", "{{.MemUsage}}", room.hub_container()).stdout
            if n == 1:  # the same student after importing torch, as a lesson's first cell does
                sh(DOCKER, "exec", "-d", f"{project}-{names[0]}", "python", "-c", "import torch, time; time.sleep(60)")
                time.sleep(10)
                active = sh(DOCKER, "stats", "--no-stream", "--format", "{{.MemUsage}}", f"{project}-{names[0]}").stdout
                result["active_student_mb"] = round(memory_bytes(active.split()[0]) / 1e6)
            result["runs"][str(n)] = {
                "all_answer_s": seconds,
                "memory_per_student_mb": round(statistics.mean(per_student) / 1e6) if per_student else None,
                "hub_memory_mb": round(memory_bytes(hub_usage.split()[0]) / 1e6),
            }
            print(f"bench: classroom: {n} student(s) answered in {seconds:.1f} s", file=sys.stderr, flush=True)
            with ThreadPoolExecutor(max_workers=n) as pool:
                list(pool.map(lambda name: room.api(f"users/{name}/server", "DELETE", timeout=120), names))
            engine.wait_until(lambda: not room.student_containers(), 300, interval=1, what="the servers to stop")
    finally:
        sh(*LAB, "classroom-down", env=env, check=False)
        volumes = sh(DOCKER, "volume", "ls", "-q", "--filter", f"name={project}", check=False).stdout.split()
        if volumes:
            sh(DOCKER, "volume", "rm", "-f", *volumes, check=False)
    return result


def memory_bytes(text: str) -> float:
    """docker stats' figures: 131.2MiB, 1.02GiB, 512KiB, 0B."""
    number, unit = re.match(r"([\d.]+)\s*([KMG]i)?B", text).groups()
    return float(number) * {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}[unit]


def classroom_rows(result: dict, row) -> None:
    one = result["runs"]["1"]
    row(
        "one student's server asked for → answers (classroom)",
        f"{one['all_answer_s']:.1f} s",
        f"`docker run … python -c pass`: {result['baseline_docker_run_s']:.2f} s",
    )
    for n, run in result["runs"].items():
        if n == "1":
            continue
        row(
            f"{n} students' servers asked for at once → all answer (classroom, {result['cores']} cores)",
            f"{run['all_answer_s']:.1f} s",
            f"one student alone: {one['all_answer_s']:.1f} s",
            f"{run['all_answer_s'] / one['all_answer_s']:.1f}",
        )
        row(
            f"memory per idle student server, {n} running",
            f"{run['memory_per_student_mb']} MB",
            f"the hub: {run['hub_memory_mb']} MB",
        )
    if result.get("active_student_mb"):
        row(
            "memory of a student server whose Python imported torch",
            f"{result['active_student_mb']} MB",
            f"idle: {one['memory_per_student_mb']} MB",
            f"{result['active_student_mb'] / one['memory_per_student_mb']:.1f}",
        )


# ---- report ------------------------------------------------------------------------------


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1048576, 1),
        "docker": sh(DOCKER, "version", "--format", "{{.Server.Version}}").stdout.strip(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


def warm_rows(report: dict, row) -> None:
    """The lesson suite (warm and cold kernels against plain Python) and the lab's kernels."""
    yes = lambda ok: "yes" if ok else "**no**"  # noqa: E731
    for variant, s in report["suite"].items():
        cores = s["cores"]
        for profile in ("quick", "full"):
            plain = s[f"{profile}_plain_python_s"]["median"]
            for jobs in sorted({1, cores}):
                runner = s[f"{profile}_runner_jobs{jobs}_s"]["median"]
                ratio = s[f"{profile}_ratio_jobs{jobs}"]
                all_cores = jobs == cores
                if profile == "quick":
                    target = TARGETS["quick_ratio_all_cores" if all_cores else "quick_ratio_one_job"]
                else:
                    target = TARGETS["suite_ratio_all_cores"] if all_cores else None
                warm = f"{profile}_runner_cold_jobs{jobs}_s" in s
                row(
                    f"lessons, {profile}, runner `--jobs {jobs}`{', warm kernels' if warm else ''} ({variant})",
                    f"{runner:.1f} s",
                    f"plain Python, one process: {plain:.1f} s",
                    f"{ratio:.2f}",
                    f"≤ {target}" if target else "",
                    yes(ratio <= target) if target else "",
                )
                if warm:
                    cold = s[f"{profile}_runner_cold_jobs{jobs}_s"]["median"]
                    row(
                        f"lessons, {profile}, runner `--jobs {jobs}`, cold kernels ({variant})",
                        f"{cold:.1f} s",
                        f"plain Python, one process: {plain:.1f} s",
                        f"{s[f'{profile}_cold_ratio_jobs{jobs}']:.2f}",
                    )
    for variant, k in report.get("lab_kernels", {}).items():
        warm, cold = k["warm"], k["cold"]
        for mode in ("warm", "cold"):
            first = k[mode]["first_output_s"]["median"]
            row(
                f"lab: open lesson 09 → output of its torch cell, {mode} kernels ({variant})",
                f"{first:.2f} s (first kernel after `make up`: {k[mode]['first_after_up']['first_output_s']:.2f} s)",
                f"cold kernels: {cold['first_output_s']['median']:.2f} s" if mode == "warm" else "",
                f"{first / cold['first_output_s']['median']:.2f}" if mode == "warm" else "",
                f"≤ {TARGETS['first_cell_s']} s" if mode == "warm" else "",
                yes(first <= TARGETS["first_cell_s"]) if mode == "warm" else "",
            )
        lazy = k.get("lazy")
        if lazy:
            row(
                f"lab: first kernel right after `make up` is healthy, template started with the server ({variant})",
                f"{warm['first_after_up']['first_output_s']:.2f} s (`make up` → healthy {warm['make_up_to_healthy_s']:.2f} s)",
                f"template started by the first kernel: {lazy['first_after_up']['first_output_s']:.2f} s "
                f"(`make up` → healthy {lazy['make_up_to_healthy_s']:.2f} s)",
            )
        cold_one = statistics.median(cold["memory"]["kernel_pss_mb"])
        template = warm["memory"]["template_pss_mb"]
        warm_kernels = warm["memory"]["kernel_pss_mb"]
        one = template + statistics.median(warm_kernels)
        row(
            f"memory (PSS): template + 1 warm kernel that imported torch ({variant})",
            f"{one:.0f} MB (template {template:.0f} MB)",
            f"1 cold kernel that imported torch: {cold_one:.0f} MB",
            f"{one / cold_one:.2f}",
            f"≤ {TARGETS['warm_memory_ratio']}",
            yes(one / cold_one <= TARGETS["warm_memory_ratio"]),
        )
        n = len(warm_kernels)
        row(
            f"memory (PSS): template + {n} idle warm kernels ({variant})",
            f"{template + sum(warm_kernels):.0f} MB",
            f"{n} idle cold kernels: {sum(cold['memory']['kernel_pss_mb']):.0f} MB",
            f"{(template + sum(warm_kernels)) / sum(cold['memory']['kernel_pss_mb']):.2f}",
        )


def warm_note(report: dict) -> list[str]:
    """What the warm kernels' template costs, in words, from the lab's measured memory."""
    k = report.get("lab_kernels", {}).get("cpu")
    if not k:
        return []
    template = k["warm"]["memory"]["template_pss_mb"]
    warm = statistics.median(k["warm"]["memory"]["kernel_pss_mb"])
    cold = statistics.median(k["cold"]["memory"]["kernel_pss_mb"])
    saved = cold - warm - template
    one_lesson = f"{abs(saved):.0f} MB {'less' if saved >= 0 else 'more'}"
    return [
        "Warm kernels (labkit/warm.py): each kernel is forked from a template that imported torch (with "
        "torch._dynamo, which a first optimizer loads), numpy, matplotlib and ipykernel when the server "
        "started; `LAB_WARM_KERNELS=0` spawns every kernel instead. "
        f"The template costs {template:.0f} MB (PSS) before any kernel runs; each kernel that imported torch then "
        f"costs {warm:.0f} MB instead of {cold:.0f} MB. In classroom mode each student's server is the lab's image with the same server "
        f"settings, so warm kernels are on there too: about {template:.0f} MB more per student who opens no lesson, "
        f"{one_lesson} per student with one lesson open, and {cold - warm:.0f} MB less for each further one.",
        "",
    ]


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` (scripts/labkit/bench.py) on {m['date']}: {m['cpu']}, {m['cores']} cores, "
        f"{m['memory_gb']} GB, Docker {m['docker']}. Times are medians of {report['repeats']} runs "
        f"(suite: {report['suite_repeats']}); every figure sits beside its baseline from the same run. "
        "Rerun `make bench` to refresh this file.",
        "",
        "| figure | measured | baseline (same run) | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]

    def row(name, value, base="", ratio="", target="", met=""):
        lines.append(f"| {name} | {value} | {base} | {ratio} | {target} | {met} |")

    yes = lambda ok: "yes" if ok else "**no**"  # noqa: E731
    for variant, sizes in report["sizes"].items():
        size = sizes["uncompressed_bytes"]
        target = TARGETS["cpu_image_gb"] if variant == "cpu" else None
        row(
            f"{variant} image, uncompressed",
            gb(size),
            "torch CPU install alone ≈ 0.75 GB" if variant == "cpu" else "",
            "",
            f"≤ {target} GB" if target else "",
            yes(size <= target * 1e9) if target else "",
        )
        row(f"{variant} image, `docker save \\| gzip`", gb(sizes["gzip_bytes"]))
    for variant, s in report["startup"].items():
        served = s["make_up_to_lesson_list_s"]["median"]
        bare = s["baseline_bare_jupyter_lab_s"]["median"]
        row(
            f"warm `make up` → healthy ({variant})",
            f"{s['make_up_to_healthy_s']['median']:.2f} s",
            f"`docker run … python -c pass`: {s['baseline_docker_run_python_pass_s']['median']:.2f} s",
        )
        row(
            f"warm `make up` → lesson list served ({variant})",
            f"{served:.2f} s",
            f"bare `jupyter lab` in the image: {bare:.2f} s",
            f"{served / bare:.2f}",
            f"≤ {TARGETS['up_to_served_s']} s",
            yes(served <= TARGETS["up_to_served_s"]),
        )
    warm_rows(report, row)
    for variant, r in report["rebuilds"].items():
        for name in ("lesson", "script"):
            reinstalled = r[f"after_editing_a_{name}_reinstalled_dependencies"]
            row(
                f"rebuild after editing a {name} ({variant})",
                f"{r[f'after_editing_a_{name}_s']:.1f} s",
                f"rebuild with no change: {r['baseline_no_change_s']:.1f} s",
                "",
                "no dependency reinstalled",
                yes(not reinstalled),
            )
    if report.get("classroom"):
        classroom_rows(report["classroom"], row)
    lines.append("")
    lines.extend(warm_note(report))
    for variant, sizes in report["sizes"].items():
        top = ", ".join(f"{name} {mb} MB" for name, mb in sizes["largest_packages_mb"])
        lines.append(f"Largest packages in the {variant} image: {top}.")
        lines.append("")
        lines.append(f"Largest layers of the {variant} image:")
        lines.extend(f"- {size}: `{cmd}`" for size, cmd in sizes["largest_layers"])
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv[:1] == ["render"]:  # rewrite BENCHMARKS.md from the last report, measuring nothing
        report = json.loads((ROOT / "build" / "bench.json").read_text())
        for sizes in report["sizes"].values():
            sizes["largest_layers"] = [[size, cmd or "(the base image)"] for size, cmd in sizes["largest_layers"]]
        (ROOT / "BENCHMARKS.md").write_text(markdown(report))
        return 0
    if argv[:1] in (["first-cell"], ["memory"]):  # inside the lab's container, against its own server
        parser = argparse.ArgumentParser(prog=f"bench.py {argv[0]}")
        parser.add_argument("--port", type=int, default=8888)
        parser.add_argument("--token", required=True)
        parser.add_argument("--notebook", default="09_linear_regression.ipynb")
        parser.add_argument("--folder", type=Path, default=Path("/home/student/work"))
        parser.add_argument("--kernels", type=int, default=IDLE_KERNELS)
        args = parser.parse_args(argv[1:])
        base = f"http://127.0.0.1:{args.port}"
        if argv[0] == "first-cell":
            print(json.dumps(asyncio.run(first_cell(base, args.token, args.notebook, args.folder))))
        else:
            print(json.dumps(asyncio.run(idle_kernels_memory(base, args.token, args.notebook, args.kernels))))
        return 0
    if argv[:1] == ["warm"]:  # only warm kernels (cpu): build/bench-warm.json and their rows, printed
        parser = argparse.ArgumentParser(prog="bench.py warm")
        parser.add_argument("--repeats", type=int, default=3)
        parser.add_argument("--suite-repeats", type=int, default=2)
        parser.add_argument("--render", action="store_true", help="print the rows of the last build/bench-warm.json")
        args = parser.parse_args(argv[1:])
        saved = ROOT / "build" / "bench-warm.json"
        if args.render:
            result = json.loads(saved.read_text())
        else:
            sh(*LAB, "build", env={"VARIANT": "cpu"})
            print("bench: cpu: lesson suite, warm and cold kernels", file=sys.stderr, flush=True)
            result = {"machine": machine(), "suite": {"cpu": suite("pytorch-lab:cpu", args.suite_repeats)}}
            print("bench: cpu: warm and cold kernels in the lab", file=sys.stderr, flush=True)
            result["lab_kernels"] = {"cpu": lab_kernels("pytorch-lab:cpu", args.repeats + 1, IDLE_KERNELS)}
            saved.write_text(json.dumps(result, indent=2) + "\n")
        rows: list[str] = []
        warm_rows(result, lambda *cells: rows.append("| " + " | ".join([*cells, "", "", "", ""][:6]) + " |"))
        print("\n".join(rows))
        return 0
    if argv[:1] == ["classroom"]:  # only the classroom: build/bench-classroom.json and its rows, printed
        parser = argparse.ArgumentParser(prog="bench.py classroom")
        parser.add_argument("--students", nargs="+", type=int, default=[10, 30])
        result = classroom(parser.parse_args(argv[1:]).students)
        (ROOT / "build" / "bench-classroom.json").write_text(json.dumps(result, indent=2) + "\n")
        rows: list[str] = []
        classroom_rows(result, lambda *cells: rows.append("| " + " | ".join([*cells, "", "", "", ""][:6]) + " |"))
        print("\n".join(rows))
        return 0
    if argv[:1] == ["plain"]:
        from .notebooks import lesson_paths
        from .plain import run_in_one_process

        parser = argparse.ArgumentParser(prog="bench.py plain")
        parser.add_argument("--profile", choices=["quick", "full"], default="quick")
        args = parser.parse_args(argv[1:])
        print(json.dumps(run_in_one_process(lesson_paths(), args.profile)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=["cpu", "cuda"], choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--suite-repeats", type=int, default=2)
    parser.add_argument("--output", type=Path, default=ROOT / "build" / "bench.json")
    parser.add_argument("--markdown", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--students", nargs="*", type=int, default=[10, 30], help="classroom sizes; none: skip")
    args = parser.parse_args(argv)
    report = {
        "machine": machine(),
        "repeats": args.repeats,
        "suite_repeats": args.suite_repeats,
        "sizes": {},
        "startup": {},
        "suite": {},
        "rebuilds": {},
        "lab_kernels": {},
    }
    for variant in args.variants:
        image = f"pytorch-lab:{variant}"
        print(f"bench: {variant}: building", file=sys.stderr, flush=True)
        sh(*LAB, "build", env={"VARIANT": variant})
        print(f"bench: {variant}: sizes", file=sys.stderr, flush=True)
        report["sizes"][variant] = image_sizes(image)
        if variant == "cpu":  # start-up, suite and rebuilds: the image students use by default
            print("bench: cpu: start-up", file=sys.stderr, flush=True)
            report["startup"][variant] = startup(image, variant, args.repeats)
            print("bench: cpu: lesson suite", file=sys.stderr, flush=True)
            report["suite"][variant] = suite(image, args.suite_repeats)
            print("bench: cpu: warm and cold kernels in the lab", file=sys.stderr, flush=True)
            report["lab_kernels"][variant] = lab_kernels(image, args.repeats + 1, IDLE_KERNELS)
            print("bench: cpu: rebuilds", file=sys.stderr, flush=True)
            report["rebuilds"][variant] = rebuilds(variant)
    if args.students:
        print(f"bench: classroom of {', '.join(map(str, args.students))} students", file=sys.stderr, flush=True)
        report["classroom"] = classroom(args.students)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    args.markdown.write_text(markdown(report))
    print(f"bench: wrote {args.output.relative_to(ROOT)} and {args.markdown.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
