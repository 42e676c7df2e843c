"""Fixtures of the tests that run on the host against the built image and a running lab."""

from __future__ import annotations

import pytest

from support import LAB_IMAGE, docker, require_docker_engine, start_lab


@pytest.fixture(scope="session")
def docker_engine():
    """The engine, or a loud failure when the run requires it (REQUIRE_DOCKER=1, as CI and make test set)."""
    require_docker_engine("make test")
    if not docker.has_image(LAB_IMAGE):
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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test, so that a fixture can see whether its test failed."""
    outcome = yield
    setattr(item, f"report_{call.when}", outcome.get_result())
