"""Warm kernels: fork each ipykernel from a template process that has already imported the heavy modules.

A lesson's kernel spends about 3 s importing torch, numpy and matplotlib and about 1 s starting
ipykernel. The template pays that once: it imports them (matplotlib on Agg, CUDA never touched, no
thread at work: only numpy's idle BLAS pool, which stops itself around a fork) and then only waits
on a Unix socket. For each kernel it forks a child that
becomes an ordinary IPKernelApp on the connection file jupyter_client wrote, in its own session,
with the kernel's environment, working folder and stdout/stderr, and fresh random generators.

Who uses it:
Where each part lives: ``owner`` (this side: Template, ForkedKernel, WarmProvisioner) and
``template`` (the template process: its loop, the fork, the child that becomes a kernel); they meet
only through the template's Unix socket.

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

from .owner import (
    KNOB,
    NAME,
    ForkedKernel,
    Template,
    Unavailable,
    WarmProvisioner,
    enabled,
    prestart,
    template,
    use_for_new_kernels,
)
from .template import HEAVY, KERNEL_START

__all__ = [
    "HEAVY",
    "KERNEL_START",
    "KNOB",
    "NAME",
    "ForkedKernel",
    "Template",
    "Unavailable",
    "WarmProvisioner",
    "enabled",
    "prestart",
    "template",
    "use_for_new_kernels",
]


# ---- the JupyterLab server's extension: the template starts with the server ------------------


def _jupyter_server_extension_points():
    return [{"module": "labkit.warm"}]


def _load_jupyter_server_extension(serverapp) -> None:
    prestart()
    if template().process is not None:
        serverapp.log.info("warm kernels: template starting (%s=0 turns it off)", KNOB)
