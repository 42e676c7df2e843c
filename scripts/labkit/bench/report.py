"""BENCHMARKS.md from a benchmark's report (build/bench.json): each figure beside its baseline and its target."""

from __future__ import annotations

import statistics

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
    modes = result.get("warm_modes") or {}
    default = modes.get(result.get("warm_default", ""))
    names = {"1": "with the server", "lazy": "with the first kernel", "0": "never"}
    for mode, run in modes.items():
        n = result["progress"]["students"]
        cpu = f", {run['cpu_s_per_student']:.1f} CPU-s per student" if run.get("cpu_s_per_student") else ""
        chosen = " (the classroom's default)" if run is default else ""
        row(
            f"{n} students at once, warm-kernel template {names.get(mode, mode)}{chosen} → all answer",
            f"{run['all_answer_s']:.1f} s{cpu}",
            f"default: {default['all_answer_s']:.1f} s" if default and run is not default else "",
            f"{run['all_answer_s'] / default['all_answer_s']:.2f}" if default and run is not default else "",
        )
    if result.get("progress"):
        progress = result["progress"]
        row(
            f"`make classroom-progress 9` over {progress['students']} students ({result['cores']} cores)",
            f"{progress['all_s']:.1f} s",
            f"one student: {progress['one_s']:.1f} s",
            f"{progress['all_s'] / progress['one_s']:.1f}",
        )


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
        "Warm kernels (labkit/warm): each kernel is forked from a template that imported torch (with "
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
        f"Measured by `make bench` (scripts/labkit/bench/) on {m['date']}: {m['cpu']}, {m['cores']} cores, "
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
