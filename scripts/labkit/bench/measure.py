"""make bench: measure the lab on this machine, each figure beside a baseline from the same run.

    make bench [BENCH_ARGS="--variants cpu cuda --repeats 3 --suite-repeats 2 --students 10 30"]
    make bench BENCH_ARGS=render        BENCHMARKS.md again from build/bench.json, measuring nothing
    make bench BENCH_ARGS="warm"        only the warm kernels' rows (printed; build/bench-warm.json)
    make bench BENCH_ARGS="classroom"   only the classroom's rows (printed; build/bench-classroom.json)

Runs on the host (standard library only): it builds the images and starts labs and a classroom with the
host commands themselves, in this process, and runs the probes inside the containers.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from .. import contract
from ..host.checks import Checks
from ..host.docker import Docker
from ..host.image import Image
from ..host.lab import LabCommands
from ..host.net import free_port, wait_until
from ..host.rest import Rest
from ..host.settings import ROOT, Failure, Settings, say
from . import classroom_scale
from .report import classroom_rows, markdown, warm_rows

IDLE_KERNELS = 3  # kernels opened at once in the lab for the memory probe


def timed(fn, repeats: int) -> list[float]:
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        runs.append(round(time.perf_counter() - started, 3))
    return runs


def stat(runs: list[float]) -> dict:
    return {"median": round(statistics.median(runs), 3), "runs": runs}


def with_knobs(base: Settings, **knobs: str) -> Settings:
    return Settings({**base.env, **knobs})


# ---- image sizes ---------------------------------------------------------------------------------


def to_bytes(text: str) -> float:
    number, unit = re.match(r"([\d.]+)\s*([kMG]?B)", text).groups()
    return float(number) * {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[unit]


def image_sizes(docker: Docker, image: str) -> dict:
    size = int(docker("image", "inspect", "--format", "{{.Size}}", image).stdout)
    save = subprocess.Popen([docker.command, "save", image], stdout=subprocess.PIPE, env=docker.env)
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
    top = "du -sm /opt/venv/lib/python3*/site-packages/* | sort -rn | head -8"
    packages = docker.run_in_image(image, "-c", top, entrypoint="bash", check=True).stdout
    layers = docker("history", "--no-trunc", "--format", "{{.Size}}\t{{.CreatedBy}}", image).stdout
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


# ---- start-up --------------------------------------------------------------------------------------


def own_lab(base: Settings, image: str, variant: str, home: Path, **knobs: str) -> LabCommands:
    """A lab of the benchmark's own: its port, project, workspace and token, no browser."""
    port = free_port()
    return LabCommands(
        with_knobs(
            base,
            IMAGE=image,
            VARIANT=variant,
            LAB_GPU="0",
            LAB_PORT=str(port),
            OPEN_BROWSER="0",
            LAB_PROJECT=f"pytorch-lab-bench-{port}",
            LAB_WORKSPACE=str(home / "work"),
            LAB_TOKEN_FILE=str(home / "token"),
            **knobs,
        )
    )


def serves(url: str, needle: bytes = b"") -> bool:
    try:
        got = Rest("", timeout=2).get(url)
    except OSError:
        return False
    return got.status == 200 and needle in got.body


def startup(base: Settings, image: str, variant: str, repeats: int) -> dict:
    home = Path(tempfile.mkdtemp(prefix="bench-lab-"))
    lab = own_lab(base, image, variant, home)
    lab.up()  # the first start copies the lessons and makes the token
    lab.down()
    listing = f"http://127.0.0.1:{lab.s.lab_port}/api/contents?token={lab.s.token_file.read_text().strip()}"
    healthy, served = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        lab.up()
        healthy.append(round(time.perf_counter() - started, 3))
        wait_until(lambda: serves(listing, b"09_linear_regression"), 120, 0.05, "the lesson list")
        served.append(round(time.perf_counter() - started, 3))
        lab.down()
    docker = Docker(base)

    def python_pass():
        docker.run_in_image(image, "python", "-c", "pass", check=True)

    def bare_jupyter():
        bare_port = free_port()
        cid = docker.run_in_image(
            image,
            "jupyter",
            "lab",
            f"--port={contract.LAB_PORT}",
            "--IdentityProvider.token=bench",
            options=("-d", "-p", f"127.0.0.1:{bare_port}:{contract.LAB_PORT}"),
            check=True,
        ).stdout.strip()
        try:
            wait_until(lambda: serves(f"http://127.0.0.1:{bare_port}/api"), 120, 0.05, "a bare jupyter lab")
        finally:
            docker("rm", "-f", cid, check=False)

    return {
        "make_up_to_healthy_s": stat(healthy),
        "make_up_to_lesson_list_s": stat(served),
        "baseline_docker_run_python_pass_s": stat(timed(python_pass, repeats)),
        "baseline_bare_jupyter_lab_s": stat(timed(bare_jupyter, repeats)),
    }


