"""A lab for a whole semester: packages a student adds, the course's fixes reaching a workspace that has its
lessons, and a way back from a broken package. A real lab from `make up`, driven as JupyterLab drives it
(kernels and a terminal over their websockets). Run once, on the CPU image."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import time
import uuid
import zipfile
from pathlib import Path

import pytest
import websocket

from labkit import contract
from labkit.host.net import free_port, wait_until
from labkit.host.rest import Rest
from labkit.lab_client import KernelSocket
from labkit.lesson import checks_fingerprint
from support import LAB_IMAGE, ROOT, docker, start_lab

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(LAB_IMAGE.endswith(":cuda"), reason="runs once, on the CPU image (make test VARIANT=cpu)"),
]
WORK = contract.WORKSPACE
LOCKED_NUMPY = re.search(r"^numpy==(\S+)", (ROOT / "docker" / "requirements-cpu.lock").read_text(), re.M).group(1)
# torchvision's version for the lab's torch; the CPU image asks for its +cpu build (docker/Dockerfile)
PYPI_TORCHVISION = re.search(r"^torchvision==(\S+)", (ROOT / "docker" / "companions.txt").read_text(), re.M).group(1)
TORCHVISION = f"{PYPI_TORCHVISION}+cpu"


# ---- a student's ways in -----------------------------------------------------------------------------


def kernel(lab) -> KernelSocket:
    return KernelSocket.start(Rest(f"http://127.0.0.1:{lab.port}", lab.token, timeout=60))


def run(lab, *cells: str, timeout: float = 180) -> str:
    """Run cells in a new kernel of the lab, as a notebook would; what they printed. A failed cell fails the test."""
    k = kernel(lab)
    try:
        printed = []
        for cell in cells:
            result = k.execute(cell, timeout=timeout)
            assert result["status"] == "ok", f"{cell!r}: {result}"
            printed.append(result["stdout"])
        return "".join(printed)
    finally:
        k.close()


def terminal(lab, command: str, timeout: float = 120) -> str:
    """A command typed in a terminal of the lab (JupyterLab's Terminal); what it printed, and its exit status last."""
    server = Rest(f"http://127.0.0.1:{lab.port}", lab.token)
    name = server.request("POST", "api/terminals").expect(200).json()["name"]
    url = f"ws://127.0.0.1:{lab.port}/terminals/websocket/{name}"
    ws = websocket.create_connection(url, header=[f"Authorization: token {lab.token}"], timeout=timeout)
    marker = uuid.uuid4().hex[:8]
    try:
        ws.send(json.dumps(["stdin", f"{command}; echo {marker}-$?\r"]))
        seen = ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not re.search(rf"{marker}-\d+", seen):
            kind, *content = json.loads(ws.recv())
            if kind == "stdout":
                seen += content[0]
        return seen
    finally:
        ws.close()
        server.request("DELETE", f"api/terminals/{name}")


# ---- packages to install, made here -----------------------------------------------------------------------


def wheel(folder: Path, name: str, version: str, body: str = "VALUE = 42\n", pth: str = "") -> Path:
    """A minimal pure-Python wheel of one module (and a .pth file, if given)."""
    files = {
        f"{name}/__init__.py": body or "",
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    }
    files[f"{name}-{version}.dist-info/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    if pth:
        files[f"{name}.pth"] = pth
    digest = lambda text: base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()  # noqa: E731
    record = "".join(f"{path},sha256={digest(text)},{len(text.encode())}\n" for path, text in files.items())
    files[f"{name}-{version}.dist-info/RECORD"] = record + f"{name}-{version}.dist-info/RECORD,,\n"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for inside, text in files.items():
            z.writestr(inside, text)
    return path


def index(root: Path, *wheels: Path) -> None:
    """A PEP 503 index in root: one page per project, linking its wheels."""
    for w in wheels:
        project = root / w.name.split("-")[0]
        project.mkdir(parents=True, exist_ok=True)
        target = project / w.name
        w.replace(target)
        links = "".join(f'<a href="{p.name.replace("+", "%2B")}">{p.name}</a>\n' for p in sorted(project.glob("*.whl")))
        (project / "index.html").write_text(links)


@pytest.fixture(scope="module")
def lab(docker_engine, tmp_path_factory):
    started = start_lab(docker_engine, tmp_path_factory.mktemp("semester"))
    work = started.workspace
    wheel(work / "wheels", "tinypkg", "1.0")
    wheel(work / "wheels", "termpkg", "1.0")
    # Two stand-in indexes, served in the lab's container on its loopback: PyPI's (with PyPI's torchvision,
    # a CUDA build in real life) and PyTorch's CPU index (with the +cpu build).
    index(
        work / "index" / "pypi",
        wheel(work / "tmp", "torchvision", PYPI_TORCHVISION),
        wheel(work / "tmp", "otherpkg", "1.0"),
    )
    index(work / "index" / "torch", wheel(work / "tmp", "torchvision", TORCHVISION))
    subprocess.run(
        ["chown", "-R", f"{started.env.get('LAB_UID', '1000')}:{started.env.get('LAB_GID', '1000')}", str(work)],
        check=False,
    )
    yield started
    started.command("down", check=False)


@pytest.fixture(scope="module")
def servers(lab):
    """Ports in the lab's container: the stand-in indexes, one that refuses, one that accepts and never answers."""
    cid = lab.container()
    answering, silent = free_port(), free_port()
    docker(
        "exec", "-d", "-w", f"{WORK}/index", cid, "python", "-m", "http.server", str(answering), "--bind", "127.0.0.1"
    )
    silence = f"import socket, time; s = socket.socket(); s.bind(('127.0.0.1', {silent})); s.listen(); time.sleep(900)"
    docker("exec", "-d", cid, "python", "-c", silence)
    wait_until(
        lambda: (
            docker(
                "exec",
                cid,
                "python",
                "-c",
                f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{answering}/pypi/')",
                check=False,
            ).returncode
            == 0
        ),
        30,
        0.3,
        what="the stand-in index",
    )
    return {
        "pypi": f"http://127.0.0.1:{answering}/pypi/",
        "torch": f"http://127.0.0.1:{answering}/torch/",
        "refusing": f"http://127.0.0.1:{free_port()}/",
        "silent": f"http://127.0.0.1:{silent}/",
    }


def indexes(pypi: str, torch: str) -> str:
    return f"import os; os.environ['PIP_INDEX_URL'] = {pypi!r}; os.environ[{contract.TORCH_INDEX_ENV!r}] = {torch!r}"


# ---- packages -------------------------------------------------------------------------------------------------


def test_pip_install_in_a_notebook_imports_at_once_and_lands_in_the_workspace(lab):
    out = run(
        lab,
        f"%pip install --no-index --find-links {WORK}/wheels tinypkg",
        "import tinypkg\nprint('value', tinypkg.VALUE)",
    )
    assert "Successfully installed tinypkg-1.0" in out and "value 42" in out, out
    assert list((lab.workspace / contract.PACKAGES).rglob("tinypkg/__init__.py"))
    assert "value 42" in run(lab, "import tinypkg\nprint('value', tinypkg.VALUE)")  # a new kernel


def test_bang_pip_and_a_terminal_install_for_the_student_too(lab):
    out = run(
        lab,
        f"!pip install --no-index --find-links {WORK}/wheels termpkg",
        "import termpkg\nprint('value', termpkg.VALUE)",
    )
    assert "value 42" in out, out
    typed = terminal(lab, f"pip uninstall -y termpkg && pip install --no-index --find-links {WORK}/wheels termpkg")
    assert "Successfully installed termpkg-1.0" in typed and re.search(r"[0-9a-f]{8}-0\b", typed), typed[-800:]
    assert "value 42" in run(lab, "import termpkg\nprint('value', termpkg.VALUE)")


def test_a_locked_version_cannot_be_changed_and_pip_names_it(lab):
    out = run(lab, "%pip install --no-index numpy==1.26.4", "import numpy\nprint('numpy', numpy.__version__)")
    assert (
        "The user requested numpy==1.26.4" in out and f"The user requested (constraint) numpy=={LOCKED_NUMPY}" in out
    ), out
    assert f"numpy {LOCKED_NUMPY}" in out


def test_torchvision_comes_from_pytorchs_cpu_index(lab, servers):
    out = run(lab, indexes(servers["pypi"], servers["torch"]), "%pip install torchvision")
    assert f"Successfully installed torchvision-{TORCHVISION}" in out, out
    assert f"tv {TORCHVISION}" in run(
        lab, "import importlib.metadata as m, torchvision\nprint('tv', m.version('torchvision'))"
    )
    run(lab, "%pip uninstall -y torchvision")


def test_torchvision_is_refused_in_one_line_where_pytorchs_index_cannot_be_reached(lab, servers):
    for unreachable in (servers["refusing"], servers["silent"]):
        started = time.monotonic()
        out = run(
            lab,
            indexes(servers["pypi"], unreachable),
            "%pip install torchvision",
            "import importlib.util\nprint('found', importlib.util.find_spec('torchvision'))",
        )
        seconds = time.monotonic() - started
        [line] = [x for x in out.splitlines() if x.startswith("pip: torchvision")]
        assert (
            f"only PyTorch's CPU index serves ({unreachable})" in line
            and f"pip download --no-deps torchvision=={TORCHVISION}" in line
        )
        assert "found None" in out, out  # PyPI's build, which cannot load, was not installed
        assert seconds < 30, f"{seconds:.0f} s"


def test_no_other_install_waits_on_pytorchs_index(lab, servers):
    started = time.monotonic()
    out = run(
        lab,
        indexes(servers["pypi"], servers["silent"]),
        "%pip install otherpkg",
        "import otherpkg\nprint('value', otherpkg.VALUE)",
    )
    assert "value 42" in out, out
    assert time.monotonic() - started < 15


def test_lessons_pass_with_the_students_packages_present(lab):
    python = f"{WORK}/{contract.PACKAGES}/bin/python"
    lesson = f"{contract.LESSONS_DIR}/zh/09_linear_regression.ipynb"
    done = docker(
        "exec", lab.container(), python, "-m", "labkit.runner", lesson, "--output-dir", "/tmp/run-09", check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "value 42" in run(lab, "import tinypkg\nprint('value', tinypkg.VALUE)")


# ---- the course's fixes --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def newer_image(docker_engine, tmp_path_factory):
    """The tested image with lessons 05 and 09 changed (09's checks too) and a lesson added: FROM it, plus a COPY."""
    context = tmp_path_factory.mktemp("newer-image")
    (context / "zh").mkdir()
    five = json.loads((ROOT / "notebooks" / "zh" / "05_tensors.ipynb").read_text())
    five["cells"][0]["source"] = ["# 05 · 新版本\n"]
    (context / "zh" / "05_tensors.ipynb").write_text(json.dumps(five, ensure_ascii=False, indent=1))
    nine = json.loads((ROOT / "notebooks" / "zh" / "09_linear_regression.ipynb").read_text())
    exercises = nine["metadata"]["pytorch_lab"]["exercises"]
    old = checks_fingerprint(exercises)
    exercises["1"]["check"] += "\nassert True  # a changed check"
    new = checks_fingerprint(exercises)
    for cell in nine["cells"]:
        cell["source"] = [line.replace(f'checks="{old}"', f'checks="{new}"') for line in cell["source"]]
    (context / "zh" / "09_linear_regression.ipynb").write_text(json.dumps(nine, ensure_ascii=False, indent=1))
    extra = {
        "cells": [{"cell_type": "markdown", "id": "x1", "metadata": {}, "source": ["# 99 · 新的一课\n"]}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (context / "zh" / "99_extra.ipynb").write_text(json.dumps(extra))
    tag = f"{LAB_IMAGE.split(':')[0]}:newer-lessons-test"
    (context / "Dockerfile").write_text(f"FROM {LAB_IMAGE}\nCOPY zh/ {contract.LESSONS_DIR}/zh/\n")
    docker("build", "-q", "-t", tag, str(context), timeout=600)
    yield tag
    docker("rmi", "-f", tag, check=False)


def test_the_courses_fixes_reach_the_lessons_a_student_never_edited(lab, newer_image):
    nine = lab.workspace / "09_linear_regression.ipynb"
    five = lab.workspace / "05_tensors.ipynb"
    # The student runs lesson 05 (outputs only) and edits a cell of lesson 09.
    ran = json.loads(five.read_text())
    for number, cell in enumerate(c for c in ran["cells"] if c["cell_type"] == "code"):
        cell["execution_count"] = number + 1
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["ran\n"]}]
    five.write_text(json.dumps(ran, ensure_ascii=False, indent=1))
    edited = json.loads(nine.read_text())
    code = next(c for c in edited["cells"] if c["cell_type"] == "code" and "exercise" in c["metadata"].get("tags", []))
    code["source"] = ["# my own answer\n", *code["source"]]
    nine.write_text(json.dumps(edited, ensure_ascii=False, indent=1))
    mine = nine.read_bytes()
    lab.command("down")
    up = lab.command("up", IMAGE=newer_image)
    assert [
        x
        for x in up.stderr.splitlines()
        if "lesson 09: the course has a newer version" in x and "make reset-lesson 9" in x
    ]
    assert not [x for x in up.stderr.splitlines() if "lesson 05" in x]
    assert json.loads(five.read_text())["cells"][0]["source"] == ["# 05 · 新版本\n"]
    assert nine.read_bytes() == mine
    assert (lab.workspace / "99_extra.ipynb").exists()
    # The kept 09 is never judged with the newer checks: each exercise says it is an older copy.
    done = docker(
        "exec",
        lab.container(),
        "run-notebooks",
        f"{WORK}/09_linear_regression.ipynb",
        "-p",
        "solutions",
        "True",
        "--output-dir",
        "/tmp/kept-09",
        check=False,
    )
    summary = json.loads(docker("exec", lab.container(), "cat", "/tmp/kept-09/summary.json").stdout)
    numbers = json.loads(mine)["metadata"]["pytorch_lab"]["exercises"]
    assert summary["notebooks"][0]["metrics"]["exercises"] == dict.fromkeys(numbers, "outdated"), done.stderr[-1500:]
    # The student's package outlived make down, a new image of the same Python and make up.
    assert "value 42" in run(lab, "import tinypkg\nprint('value', tinypkg.VALUE)")


# ---- the way back ------------------------------------------------------------------------------------------------


def test_a_broken_package_cannot_stop_the_lab_and_reset_packages_moves_it_aside(lab):
    site = next((lab.workspace / contract.PACKAGES).rglob("site-packages"))
    (site / "zz_broken.pth").write_text("import sys; sys.exit(3)\n")
    lab.command("down")
    up = lab.command("up")
    [line] = [x for x in up.stderr.splitlines() if "stops Python from starting" in x]
    assert "reset-packages" in line
    assert "2" in run(lab, "print(1 + 1)")  # kernels start, without the student's packages
    reset = lab.command("reset-packages")
    assert "your packages were moved to .lab/packages.backup-" in reset.stdout, reset.stdout
    [backup] = (lab.workspace / contract.LAB_FOLDER).glob("packages.backup-*")
    assert list(backup.rglob("zz_broken.pth")) and list(backup.rglob("tinypkg/__init__.py"))
    lab.command("down")
    up = lab.command("up")
    assert "stops Python from starting" not in up.stderr
    assert f"{WORK}/{contract.PACKAGES}/bin/python" in run(lab, "import sys\nprint(sys.executable)")
