"""Warm kernels (labkit/warm): forked from a template, yet each as isolated as a spawned kernel.

Real kernels through jupyter_client, real signals, the runner on the fixture notebooks. The
template belongs to this test process (each pytest-xdist worker has its own).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jupyter_client.manager import KernelManager
from jupyter_client.provisioning import KernelProvisionerFactory

from labkit import execute, warm
from labkit.host.net import free_port, http_status, wait_until
from labkit.host.rest import Rest
from labkit.lab_client import KernelSocket
from support import FIXTURES


@pytest.fixture(autouse=True)
def warm_on(monkeypatch):
    """Warm kernels on (whatever the suite runs with), the provisioner as the default of this process."""
    monkeypatch.setenv(warm.KNOB, "1")
    factory = KernelProvisionerFactory.instance()
    before = factory.default_provisioner_name
    factory.default_provisioner_name = warm.NAME
    yield
    factory.default_provisioner_name = before


def status() -> dict:
    return asyncio.run(warm.template().status())


class LocalKernel:
    """One kernel started as the lab's server starts it, and a client to run code in it."""

    def __init__(self, cwd: Path):
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(cwd=str(cwd))
        self.connect()

    def connect(self):
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def run(self, code: str, timeout: float = 60):
        """(reply content, printed text, error name or None)."""
        text, errors = [], []

        def hook(msg):
            if msg["msg_type"] == "stream":
                text.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                errors.append(msg["content"]["ename"])

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=hook)
        return reply["content"], "".join(text).strip(), errors[0] if errors else None

    def value(self, expression: str):
        _, text, error = self.run(f"import json as _j; print(_j.dumps({expression}))")
        assert error is None, f"{expression}: {error}"
        return json.loads(text)

    def forked(self) -> bool:
        """Whether this kernel's parent is the template (not this test process)."""
        return self.value("__import__('os').getppid()") == status()["pid"]

    def close(self):
        self.client.stop_channels()
        if self.manager.has_kernel:
            self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernels(tmp_path):
    started = []

    def start(cwd: Path | None = None) -> LocalKernel:
        kernel = LocalKernel(cwd or tmp_path)
        started.append(kernel)
        return kernel

    yield start
    for kernel in started:
        kernel.close()


def test_the_template_holds_the_heavy_modules_no_busy_thread_and_no_cuda(kernels):
    kernel = kernels()
    assert kernel.forked()
    # a kernel that computes (torch's thread pool, numpy's BLAS) and asks about CUDA
    assert kernel.value("__import__('torch').ones(256, 256).matmul(__import__('torch').ones(256, 256)).sum().item()")
    kernel.value("__import__('torch').cuda.is_available()")
    state = status()
    assert set(state["modules"]) == set(warm.HEAVY)
    assert state["python_threads"] == 1
    assert state["busy_native_threads"] == []
    assert state["cuda_initialized"] is False


