"""Helpers of the classroom tests: a hub started as `make classroom-up` starts it, and a student's browser
(cookies, the hub's forms). Requests go through labkit's REST client; kernels through labkit.lab_client."""

from __future__ import annotations

import http.cookiejar
import re
import subprocess
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

import pytest

from labkit.host.net import wait_until
from labkit.host.rest import Answer, Rest
from labkit.lab_client import KernelSocket
from support import docker, lab_command

XSRF = re.compile(r'name="_xsrf" value="([^"]+)"')


@dataclass
class Hub:
    """A classroom started with the host commands, on its own port, project and token file."""

    port: int
    project: str
    env: dict

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_token(self) -> str:
        return open(self.env["CLASSROOM_ADMIN_TOKEN_FILE"]).read().strip()

    def command(self, *args: str, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
        proc = lab_command(*args, env=self.env, timeout=timeout)
        if check and proc.returncode != 0:
            pytest.fail(f"lab {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return proc

    def api(self, path: str, method: str = "GET", body: dict | None = None, token: str | None = None) -> Answer:
        return Rest(f"{self.base}/hub/api", token or self.admin_token).request(method, path, body)

    def server_ready(self, name: str) -> bool:
        answer = self.api(f"users/{name}")
        if answer.status != 200:
            return False
        server = (answer.json().get("servers") or {}).get("")
        return bool(server and server.get("ready"))

    def wait_ready(self, name: str, timeout: float = 150) -> None:
        wait_until(lambda: self.server_ready(name), timeout, 0.5, what=f"{name}'s server")

    def user_token(self, name: str) -> str:
        answer = self.api(f"users/{name}/tokens", "POST", {"note": "classroom test", "expires_in": 3600})
        assert answer.status in (200, 201), answer.body
        return answer.json()["token"]

    def server(self, user: str, token: str) -> Rest:
        """A student's server through the hub's proxy, reached with a token (whose may differ from the server's)."""
        return Rest(f"{self.base}/user/{user}", token)

    def kernel(self, user: str, token: str, kernel_id: str | None = None) -> KernelSocket:
        """A new kernel of a student's server, or (kernel_id) one already running, over its websocket."""
        server = self.server(user, token)
        return KernelSocket(server, kernel_id) if kernel_id else KernelSocket.start(server)

    def student_container(self, name: str) -> str:
        return docker("ps", "-q", "--filter", f"name=^{self.project}-{name}$").stdout.strip()

    @property
    def lab_image(self) -> str:
        """The tag the hub starts students' servers from: the tests' own, which the update test moves."""
        return self.env["IMAGE"]

    def volume(self, name: str) -> str:
        return f"{self.project}-work-{name}"

    def start_servers(self, *names: str, timeout: float = 150) -> None:
        """Ask for these students' servers at once (a running one is left as it is); wait until each is ready."""
        for name in names:
            answer = self.api(f"users/{name}/server", "POST")
            assert answer.status in (201, 202, 400), f"{name}: {answer.status} {answer.body[:300]}"
        for name in names:
            self.wait_ready(name, timeout)

    def stop_server(self, name: str, timeout: float = 60) -> None:
        answer = self.api(f"users/{name}/server", "DELETE")
        assert answer.status in (202, 204, 400), f"{name}: {answer.status} {answer.body[:300]}"
        wait_until(lambda: not self.student_container(name), timeout, 0.5, what=f"{name}'s server to stop")

    def in_volume(self, name: str, script: str, *mounts: str) -> str:
        """A shell script run as root in a throw-away container of the lab's image, the student's volume at /w."""
        volumes = (f"{self.volume(name)}:/w", *mounts)
        proc = docker.run_in_image(
            self.lab_image, "-c", script, volumes=volumes, user="0:0", entrypoint="sh", options=("--network=none",)
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    def hashes(self, name: str) -> dict[str, str]:
        """Every file of a student's volume: its path -> its sha256, read without changing anything."""
        out = self.in_volume(name, "cd /w && find . -type f -print0 | xargs -0 -r sha256sum")
        return {line[66:].removeprefix("./"): line[:64] for line in out.splitlines()}


@dataclass
class Browser:
    """One student's browser: its cookies, and the forms it fills in."""

    hub: Hub
    jar: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)

    def __post_init__(self):
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.rest = Rest(self.hub.base, opener=opener)

    def get(self, path: str) -> Answer:
        return self.rest.get(path)

    def form(self, page: str, fields: dict) -> Answer:
        """Open a form's page, then send it back filled in, with the page's _xsrf token, as a browser does."""
        found = XSRF.search(self.get(page).body.decode())
        assert found, f"{page} has no _xsrf field"
        data = urllib.parse.urlencode({**fields, "_xsrf": found.group(1)}).encode()
        return self.rest.request("POST", page, data, headers={"Content-Type": "application/x-www-form-urlencoded"})

    def open_lab(self, user: str) -> Answer:
        """JupyterLab's page, as a browser opens it: the server sends it through the hub's OAuth and sets its cookie."""
        return self.get(f"/user/{user}/lab")

    def sign_up(self, name: str, password: str) -> Answer:
        return self.form(
            "/hub/signup",
            {"username": name, "signup_password": password, "signup_password_confirmation": password},
        )

    def log_in(self, name: str, password: str) -> Answer:
        return self.form("/hub/login", {"username": name, "password": password})
