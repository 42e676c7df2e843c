"""The template's side: a process that imported the heavy modules once, then forks each kernel on request.

It listens on a Unix socket; each request carries a kernel's command line, environment and folder, and
its stdout/stderr as file descriptors. The forked child becomes an ordinary IPKernelApp. The template
reaps its kernels, reports each exit status over that kernel's connection, and passes on the owner's
signals; it exits when its owner's pipe closes.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import socket
import sys
import threading

from .. import packages

# torch._dynamo: a lesson's first optimizer imports it (about 800 modules, sympy among them: 0.9 s
# in the CPU image); it starts no thread and asks nothing of CUDA.
HEAVY = ("numpy", "torch", "torch._dynamo", "matplotlib", "matplotlib.pyplot", "ipykernel.kernelapp")
# What IPKernelApp imports as it starts (its shell, its debugger, IPython's history and help):
# imported in the template too, so that a forked kernel answers sooner. Never matplotlib_inline's
# backend: importing it hooks the running shell, which the template has not.
KERNEL_START = (
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.debugger",
    "debugpy",
    "IPython.core.completer",
    "IPython.core.history",
    "sqlite3",
    "pdb",
    "pydoc",
    "faulthandler",
    "tornado.ioloop",
)
INLINE = "module://matplotlib_inline.backend_inline"  # what ipykernel picks when MPLBACKEND is unset
REPLY_TIMEOUT = 15.0


def serve(socket_path: str, owner_fd: int) -> None:
    """The template: import, listen, then fork kernels, reap them and pass signals on until the owner goes."""
    import importlib

    # As ipykernel_launcher: the folder the template started in is no import path of a kernel.
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    for name in HEAVY + KERNEL_START:
        try:
            importlib.import_module(name)
        except ImportError:
            if name in HEAVY:
                raise
    packages.remember()  # the .pth files this Python read as it started; its kernels read the newer ones
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server = TemplateServer(socket_path, owner_fd)
    while True:
        for key, _ in server.selector.select():
            if key.fd not in server.selector.get_map():
                continue  # closed by an earlier event of this round (a kernel reaped)
            try:
                server.handle(key)
            except Exception:  # a slip here must not take the template, and so its kernels, down
                import traceback

                traceback.print_exc()


class TemplateServer:
    """The template's single-threaded loop: its socket, its owner's pipe, SIGCHLD, one connection per kernel."""

    def __init__(self, socket_path: str, owner_fd: int):
        self.socket_path = socket_path
        self.owner_fd = owner_fd
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(socket_path + ".new")
        self.listener.listen(64)
        os.rename(socket_path + ".new", socket_path)  # listening before anyone can see it
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        signal.set_wakeup_fd(self.wake_w.fileno())
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.selector.register(owner_fd, selectors.EVENT_READ, "owner")
        self.selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.kernels: dict[int, socket.socket | None] = {}  # pid -> its connection to the owner
        self.forked = 0

    def handle(self, key) -> None:
        what = key.data
        if what == "owner":  # the owner is gone; the kernels follow through their parent poller
            shutil.rmtree(os.path.dirname(self.socket_path), ignore_errors=True)
            os._exit(0)
        elif what == "wake":
            try:
                while self.wake_r.recv(512):
                    pass
            except BlockingIOError:
                pass
            self.reap()
        elif what == "accept":
            conn, _ = self.listener.accept()
            try:
                message, fds = receive(conn)
            except (OSError, ValueError):
                conn.close()
                return
            self.answer(conn, message, fds)
        else:  # from the owner, about kernel `what`: a signal, or the end of its interest
            self.from_owner(key.fileobj, what)

    def answer(self, conn: socket.socket, message: dict, fds: list[int]) -> None:
        def reply(data: dict) -> None:
            conn.sendall(json.dumps(data).encode() + b"\n")

        if message.get("op") == "status":
            reply(
                {
                    "pid": os.getpid(),
                    "python_threads": threading.active_count(),
                    "busy_native_threads": busy_threads(),
                    "cuda_initialized": sys.modules["torch"].cuda.is_initialized(),
                    "modules": sorted(name for name in HEAVY if name in sys.modules),
                    "kernels": sorted(self.kernels),
                    "forked": self.forked,
                }
            )
            conn.close()
            return
        if message.get("op") != "fork" or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            reply({"error": "expected a fork request with two file descriptors"})
            conn.close()
            return
        own = [self.listener, self.wake_r, self.wake_w, self.selector, conn]
        close = [self.owner_fd, *(c.fileno() for c in [*own, *self.kernels.values()] if c is not None)]
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            reply({"error": f"fork: {exc.strerror}"})
            conn.close()
            return
        if pid == 0:
            become_kernel(message, fds, close)  # never returns
        for fd in fds:
            os.close(fd)
        self.forked += 1
        self.kernels[pid] = conn
        try:
            reply({"pid": pid})
        except OSError:
            pass  # the owner went; the kernel is reaped all the same
        conn.setblocking(False)
        self.selector.register(conn, selectors.EVENT_READ, pid)
        self.reap()  # a child that died at once

    def from_owner(self, conn: socket.socket, pid: int) -> None:
        try:
            data = conn.recv(4096)
        except OSError:
            data = b""
        if not data:  # the owner let go of this kernel; the template still reaps it
            self.selector.unregister(conn)
            conn.close()
            if self.kernels.get(pid) is conn:
                self.kernels[pid] = None
            return
        for line in data.split(b"\n"):
            if line.strip() and pid in self.kernels:
                try:
                    os.killpg(pid, int(json.loads(line)["signal"]))  # the kernel leads its own group
                except (OSError, ValueError, KeyError):
                    pass

    def reap(self) -> None:
        while self.kernels:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.kernels.pop(pid, None)
            if conn is not None:
                try:
                    conn.setblocking(True)
                    conn.settimeout(1)
                    conn.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
                except OSError:
                    pass
                self.selector.unregister(conn)
                conn.close()


def busy_threads() -> list[str]:
    """The template's native threads, other than this one, that are not asleep (Linux; [] elsewhere).

    numpy's OpenBLAS starts its (idle) pool when numpy is imported; it stops it before a fork
    and starts it again in the child, so it is harmless; a running thread would not be.
    """
    busy = []
    folder = "/proc/self/task"
    for task in os.listdir(folder) if os.path.isdir(folder) else []:
        if int(task) == threading.get_native_id():
            continue
        try:
            with open(f"{folder}/{task}/stat") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # it ended
        if state not in ("S", "D", "I"):
            busy.append(f"{task}:{state}")
    return busy


def receive(conn: socket.socket) -> tuple[dict, list[int]]:
    conn.settimeout(REPLY_TIMEOUT)
    data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 4)
    while not data.endswith(b"\n"):
        chunk = conn.recv(1 << 16)
        if not chunk:
            raise ValueError("truncated request")
        data += chunk
    return json.loads(data), fds


def become_kernel(message: dict, fds: list[int], close: list[int]) -> None:
    """In the forked child: turn into an ipykernel as `python -m ipykernel_launcher ARGV` would; never returns."""
    code = 1
    try:
        os.setsid()
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd in close:
            try:
                os.close(fd)
            except OSError:
                pass
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        os.environ.clear()
        os.environ.update(message["env"])
        # ipykernel's parent poller: the kernel exits if its template (its parent) goes. (The
        # trait's default read JPY_PARENT_PID when the template imported ipykernel: pass it.)
        parent = os.getppid()
        os.environ["JPY_PARENT_PID"] = str(parent)
        os.chdir(message["cwd"])
        packages.refresh()  # what the student installed since the template started imports here too
        reseed()
        # matplotlib read MPLBACKEND (agg) when the template imported it: apply the kernel's own,
        # or the inline backend that ipykernel would set, before anything draws.
        import matplotlib

        os.environ.setdefault("MPLBACKEND", INLINE)
        matplotlib.rcParams["backend"] = os.environ["MPLBACKEND"]
        sys.modules.pop("matplotlib_inline.backend_inline", None)  # its import hooks the kernel's shell
        sys.argv = [sys.executable, "-m", "ipykernel_launcher", *message["argv"]]
        from ipykernel import kernelapp

        try:
            kernelapp.IPKernelApp.launch_instance(argv=message["argv"], parent_handle=parent)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        import atexit

        atexit._run_exitfuncs()
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def reseed() -> None:
    """Fresh entropy for Python's, NumPy's and torch's global generators: no stream shared with a sibling."""
    import random

    import numpy
    import torch

    random.seed()
    numpy.random.seed()
    torch.seed()  # CPU now; CUDA's generators get it lazily, without initialising CUDA here