# ---- the lesson suite --------------------------------------------------------------------------------


def suite(base: Settings, image: str, repeats: int) -> dict:
    cores = os.cpu_count() or 1
    docker = Docker(base)

    def seconds(*args: str, warm: str = "1") -> dict:
        def once():
            docker.run_in_image(image, "python", *args, env=(f"{contract.WARM_ENV}={warm}",), check=True)

        return stat(timed(once, repeats))

    result = {"cores": cores}
    for profile in contract.PROFILES:
        plain = seconds("-m", "labkit.bench", "plain", "--profile", profile)
        result[f"{profile}_plain_python_s"] = plain
        for jobs in sorted({1, cores}):
            run = ("-m", "labkit.runner", "--profile", profile, "--jobs", str(jobs), "--output-dir", "/tmp/out")
            runner = seconds(*run)
            result[f"{profile}_runner_jobs{jobs}_s"] = runner
            result[f"{profile}_ratio_jobs{jobs}"] = round(runner["median"] / plain["median"], 2)
            cold = seconds(*run, warm="0")  # every kernel spawned: what warm kernels save
            result[f"{profile}_runner_cold_jobs{jobs}_s"] = cold
            result[f"{profile}_cold_ratio_jobs{jobs}"] = round(cold["median"] / plain["median"], 2)
    return result


# ---- warm kernels in the lab ------------------------------------------------------------------------


