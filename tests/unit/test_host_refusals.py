"""Every refusal of the host commands is one line, `error: what is wrong; what to do`, word for word, and comes
before anything is built or started. The commands run in this process against a stand-in `docker`."""

from __future__ import annotations

import socket

import pytest

from conftest import ENGINE
from labkit.host.settings import Settings


@pytest.mark.parametrize(
    ("command", "knobs", "line"),
    [
        pytest.param("up", {"VARIANT": "tpu"}, "VARIANT must be cpu or cuda, not 'tpu'", id="variant"),
        pytest.param("up", {"LAB_LANG": "fr"}, "LAB_LANG must be zh (中文) or en (English), not 'fr'", id="lab-lang"),
        pytest.param(
            "classroom-up", {"LAB_LANG": "fr"}, "LAB_LANG must be zh (中文) or en (English), not 'fr'", id="hub-lang"
        ),
        pytest.param("up", {"LAB_PORT": "eighty"}, "LAB_PORT must be a port number (1-65535), not 'eighty'", id="port"),
        pytest.param(
            "up", {"LAB_PORT": "70000"}, "LAB_PORT must be a port number (1-65535), not '70000'", id="port-range"
        ),
        pytest.param(
            "classroom-up",
            {"HUB_PORT": "eight thousand"},
            "HUB_PORT must be a port number (1-65535), not 'eight thousand'",
            id="hub-port",
        ),
        pytest.param(
            "up",
            {"COMPOSE": "v3"},
            "COMPOSE must be auto, v2 (docker compose) or v1 (docker-compose), not 'v3'",
            id="compose-knob",
        ),
        pytest.param("reset-lesson", {}, "say which lesson: make reset-lesson 9 (or N=9)", id="reset-without-number"),
    ],
)
def test_a_bad_knob_is_refused_in_one_line_before_docker_is_asked(host, stand_in, command, knobs, line):
    docker = stand_in.program("docker", ENGINE)
    code, out, err = host(command, DOCKER=str(docker), **knobs)
    assert (code, err) == (1, f"error: {line}\n")
    assert nothing_started(stand_in)


def nothing_started(stand_in) -> bool:
    """Docker was only asked questions: nothing built, run, started or created."""
    acts = [c for c in stand_in.calls("docker") if c[:1] in (["build"], ["run"], ["create"], ["start"])]
    compose = [c for c in stand_in.calls("docker") if c[:1] == ["compose"] and c[1:2] != ["version"]]
    return not acts and not compose


def test_missing_docker_says_what_to_install(host, stand_in):
    code, _, err = host("up", DOCKER="/nonexistent/docker")
    assert (code, err) == (
        1,
        "error: Docker is not installed ('/nonexistent/docker' not found); "
        "install Docker Engine (Linux) or Docker Desktop, then retry\n",
    )


def test_a_stopped_engine_says_to_start_it(host, stand_in):
    docker = stand_in.program("docker", {("--version",): ("Docker version 28.2.2\n", 0)})
    code, _, err = host("up", DOCKER=str(docker))
    assert (code, err) == (
        1,
        "error: the Docker engine is not running, or you may not use it; start it "
        "(sudo systemctl start docker, or open Docker Desktop) and check 'docker info'\n",
    )


@pytest.mark.parametrize(
    ("command", "target", "knob"), [("up", "up", "LAB_PORT"), ("classroom-up", "classroom-up", "HUB_PORT")]
)
def test_a_busy_port_is_refused_with_the_next_one_to_try(host, engine, command, target, knob):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = host(command, **{knob: str(port)})
    assert (code, err) == (
        1,
        f"error: port {port} is already in use on 127.0.0.1; stop what uses it or pick another port: "
        f"make {target} {knob}={port + 1}\n",
    )
    assert nothing_started(engine)


