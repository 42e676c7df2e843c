"""The classroom with its real parts: the hub's image and config, DockerSpawner, a container of the lab's
image per student on this machine's engine. The tests run in file order; the last restarts the hub."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

import pytest

from conftest import PASSWORD, STUDENTS
from hubclient import Browser
from labkit.host.net import http_status, wait_until
from support import ROOT, docker

pytestmark = [pytest.mark.docker, pytest.mark.slow]
LESSONS = sorted(p.name for p in (ROOT / "notebooks" / "zh").glob("*.ipynb"))


def listing(browser: Browser, user: str) -> set[str]:
    answer = browser.get(f"/user/{user}/api/contents")
    assert answer.status == 200, f"{user}: {answer.status} {answer.url}"
    return {item["name"] for item in answer.json()["content"]}


def test_each_student_logs_in_and_gets_a_server_listing_every_lesson(hub, students):
    for name, browser in students.items():
        assert set(LESSONS) <= listing(browser, name), name
    assert len({hub.student_container(name) for name in STUDENTS}) == 3


def test_the_health_check_follows_the_hub_prefix_so_every_student_container_is_healthy(hub, students):
    def healthy() -> bool:
        states = [
            docker("inspect", "--format", "{{.State.Health.Status}}", hub.student_container(name)).stdout.strip()
            for name in STUDENTS
        ]
        assert "unhealthy" not in states, states
        return states == ["healthy"] * 3

    wait_until(healthy, 60, 0.5, what="healthy student containers")


def test_a_student_not_on_the_list_cannot_log_in_before_the_teacher_approves(hub):
    browser = Browser(hub)
    assert browser.sign_up("mallory", PASSWORD).status == 200
    refused = browser.log_in("mallory", PASSWORD)
    # The login page again, not a server: NativeAuthenticator knows mallory, but nobody approved her yet.
    assert refused.url.endswith("/hub/login") and b'name="password"' in refused.body, (refused.status, refused.url)
    assert browser.get("/hub/api/user").status == 403
    assert hub.api("users/mallory").status == 404  # never let in, so the hub has no such user


def test_lesson_09_runs_in_a_students_kernel(hub, students):
    token = hub.user_token("alice")
    answer = students["alice"].get("/user/alice/api/contents/09_linear_regression.ipynb")
    assert answer.status == 200
    cells = [c for c in answer.json()["content"]["cells"] if c["cell_type"] == "code"]
    kernel = hub.kernel("alice", token)
    try:
        for number, cell in enumerate(cells, 1):
            result = kernel.execute(cell["source"], timeout=180)
            assert result["status"] == "ok", f"cell {number}: {result['error']}"
        assert kernel.evaluate("torch.__version__", setup="import torch").startswith("'2.13.0")
    finally:
        kernel.close()


def test_a_students_cookie_cannot_reach_another_students_server(hub, students):
    page = students["alice"].open_lab("bob")
    assert page.status == 403, f"alice's cookie on bob's lab: {page.status} {page.url}"
    answer = students["alice"].get("/user/bob/api/contents")
    assert answer.status in (403, 404), f"alice's cookie on bob's files: {answer.status} {answer.url}"
    assert students["alice"].get("/hub/api/users/bob").status in (403, 404)


def test_a_students_token_cannot_read_another_students_files_or_start_their_kernel(hub, students):
    token = hub.user_token("alice")
    bobs = hub.server("bob", token)
    assert bobs.request("GET", "api/contents").status in (403, 404)
    assert bobs.request("POST", "api/kernels", {"name": "python3"}).status in (403, 404)
    assert hub.api("users/bob", token=token).status in (403, 404)
    # The same token opens alice's own files: the refusals above are about whose server it is.
    assert hub.server("alice", token).request("GET", "api/contents").status == 200


def test_the_hub_listens_on_loopback_only(hub):
    cid = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={hub.project}").stdout.split()[0]
    bindings = json.loads(docker("inspect", "--format", "{{json .HostConfig.PortBindings}}", cid).stdout)
    assert [b["HostIp"] for b in bindings["8000/tcp"]] == ["127.0.0.1"]
    assert http_status(hub.port, "/hub/health") == 200
    for address in host_addresses():
        assert http_status(hub.port, "/hub/health", host=address) is None, address


def host_addresses() -> set[str]:
    """This machine's addresses other than loopback: its default route's, and the Docker bridge's."""
    found = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing address
            found.add(probe.getsockname()[0])
        except OSError:
            pass
    bridge = docker("network", "inspect", "bridge", "--format", "{{range .IPAM.Config}}{{.Gateway}}{{end}}")
    found.update(bridge.stdout.split())
    found = {a for a in found if a and not a.startswith("127.")}
    assert found, "no address of this machine besides loopback to try the hub on"
    return found