def in_lab(docker: Docker, cid: str, *args: str) -> dict:
    done = docker("exec", cid, "python", "-m", "labkit.bench", *args, check=False)
    if done.returncode != 0:
        raise Failure(f"bench: in the lab, {args[0]} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def lab_kernels(base: Settings, image: str, repeats: int, idle: int) -> dict:
    """In the lab, warm and cold: lesson 09's first torch cell, and the memory of idle kernels."""
    result = {}
    docker = Docker(base)
    # lazy: warm kernels whose template starts with the first kernel instead of with the server
    for mode, knob in (("warm", "1"), ("lazy", "lazy"), ("cold", "0")):
        home = Path(tempfile.mkdtemp(prefix="bench-warm-"))
        lab = own_lab(base, image, "cpu", home, **{contract.WARM_ENV: knob})
        lab.up()  # the first start copies the lessons and makes the token
        lab.down()
        started = time.perf_counter()
        lab.up()
        up = round(time.perf_counter() - started, 3)
        try:
            cid = lab.container()
            where = ("--port", str(lab.s.lab_port), "--token", lab.s.token_file.read_text().strip())
            # The first kernel right after `make up` is healthy: the template may still be importing.
            runs = [in_lab(docker, cid, "first-cell", *where) for _ in range(repeats)]
            memory = in_lab(docker, cid, "memory", "--kernels", str(idle), *where) if mode != "lazy" else {}
        finally:
            lab.down()
        result[mode] = {
            "make_up_to_healthy_s": up,
            "first_after_up": runs[0],
            "first_output_s": stat([r["first_output_s"] for r in runs[1:]] or [runs[0]["first_output_s"]]),
            "memory": memory,
        }
    return result


# ---- rebuilds --------------------------------------------------------------------------------------------


def rebuilds(base: Settings, variant: str) -> dict:
    image = Image(with_knobs(base, VARIANT=variant, FORCE_BUILD="1"))

    def build() -> tuple[float, bool]:
        with tempfile.TemporaryFile("w+") as log:
            started = time.perf_counter()
            image.build(output=log)
            seconds = round(time.perf_counter() - started, 3)
            log.seek(0)
            text = log.read()
        # The lab's own package (labkit) is reinstalled after a script changes, by design; a
        # dependency reinstalled would be any other name on pip's "Installing collected packages" line.
        installed = {
            name.strip()
            for line in text.splitlines()
            if "Installing collected packages:" in line
            for name in line.split("Installing collected packages:", 1)[1].split(",")
        }
        return seconds, bool(installed - {"pytorch-lab"})

    build()  # the image as the tree is now, so the baseline below really changes nothing
    nothing, _ = build()
    result = {"baseline_no_change_s": nothing}
    for name, path in (
        ("lesson", ROOT / "notebooks" / contract.DEFAULT_LANG / "12_activation_functions.ipynb"),
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


# ---- the run as a whole ------------------------------------------------------------------------------------


def machine(docker: Docker) -> dict:
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
        "docker": docker("version", "--format", "{{.Server.Version}}").stdout.strip(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def print_rows(result: dict, rows_of) -> None:
    rows: list[str] = []
    rows_of(result, lambda *cells: rows.append("| " + " | ".join([*cells, "", "", "", ""][:6]) + " |"))
    print("\n".join(rows))


def main(base: Settings, argv: list[str]) -> int:
    if argv[:1] == ["render"]:  # rewrite BENCHMARKS.md from the last report, measuring nothing
        report = json.loads((ROOT / "build" / "bench.json").read_text())
        (ROOT / "BENCHMARKS.md").write_text(markdown(report))
        return 0
    Checks(base).need_docker()
    docker = Docker(base)
    cpu_image = contract.image_name("cpu")
    if argv[:1] == ["warm"]:  # only warm kernels (cpu): build/bench-warm.json and their rows, printed
        parser = argparse.ArgumentParser(prog="bench warm")
        parser.add_argument("--repeats", type=int, default=3)
        parser.add_argument("--suite-repeats", type=int, default=2)
        args = parser.parse_args(argv[1:])
        Image(with_knobs(base, VARIANT="cpu")).build()
        say("bench: cpu: lesson suite, warm and cold kernels")
        result = {"machine": machine(docker), "suite": {"cpu": suite(base, cpu_image, args.suite_repeats)}}
        say("bench: cpu: warm and cold kernels in the lab")
        result["lab_kernels"] = {"cpu": lab_kernels(base, cpu_image, args.repeats + 1, IDLE_KERNELS)}
        (ROOT / "build" / "bench-warm.json").write_text(json.dumps(result, indent=2) + "\n")
        print_rows(result, warm_rows)
        return 0
    if argv[:1] == ["classroom"]:  # only the classroom: build/bench-classroom.json and its rows, printed
        parser = argparse.ArgumentParser(prog="bench classroom")
        parser.add_argument("--students", nargs="+", type=int, default=[10, 30])
        result = classroom_scale.measure(base, parser.parse_args(argv[1:]).students)
        (ROOT / "build" / "bench-classroom.json").write_text(json.dumps(result, indent=2) + "\n")
        print_rows(result, classroom_rows)
        return 0
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(contract.VARIANTS), choices=contract.VARIANTS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--suite-repeats", type=int, default=2)
    parser.add_argument("--output", type=Path, default=ROOT / "build" / "bench.json")
    parser.add_argument("--markdown", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--students", nargs="*", type=int, default=[10, 30], help="classroom sizes; none: skip")
    args = parser.parse_args(argv)
    report = {
        "machine": machine(docker),
        "repeats": args.repeats,
        "suite_repeats": args.suite_repeats,
        "sizes": {},
        "startup": {},
        "suite": {},
        "rebuilds": {},
        "lab_kernels": {},
    }
    for variant in args.variants:
        image = contract.image_name(variant)
        say(f"bench: {variant}: building")
        Image(with_knobs(base, VARIANT=variant)).build()
        say(f"bench: {variant}: sizes")
        report["sizes"][variant] = image_sizes(docker, image)
        if variant == "cpu":  # start-up, suite and rebuilds: the image students use by default
            say("bench: cpu: start-up")
            report["startup"][variant] = startup(base, image, variant, args.repeats)
            say("bench: cpu: lesson suite")
            report["suite"][variant] = suite(base, image, args.suite_repeats)
            say("bench: cpu: warm and cold kernels in the lab")
            report["lab_kernels"][variant] = lab_kernels(base, image, args.repeats + 1, IDLE_KERNELS)
            say("bench: cpu: rebuilds")
            report["rebuilds"][variant] = rebuilds(base, variant)
    if args.students:
        say(f"bench: classroom of {', '.join(map(str, args.students))} students")
        report["classroom"] = classroom_scale.measure(base, args.students)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    args.markdown.write_text(markdown(report))
    say(f"bench: wrote {args.output.relative_to(ROOT)} and {args.markdown.name}")
    return 0
