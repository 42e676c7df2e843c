"""The built image and the lab that `make up` starts, tested from the host."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from labkit.host.net import wait_until
from support import ROOT, docker, lab_command

pytestmark = pytest.mark.docker


def in_image(image: str, script: str, user: str | None = None) -> str:
    return docker.run_in_image(image, "-c", script, entrypoint="bash", user=user, check=True).stdout


def test_image_pins_python_and_torch(docker_engine):
    out = in_image(docker_engine, "python --version; python -c 'import torch; print(torch.__version__)'").split()
    assert re.fullmatch(r"3\.11\.\d+", out[1]), out
    if docker_engine.endswith(":cpu"):
        assert out[2] == "2.13.0+cpu"
    else:  # the CUDA build names its CUDA: 2.13.0+cu130
        assert re.fullmatch(r"2\.13\.0(\+cu\d+)?", out[2]), out[2]


def test_image_runs_as_an_ordinary_user_without_sudo(docker_engine):
    uid, sudo = in_image(docker_engine, "id -u; command -v sudo || echo none").split()
    assert uid != "0"
    assert sudo == "none"


def test_image_history_and_environment_hold_no_secret(docker_engine):
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", docker_engine).stdout
    assert "BEGIN CERTIFICATE" not in history
    assert not re.search(r"(?i)token\s*=", history)
    env = json.loads(docker("image", "inspect", "--format", "{{json .Config.Env}}", docker_engine).stdout)
    assert not [e for e in env if re.search(r"(?i)token|cert|secret|password", e.split("=", 1)[0])], env
    # The CA bundle was mounted as a BuildKit secret: nothing of it may remain in the image.
    leftovers = in_image(docker_engine, "ls -A /run/secrets 2>/dev/null; pip config list | grep -i cert || true")
    assert leftovers.strip() == ""


def test_no_ca_bundle_or_token_is_left_in_the_image_files(docker_engine, lab):
    bundle = os.environ.get("CA_BUNDLE")
    if bundle:  # the bundle the build trusted: no file in the image may hold the same bytes
        digest = hashlib.sha256(Path(bundle).read_bytes()).hexdigest()
        size = Path(bundle).stat().st_size
        # As root, so that no file is hidden by its permissions.
        found = in_image(
            docker_engine, f"find / -xdev -type f -size {size}c -exec sha256sum {{}} + 2>/dev/null || true", user="0"
        )
        assert digest not in found, found
    # The token is made at start on the host; the image's files must not know it.
    found = in_image(docker_engine, f"grep -rlsF {lab.token} /etc /opt /home /usr/local || true", user="0")
    assert found.strip() == ""


def test_editing_a_lesson_reinstalls_no_dependency():
    """The dependency layer comes before any lab file is copied (Dockerfile order)."""
    lines = (ROOT / "docker" / "Dockerfile").read_text().splitlines()
    install = next(i for i, line in enumerate(lines) if "pip install" in line)
    copies = [i for i, line in enumerate(lines) if re.match(r"COPY (notebooks|scripts|tests)/", line)]
    assert copies and min(copies) > install


def test_the_image_holds_no_tests(docker_engine):
    assert in_image(docker_engine, "ls /opt/lab/tests 2>/dev/null | wc -l").strip() == "0"
    # labkit is in the venv; beside the lessons only the constraints a student's pip installs under
    assert in_image(docker_engine, "ls /opt/lab").split() == ["constraints.txt", "notebooks"]


def test_every_script_copied_into_the_image_has_lf_endings(docker_engine):
    """A CRLF checkout (Git for Windows' default) would give bash\r; .gitattributes keeps LF."""
    found = in_image(
        docker_engine,
        "for f in /usr/local/bin/start-lab /usr/local/bin/reset-lesson; do grep -c $'\r' \"$f\" || true; done",
    ).split()
    assert found == ["0", "0"]
    for script in (ROOT / "docker").glob("*.sh"):
        assert b"\r" not in script.read_bytes(), script


def test_lab_is_healthy_and_serves_the_lessons(lab):
    state = docker("inspect", "--format", "{{.State.Health.Status}}", lab.container()).stdout.strip()
    assert state == "healthy"
    answer = lab.request("/api/contents", token=lab.token)
    assert answer.status == 200
    names = {item["name"] for item in answer.json()["content"]}
    lessons = {p.name for p in (ROOT / "notebooks" / "zh").glob("[0-9][0-9]_*.ipynb")}
    assert lessons <= names
    assert lab.url == f"http://127.0.0.1:{lab.port}/lab?token={lab.token}"


@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["no-token", "wrong-token"])
def test_api_refuses_requests_without_the_right_token(lab, token):
    answer = lab.request("/api/contents", token=token)
    assert answer.status == 403


def test_a_foreign_host_header_is_refused(lab):
    answer = lab.request("/api/contents", token=lab.token, headers={"Host": f"attacker.example:{lab.port}"})
    assert answer.status == 403


