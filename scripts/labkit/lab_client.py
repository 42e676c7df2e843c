"""A kernel of a running Jupyter server (the lab, or a student's server behind the hub), driven over its
websocket as JupyterLab drives it: open a notebook's session or a bare kernel, send code, read the replies.

Used by the benchmarks inside the lab's container and by the tests on the host: it needs websocket-client
(a dependency of jupyter_server, so the image has it; the host's test tools lock it too).
"""

from __future__ import annotations

import json
import time
import uuid

import websocket

from .host.rest import Rest


def message(msg_type: str, content: dict, session: str, channel: str = "shell") -> dict:
    header = {
        "msg_id": uuid.uuid4().hex,
        "msg_type": msg_type,
        "username": "labkit",
        "session": session,
        "version": "5.3",
        "date": "",
    }
    return {
        "header": header,
        "parent_header": {},
        "metadata": {},
        "content": content,
        "channel": channel,
        "buffers": [],
    }


class KernelGone(Exception):
    """The kernel died or restarted while a request was waiting for it."""


class KernelSocket:
    """One kernel's channels. server: the REST client of the server (its base URL and token)."""

    def __init__(self, server: Rest, kernel_id: str, session_id: str | None = None, timeout: float = 30):
        self.server = server
        self.kernel_id = kernel_id
        self.session_id = session_id  # the notebook's session, when the kernel was opened for one
        self.client_session = uuid.uuid4().hex
        url = f"{server.base.replace('http', 'ws', 1)}/api/kernels/{kernel_id}/channels"
        self.ws = websocket.create_connection(url, header=[f"Authorization: token {server.token}"], timeout=timeout)

    @classmethod
    def start(cls, server: Rest) -> KernelSocket:
        """A new kernel of the server's default kind, not tied to a notebook."""
        started = server.request("POST", "api/kernels", {"name": "python3"}, timeout=120).expect(201)
        return cls(server, started.json()["id"])

    @classmethod
    def open_notebook(cls, server: Rest, path: str) -> KernelSocket:
        """A notebook's kernel, as JupyterLab opens a notebook: a session for its path, with a new kernel."""
        body = {"path": path, "name": path, "type": "notebook", "kernel": {"name": "python3"}}
        reply = server.request("POST", "api/sessions", body, timeout=120).expect(201)
        return cls(server, reply.json()["kernel"]["id"], reply.json()["id"])

    def send(self, code: str, expressions: dict | None = None, stop_on_error: bool = True) -> str:
        """Send one execute request; its message id."""
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": expressions or {},
            "allow_stdin": False,
            "stop_on_error": stop_on_error,
        }
        request = message("execute_request", content, self.client_session)
        self.ws.send(json.dumps(request))
        return request["header"]["msg_id"]

    def until(self, msg_id: str, kinds: tuple[str, ...], timeout: float = 300) -> dict:
        """The next message of one of these types that answers msg_id; KernelGone if the kernel dies first."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {'/'.join(kinds)} from the kernel within {timeout:.0f}s")
            # websocket-client answers the server's pings (every 30 s) inside recv() and reads on with the same
            # timeout: short reads, so that the deadline above is checked.
            self.ws.settimeout(min(left, 10))
            try:
                reply = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketException, OSError) as exc:
                raise KernelGone(f"the kernel's websocket closed ({type(exc).__name__})") from None
            kind = reply.get("msg_type") or reply["header"]["msg_type"]
            if kind == "status" and reply.get("content", {}).get("execution_state") in ("restarting", "dead"):
                raise KernelGone("the kernel died")
            if reply.get("parent_header", {}).get("msg_id") == msg_id and kind in kinds:
                return reply

    def execute(self, code: str, timeout: float = 120, expressions: dict | None = None) -> dict:
        """Run code to its end: {'status': ok|error|died, 'error': 'Name: value', 'values': {name: repr},
        'stdout': text}. values: of expressions, carried in the reply itself. It ends when both the reply and
        the kernel's idle status for this request have come: the reply (shell) may overtake the request's
        last printed lines (IOPub), which come before that idle status."""
        msg_id = self.send(code, expressions)
        result = {"status": None, "error": "", "values": {}, "stdout": ""}
        idle = False
        try:
            while result["status"] is None or not idle:
                reply = self.until(msg_id, ("stream", "error", "execute_reply", "status"), timeout)
                kind = reply.get("msg_type") or reply["header"]["msg_type"]
                content = reply["content"]
                if kind == "stream":
                    result["stdout"] += content.get("text", "")
                elif kind == "error":
                    result["error"] = f"{content['ename']}: {content['evalue']}"
                elif kind == "status":
                    idle = idle or content.get("execution_state") == "idle"
                else:
                    result["status"] = content["status"]
                    result["values"] = {
                        name: value.get("data", {}).get("text/plain", value.get("evalue"))
                        for name, value in content.get("user_expressions", {}).items()
                    }
            return result
        except KernelGone:
            result["status"] = "died"
            return result

    def evaluate(self, expression: str, setup: str = "") -> str:
        """repr() of an expression, after running setup."""
        result = self.execute(setup, expressions={"value": expression})
        if result["status"] != "ok":
            raise RuntimeError(f"{expression}: {result}")
        return result["values"]["value"]

    def close(self, shut_down: bool = True) -> None:
        self.ws.close()
        if not shut_down:
            return
        if self.session_id:
            self.server.request("DELETE", f"api/sessions/{self.session_id}")
        else:
            self.server.request("DELETE", f"api/kernels/{self.kernel_id}")