def test_cuda_without_an_nvidia_driver_is_refused_before_building(host, engine):
    code, _, err = host("up", VARIANT="cuda")
    assert (code, err) == (
        1,
        "error: no NVIDIA driver on this host (nvidia-smi not found); the CUDA lab needs an NVIDIA GPU "
        "with driver >= 580; use VARIANT=cpu\n",
    )
    assert nothing_started(engine)


def test_an_old_nvidia_driver_is_named_with_the_one_needed(host, engine):
    engine.program("nvidia-smi", {("--query-gpu=driver_version",): ("535.104.05\n", 0)})
    code, _, err = host("up", VARIANT="cuda")
    assert (code, err) == (
        1,
        "error: NVIDIA driver 535.104.05 is older than 580, which torch's CUDA 13 build needs; "
        "update the driver, or build for an older CUDA (README)\n",
    )


def test_cuda_on_an_arm64_engine_is_refused(host, stand_in, monkeypatch):
    answers = {**ENGINE, ("info", "--format", "{{.OSType}}/{{.Architecture}}"): ("linux/aarch64\n", 0)}
    code, _, err = host("up", VARIANT="cuda", DOCKER=str(stand_in.program("docker", answers)))
    assert (code, err) == (
        1,
        "error: the CUDA image is built for linux/amd64 only, and this Docker engine is linux/arm64; use VARIANT=cpu\n",
    )


def test_a_client_without_buildx_cannot_build(host, stand_in):
    answers = {key: value for key, value in ENGINE.items() if key != ("buildx", "version")}
    code, _, err = host("build", DOCKER=str(stand_in.program("docker", answers)))
    assert (code, err) == (
        1,
        "error: the Docker client 28.2.2 has no buildx plugin, so it cannot build the lab's image; install buildx "
        "(package docker-buildx-plugin, or docker-buildx on Debian and Ubuntu; Docker Desktop ships it), then "
        "check 'docker buildx version'\n",
    )


def test_an_old_client_builds_with_buildkit_itself(stand_in, monkeypatch):
    from labkit.host.checks import Checks

    answers = {**ENGINE, ("--version",): ("Docker version 20.10.24+dfsg1, build 297e128\n", 0)}
    del answers[("buildx", "version")]
    docker = stand_in.program("docker", answers)
    assert Checks(Settings({"DOCKER": str(docker), "PATH": str(docker.parent)})).buildkit() == (
        "client 20.10.24 builds with BuildKit itself"
    )


def test_compose_v2_asked_for_but_missing_is_refused(host, stand_in):
    answers = {key: value for key, value in ENGINE.items() if key != ("compose", "version")}
    code, _, err = host("up", DOCKER=str(stand_in.program("docker", answers)), COMPOSE="v2")
    assert (code, err) == (
        1,
        "error: Docker Compose is missing; install the compose plugin (docker compose) (package docker-compose-plugin)\n",
    )


def test_a_notebook_that_is_not_there_is_named(host, engine):
    code, _, err = host("run", NB="notebooks/99_no_such_lesson.ipynb")
    assert (code, err) == (
        1,
        "error: notebooks/99_no_such_lesson.ipynb: no such notebook; give paths under this folder, "
        "e.g. NB=notebooks/zh/09_linear_regression.ipynb\n",
    )


def test_a_failed_build_ends_the_benchmark_in_one_line(host, stand_in):
    answers = {
        **ENGINE,
        ("version",): ("28.2.2\n", 0),
        ("image", "inspect"): ("", 1),  # no lab image yet
        ("image", "inspect", "--format", "{{.Id}}", "local/base:1"): ("sha256:0123\n", 0),  # the base image is here
        ("build",): ("#1 ERROR: failed to solve\n", 1),
    }
    docker = str(stand_in.program("docker", answers))
    code, _, err = host(
        "bench", DOCKER=docker, BASE_IMAGE="local/base:1", PIP_NO_INDEX="1", BENCH_ARGS="--variants cpu"
    )
    assert code == 1
    assert err.splitlines()[-1] == "error: building pytorch-lab:cpu failed (see the build's output above)"
    assert "Traceback" not in err
