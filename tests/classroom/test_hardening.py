"""A class that one student cannot break: what their container may do, seen from inside it (its kernel), and
a fork bomb in one kernel while the hub and the other students keep answering."""

from __future__ import annotations

import json
import threading
import time

import pytest

from conftest import STUDENTS
from labkit.host.net import http_status, wait_until
from support import docker

pytestmark = [pytest.mark.docker, pytest.mark.slow]
# Finds the container's own process group in its kernel: cgroup v1's pids controller (these machines), or the
# unified cgroup v2 folder (a container has its own cgroup namespace there).
FIND_PIDS = """
import pathlib
pids = pathlib.Path('/sys/fs/cgroup/pids')
if not pids.is_dir():
    pids = pathlib.Path('/sys/fs/cgroup')
"""


@pytest.fixture(scope="module")
def tokens(hub, students):
    """Every student's server running (the last test of test_classroom.py restarted the hub), and their tokens."""
    hub.start_servers(*STUDENTS)
    return {name: hub.user_token(name) for name in STUDENTS}


def values(hub, user: str, token: str, code: str, **expressions: str) -> dict:
    """Run code in a new kernel of a student's server; the expressions' values (repr), then the kernel is gone."""
    kernel = hub.kernel(user, token)
    try:
        result = kernel.execute(code, timeout=120, expressions=expressions)
        assert result["status"] == "ok", result
        return result["values"]
    finally:
        kernel.close()


def test_a_students_server_has_no_capabilities_cannot_gain_privileges_and_has_a_process_limit(hub, tokens):
    found = values(
        hub,
        "carol",
        tokens["carol"],
        FIND_PIDS
        + "status = dict(line.split(':\\t', 1) for line in open('/proc/self/status').read().splitlines())\n"
        + "limit = (pids / 'pids.max').read_text().strip()",
        effective="status['CapEff'].strip()",
        bounding="status['CapBnd'].strip()",
        no_new_privs="status['NoNewPrivs'].strip()",
        limit="limit",
    )
    assert found == {
        "effective": "'0000000000000000'",
        "bounding": "'0000000000000000'",
        "no_new_privs": "'1'",
        "limit": "'1024'",
    }
    config = json.loads(docker("inspect", "--format", "{{json .HostConfig}}", hub.student_container("carol")).stdout)
    assert (config["PidsLimit"], config["CapDrop"], config["SecurityOpt"]) == (1024, ["ALL"], ["no-new-privileges"])
    assert (config["Memory"], config["MemorySwap"], config["CpuQuota"] / config["CpuPeriod"]) == (2**30, 2**30, 1.0)
    assert config["ReadonlyRootfs"] and set(config["Tmpfs"]) == {"/tmp", "/home/student"}


def test_the_lab_works_on_a_read_only_root_with_its_own_memory_limit_in_sight(hub, tokens):
    code = """
import os, pathlib, subprocess, zipfile
import matplotlib
try:
    open('/opt/lab/changed', 'w')
    root = 'writable'
except OSError as problem:
    root = problem.strerror
wheel = pathlib.Path('/tmp/hello_lab-1.0-py3-none-any.whl')
with zipfile.ZipFile(wheel, 'w') as made:
    made.writestr('hello_lab.py', 'ANSWER = 42\\n')
    made.writestr('hello_lab-1.0.dist-info/METADATA', 'Metadata-Version: 2.1\\nName: hello-lab\\nVersion: 1.0\\n')
    made.writestr('hello_lab-1.0.dist-info/WHEEL', 'Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n')
    made.writestr('hello_lab-1.0.dist-info/RECORD', '')
pip = subprocess.run(['pip', 'install', '--no-index', str(wheel)], capture_output=True, text=True)
import hello_lab
"""
    found = values(
        hub,
        "bob",
        tokens["bob"],
        code,
        root="root",
        font="matplotlib.rcParams['font.sans-serif'][0]",
        pip="pip.returncode",
        where="hello_lab.__file__",
        answer="hello_lab.ANSWER",
        mem_limit="os.environ['MEM_LIMIT']",
    )
    assert found["root"] == "'Read-only file system'"
    assert found["font"] == "'WenQuanYi Micro Hei'"  # the image's matplotlib settings, read from its read-only folder
    assert (found["pip"], found["answer"]) == ("0", "42")
    assert found["where"].startswith("'/home/student/work/.lab/packages/")  # the student's packages, in their volume
    assert found["mem_limit"] == repr(str(2**30))  # what the status bar's memory gauge measures against
    metrics = hub.server("bob", tokens["bob"]).get("api/metrics/v1").json()
    assert metrics["limits"]["memory"]["rss"] == 2**30 and 0 < metrics["rss"] < 2**30


