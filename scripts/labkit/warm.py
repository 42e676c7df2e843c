"""Warm kernels: fork each ipykernel from a template process that has already imported the heavy modules.

A lesson's kernel spends about 3 s importing torch, numpy and matplotlib and about 1 s starting
ipykernel. The template pays that once: it imports them (matplotlib on Agg, CUDA never touched, no
thread at work: only numpy's idle BLAS pool, which stops itself around a fork) and then only waits
on a Unix socket. For each kernel it forks a child that
becomes an ordinary IPKernelApp on the connection file jupyter_client wrote, in its own session,
with the kernel's environment, working folder and stdout/stderr, and fresh random generators.

Who uses it:
- ``WarmProvisioner`` is a jupyter_client kernel provisioner (entry point ``labkit-warm``). It
  behaves as jupyter_client's LocalProvisioner, whose spawn it falls back to, with one line in the
  log, whenever the template cannot fork (gone, not ready in time, a kernel command that is not
  this interpreter's ipykernel).
- The runner (labkit.execute) makes it the default provisioner of its process; the lab's
  JupyterLab server does the same in docker/jupyter_server_config.py and loads this module as a
  server extension, which starts the template with the server.
- ``LAB_WARM_KERNELS=0`` turns it off: every kernel is spawned.

Each process that starts kernels owns one template (a runner worker, a pytest worker, the lab's
server). The template lives as long as its owner: it exits when the pipe from its owner closes,
and its kernels then exit as a spawned kernel does when its server dies (ipykernel's parent
poller). The kernels are the template's children, not the owner's, so the template reaps them and
reports each exit status over the kernel's own connection, and it sends the owner's signals to the
kernel's process group: the owner never signals a process ID that may have been reused.

What a fork does not renew: Python's string-hash seed (every kernel of one template iterates a set of
strings in the same order, as with PYTHONHASHSEED set), and the command line that `ps` shows (the
template's). A kernel whose environment sets a variable read only at start-up (STARTUP_ENV) otherwise
than the template's is spawned. LAB_WARM_KERNELS=lazy starts the template with the first kernel
instead of with its owner; it exists to measure that choice (make bench).

Run ``python -m labkit.warm status`` to start a template and print what it holds.
"""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from jupyter_client.provisioning import LocalProvisioner

KNOB = "LAB_WARM_KERNELS"
NAME = "labkit-warm"  # the entry point's name in jupyter_client.kernel_provisioners
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
INLINE = "module://matplotlib_inline.backend_inline"  # what ipykernel picks when MPLBACKEND is unset
READY_TIMEOUT = 90.0  # import time of the template on a busy 2-core machine, with a wide margin
REPLY_TIMEOUT = 15.0
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

    async def fork(self, argv: list[str], env: dict, cwd: str, stdout: int, stderr: int) -> Kernel:
        await self.ready()
        if self.env is not None:
            differ = [name for name in STARTUP_ENV if env.get(name) != self.env.get(name)]
            if differ:
                raise Unavailable(f"the kernel's environment sets {', '.join(differ)} otherwise than the template's")
        reply, conn, rest = await self.request({"op": "fork", "argv": argv, "env": env, "cwd": cwd}, [stdout, stderr])
        if "pid" not in reply:
            conn.close()
            raise Unavailable(f"the template could not fork: {reply.get('error', reply)}")
        return Kernel(reply["pid"], conn, rest)

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


class Kernel:
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

    kernel: Kernel | None = None

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


# ---- the JupyterLab server's extension: the template starts with the server ------------------


def _jupyter_server_extension_points():
    return [{"module": "labkit.warm"}]


def _load_jupyter_server_extension(serverapp) -> None:
    prestart()
    if _template.process is not None:
        serverapp.log.info("warm kernels: template starting (%s=0 turns it off)", KNOB)


# ---- the template's side -------------------------------------------------------------------


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


def main(argv: list[str]) -> int:
    if argv[:1] == ["template"] and len(argv) == 3:
        serve(argv[1], int(argv[2]))
        return 0
    if argv[:1] == ["status"]:
        print(json.dumps(asyncio.run(_template.status()), indent=1))
        _template.stop()
        return 0
    print("usage: python -m labkit.warm status", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
