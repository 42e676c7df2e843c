"""Benchmarks of the lab, each against a baseline measured in the same run.

    make bench [BENCH_ARGS="--variants cpu cuda --repeats 3 --suite-repeats 2"]

Writes build/bench.json and rewrites BENCHMARKS.md. Needs Docker and the built images
(it builds them). `python -m labkit.bench plain --profile quick` is the baseline it runs
inside an image: the lessons' code as plain Python, in one process. `make bench BENCH_ARGS=render`
rewrites BENCHMARKS.md from build/bench.json without measuring.
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
TARGETS = {"cpu_image_gb": 1.5, "up_to_served_s": 5.0, "suite_ratio_all_cores": 1.5}


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


def startup(image: str, variant: str, repeats: int) -> dict:
    home = Path(tempfile.mkdtemp(prefix="bench-lab-"))
    port = free_port()
    env = {
        "IMAGE": image,
        "VARIANT": variant,
        "LAB_GPU": "0",
        "LAB_PORT": str(port),
        "OPEN_BROWSER": "0",
        "LAB_PROJECT": f"pytorch-lab-bench-{port}",
        "LAB_WORKSPACE": str(home / "work"),
        "LAB_TOKEN_FILE": str(home / "token"),
    }
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
    in_image = [DOCKER, "run", "--rm", "--no-healthcheck", image, "python"]

    def seconds(*args: str) -> dict:
        return stat(timed(lambda: subprocess.run([*in_image, *args], check=True, capture_output=True), repeats))

    result = {"cores": cores}
    for profile in ("quick", "full"):
        plain = seconds("-m", "labkit.bench", "plain", "--profile", profile)
        result[f"{profile}_plain_python_s"] = plain
        for jobs in sorted({1, cores}):
            runner = seconds("-m", "labkit.cli", "--profile", profile, "--jobs", str(jobs), "--output-dir", "/tmp/out")
            result[f"{profile}_runner_jobs{jobs}_s"] = runner
            result[f"{profile}_ratio_jobs{jobs}"] = round(runner["median"] / plain["median"], 2)
    return result


# ---- rebuilds ----------------------------------------------------------------------------


def rebuilds(variant: str) -> dict:
    env = {"VARIANT": variant, "FORCE_BUILD": "1"}

    def build() -> tuple[float, bool]:
        started = time.perf_counter()
        out = sh(*LAB, "build", env=env)
        log = out.stdout + out.stderr
        return round(time.perf_counter() - started, 3), "Installing collected packages" in log

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


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` (scripts/bench.py) on {m['date']}: {m['cpu']}, {m['cores']} cores, "
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
    for variant, s in report["suite"].items():
        cores = s["cores"]
        for profile in ("quick", "full"):
            plain = s[f"{profile}_plain_python_s"]["median"]
            for jobs in sorted({1, cores}):
                runner = s[f"{profile}_runner_jobs{jobs}_s"]["median"]
                ratio = s[f"{profile}_ratio_jobs{jobs}"]
                all_cores = jobs == cores
                row(
                    f"12 lessons, {profile}, runner `--jobs {jobs}` ({variant})",
                    f"{runner:.1f} s",
                    f"plain Python, one process: {plain:.1f} s",
                    f"{ratio:.2f}",
                    f"≤ {TARGETS['suite_ratio_all_cores']}" if all_cores else "",
                    yes(ratio <= TARGETS["suite_ratio_all_cores"]) if all_cores else "",
                )
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
    lines.append("")
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
    args = parser.parse_args(argv)
    report = {
        "machine": machine(),
        "repeats": args.repeats,
        "suite_repeats": args.suite_repeats,
        "sizes": {},
        "startup": {},
        "suite": {},
        "rebuilds": {},
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
            print("bench: cpu: rebuilds", file=sys.stderr, flush=True)
            report["rebuilds"][variant] = rebuilds(variant)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    args.markdown.write_text(markdown(report))
    print(f"bench: wrote {args.output.relative_to(ROOT)} and {args.markdown.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