def test_a_request_from_a_kernel_straight_to_another_students_server_is_refused(hub, tokens):
    template = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
    address = docker("inspect", "--format", template, hub.student_container("bob")).stdout.strip()
    assert address, "bob's server has no address on the classroom's network"
    code = f"""
import urllib.error, urllib.request
def status(token=None):
    headers = {{'Authorization': f'token {{token}}'}} if token else {{}}
    request = urllib.request.Request('http://{address}:8888/user/bob/api/contents', headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as refused:
        return refused.code
"""
    found = values(
        hub,
        "alice",
        tokens["alice"],
        code,
        bare="status()",
        alices="status(" + repr(tokens["alice"]) + ")",
        bobs="status(" + repr(tokens["bob"]) + ")",
    )
    # Reached by its address, bob's server answers, and refuses anyone without bob's credentials.
    assert found == {"bare": "403", "alices": "403", "bobs": "200"}


BOMB = (
    FIND_PIDS
    + """
import subprocess, time
limit = int((pids / 'pids.max').read_text())
# A fork bomb in dash whose every process stays (it forks twice, then becomes a sleep): the table fills and stays
# full until timeout kills the bomb's whole process group. The classic `b | b &` churns instead: its count swings
# between a few hundred and the limit, and a sampler in the same busy cgroup could catch only the troughs.
bomb = subprocess.Popen(['timeout', '-s', 'KILL', '12', 'sh', '-c', 'b() { b & b & exec sleep 60; }; b'],
                        stderr=subprocess.DEVNULL)
peak = 0
while bomb.poll() is None:
    peak = max(peak, int((pids / 'pids.current').read_text()))
    time.sleep(0.05)
refused = int((pids / 'pids.events').read_text().split()[1])
"""
)


def test_a_fork_bomb_fills_only_its_own_containers_process_table(hub, tokens):
    carol = hub.kernel("carol", tokens["carol"])
    alice = hub.kernel("alice", tokens["alice"])
    seen = {}
    try:
        # First the limit, seen in force from inside: only then the bomb.
        assert carol.evaluate("(pids / 'pids.max').read_text().strip()", setup=FIND_PIDS) == "'1024'"
        bombing = threading.Thread(
            target=lambda: seen.update(
                carol.execute(BOMB, timeout=90, expressions={"peak": "peak", "limit": "limit", "refused": "refused"})
            )
        )
        bombing.start()
        time.sleep(3)
        answers = 0
        while bombing.is_alive():
            assert http_status(hub.port, "/hub/health", timeout=5) == 200
            assert alice.execute("total = sum(range(1000))", expressions={"t": "total"}, timeout=20)["values"] == {
                "t": "499500"
            }
            assert hub.server("bob", tokens["bob"]).get("api/contents", timeout=10).status == 200
            answers += 1
            time.sleep(0.5)
        bombing.join()
        assert seen["status"] == "ok", seen
        assert answers >= 5, f"only {answers} rounds of answers while the bomb ran"
        peak, limit, refused = (int(seen["values"][k]) for k in ("peak", "limit", "refused"))
        assert limit == 1024 and peak >= limit - 16 and refused > 0, seen["values"]
        # The bomb is gone with its process group; carol's own kernel goes on.
        current = lambda: int(carol.evaluate("int((pids / 'pids.current').read_text())"))  # noqa: E731
        wait_until(lambda: current() < 100, 30, 0.5, what="carol's processes to drop after the bomb")
    finally:
        carol.close()
        alice.close()
    assert hub.server_ready("carol") and hub.server_ready("alice")
