"""Get the lab without building it: one image for any host uid, carried as an archive or pulled from a
registry, failures to reach what a build needs named in one line, and the lab in a dev container.
Real engine, a real registry on 127.0.0.1 (Debian's docker-registry), the reference dev container CLI.
Run once, on the CPU image; every test works on copies under other tags, never on the image under test."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from labkit.host.net import free_port, http_status, wait_until
from labkit.host.rest import Rest
from support import LAB_IMAGE, ROOT, docker, lab_command, start_lab

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(LAB_IMAGE.endswith(":cuda"), reason="runs once, on the CPU image (make test VARIANT=cpu)"),
]
UNPULLABLE_BASE = "127.0.0.1:1/none/python:3.11"


def image_id(name: str) -> str:
    return docker("image", "inspect", "--format", "{{.Id}}", name).stdout.strip()


def error_line(proc) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, proc.stderr[-3000:]
    return lines[0]


# ---- one image for every host ------------------------------------------------------------------------------


def test_two_host_users_run_the_same_image_and_own_their_files(docker_engine, tmp_path):
    labs = []
    try:
        for uid in ("1000", "1234"):
            home = tmp_path / uid
            home.mkdir()
            labs.append(start_lab(docker_engine, home, LAB_UID=uid, LAB_GID=uid))
        images = {docker("inspect", "--format", "{{.Image}}", lab.container()).stdout.strip() for lab in labs}
        assert images == {image_id(docker_engine)}
        for uid, lab in zip(("1000", "1234"), labs):
            saved = lab.request(
                "/api/contents/mine.txt",
                token=lab.token,
                method="PUT",
                body={"type": "file", "format": "text", "content": uid},
            )
            assert saved.status in (200, 201), saved.body
            for path in (lab.workspace / "mine.txt", lab.workspace / "09_linear_regression.ipynb"):
                assert (path.stat().st_uid, path.stat().st_gid) == (int(uid), int(uid)), path
            processes = docker("exec", lab.container(), "cat", "/proc/1/status").stdout
            assert f"Uid:\t{uid}\t" in processes
    finally:
        for lab in labs:
            lab.command("down", check=False)


# ---- carried on a USB stick ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def archive(docker_engine, tmp_path_factory):
    """make save of a copy of the image under test: (archive, the copy's name, its image ID)."""
    name = f"pytorch-lab:saved-{os.getpid()}"
    docker("tag", docker_engine, name)
    path = tmp_path_factory.mktemp("archive") / "lab.tar.gz"
    saved = lab_command("save", env={"IMAGE": name, "FILE": str(path)}, timeout=900)
    assert saved.returncode == 0, saved.stderr[-2000:]
    assert saved.stdout.split() == [str(path), f"{path}.sha256"]
    yield path, name, image_id(name)
    docker("rmi", name, check=False)


def test_save_and_load_give_a_lab_without_building_or_pulling_anything(archive, tmp_path):
    path, name, original = archive
    docker("rmi", name)
    loaded = lab_command("load", env={"FILE": str(path)}, timeout=900)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert f"loaded {name} (ID {original[:19]}, built from commit " in loaded.stderr
    # The base image cannot be pulled: only the loaded image can serve this lab.
    lab = start_lab(name, tmp_path / "home", BASE_IMAGE=UNPULLABLE_BASE)
    try:
        assert "building" not in lab.said and "pulling" not in lab.said, lab.said
        assert f"lab: image {name} (ID {original[:19]}, built from commit " in lab.said
        assert Rest(f"http://127.0.0.1:{lab.port}", lab.token).get("api/contents").status == 200
    finally:
        lab.command("down", check=False)


def image_list() -> list[str]:
    """Every tag on the engine with its image, sorted: `docker images` orders images made in the same second
    as it pleases, so its own order differs between two calls with nothing loaded in between."""
    listed = docker("images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout
    return sorted(listed.splitlines())


def test_a_damaged_archive_is_refused_in_one_line_and_nothing_is_loaded(archive, tmp_path):
    path, name, _ = archive
    damaged = tmp_path / "lab.tar.gz"
    shutil.copyfile(f"{path}.sha256", f"{damaged}.sha256")
    with open(path, "rb") as whole, open(damaged, "wb") as half:  # as a copy interrupted halfway
        half.write(whole.read(path.stat().st_size // 2))
    docker("rmi", name, check=False)
    images = image_list()
    refused = lab_command("load", env={"FILE": str(damaged)}, timeout=300)
    assert refused.returncode == 1
    line = error_line(refused)
    assert line.startswith(f"error: {damaged.name} is damaged or incomplete: its sha256 is ")
    assert line.endswith("copy it again (nothing was loaded)")
    assert image_list() == images
    assert docker("image", "inspect", name, check=False).returncode != 0


# ---- pulled from the school's registry -----------------------------------------------------------------------


@pytest.fixture
def registry(tmp_path):
    """A real registry (Debian's docker-registry) on 127.0.0.1, stopped afterwards even on failure."""
    program = shutil.which("docker-registry")
    if not program:
        pytest.fail("docker-registry is not installed (apt-get install docker-registry; .ci/run installs it)")
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\nlog:\n  level: info\n"
    )
    log = open(tmp_path / "registry.log", "w")
    server = subprocess.Popen([program, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: http_status(port, "/v2/") == 200, 30, 0.2, what="the registry")
        yield f"127.0.0.1:{port}", tmp_path / "registry.log"
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def test_publish_prints_a_reference_that_make_up_pulls_and_never_builds(docker_engine, registry, tmp_path):
    address, log = registry
    published = lab_command("publish", env={"IMAGE": docker_engine, "REGISTRY": f"{address}/course"}, timeout=900)
    assert published.returncode == 0, published.stderr[-2000:]
    reference = published.stdout.strip()
    assert reference.startswith(f"{address}/course/pytorch-lab:cpu@sha256:"), reference
    assert "no builder here makes linux/arm64" in published.stderr
    docker("rmi", f"{address}/course/pytorch-lab:cpu")
    # The push names the manifest by its tag; only a pull asks for it by digest. Docker asks with GET, or with
    # HEAD alone where it still holds the manifest from the push: either is the pull reaching the registry.
    asked = f" /v2/course/pytorch-lab/manifests/{reference.split('@', 1)[1]} "
    before = log.read_text().count(asked)
    lab = start_lab(reference, tmp_path / "home", BASE_IMAGE=UNPULLABLE_BASE)
    try:
        assert log.read_text().count(asked) > before  # really pulled
        assert f"pulling {reference}" in lab.said and "building" not in lab.said
        assert Rest(f"http://127.0.0.1:{lab.port}", lab.token).get("api/contents").status == 200
        refused = lab_command("build", env={"IMAGE": reference})
        assert error_line(refused).startswith(f"error: IMAGE={reference} names an image in a registry, which is pulled")
    finally:
        lab.command("down", check=False)
        docker("rmi", reference, f"{address}/course/pytorch-lab:cpu", check=False)


# ---- what a build cannot reach, named -------------------------------------------------------------------------


def test_a_base_image_that_cannot_be_pulled_is_named_with_the_way_out(tmp_path):
    started = time.monotonic()
    proc = lab_command("build", env={"IMAGE": "pytorch-lab:never-built", "BASE_IMAGE": UNPULLABLE_BASE}, timeout=120)
    line = error_line(proc)
    assert line.startswith(f"error: the base image {UNPULLABLE_BASE} could not be pulled from 127.0.0.1:1 (")
    assert "registry-mirrors" in line and "make load" in line
    assert time.monotonic() - started < 60


@pytest.fixture
def silent_port():
    """A port on 127.0.0.1 that accepts connections and never answers."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield s.getsockname()[1]


@pytest.mark.parametrize("where", ["silent", "unresolvable"])
def test_an_index_that_cannot_be_reached_is_named_within_a_minute(where, silent_port):
    url = f"http://127.0.0.1:{silent_port}/simple" if where == "silent" else "http://pypi-mirror.invalid/simple"
    knobs = {"IMAGE": "pytorch-lab:never-built", "PIP_INDEX_URL": url, "BUILD_NETWORK": "host"}
    started = time.monotonic()
    proc = lab_command("build", env=knobs, timeout=120)
    seconds = time.monotonic() - started
    host = url.split("/")[2]
    problem = "no answer" if where == "silent" else "the name does not resolve"
    assert error_line(proc).startswith(
        f"error: the package index at {host} could not be reached ({problem} within 5 s)"
    )
    assert "make load" in error_line(proc)
    assert seconds < 60, seconds
    doctor = lab_command("doctor", env={**knobs, "LAB_PORT": str(free_port())}, timeout=120)
    [line] = [x for x in doctor.stdout.splitlines() if x.startswith("FAIL  indexes")]
    assert f"the package index at {host} could not be reached ({problem}" in line
    assert doctor.returncode == 1


@pytest.fixture
def answering_index(tmp_path):
    """An index on 127.0.0.1 that answers: pages for pip and torch, served by Python's own http.server."""
    for project in ("pip", "torch"):
        (tmp_path / "index" / project).mkdir(parents=True)
        (tmp_path / "index" / project / "index.html").write_text("<html></html>\n")
    port = free_port()
    server = subprocess.Popen(
        ["python3", "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path / "index")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: http_status(port, "/pip/") == 200, 30, 0.1, what="the stand-in index")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


def test_doctor_asks_what_a_build_needs_and_passes_where_everything_answers(answering_index):
    base = os.environ.get("BASE_IMAGE") or "pytorch-lab-base:bookworm"
    if docker("image", "inspect", base, check=False).returncode != 0:
        pytest.fail(f"no local base image {base}: scripts/make_base_image.sh makes it (.ci/run does)")
    knobs = {
        "IMAGE": "pytorch-lab:never-built",
        "BASE_IMAGE": base,
        "PIP_INDEX_URL": f"{answering_index}/",
        "TORCH_CPU_INDEX": f"{answering_index}/",
        "BUILD_NETWORK": "host",
        "LAB_PORT": str(free_port()),
    }
    doctor = lab_command("doctor", env=knobs, timeout=120)
    assert doctor.returncode == 0, doctor.stdout
    lines = {line[6:21].strip(): line[22:] for line in doctor.stdout.splitlines()}
    assert lines["base image"] == f"{base} is here"
    assert lines["indexes"].startswith(f"the package index at {answering_index[7:]}")


def test_an_index_on_this_machine_needs_the_host_network():
    knobs = {"IMAGE": "pytorch-lab:never-built", "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "BUILD_NETWORK": ""}
    proc = lab_command("build", env=knobs)
    assert error_line(proc) == (
        "error: PIP_INDEX_URL=http://127.0.0.1:9/simple is on this machine, which the build reaches only with "
        "BUILD_NETWORK=host"
    )


# ---- VS Code's dev container ---------------------------------------------------------------------------------------


def test_the_dev_container_opens_the_lab_and_runs_a_lesson(docker_engine, tmp_path):
    cli = Path(
        os.environ.get("DEVCONTAINER_CLI", ROOT / "tests" / "devcontainer" / "node_modules" / ".bin" / "devcontainer")
    )
    if not cli.exists():
        pytest.fail(f"no dev container CLI at {cli}: cd tests/devcontainer && npm ci (.ci/run does)")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(clone)], check=True)
    docker_cmd = docker.command
    compose = ["--docker-path", docker_cmd]
    env = {**os.environ, "IMAGE": docker_engine, "LAB_IMAGE": docker_engine, "LAB_PORT": str(free_port())}
    try:
        up = subprocess.run(
            [str(cli), "up", "--workspace-folder", str(clone), *compose, "--log-format", "json"],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )
        assert up.returncode == 0 and '"outcome":"success"' in up.stdout.replace(" ", ""), (up.stdout + up.stderr)[
            -3000:
        ]
        ran = subprocess.run(
            [
                str(cli),
                "exec",
                "--workspace-folder",
                str(clone),
                *compose,
                "run-notebooks",
                "/opt/lab/notebooks/zh/09_linear_regression.ipynb",
                "--output-dir",
                "/tmp/devcontainer-run",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )
        assert ran.returncode == 0, (ran.stdout + ran.stderr)[-3000:]
        assert "1 passed, 0 failed" in ran.stderr
    finally:
        leftovers = docker("ps", "-aq", "--filter", f"label=devcontainer.local_folder={clone}").stdout.split()
        if leftovers:
            project = docker(
                "inspect", "--format", '{{index .Config.Labels "com.docker.compose.project"}}', leftovers[0]
            )
            docker("rm", "-f", *leftovers, check=False)
            docker("network", "rm", f"{project.stdout.strip()}_default", check=False)
