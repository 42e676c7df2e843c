"""The classroom's settings that live in more than one file (the host's knobs, classroom/compose.yaml, the hub's
config, the benchmark) agree, and the host names a student's volume as DockerSpawner does."""

from __future__ import annotations

import re

import pytest

from labkit.bench.classroom_scale import WARM_DEFAULT, WARM_MODES
from labkit.bench.report import classroom_rows
from labkit.host.classroom import docker_safe
from labkit.host.settings import Settings
from support import ROOT

COMPOSE = (ROOT / "classroom" / "compose.yaml").read_text()
CONFIG = (ROOT / "classroom" / "jupyterhub_config.py").read_text()


@pytest.mark.parametrize(
    ("knob", "setting"),
    [
        ("CLASSROOM_MEM_LIMIT", "classroom_mem_limit"),
        ("CLASSROOM_CPU_LIMIT", "classroom_cpu_limit"),
        ("CLASSROOM_PIDS_LIMIT", "classroom_pids_limit"),
    ],
)
def test_each_limit_has_one_default_in_every_file(knob, setting):
    in_compose = re.findall(rf"\${{{knob}:-([^}}]+)}}", COMPOSE)
    in_config = re.findall(rf'env\("{knob}", "([^"]+)"\)', CONFIG)
    default = str(getattr(Settings({}), setting))
    assert in_compose == in_config == [default], (in_compose, in_config, default)


def test_the_warm_kernel_default_is_the_one_the_benchmark_compares_against():
    assert re.findall(r"\$\{CLASSROOM_WARM_KERNELS:-([^}]+)\}", COMPOSE) == [WARM_DEFAULT]
    assert re.findall(r'env\("CLASSROOM_WARM_KERNELS", "([^"]+)"\)', CONFIG) == [WARM_DEFAULT]
    assert WARM_DEFAULT in WARM_MODES


def test_a_students_name_is_escaped_as_dockerspawner_escapes_it():
    # DockerSpawner 14's default: lowercase letters and digits kept; every other byte as -XX, lowercased.
    assert docker_safe("ana") == "ana"
    assert docker_safe("chen.li") == "chen-2eli"
    assert docker_safe("a-b") == "a-2db"
    assert docker_safe("李") == "-e6-9d-8e"


def test_the_benchmark_rows_put_each_warm_kernel_choice_beside_the_default():
    run = {"all_answer_s": 30.0, "memory_per_student_mb": 90, "hub_memory_mb": 130, "cpu_s_per_student": 1.5}
    eager = {**run, "all_answer_s": 60.0, "cpu_s_per_student": 3.5}
    result = {
        "cores": 2,
        "baseline_docker_run_s": 0.3,
        "runs": {"1": {**run, "all_answer_s": 1.2}, "30": run},
        "warm_default": "lazy",
        "warm_modes": {"lazy": run, "1": eager},
        "progress": {"students": 30, "all_s": 60.0, "one_s": 4.0},
    }
    rows = []
    classroom_rows(result, lambda *cells: rows.append(cells))
    assert (
        "30 students at once, warm-kernel template with the server → all answer",
        "60.0 s, 3.5 CPU-s per student",
        "default: 30.0 s",
        "2.00",
    ) in rows
    assert rows[-1] == (
        "`make classroom-progress 9` over 30 students (2 cores)",
        "60.0 s",
        "one student: 4.0 s",
        "15.0",
    )
    rows.clear()
    classroom_rows({k: v for k, v in result.items() if k not in ("warm_modes", "progress")}, lambda *c: rows.append(c))
    assert len(rows) == 3  # a report from before these rows renders as it did
