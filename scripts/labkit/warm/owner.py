"""The owner's side of warm kernels: the template process this process owns, the kernels it forks, and the
jupyter_client provisioner that asks for them (and spawns a kernel the ordinary way where it cannot)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from jupyter_client.provisioning import LocalProvisioner

from ..contract import WARM_ENV
from .template import REPLY_TIMEOUT

KNOB = WARM_ENV
NAME = "labkit-warm"  # the entry point's name in jupyter_client.kernel_provisioners
# What Python or a native library reads once, as it starts or loads: a kernel whose environment
# sets one of these otherwise than the template's would not get it, so it is spawned instead.
STARTUP_ENV = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONHASHSEED",
    "PYTHONNOUSERSITE",
    "PYTHONSAFEPATH",
    "PYTHONUTF8",
    "PYTHONIOENCODING",
    "PYTHONWARNINGS",
    "PYTHONOPTIMIZE",
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MPLCONFIGDIR",
)
READY_TIMEOUT = 90.0  # import time of the template on a busy 2-core machine, with a wide margin
RESTARTS = 3  # templates one owner starts after the first died, before it spawns every kernel


def enabled() -> bool:
    return os.environ.get(KNOB, "1").strip().lower() not in ("0", "false", "no", "off")


class Unavailable(Exception):
    """The template cannot fork this kernel; the message says why, in a few words."""


# ---- the owner's side ----------------------------------------------------------------------


class Template:
    """The template process of this process, started at most once at a time."""

    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.folder: str | None = None
        self.socket_path: str | None = None
        self.owner_end: int | None = None  # closing it (or dying) tells the template to exit
        self.env: dict | None = None  # the environment it started with
        self.starts = 0
        self.lock = threading.Lock()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> bool:
        """Start the template unless it runs; False once it has died too often to try again."""
        with self.lock:
            if self.alive():
                return True
            self._forget()
            if self.starts > RESTARTS:
                return False
            self.starts += 1
            self.folder = tempfile.mkdtemp(prefix="labkit-warm-")
            self.socket_path = os.path.join(self.folder, "template.sock")
            read_end, self.owner_end = os.pipe()
            self.env = dict(os.environ)
            # Agg until each kernel sets its own backend; debugpy quiet about frozen modules at import.
            env = {**os.environ, "MPLBACKEND": "agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
            try:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "labkit.warm", "template", self.socket_path, str(read_end)],
                    pass_fds=(read_end,),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    env=env,
                    cwd=self.folder,
                    start_new_session=True,  # a Ctrl-C at the owner's terminal is not for the template
                )
            except OSError:
                self._forget()
                return False
            finally:
                os.close(read_end)
            return True

    def _forget(self) -> None:
        if self.owner_end is not None:
            os.close(self.owner_end)
            self.owner_end = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            self.process = None
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def stop(self) -> None:
        with self.lock:
            self._forget()

    async def ready(self, timeout: float = READY_TIMEOUT) -> str:
        """The socket's path once the template listens on it."""
        if not enabled():
            raise Unavailable(f"{KNOB}=0")
        if self.process is not None and self.process.poll() is not None:
            # It died under us (killed, out of memory): spawn this kernel now rather than wait
            # for a fresh template's imports, which start for the next kernels.
            self.start()
            raise Unavailable("the template is gone")
        if not self.start():
            raise Unavailable("the template died too often")
        process, path = self.process, self.socket_path
        deadline = time.monotonic() + timeout
        while not os.path.exists(path):  # the template renames its socket there once it listens
            code = process.poll()
            if code is not None:
                raise Unavailable(f"the template exited with code {code} before it was ready")
            if time.monotonic() > deadline:
                raise Unavailable(f"the template was not ready within {timeout:.0f} s")
            await asyncio.sleep(0.01)
        return path

    async def request(self, message: dict, fds: list[int] = (), timeout: float = REPLY_TIMEOUT):
        """Send one request on a new connection; (the first reply, the connection, what followed it)."""
        path = await self.ready()
        loop = asyncio.get_running_loop()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.setblocking(False)
            await asyncio.wait_for(loop.sock_connect(conn, path), timeout)
            payload = json.dumps(message).encode() + b"\n"
            conn.setblocking(True)
            conn.settimeout(timeout)
            sent = socket.send_fds(conn, [payload], list(fds)) if fds else conn.send(payload)
            if sent < len(payload):  # (never an empty send: the answer may have come and gone)
                conn.sendall(payload[sent:])
            conn.setblocking(False)
            received = b""
            while b"\n" not in received:
                chunk = await asyncio.wait_for(loop.sock_recv(conn, 65536), timeout)
                if not chunk:
                    raise Unavailable("the template closed the connection without an answer")
                received += chunk
        except (OSError, asyncio.TimeoutError) as exc:
            conn.close()
            if not self.alive():
                raise Unavailable("the template is gone") from None
            raise Unavailable(f"the template did not answer ({type(exc).__name__})") from None
        except BaseException:
            conn.close()
            raise
        line, rest = received.split(b"\n", 1)
        return json.loads(line), conn, rest

    async def fork(self, argv: list[str], env: dict, cwd: str, stdout: int, stderr: int) -> ForkedKernel:
        await self.ready()
        if self.env is not None:
            differ = [name for name in STARTUP_ENV if env.get(name) != self.env.get(name)]
            if differ:
                raise Unavailable(f"the kernel's environment sets {', '.join(differ)} otherwise than the template's")
        reply, conn, rest = await self.request({"op": "fork", "argv": argv, "env": env, "cwd": cwd}, [stdout, stderr])
        if "pid" not in reply:
            conn.close()
            raise Unavailable(f"the template could not fork: {reply.get('error', reply)}")
        return ForkedKernel(reply["pid"], conn, rest)

    async def status(self) -> dict:
        reply, conn, _ = await self.request({"op": "status"})
        conn.close()
        return reply


