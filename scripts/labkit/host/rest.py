"""The one client of a Jupyter server's or a hub's REST API: a token in the Authorization header, JSON in
and out, and an answer for every status (a refusal is an answer, not an exception)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass
class Answer:
    status: int
    url: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body) if self.body else None

    def expect(self, *statuses: int) -> Answer:
        """This answer, if its status is one of these; else an OSError naming the request's outcome."""
        if self.status not in statuses:
            raise OSError(f"{self.url} answered {self.status}: {self.body[:200].decode(errors='replace')}")
        return self


class Rest:
    """Requests to one server: base is its root URL (http://127.0.0.1:8888, or a hub's http://…/hub/api).

    opener: urllib's opener to send them with (one with a cookie jar acts as a browser does)."""

    def __init__(self, base: str, token: str | None = None, opener=None, timeout: float = 30):
        self.base = base.rstrip("/")
        self.token = token
        self.opener = opener or urllib.request.build_opener()
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        body=None,
        headers: dict | None = None,
        token: str | None = None,
        timeout: float | None = None,
    ) -> Answer:
        """One request; body is a dict (sent as JSON), bytes, or None. token overrides the client's; '' sends none."""
        data, sent = body, dict(headers or {})
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        token = self.token if token is None else token
        if token:
            sent.setdefault("Authorization", f"token {token}")
        url = path if path.startswith("http") else f"{self.base}/{path.lstrip('/')}"
        request = urllib.request.Request(url, data=data, headers=sent, method=method)
        try:
            with self.opener.open(request, timeout=timeout or self.timeout) as response:
                return Answer(response.status, response.url, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.url, dict(error.headers), error.read())

    def get(self, path: str, **kwargs) -> Answer:
        return self.request("GET", path, **kwargs)

    def call(self, method: str, path: str, body=None, timeout: float | None = None):
        """The decoded JSON answer of a request that must succeed (2xx); OSError otherwise."""
        answer = self.request(method, path, body, timeout=timeout)
        return answer.expect(*range(200, 300)).json()
