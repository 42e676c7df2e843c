"""Fixtures of the tests that run on the host against the built image and a running lab."""

from __future__ import annotations

import os

import pytest

from dockerlab import DOCKER, LAB_IMAGE, Lab, docker, free_port


@pytest.fixture(scope="session")
def docker_engine():
    """The engine, or a loud failure when the run requires it (REQUIRE_DOCKER=1, as CI and make test set)."""
    try:
        ok = docker("info", check=False, timeout=30).returncode == 0
    except FileNotFoundError:
        ok = False
    if not ok:
        if os.environ.get("REQUIRE_DOCKER") == "1":
            pytest.fail(f"REQUIRE_DOCKER=1 but no Docker engine answers to '{DOCKER} info'")
        pytest.skip("no Docker engine; run through `make test` to test the image")
    if docker("image", "inspect", LAB_IMAGE, check=False).returncode != 0:
        pytest.fail(f"image {LAB_IMAGE} is not built; `make test` builds it first")
    return LAB_IMAGE


@pytest.fixture(scope="session")
def lab(docker_engine, tmp_path_factory):
    home = tmp_path_factory.mktemp("lab")
    port = free_port()
    env = {
        **os.environ,
        "IMAGE": docker_engine,
        "LAB_PORT": str(port),
        "LAB_PROJECT": f"pytorch-lab-test-{port}",
        "LAB_WORKSPACE": str(home / "workspace"),
        "LAB_TOKEN_FILE": str(home / "token"),
        "LAB_GPU": "0",  # the CUDA image is tested on the CPU, as CI can
        "OPEN_BROWSER": "0",
    }
    env.pop("JUPYTER_TOKEN", None)
    env.setdefault("VARIANT", "cuda" if docker_engine.endswith(":cuda") else "cpu")
    started = Lab(port=port, workspace=home / "workspace", token_file=home / "token", env=env)
    started.up()
    yield started
    started.lab_sh("down", check=False)
