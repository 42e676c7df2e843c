"""The host commands' knobs: their defaults (the contract's), and what a knob set in the environment does."""

from __future__ import annotations

import pytest

from labkit import contract
from labkit.host.settings import ROOT, Failure, Settings, port_busy


def test_defaults_come_from_the_contract():
    s = Settings({})
    assert s.variant == contract.VARIANTS[0] == "cpu"
    assert s.image == contract.image_name("cpu") == "pytorch-lab:cpu"
    assert s.lang == contract.DEFAULT_LANG == "zh"
    assert s.lab_port == contract.LAB_PORT == 8888
    assert s.hub_port == contract.HUB_PORT == 8000
    assert s.project == contract.PROJECT
    assert s.classroom_project == contract.CLASSROOM_PROJECT
    assert s.hub_image == contract.HUB_IMAGE
    assert s.wait_seconds == contract.WAIT_SECONDS
    assert s.docker == "docker" and s.compose_choice == "auto"
    assert s.workspace == ROOT / "workspace" and s.token_file == ROOT / ".lab-token"
    assert s.service == "lab"


def test_an_empty_knob_means_its_default_as_make_passes_it():
    assert Settings({"VARIANT": "", "LAB_PORT": "", "LAB_LANG": ""}).lab_port == 8888


def test_the_image_follows_the_variant_unless_named():
    assert Settings({"VARIANT": "cuda"}).image == "pytorch-lab:cuda"
    assert Settings({"VARIANT": "cuda", "IMAGE": "school/lab:v2"}).image == "school/lab:v2"


def test_the_cuda_lab_uses_the_gpu_service_unless_told_not_to():
    assert Settings({"VARIANT": "cuda"}).service == "lab-gpu"
    assert Settings({"VARIANT": "cuda", "LAB_GPU": "0"}).service == "lab"


def test_list_knobs_split_as_a_shell_splits_them():
    s = Settings({"PARAMS": "-p name 'two words' -p lr 1e-3"})
    assert s.words("PARAMS") == ["-p", "name", "two words", "-p", "lr", "1e-3"]
    assert s.words("NB") == []


def test_paths_are_resolved_from_where_the_command_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Settings({"LAB_WORKSPACE": "mine"}).workspace == tmp_path / "mine"


def test_the_host_user_owns_the_lab_except_root_which_gets_the_images_user(monkeypatch):
    import os

    monkeypatch.setattr(os, "getuid", lambda: 1234)
    monkeypatch.setattr(os, "getgid", lambda: 1235)
    assert Settings({}).uid_gid == ("1234", "1235")
    monkeypatch.setattr(os, "getuid", lambda: 0)
    assert Settings({}).uid_gid == (str(contract.DEFAULT_UID), str(contract.DEFAULT_UID))
    assert Settings({"LAB_UID": "2000", "LAB_GID": "2001"}).uid_gid == ("2000", "2001")


@pytest.mark.parametrize(
    ("knobs", "read", "line"),
    [
        ({"WAIT_SECONDS": "soon"}, "wait_seconds", "WAIT_SECONDS must be a number of seconds above 0, not 'soon'"),
        ({"WAIT_SECONDS": "0"}, "wait_seconds", "WAIT_SECONDS must be a number of seconds above 0, not '0'"),
        ({"MIN_DRIVER": "new"}, "min_driver", "MIN_DRIVER must be a driver's major version (e.g. 580), not 'new'"),
        ({"HUB_PORT": "0"}, "hub_port", "HUB_PORT must be a port number (1-65535), not '0'"),
    ],
)
def test_each_knob_checks_its_value(knobs, read, line):
    with pytest.raises(Failure) as refused:
        getattr(Settings(knobs), read)
    assert str(refused.value) == line


def test_one_port_busy_message_for_every_command():
    assert str(port_busy(8888, "up", "LAB_PORT")) == (
        "port 8888 is already in use on 127.0.0.1; stop what uses it or pick another port: make up LAB_PORT=8889"
    )
