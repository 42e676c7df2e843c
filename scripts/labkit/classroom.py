"""The classroom's host commands: one JupyterHub on this machine, a container of the lab's image per student.

    make classroom-up [HUB_PORT=8000]   build what is missing, start the hub, wait until it answers, print its URL
    make classroom-down                 stop the hub and every student's container; every student's volume stays
    make classroom-status               the hub, the students, their servers and their volumes
    make test-classroom                 tests/classroom, with the host's test tools (build/venv)

The hub's image, config and Compose file are in classroom/. Standard library only, Python 3.9 or newer.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import urllib.request
from pathlib import Path

from . import engine
from .engine import ROOT
from .host import Failure, Lab, Settings, say

FOLDER = ROOT / "classroom"
HUB_INPUTS = (
    "Dockerfile",
    "requirements.lock",
    "jupyterhub_config.py",
    "proxy/package.json",
    "proxy/package-lock.json",
)
DEFAULT_HUB_PORT = 8000
DEFAULT_PROJECT = "pytorch-lab-classroom"
DEFAULT_HUB_IMAGE = "pytorch-lab-hub:latest"
LABEL = "pytorch-lab.classroom"  # on every student container (classroom/jupyterhub_config.py)


class Classroom:
    """The classroom's commands, over the lab's settings and its image."""

    def __init__(self, settings: Settings | None = None):
        self.lab = Lab(settings)
        self.s = self.lab.s

    # ---- settings ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        raw = self.s.get("HUB_PORT", str(DEFAULT_HUB_PORT))
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise Failure(f"HUB_PORT must be a port number (1-65535), not '{raw}'")
        return int(raw)

    @property
    def project(self) -> str:
        return self.s.get("CLASSROOM_PROJECT", DEFAULT_PROJECT)

    @property
    def hub_image(self) -> str:
        return self.s.get("CLASSROOM_HUB_IMAGE", DEFAULT_HUB_IMAGE)

    @property
    def token_file(self) -> Path:
        return Path(self.s.get("CLASSROOM_ADMIN_TOKEN_FILE", str(ROOT / ".hub-admin-token"))).resolve()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hub/"

    # ---- the hub's image -----------------------------------------------------------------

    def hub_inputs_hash(self) -> str:
        digest = hashlib.sha256(self.s.get("BASE_IMAGE").encode())
        for name in HUB_INPUTS:
            digest.update(name.encode() + b"\0" + (FOLDER / name).read_bytes())
        return digest.hexdigest()[:16]

    def build_hub(self) -> None:
        base = {"BASE_IMAGE": self.s.get("BASE_IMAGE")} if self.s.get("BASE_IMAGE") else {}
        self.lab.docker_build("classroom/Dockerfile", self.hub_image, "classroom", self.hub_inputs_hash(), base)

    # ---- Compose and the engine ----------------------------------------------------------

    def compose(self, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
        self.lab.check_compose()
        cmd = engine.compose_command(self.s.docker, self.s.get("COMPOSE", "auto"))
        env = {
            **self.s.env,
            "HUB_PORT": str(self.port),
            "CLASSROOM_PROJECT": self.project,
            "CLASSROOM_HUB_IMAGE": self.hub_image,
            "CLASSROOM_LAB_IMAGE": self.s.image,
            "CLASSROOM_ADMIN_TOKEN_FILE": str(self.token_file),
            "LAB_LANG": self.s.lang,
        }
        return subprocess.run(
            [*cmd, "-f", str(FOLDER / "compose.yaml"), "-p", self.project, *args],
            cwd=FOLDER,
            env=env,
            capture_output=capture,
            text=True,
        )

    def hub_container(self) -> str:
        return (
            engine.answers(
                [
                    self.s.docker,
                    "ps",
                    "-aq",
                    "--filter",
                    f"label=com.docker.compose.project={self.project}",
                    "--filter",
                    "label=com.docker.compose.service=hub",
                ]
            )
            or ""
        )

    def hub_state(self) -> str:
        cid = self.hub_container()
        if not cid:
            return "absent"
        return engine.answers([self.s.docker, "inspect", "--format", "{{.State.Status}}", cid]) or "absent"

    def student_containers(self) -> list[str]:
        out = engine.docker(
            "ps", "-aq", "--filter", f"label={LABEL}={self.project}", check=False, docker_cmd=self.s.docker
        ).stdout
        return out.split()

    def student_volumes(self) -> list[str]:
        prefix = f"{self.project}-work-"
        out = engine.docker(
            "volume", "ls", "-q", "--filter", f"name={prefix}", check=False, docker_cmd=self.s.docker
        ).stdout
        return sorted(v for v in out.split() if v.startswith(prefix))

    def admin_token(self) -> str:
        if not self.token_file.exists() or not self.token_file.read_text().strip():
            engine.write_private(self.token_file, engine.new_token() + "\n")
        os.chmod(self.token_file, 0o600)
        return self.token_file.read_text().strip()

    def api(self, path: str, method: str = "GET", body: dict | None = None, timeout: float = 10):
        """The hub's REST API with the teacher's token: the decoded JSON answer."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/hub/api/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.admin_token()}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    # ---- the commands --------------------------------------------------------------------

    def up(self) -> None:
        self.lab.check_variant()
        self.s.lang  # noqa: B018  (a bad LAB_LANG fails here, before anything is built)
        self.lab.need_docker()
        port = self.port
        if self.hub_state() != "running" and engine.port_in_use(port):
            raise Failure(
                f"port {port} is already in use on 127.0.0.1; stop what uses it or pick another port: "
                f"make classroom-up HUB_PORT={port + 1}"
            )
        self.lab.check_compose()
        self.lab.build()
        self.build_hub()
        self.admin_token()
        if self.compose("up", "-d", "hub").returncode != 0:
            raise Failure("docker compose could not start the hub (see above)")
        timeout = float(self.s.get("WAIT_SECONDS", "120"))

        def answers() -> bool:
            state = self.hub_state()
            if state in ("exited", "dead", "absent"):
                self.compose("logs", "--tail", "30", "hub")
                raise Failure(f"the hub did not start ({state}); its log is above (make classroom-down, then retry)")
            return engine.http_status(port, "/hub/health") == 200

        try:
            engine.wait_until(answers, timeout, interval=0.3, what="the hub")
        except engine.TimedOut:
            raise Failure(f"the hub did not answer after {timeout:.0f}s; see its log: make classroom-status") from None
        teacher = self.s.get("CLASSROOM_TEACHER", "teacher")
        say(
            f"classroom ready: students sign up and log in at the URL below; the teacher signs up as "
            f"'{teacher}' first and approves students at {self.url}authorize; admin API token in {self.token_file}"
        )
        print(self.url, flush=True)

    def down(self) -> None:
        self.lab.need_docker()
        students = self.student_containers()
        if students:
            say(f"stopping {len(students)} student server(s); their volumes stay")
            engine.docker("rm", "-f", *students, check=False, docker_cmd=self.s.docker)
        # No -v: the hub's database and every student's work outlive this.
        if self.compose("down").returncode != 0:
            raise Failure("docker compose could not stop the hub (see above)")

    def status(self) -> int:
        self.lab.need_docker()
        state = self.hub_state()
        print(f"hub        {state}" + (f" at {self.url}" if state == "running" else ""))
        servers: dict[str, str] = {}
        users: list[dict] = []
        if state == "running":
            try:
                users = self.api("users")
            except (OSError, ValueError) as problem:
                print(f"           the hub's API did not answer: {problem}")
        for user in users:
            server = (user.get("servers") or {}).get("")
            servers[user["name"]] = (
                "no server"
                if not server
                else ("ready" if server.get("ready") else (server.get("pending") or "starting"))
            )
        volumes = {v[len(f"{self.project}-work-") :]: v for v in self.student_volumes()}
        names = sorted(set(servers) | set(volumes))
        print(f"students   {len(names)}")
        for name in names:
            admin = next((u.get("admin") for u in users if u["name"] == name), False)
            print(
                f"  {name:<20} {'teacher' if admin else 'student':<8} {servers.get(name, '-'):<10} "
                f"{volumes.get(name, '(no volume)')}"
            )
        return 0

    def test(self) -> int:
        self.lab.need_docker()
        python = self.lab.host_venv()
        env = {**self.s.env, "LAB_IMAGE": self.s.image, "REQUIRE_DOCKER": "1"}
        extra = engine.words(self.s.get("PYTEST_ARGS"))
        return subprocess.run(
            [str(python), "-m", "pytest", "-p", "no:cacheprovider", "tests/classroom", *extra], cwd=ROOT, env=env
        ).returncode


def run(command: str) -> int:
    """One classroom command by its name in host.COMMANDS."""
    room = Classroom()
    if command == "classroom-up":
        room.up()
        return 0
    if command == "classroom-down":
        room.down()
        return 0
    if command == "classroom-status":
        return room.status()
    return room.test()