@pytest.fixture
def browser_session(lab):
    """A cookie session, as a browser gets after opening the printed URL: (opener, cookie jar)."""
    import http.cookiejar
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"http://127.0.0.1:{lab.port}/lab?token={lab.token}", timeout=10).read()
    cookies = {c.name for c in jar}
    assert "_xsrf" in cookies and any(n.startswith("username-") for n in cookies), cookies
    return opener, jar


def test_another_site_cannot_read_the_students_session(lab, browser_session):
    """allow_origin stays at its default: a browser session gets no CORS grant for a foreign origin."""
    import urllib.error
    import urllib.request

    opener, _ = browser_session
    req = urllib.request.Request(
        f"http://127.0.0.1:{lab.port}/api/contents", headers={"Origin": "http://attacker.example"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(req, timeout=10)
    assert refused.value.code in (403, 404)
    assert refused.value.headers.get("Access-Control-Allow-Origin") is None
    # The same session from the lab's own page works.
    with opener.open(f"http://127.0.0.1:{lab.port}/api/contents", timeout=10) as resp:
        assert resp.status == 200
    answer = lab.request("/api/contents", headers={"Origin": "http://attacker.example"})
    assert answer.status in (403, 404) and "Access-Control-Allow-Origin" not in answer.headers


def test_xsrf_protection_refuses_a_cookie_only_post(lab, browser_session):
    """A browser session (cookie) must also send the _xsrf token to change anything."""
    import urllib.error
    import urllib.request

    opener, jar = browser_session
    req = urllib.request.Request(
        f"http://127.0.0.1:{lab.port}/api/contents",
        method="POST",
        data=b'{"type": "file"}',
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(req, timeout=10)
    assert refused.value.code == 403
    xsrf = next(c.value for c in jar if c.name == "_xsrf")
    req.add_header("X-XSRFToken", xsrf)
    with opener.open(req, timeout=10) as created:
        assert created.status == 201


def host_addresses() -> list[str]:
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    return [a for a in out if ":" not in a and not a.startswith("127.")]


def test_lab_listens_on_loopback_only(lab):
    published = docker("port", lab.container()).stdout.split()
    bindings = [p for p in published if re.match(r"[\d.:\[\]]+:\d+$", p)]
    assert bindings and all(b.startswith("127.0.0.1:") for b in bindings), published
    for address in host_addresses():
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex((address, lab.port)) != 0, f"the lab answers on {address}"


def test_every_process_of_the_lab_runs_as_an_ordinary_user(lab):
    script = 'for p in /proc/[0-9]*; do echo "$(grep ^Uid: $p/status | cut -f2) $(tr "\\0" " " < $p/cmdline)"; done'
    rows = [r for r in docker("exec", lab.container(), "bash", "-c", script).stdout.splitlines() if r.strip()]
    assert any("jupyter" in r for r in rows), rows
    assert all(r.split()[0] != "0" for r in rows), rows


def put_file(lab, name: str, text: str):
    body = json.dumps({"type": "file", "format": "text", "content": text}).encode()
    answer = lab.request(
        f"/api/contents/{name}", token=lab.token, method="PUT", body=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status in (200, 201)


def test_work_survives_down_and_up(lab):
    put_file(lab, "survives-down-up.txt", "kept")
    assert (lab.workspace / "survives-down-up.txt").read_text() == "kept"
    lab.command("down")
    lab.up()
    answer = lab.request("/api/contents/survives-down-up.txt", token=lab.token)
    assert answer.status == 200 and answer.json()["content"] == "kept"


def test_work_survives_a_killed_container(lab):
    put_file(lab, "survives-kill.txt", "still here")
    docker("kill", lab.container())
    wait_until(lambda: not docker.running(lab.container()), 30, what="the killed container to stop")
    lab.up()
    answer = lab.request("/api/contents/survives-kill.txt", token=lab.token)
    assert answer.status == 200 and answer.json()["content"] == "still here"


def test_a_lesson_the_student_changed_is_never_overwritten_on_start(lab):
    lesson = lab.workspace / "01_course_overview.ipynb"
    original = lesson.read_text()
    lesson.write_text(original.replace("# 01 · ", "# My own notes 01 · "))
    lab.command("down")
    lab.up()
    assert "My own notes" in lesson.read_text()
    lesson.write_text(original)


def test_reset_lesson_restores_the_original_and_keeps_the_students_copy(lab):
    lesson = lab.workspace / "09_linear_regression.ipynb"
    lesson.write_text(lesson.read_text().replace("# 09 · ", "# my edited 09 · "))
    edited = lesson.read_text()
    out = lab.command("reset-lesson", "9")
    assert "restored 09_linear_regression.ipynb" in out.stdout
    assert lesson.read_text() == (ROOT / "notebooks" / "zh" / "09_linear_regression.ipynb").read_text()
    backups = list(lab.workspace.glob("09_linear_regression.backup-*.ipynb"))
    assert [b.read_text() for b in backups] == [edited]


def test_two_resets_one_after_the_other_keep_both_backups(lab):
    """However close together (the backup's name has one-second resolution), no reset replaces a backup;
    tests/unit/test_course.py pins the clock to see the -2 that a second reset in the same second takes."""
    lesson = lab.workspace / "09_linear_regression.ipynb"
    original = lesson.read_text()
    before = set(lab.workspace.glob("09_linear_regression.backup-*.ipynb"))
    lesson.write_text(original.replace("# 09 · ", "# first edit 09 · "))
    first = lesson.read_text()
    script = (
        "reset-lesson 9 && sed -i 's/# 09 · /# second edit 09 · /' work/09_linear_regression.ipynb && reset-lesson 9"
    )
    out = docker("exec", "-w", "/home/student", lab.container(), "bash", "-c", script).stdout
    assert out.count("kept your version as 09_linear_regression.backup-") == 2, out
    backups = set(lab.workspace.glob("09_linear_regression.backup-*.ipynb")) - before
    assert sorted(b.read_text() for b in backups) == sorted([first, original.replace("# 09 · ", "# second edit 09 · ")])
    assert lesson.read_text() == original
    for backup in backups:
        backup.unlink()


def test_reset_lesson_restores_in_the_labs_language_keeping_the_other(lab):
    """LAB_LANG=en make reset-lesson 9 on a Chinese workspace: English 09, the Chinese one kept as a backup."""
    lesson = lab.workspace / "09_linear_regression.ipynb"
    chinese = lesson.read_text()
    before = set(lab.workspace.glob("09_linear_regression.backup-*.ipynb"))
    proc = lab_command("reset-lesson", "9", env={**lab.env, "LAB_LANG": "en"})
    assert proc.returncode == 0, proc.stderr
    assert lesson.read_text() == (ROOT / "notebooks" / "en" / "09_linear_regression.ipynb").read_text()
    backups = set(lab.workspace.glob("09_linear_regression.backup-*.ipynb")) - before
    assert [b.read_text() for b in backups] == [chinese]
    lesson.write_text(chinese)


def test_reset_lesson_refuses_an_unknown_lesson(lab):
    out = lab.command("reset-lesson", "42", check=False)
    assert out.returncode != 0
    assert "there is no lesson 42" in out.stderr


def test_a_busy_port_gives_a_one_line_error(lab):
    env = {**lab.env, "LAB_PROJECT": "pytorch-lab-busy-port", "LAB_PORT": str(lab.port)}
    proc = lab_command("up", env=env, timeout=60)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        f"error: port {lab.port} is already in use on 127.0.0.1; stop what uses it or pick another port: make up LAB_PORT={lab.port + 1}"
    ]


def make_run(lab, tmp_path, notebook: str, params: str) -> dict:
    """make run NB=notebook PARAMS=params, as a teacher types it; the one result of its summary.json."""
    env = {**lab.env, "NB": notebook, "PARAMS": params, "OUT": str(tmp_path / "run")}
    proc = lab_command("run", env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    [result] = json.loads((tmp_path / "run" / "summary.json").read_text())["notebooks"]
    return result


def test_make_run_executes_notebooks_in_the_image(lab, tmp_path):
    result = make_run(lab, tmp_path, "tests/notebooks/passes_with_parameters.ipynb", "-p rate 4")
    assert result["metrics"]["doubled"] == 8


def test_make_run_passes_a_learning_rate_as_a_number(lab, tmp_path):
    """Issue 9's command as written: a lesson named without its language folder runs in the lab's language."""
    result = make_run(lab, tmp_path, "notebooks/09_linear_regression.ipynb", "-p lr 1e-3 -p epochs 50")
    assert result["parameters"]["lr"] == 0.001 and result["status"] == "passed"
    assert result["path"].endswith("notebooks/zh/09_linear_regression.ipynb"), result["path"]


def test_make_run_names_a_notebook_that_is_not_there(lab):
    env = {**lab.env, "NB": "notebooks/99_no_such_lesson.ipynb"}
    proc = lab_command("run", env=env, timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        "error: notebooks/99_no_such_lesson.ipynb: no such notebook; give paths under this folder, "
        "e.g. NB=notebooks/zh/09_linear_regression.ipynb"
    ]


def test_make_run_stops_an_endless_notebook_at_its_timeout(lab, tmp_path):
    env = {**lab.env, "NB": "tests/notebooks/never_ends.ipynb", "TIMEOUT": "5", "OUT": str(tmp_path / "run")}
    proc = lab_command("run", env=env, timeout=120)
    assert proc.returncode == 1
    assert "ran past the 5 s limit" in proc.stderr
