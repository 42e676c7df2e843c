"""Helpers of the classroom tests: a hub started as `make classroom-up` starts it, a student's browser
(cookies, the hub's forms), and a kernel driven over its websocket as JupyterLab drives it."""

from __future__ import annotations

import http.cookiejar
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field

import pytest
import websocket

from labkit import engine
from labkit.engine import ROOT

XSRF = re.compile(r'name="_xsrf" value="([^"]+)"')


def wait_until(predicate, timeout: float, interval: float = 0.5, what: str = "condition"):
    try:
        return engine.wait_until(predicate, timeout, interval, what)
    except engine.TimedOut as exc:
        pytest.fail(str(exc))


@dataclass
class Answer:
    status: int
    url: str
    body: bytes

    def json(self):
        return json.loads(self.body)


def fetch(
    opener, url: str, data: bytes | None = None, headers: dict | None = None, method: str | None = None
) -> Answer:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with opener.open(request, timeout=30) as response:
            return Answer(response.status, response.url, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.url, error.read())


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
        proc = subprocess.run(
            [sys.executable, "scripts/lab.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            pytest.fail(f"lab {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return proc

    def api(self, path: str, method: str = "GET", body: dict | None = None, token: str | None = None) -> Answer:
        opener = urllib.request.build_opener()
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"token {token or self.admin_token}", "Content-Type": "application/json"}
        return fetch(opener, f"{self.base}/hub/api/{path}", data, headers, method)

    def server_ready(self, name: str) -> bool:
        answer = self.api(f"users/{name}")
        if answer.status != 200:
            return False
        server = (answer.json().get("servers") or {}).get("")
        return bool(server and server.get("ready"))

    def wait_ready(self, name: str, timeout: float = 150) -> None:
        wait_until(lambda: self.server_ready(name), timeout, what=f"{name}'s server")

    def user_token(self, name: str) -> str:
        answer = self.api(f"users/{name}/tokens", "POST", {"note": "classroom test", "expires_in": 3600})
        assert answer.status in (200, 201), answer.body
        return answer.json()["token"]

    def student_container(self, name: str) -> str:
        return engine.docker("ps", "-q", "--filter", f"name=^{self.project}-{name}$").stdout.strip()


@dataclass
class Browser:
    """One student's browser: its cookies, and the forms it fills in."""

    hub: Hub
    jar: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)

    def __post_init__(self):
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> Answer:
        return fetch(self.opener, self.hub.base + path)

    def form(self, page: str, fields: dict) -> Answer:
        """Open a form's page, then send it back filled in, with the page's _xsrf token, as a browser does."""
        found = XSRF.search(self.get(page).body.decode())
        assert found, f"{page} has no _xsrf field"
        data = urllib.parse.urlencode({**fields, "_xsrf": found.group(1)}).encode()
        return fetch(self.opener, self.hub.base + page, data, {"Content-Type": "application/x-www-form-urlencoded"})

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


def message(msg_type: str, content: dict, channel: str = "shell") -> dict:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "username": "test",
            "session": uuid.uuid4().hex,
            "version": "5.3",
            "date": "",
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "channel": channel,
        "buffers": [],
    }


@dataclass
class Server:
    """A student's server through the hub's proxy, reached with a token (whose may differ from the server's)."""

    hub: Hub
    user: str
    token: str

    def request(self, method: str, path: str, body: dict | None = None) -> Answer:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"token {self.token}", "Content-Type": "application/json"}
        return fetch(urllib.request.build_opener(), f"{self.hub.base}/user/{self.user}/{path}", data, headers, method)


class Kernel:
    """A kernel of a student's server, driven over its websocket as JupyterLab drives it: a new one, or
    (kernel_id) one already running."""

    def __init__(self, server: Server, kernel_id: str | None = None):
        self.server = server
        if kernel_id is None:
            started = server.request("POST", "api/kernels", {"name": "python3"})
            assert started.status == 201, started.body
            kernel_id = started.json()["id"]
        self.kernel_id = kernel_id
        url = f"ws://127.0.0.1:{server.hub.port}/user/{server.user}/api/kernels/{kernel_id}/channels"
        self.ws = websocket.create_connection(url, header=[f"Authorization: token {server.token}"], timeout=30)

    def execute(self, code: str, timeout: float = 120, expressions: dict | None = None) -> dict:
        """Run code; {'status': ok|error|died, 'error': ..., 'values': {name: repr}} (values: of expressions,
        carried in the reply itself, so nothing depends on output streams arriving)."""
        content = {"code": code, "silent": False, "store_history": False, "user_expressions": expressions or {}}
        request = message("execute_request", content)
        msg_id = request["header"]["msg_id"]
        self.ws.send(json.dumps(request))
        result = {"status": None, "error": "", "values": {}}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                reply = json.loads(self.ws.recv())
            except (websocket.WebSocketException, OSError):
                result["status"] = "died"  # the connection went with the kernel
                return result
            kind = reply.get("msg_type") or reply["header"]["msg_type"]
            content = reply.get("content", {})
            if kind == "status" and content.get("execution_state") in ("restarting", "dead"):
                result["status"] = "died"
                return result
            if reply.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if kind == "error":
                result["error"] = f"{content['ename']}: {content['evalue']}"
            elif kind == "execute_reply":
                result["status"] = content["status"]
                result["values"] = {
                    name: value.get("data", {}).get("text/plain", value.get("evalue"))
                    for name, value in content.get("user_expressions", {}).items()
                }
                return result
        pytest.fail(f"{self.server.user}'s kernel gave no answer in {timeout:.0f}s to: {code[:80]}")

    def evaluate(self, expression: str, setup: str = "") -> str:
        result = self.execute(setup, expressions={"value": expression})
        assert result["status"] == "ok", result
        return result["values"]["value"]

    def close(self, shut_down: bool = True) -> None:
        self.ws.close()
        if shut_down:
            self.server.request("DELETE", f"api/kernels/{self.kernel_id}")