_template = Template()


def template() -> Template:
    """The template of this process."""
    return _template


def prestart() -> None:
    """Start this process's template now, so that its first kernel is warm too (never raises).

    LAB_WARM_KERNELS=lazy leaves it to the first kernel (kept to measure the difference).
    """
    if enabled() and os.environ.get(KNOB, "").strip().lower() != "lazy":
        _template.start()


def use_for_new_kernels() -> None:
    """Make the warm provisioner the default of every kernel this process starts (unless switched off)."""
    from jupyter_client.provisioning import KernelProvisionerFactory

    KernelProvisionerFactory.instance().default_provisioner_name = NAME if enabled() else "local-provisioner"


class ForkedKernel:
    """A kernel forked by the template, seen from the owner: its pid, its exit status, its signals."""

    def __init__(self, pid: int, conn: socket.socket, pending: bytes = b""):
        self.pid = pid
        self.conn: socket.socket | None = conn
        self.pending = pending
        self.code: int | None = None

    def poll(self) -> int | None:
        if self.code is not None:
            return self.code
        if self.conn is not None:
            try:
                while True:
                    chunk = self.conn.recv(4096)
                    if not chunk:  # the template is gone: the kernel is now init's child
                        self._drop()
                        break
                    self.pending += chunk
            except BlockingIOError:
                pass
            except OSError:
                self._drop()
            for line in self.pending.split(b"\n")[:-1]:
                message = json.loads(line)
                if "exit" in message:
                    self.code = message["exit"]
                    self._drop()
                    return self.code
        if self.conn is None:  # no template to report it: ask the kernel's pid directly
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.code = -signal.SIGKILL  # unknown: its parent died and init reaped it
                return self.code
            except PermissionError:
                pass
        return None

    def send_signal(self, signum: int) -> None:
        if self.poll() is not None:
            return  # as Popen.send_signal: a finished process is left alone
        if self.conn is not None:
            try:
                self.conn.setblocking(True)
                self.conn.sendall(json.dumps({"signal": int(signum)}).encode() + b"\n")
                self.conn.setblocking(False)
                return
            except OSError:
                self._drop()
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            pass

    def _drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def ipykernel_argv(cmd: list[str]) -> list[str] | None:
    """The arguments after `-m ipykernel_launcher` if cmd starts this interpreter's ipykernel, else None."""
    if len(cmd) < 3 or cmd[1:3] != ["-m", "ipykernel_launcher"]:
        return None
    # The same file in the same folder: a venv's python is a link to the base interpreter.
    program = os.path.abspath(shutil.which(cmd[0]) or cmd[0])
    if os.path.dirname(program) != os.path.dirname(sys.executable) or not os.path.exists(program):
        return None
    return list(cmd[3:]) if os.path.samefile(program, sys.executable) else None


def fileno(stream, default: int) -> int:
    if stream is None:
        return default
    if isinstance(stream, int) and stream >= 0:
        return stream
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return default


class WarmProvisioner(LocalProvisioner):
    """LocalProvisioner whose kernels are forked from the template; a spawn where that cannot be."""

    kernel: ForkedKernel | None = None

    @property
    def has_process(self) -> bool:
        return self.kernel is not None or super().has_process

    async def launch_kernel(self, cmd: list[str], **kwargs):
        self.kernel = None
        argv = ipykernel_argv(cmd)
        why = None
        if not enabled():
            pass  # switched off: spawn without a word
        elif argv is None:
            why = f"the kernel command is not this interpreter's ipykernel: {' '.join(cmd[:3])}"
        else:
            env = kwargs.get("env") or dict(os.environ)
            cwd = str(kwargs.get("cwd") or os.getcwd())
            try:
                self.kernel = await _template.fork(
                    argv, env, cwd, fileno(kwargs.get("stdout"), 1), fileno(kwargs.get("stderr"), 2)
                )
            except Unavailable as exc:
                why = str(exc)
        if self.kernel is not None:
            self.pid = self.pgid = self.kernel.pid
            self.cwd = kwargs.get("cwd") or os.getcwd()
            return self.connection_info
        if why:
            self.log.warning("warm kernels: %s; starting this kernel the ordinary way", why)
        return await super().launch_kernel(cmd, **kwargs)

    async def poll(self) -> int | None:
        if self.kernel is not None:
            return self.kernel.poll()
        return await super().poll()

    async def wait(self) -> int | None:
        if self.kernel is None:
            return await super().wait()
        while self.kernel.poll() is None:
            await asyncio.sleep(0.02)
        code, self.kernel = self.kernel.code, None
        return code

    async def send_signal(self, signum: int) -> None:
        if self.kernel is not None:
            self.kernel.send_signal(signum)
        else:
            await super().send_signal(signum)

    async def kill(self, restart: bool = False) -> None:
        if self.kernel is not None:
            self.kernel.send_signal(signal.SIGKILL)
        else:
            await super().kill(restart)

    async def terminate(self, restart: bool = False) -> None:
        if self.kernel is not None:
            self.kernel.send_signal(signal.SIGTERM)
        else:
            await super().terminate(restart)
