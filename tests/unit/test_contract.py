"""Where a file that is not Python must repeat a fact of labkit/contract.py (Compose, the Dockerfile, the start
scripts, the hub's config, the z2jh values, the Makefile), every copy agrees with it."""

from __future__ import annotations

import re

import pytest
import yaml

from labkit import contract
from labkit.lesson_build import LANG_LINE
from support import ROOT


def text(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


def every(pattern: str, path: str) -> list[str]:
    """Every match of pattern's group in the file; at least one."""
    found = re.findall(pattern, text(path), flags=re.M)
    assert found, f"{path}: no match for {pattern}"
    return found


LANG = contract.DEFAULT_LANG
CPU_IMAGE = contract.image_name("cpu")

COPIES = [
    # (file, a pattern whose group is the copy, the contract's value)
    ("Makefile", r"^LAB_LANG \?= (\S+)$", LANG),
    ("Makefile", r"^LAB_PORT \?= (\S+)$", str(contract.LAB_PORT)),
    ("Makefile", r"^HUB_PORT \?= (\S+)$", str(contract.HUB_PORT)),
    ("Makefile", r"^VARIANT \?= (\S+)$", contract.VARIANTS[0]),
    ("Makefile", r"^IMAGE \?= (\S+):\$\(VARIANT\)$", contract.IMAGE_REPOSITORY),
    ("compose.yaml", r"\$\{LAB_LANG:-(\w+)\}", LANG),
    ("compose.yaml", r"\$\{LAB_PORT:-(\d+)\}", str(contract.LAB_PORT)),
    ("compose.yaml", r"image: \$\{LAB_IMAGE:-([^}]+):cpu\}", contract.IMAGE_REPOSITORY),
    ("compose.yaml", r"image: \$\{LAB_IMAGE:-([^}]+):cuda\}", contract.IMAGE_REPOSITORY),
    ("compose.yaml", r":(/home/\S+)$", contract.WORKSPACE),
    ("docker/Dockerfile", r"^\s+LAB_LANG=(\w+)", LANG),
    ("docker/Dockerfile", r"^\s+LAB_PORT=(\d+)", str(contract.LAB_PORT)),
    ("docker/Dockerfile", r"^EXPOSE (\d+)", str(contract.LAB_PORT)),
    ("docker/Dockerfile", r"^\s+LAB_LESSONS_DIR=(\S+) ", contract.LESSONS_DIR),
    ("docker/Dockerfile", r"^COPY notebooks/\w+/ (\S+)/\w+/$", contract.LESSONS_DIR),
    ("docker/Dockerfile", r"^WORKDIR (\S+)$", contract.WORKSPACE),
    ("docker/Dockerfile", r"^ARG TORCH_CPU_INDEX=(\S+)$", contract.TORCH_CPU_INDEX),
    ("docker/Dockerfile", r"--uid (\d+) --gid \d+ ", str(contract.DEFAULT_UID)),
    ("docker/Dockerfile", r"^USER (\d+):\d+$", str(contract.DEFAULT_UID)),
    ("docker/Dockerfile", r"^\s+JUPYTER_PATH=(\S+)/share/jupyter ", contract.IMAGE_VENV),
    ("docker/Dockerfile", r"^ENV VIRTUAL_ENV=(\S+) ", contract.IMAGE_VENV),
    ("docker/Dockerfile", r"> (\S+)$", contract.CONSTRAINTS),
    ("docker/start-lab.sh", r"exec (\S+)/bin/python -m labkit.start", contract.IMAGE_VENV),
    ("docker/reset-lesson.sh", r"exec (\S+)/bin/python -m labkit.course", contract.IMAGE_VENV),
    ("docker/reset-packages.sh", r"exec (\S+)/bin/python -m labkit.packages reset", contract.IMAGE_VENV),
    ("compose.yaml", r'user: "\$\{LAB_UID:-(\d+)\}', str(contract.DEFAULT_UID)),
    ("docker/healthcheck.py", r'"LAB_PORT", "(\d+)"', str(contract.LAB_PORT)),
    ("docker/jupyter_server_config.py", r'root_dir = "(\S+)"', contract.WORKSPACE),
    ("classroom/compose.yaml", r"\$\{LAB_LANG:-(\w+)\}", LANG),
    ("classroom/compose.yaml", r"\$\{HUB_PORT:-(\d+)\}", str(contract.HUB_PORT)),
    ("classroom/compose.yaml", r"\$\{CLASSROOM_LAB_IMAGE:-([^}]+)\}", CPU_IMAGE),
    ("classroom/compose.yaml", r"\$\{CLASSROOM_HUB_IMAGE:-([^}]+)\}", contract.HUB_IMAGE),
    ("classroom/compose.yaml", r"\$\{CLASSROOM_PROJECT:-([^}]+)\}", contract.CLASSROOM_PROJECT),
    ("classroom/jupyterhub_config.py", r'env\("LAB_LANG", "(\w+)"\)', LANG),
    ("classroom/jupyterhub_config.py", r'env\("CLASSROOM_LAB_IMAGE", "([^"]+)"\)', CPU_IMAGE),
    ("classroom/jupyterhub_config.py", r'env\("CLASSROOM_PROJECT", "([^"]+)"\)', contract.CLASSROOM_PROJECT),
    ("classroom/jupyterhub_config.py", r'"(/home/[^"]+)"', contract.WORKSPACE),
    ("classroom/jupyterhub_config.py", r'"labels": \{"([^"]+)": project\}', contract.CLASSROOM_LABEL),
]


@pytest.mark.parametrize(("path", "pattern", "value"), COPIES, ids=[f"{p}:{v}" for p, _, v in COPIES])
def test_each_copy_agrees_with_the_contract(path, pattern, value):
    assert set(every(pattern, path)) == {value}


def test_the_z2jh_values_give_the_images_user_language_and_workspace():
    single = yaml.safe_load(text("classroom/z2jh/values.yaml"))["singleuser"]
    assert (single["uid"], single["fsGid"]) == (contract.DEFAULT_UID, contract.DEFAULT_UID)
    assert single["extraEnv"]["LAB_LANG"] == LANG
    assert single["storage"]["homeMountPath"] == contract.WORKSPACE
    assert (single["image"]["name"], single["image"]["tag"]) == (contract.IMAGE_REPOSITORY, "cpu")
    assert single["cmd"] == "start-lab" and "/usr/local/bin/start-lab" in text("docker/Dockerfile")


def test_the_hub_image_starts_from_the_lab_images_default_base():
    def base(path: str) -> str:
        return every(r"^ARG BASE_IMAGE=(\S+)$", path)[0]

    assert base("classroom/Dockerfile") == base("docker/Dockerfile")


def test_the_lesson_build_writes_one_language_line_per_language():
    assert tuple(LANG_LINE) == contract.LANGUAGES
    assert all(line.startswith(f'lang = "{lang}"') for lang, line in LANG_LINE.items())