def test_the_admin_token_file_is_private_and_opens_the_hubs_api(hub):
    mode = stat.S_IMODE(Path(hub.env["CLASSROOM_ADMIN_TOKEN_FILE"]).stat().st_mode)
    assert mode == 0o600
    names = {user["name"] for user in hub.api("users").json()}
    assert set(STUDENTS) <= names
    assert hub.api("users", token="not-the-token").status == 403
    # The idle culler runs beside the hub, as a service with its own narrow role.
    services = hub.api("services").json()
    assert {"teacher", "idle-culler"} <= set(services)
    assert services["idle-culler"]["pid"], services["idle-culler"]
    status = hub.command("classroom-status").stdout
    for name in STUDENTS:
        assert f"{hub.project}-work-{name}" in status and "ready" in status


def test_a_kernel_over_its_memory_limit_dies_alone(hub, students):
    token = hub.user_token("bob")
    kernel = hub.kernel("bob", token)
    before = kernel.evaluate("os.getpid()", setup="import os")
    # 2 GB in 64 MB pieces, each written, against bob's 1 GB limit: the kernel is the one killed.
    greedy = kernel.execute("blocks = [bytearray(b'x' * 2**26) for _ in range(32)]", timeout=120)
    kernel.close(shut_down=False)
    assert greedy["status"] == "died", greedy
    # bob's server restarts the kernel; the same kernel answers again, from a new process. A request sent while
    # the new process starts can be lost: each try opens the kernel's channels afresh and waits 10 s at most
    # (less than the server's 30 s between websocket pings, which would otherwise keep a wait from ending).

    def restarted_pid() -> str | None:
        again = hub.kernel("bob", token, kernel.kernel_id)
        try:
            return again.execute("import os", expressions={"pid": "os.getpid()"}, timeout=10)["values"].get("pid")
        except TimeoutError:
            return None
        finally:
            again.close(shut_down=False)

    try:
        after = wait_until(restarted_pid, 90, 0.5, what="bob's restarted kernel")
        assert after != before
    finally:
        hub.server("bob", token).request("DELETE", f"api/kernels/{kernel.kernel_id}")
    container = hub.student_container("bob")
    assert docker("inspect", "--format", "{{.State.Status}} {{.RestartCount}}", container).stdout.split() == [
        "running",
        "0",
    ]
    assert http_status(hub.port, "/hub/health") == 200
    for name in STUDENTS:
        assert hub.server_ready(name), name
        assert LESSONS[0] in listing(students[name], name)


def test_saved_work_and_edited_lessons_survive_classroom_down_and_up(hub, students):
    alice = students["alice"]
    token = hub.user_token("alice")
    saver = hub.server("alice", token)
    note = {"type": "file", "format": "text", "content": "alice was here\n"}
    assert saver.request("PUT", "api/contents/saved_by_alice.txt", note).status in (200, 201)
    lesson = alice.get(f"/user/alice/api/contents/{LESSONS[0]}").json()
    lesson["content"]["cells"][0]["source"] = "# alice's own notes\n"
    edited = {"type": "notebook", "format": "json", "content": lesson["content"]}
    assert saver.request("PUT", f"api/contents/{LESSONS[0]}", edited).status == 200

    hub.command("classroom-down")
    assert [hub.student_container(name) for name in STUDENTS] == ["", "", ""]
    volumes = docker("volume", "ls", "-q", "--filter", f"name={hub.project}-work-").stdout.split()
    assert {f"{hub.project}-work-{name}" for name in STUDENTS} <= set(volumes)

    hub.command("classroom-up")
    again = Browser(hub)
    assert again.log_in("alice", PASSWORD).status == 200
    hub.wait_ready("alice")
    assert again.open_lab("alice").status == 200
    saved = again.get("/user/alice/api/contents/saved_by_alice.txt")
    assert saved.status == 200 and saved.json()["content"] == "alice was here\n"
    kept = again.get(f"/user/alice/api/contents/{LESSONS[0]}").json()
    assert kept["content"]["cells"][0]["source"] == "# alice's own notes\n"