def test_the_templates_imports_never_ask_about_cuda():
    """Even asking how many GPUs there are loads the CUDA driver, and a child forked after that cannot use it.

    A fresh interpreter imports what the template imports, with every way torch asks (its Python
    functions and the native calls behind them) counting its callers.
    """
    script = f"""
import importlib, json, torch
asked = []
def counting(owner, name):
    real = getattr(owner, name)
    def call(*args, **kwargs):
        asked.append(name)
        return real(*args, **kwargs)
    setattr(owner, name, call)
for name in ("_cuda_getDeviceCount", "_cuda_init", "_cuda_getDevice"):
    if hasattr(torch._C, name):
        counting(torch._C, name)
for name in ("is_available", "device_count", "init", "current_device"):
    counting(torch.cuda, name)
for name in {list(warm.HEAVY + warm.KERNEL_START)!r}:
    try:
        importlib.import_module(name)
    except ImportError:
        pass
print(json.dumps({{"asked": asked, "initialized": torch.cuda.is_initialized()}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"asked": [], "initialized": False}


def test_nothing_a_kernel_does_reaches_the_next(kernels, tmp_path):
    first_dir, second_dir, elsewhere = (tmp_path / name for name in ("first", "second", "elsewhere"))
    for folder in (first_dir, second_dir, elsewhere):
        folder.mkdir()
    first = kernels(first_dir)
    assert first.forked()
    assert first.value("__import__('os').getcwd()") == str(first_dir)
    _, _, error = first.run(
        "import os, json, torch\n"
        "secret = 42\n"
        "json.marker = 'changed'\n"
        "torch.set_default_dtype(torch.float64)\n"
        f"os.chdir({str(elsewhere)!r})\n"
    )
    assert error is None
    assert first.value("str(torch.get_default_dtype())") == "torch.float64"
    first.close()

    second = kernels(second_dir)
    assert second.forked()
    assert second.value("'secret' in globals()") is False
    assert second.value("hasattr(__import__('json'), 'marker')") is False
    assert second.value("str(__import__('torch').get_default_dtype())") == "torch.float32"
    assert second.value("__import__('os').getcwd()") == str(second_dir)


def test_two_kernels_draw_different_random_numbers(kernels):
    draw = (
        "[__import__('random').random(), float(__import__('numpy').random.random()), "
        "__import__('torch').rand(1).item(), __import__('torch').initial_seed()]"
    )
    a, b = kernels(), kernels()
    assert a.forked() and b.forked()
    first, second = a.value(draw), b.value(draw)
    for name, x, y in zip(("random", "numpy", "torch", "torch seed"), first, second):
        assert x != y, f"both kernels drew {x} from {name}"
    # and a lesson that seeds still repeats itself
    seeded = "(__import__('torch').manual_seed(3), __import__('torch').rand(1).item())[1]"
    assert a.value(seeded) == b.value(seeded)


def test_an_interrupt_stops_the_running_cell_and_the_kernel_goes_on(kernels):
    kernel = kernels()
    assert kernel.forked()
    # stop_on_error=False: after a failed request (the interrupt is one) ipykernel aborts the requests
    # that reach it before it is done aborting, and on a loaded machine the next one here could be
    # among them ("aborted", no output), with a spawned kernel as with a forked one.
    msg_id = kernel.client.execute(
        "import time\nprint('running', flush=True)\nfor _ in range(600):\n    time.sleep(0.1)", stop_on_error=False
    )
    # Interrupt once the cell's own code runs ("busy" comes before it).
    wait_until(
        lambda: kernel.client.get_iopub_msg(timeout=10)["content"].get("text", "").strip() == "running",
        30,
        what="the cell started",
    )
    started = time.monotonic()
    kernel.manager.interrupt_kernel()
    reply = kernel.client.get_shell_msg(timeout=30)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert time.monotonic() - started < 10, "the interrupt took as long as the cell would have"
    assert kernel.value("1 + 1") == 2


def test_a_restart_gives_a_fresh_forked_kernel(kernels):
    kernel = kernels()
    kernel.run("kept = 1")
    before = kernel.value("__import__('os').getpid()")
    kernel.client.stop_channels()
    kernel.manager.restart_kernel(now=True)
    kernel.connect()
    assert kernel.value("__import__('os').getpid()") != before
    assert kernel.value("'kept' in globals()") is False
    assert kernel.forked()
    wait_until(lambda: before not in status()["kernels"], 10, what="the template reaped the old kernel")


def test_a_kernel_killed_by_a_signal_is_reported_dead_with_its_signal(kernels):
    kernel = kernels()
    assert kernel.forked()
    pid = kernel.value("__import__('os').getpid()")
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not kernel.manager.is_alive(), 10, what="the manager saw the kernel die")
    assert kernel.manager.provisioner.kernel.poll() == -signal.SIGKILL


@pytest.mark.parametrize(
    "name, timeout, message",
    [
        ("kills_its_kernel", 600, r"^the kernel died while running cell 2( \(In \[2\]\))? \(out of memory"),
        ("never_ends", 3, r"^cell 2( \(In \[2\]\))? ran past the 3 s limit \(--timeout\)"),
    ],
)
def test_the_runner_names_the_cell_of_a_dead_or_stuck_warm_kernel(tmp_path, name, timeout, message):
    import re

    forked = status()["forked"]
    task = execute.Task(
        path=FIXTURES / f"{name}.ipynb",
        output=tmp_path / f"{name}.ipynb",
        parameters={},
        kernel_name="python3",
        timeout=timeout,
    )
    result = execute.run(task)
    assert result.status == "failed"
    assert re.match(message, result.error), result.error
    assert status()["forked"] == forked + 1, "the runner's kernel was not forked from the template"


def test_a_gone_template_means_one_log_line_a_spawned_kernel_then_a_new_template(kernels, caplog):
    old = status()["pid"]
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: not warm.template().alive(), 10, what="the template died")
    with caplog.at_level(logging.WARNING):
        kernel = kernels()
    lines = [r.getMessage() for r in caplog.records if "warm kernels" in r.getMessage()]
    assert lines == ["warm kernels: the template is gone; starting this kernel the ordinary way"]
    assert kernel.value("__import__('os').getppid()") == os.getpid(), "not spawned by this process"
    assert kernel.value("1 + 1") == 2
    after = kernels()
    assert after.forked()
    assert status()["pid"] != old


def test_switched_off_every_kernel_is_spawned_without_a_word(kernels, monkeypatch, caplog):
    monkeypatch.setenv(warm.KNOB, "0")
    with caplog.at_level(logging.WARNING):
        kernel = kernels()
    assert kernel.value("__import__('os').getppid()") == os.getpid()
    assert not [r for r in caplog.records if "warm kernels" in r.getMessage()]


def test_the_template_ends_with_the_process_that_owns_it(tmp_path):
    owner = (
        "import asyncio, json\n"
        "from labkit import warm\n"
        "state = asyncio.run(warm.template().status())\n"
        "print(json.dumps([state['pid'], warm.template().folder]))\n"
    )
    out = subprocess.run([sys.executable, "-c", owner], capture_output=True, text=True, timeout=180, check=True)
    pid, folder = json.loads(out.stdout)

    def gone():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(gone, 10, what="the template exited after its owner")
    assert not Path(folder).exists()


@pytest.mark.slow
def test_the_lab_server_starts_a_template_with_itself_and_forks_its_kernels_from_it(tmp_path, monkeypatch):
    """The lab's own server settings (docker/jupyter_server_config.py), a real server, REST and websocket."""
    monkeypatch.delenv(warm.KNOB)  # the lab's default
    # The repository's settings; in the image, where tests/ is mounted alone, the installed copy of them.
    config = Path(__file__).resolve().parents[2] / "docker" / "jupyter_server_config.py"
    (tmp_path / "lesson.ipynb").write_text(
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    port, token = free_port(), "warm-kernels-test"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            *([f"--config={config}"] if config.exists() else []),
            f"--ServerApp.root_dir={tmp_path}",
            "--ServerApp.ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            "--allow-root",  # where the tests run as root (CI); the lab runs as its student
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def templates() -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and b"labkit.warm\0template" in (entry / "cmdline").read_bytes():
                    if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == server.pid:
                        found.append(int(entry.name))
            except OSError:
                pass
        return found

    def parent_of_a_kernel() -> int:
        kernel = KernelSocket.open_notebook(Rest(f"http://127.0.0.1:{port}", token), "lesson.ipynb")
        try:
            return int(kernel.evaluate("os.getppid()", setup="import os, torch"))
        finally:
            kernel.close()

    try:
        wait_until(lambda: http_status(port, "/api") == 200, 60, 0.1, "the server answering")
        # started with the server, before any kernel was asked for
        template_pid = wait_until(templates, 30, 0.1, "the template started by the server")[0]
        assert parent_of_a_kernel() == template_pid
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    wait_until(
        lambda: not templates() and not Path(f"/proc/{template_pid}").exists(),
        10,
        what="the template ended with the server",
    )


def test_a_kernel_whose_environment_the_template_cannot_honour_is_spawned(kernels, monkeypatch, caplog, tmp_path):
    status()  # the template runs, started with this environment
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    (tmp_path / "only_here.py").write_text("VALUE = 7\n")
    with caplog.at_level(logging.WARNING):
        kernel = kernels()
    assert kernel.value("__import__('os').getppid()") == os.getpid()
    assert kernel.value("__import__('only_here').VALUE") == 7
    lines = [r.getMessage() for r in caplog.records if "warm kernels" in r.getMessage()]
    assert lines == [
        "warm kernels: the kernel's environment sets PYTHONPATH otherwise than the template's; "
        "starting this kernel the ordinary way"
    ]
