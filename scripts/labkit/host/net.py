"""Ports on this machine, an HTTP probe, and the one way anything here waits for a condition."""

from __future__ import annotations

import http.client
import socket
import time
from typing import Callable, TypeVar

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    """True when something on this machine accepts connections on 127.0.0.1:port."""
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def http_status(port: int, path: str, timeout: float = 2, host: str = "127.0.0.1") -> int | None:
    """The status of GET path on host:port, or None when nothing answers."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


class TimedOut(AssertionError):
    """A wait ran out of time. An AssertionError, so that a test that waits fails with this line as it is."""


def wait_until(predicate: Callable[[], T], timeout: float, interval: float = 0.2, what: str = "a condition") -> T:
    """Poll predicate() until it returns something truthy, and return that; TimedOut after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimedOut(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
