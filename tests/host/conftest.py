"""Fixtures of the tests that run on the host against the built image and a running lab."""

from __future__ import annotations

import os

import pytest

from dockerlab import DOCKER, LAB_IMAGE, docker, start_lab


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
    """The lab as `make up` starts it: Chinese, the default."""
    started = start_lab(docker_engine, tmp_path_factory.mktemp("lab"))
    yield started
    started.command("down", check=False)


@pytest.fixture(scope="session")
def lab_en(docker_engine, tmp_path_factory):
    """The lab as `LAB_LANG=en make up` starts it."""
    started = start_lab(docker_engine, tmp_path_factory.mktemp("lab-en"), lang="en")
    yield started
    started.command("down", check=False)
