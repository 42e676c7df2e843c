"""Fixtures of the classroom tests: one real hub for the session, with three students signed up."""

from __future__ import annotations

import os

import pytest

from hubclient import Browser, Hub
from labkit.host.net import free_port
from support import LAB_IMAGE, docker, lab_command, require_docker_engine

STUDENTS = ("alice", "bob", "carol")
PASSWORD = "lesson-09-regression"


@pytest.fixture(scope="session")
def hub(tmp_path_factory):
    """A classroom as `make classroom-up` starts it, on its own port and project; removed afterwards, volumes too."""
    require_docker_engine("make test-classroom")
    if not docker.has_image(LAB_IMAGE):
        built = lab_command("build", env={"IMAGE": LAB_IMAGE}, timeout=3600)
        assert built.returncode == 0, built.stderr[-3000:]
    port = free_port()
    project = f"pytorch-lab-classroom-test-{port}"
    # The tests' own tag of the lab's image: the update test moves it to a rebuilt image, as a teacher's
    # rebuild moves pytorch-lab:cpu, without touching the image under test.
    image = f"pytorch-lab:classroom-test-{port}"
    docker("tag", LAB_IMAGE, image)
    env = {
        **os.environ,
        "HUB_PORT": str(port),
        "CLASSROOM_PROJECT": project,
        "CLASSROOM_ADMIN_TOKEN_FILE": str(tmp_path_factory.mktemp("hub") / "admin-token"),
        "CLASSROOM_STUDENTS": " ".join(STUDENTS),
        "CLASSROOM_MEM_LIMIT": "1G",
        "IMAGE": image,
    }
    started = Hub(port, project, env)
    try:  # removed even when the hub never came up: a failed start leaves neither containers nor the tag
        started.command("classroom-up")
        yield started
    finally:
        started.command("classroom-down", check=False)
        volumes = docker("volume", "ls", "-q", "--filter", f"name={project}", check=False).stdout.split()
        if volumes:
            docker("volume", "rm", "-f", *volumes, check=False)
        docker("rmi", image, check=False)  # the tag; and the rebuilt image, if the update test made one


@pytest.fixture(scope="session")
def students(hub):
    """Three students who signed up and logged in through the hub's forms, their servers spawned at once."""
    browsers = {}
    for name in STUDENTS:
        browser = Browser(hub)
        signed_up = browser.sign_up(name, PASSWORD)
        assert signed_up.status == 200, signed_up.body[-500:]
        browsers[name] = browser
    for name, browser in browsers.items():
        logged_in = browser.log_in(name, PASSWORD)
        assert logged_in.status == 200, f"{name}: {logged_in.status} {logged_in.url}"
    for name, browser in browsers.items():
        hub.wait_ready(name)
        lab = browser.open_lab(name)
        assert lab.status == 200 and lab.url.endswith(f"/user/{name}/lab"), f"{name}: {lab.status} {lab.url}"
    return browsers
