"""The packages a student adds: a virtual environment in their workspace (.lab/packages), layered over the
image's locked one, so that `%pip install NAME`, `!pip install NAME` and `pip install NAME` in a terminal
install for the student, survive restarts and new images of the same Python, and never change a locked
version.

- Every process of the lab runs this environment's python (labkit.start starts the server with it). Its
  first .pth file puts the image's site-packages before the student's: nothing a student installs can
  shadow a locked module. Its pip.conf constrains pip to the lock's versions (/opt/lab/constraints.txt,
  made from the lock at build time without its hashes), so pip refuses a request that would change one
  and names the package and its locked version.
- torchvision has one build that loads with the lab's torch; in the CPU image it is the +cpu build, which
  only PyTorch's CPU index serves. The constraints ask for that build, and `pip install torchvision` adds
  that index after a short probe of it, so that no other install ever waits on it. Where it cannot be
  reached, the install stops with one line saying how to get the wheel.
- A broken addition (a .pth file that stops Python) cannot stop the lab: labkit.start tries this
  environment first and falls back to the image's own python, saying so in one line; `reset-packages`
  moves the additions aside, with a backup.

Runs in the image (the lab's start, its kernels and terminals); standard library only.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import site
import subprocess
import sys
import sysconfig
import urllib.request
from pathlib import Path

from . import contract
from .course import say, unique_backup

VERSION = f"python{sys.version_info.major}.{sys.version_info.minor}"
FIRST_PTH = "00-pytorch-lab.pth"
PIP_SCRIPT = """#!{python}
import sys

from labkit.packages import main

sys.exit(main(["pip", *sys.argv[1:]]))
"""
# pip options that take a value: the word after them is no package's name
VALUED = {
    "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-t", "--target", "-i", "--index-url",
    "--extra-index-url", "-f", "--find-links", "--prefix", "--root", "--upgrade-strategy", "--platform",
    "--python-version", "--implementation", "--abi", "--no-binary", "--only-binary", "--progress-bar", "--log",
    "--timeout", "--retries", "--cache-dir", "--proxy", "--cert", "--client-cert", "--trusted-host", "--src",
    "--report", "-C", "--config-settings", "--global-option", "--exists-action", "--keyring-provider", "--python",
    "--root-user-action", "--group",
}  # fmt: skip


def image_site() -> Path:
    return Path(contract.IMAGE_VENV) / "lib" / VERSION / "site-packages"


def student_root(work: Path) -> Path:
    return work / contract.PACKAGES


# ---- the environment, made or refreshed at every start -------------------------------------------


def prepare(work: Path) -> Path | None:
    """Make or refresh the student's environment; its python if that starts, else None (after one line)."""
    root = student_root(work)
    site_dir = root / "lib" / VERSION / "site-packages"
    base = Path(sys._base_executable).resolve()  # the interpreter the image's venv is made over
    try:
        site_dir.mkdir(parents=True, exist_ok=True)
        (root / "bin").mkdir(exist_ok=True)
        # What makes it a virtual environment; rewritten every time, so that it follows a new image.
        (root / "pyvenv.cfg").write_text(
            f"home = {base.parent}\ninclude-system-site-packages = false\n"
            f"version = {'.'.join(map(str, sys.version_info[:3]))}\nexecutable = {base}\n"
        )
        for name in ("python", "python3", VERSION):
            link = root / "bin" / name
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(base)
        python = root / "bin" / "python"
        # The image's locked packages first, then the student's (and the .pth files of both).
        (site_dir / FIRST_PTH).write_text(
            f"import sys, site; sys.path.insert(sys.path.index({str(site_dir)!r}), {str(image_site())!r});"
            f" site.addsitedir({str(image_site())!r})\n"
        )
        (root / "pip.conf").write_text(
            f"# Written by the lab at every start.\n[global]\nconstraint = {contract.CONSTRAINTS}\n"
            "disable-pip-version-check = true\n"
        )
        for name in ("pip", "pip3", f"pip{sys.version_info.major}.{sys.version_info.minor}"):
            script = root / "bin" / name
            script.write_text(PIP_SCRIPT.format(python=python))
            script.chmod(0o755)
    except OSError as problem:
        say(f"your packages in {contract.PACKAGES} cannot be set up ({problem.strerror}); the lab runs without them")
        return None
    try:
        probe = subprocess.run(
            [str(python), "-c", "import labkit.packages"], capture_output=True, text=True, timeout=60
        )
        failed = probe.returncode != 0
        why = (probe.stderr.strip().splitlines() or [f"exit status {probe.returncode}"])[-1]
    except subprocess.TimeoutExpired:
        failed, why = True, "Python did not start within 60 s"
    if failed:
        say(
            f"a package you added stops Python from starting ({why[:160]}); the lab runs without your packages. "
            "To move them aside (with a backup): reset-packages in a terminal, or make reset-packages"
        )
        return None
    return python


def environment(python: Path | None) -> dict:
    """The variables every process of the lab gets: the student's commands first on PATH."""
    env = dict(os.environ)
    if python is not None:
        env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(python.parent.parent)
    return env


# ---- in a kernel: what was installed since this process started ------------------------------------

_seen: set[str] = set()


def remember() -> None:
    """Note the .pth files this process has already been through (the warm template calls it at start)."""
    _seen.update(str(p) for d in site_dirs() for p in d.glob("*.pth"))


def site_dirs() -> list[Path]:
    return [Path(d) for d in dict.fromkeys([sysconfig.get_paths()["purelib"], *site.getsitepackages()])]


def refresh() -> list[str]:
    """Make what was installed since this process started importable now: fresh import caches, and each new
    .pth file processed (a broken one is reported, never fatal). The names of the .pth files it read."""
    importlib.invalidate_caches()
    done = []
    for folder in site_dirs():
        for pth in sorted(folder.glob("*.pth")):
            if str(pth) in _seen:
                continue
            _seen.add(str(pth))
            try:
                site.addpackage(str(folder), pth.name, None)
            except BaseException as problem:  # noqa: B036  (a .pth may even call sys.exit)
                print(f"{pth.name} could not be read: {type(problem).__name__}: {problem}", file=sys.stderr)
            done.append(pth.name)
    return done


# ---- pip for the student ---------------------------------------------------------------------------------


def constraints() -> dict[str, str]:
    """name -> version of every constraint (the lock's, and the builds that must match torch)."""
    found = {}
    for line in Path(contract.CONSTRAINTS).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line)
        if match:
            found[normal(match.group(1))] = match.group(2)
    return found


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requested(args: list[str]) -> set[str]:
    """The names a `pip install` command line asks for, its requirements files' included."""
    names, skip = set(), False
    for i, arg in enumerate(args):
        if skip:
            skip = False
            if args[i - 1] in ("-r", "--requirement"):
                names |= requested(requirement_lines(arg))
            continue
        if arg in VALUED:
            skip = True
        elif arg.startswith("-"):
            continue
        else:
            match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", arg)
            if match and not arg.endswith((".whl", ".tar.gz", ".zip")) and "/" not in arg:
                names.add(normal(match.group(1)))
    return names


def requirement_lines(path: str) -> list[str]:
    try:
        return [w for line in Path(path).read_text().splitlines() for w in shlex.split(line, comments=True)]
    except (OSError, ValueError):
        return []


def torch_index() -> str:
    return os.environ.get(contract.TORCH_INDEX_ENV) or contract.TORCH_CPU_INDEX


def index_answers(url: str, timeout: float = 5) -> str | None:
    """None when the index page answers within timeout; else why not, in a few words."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read(1024)
        return None
    except OSError as problem:
        reason = getattr(problem, "reason", problem)
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            return f"no answer within {timeout:.0f} s"
        return f"{type(reason).__name__}: {reason}" if not isinstance(reason, str) else reason


def pip(args: list[str]) -> int:
    """pip, as the student runs it: torch's companions from PyTorch's index, and a line where pip fails on one."""
    pins = constraints()
    local_builds = {name: version for name, version in pins.items() if "+" in version}  # e.g. torchvision 0.28.0+cpu
    extra = []
    if args[:1] == ["install"]:
        wanted = requested(args[1:]) & set(local_builds)
        if wanted:
            index = torch_index()
            problem = index_answers(f"{index.rstrip('/')}/{sorted(wanted)[0]}/")
            if problem:
                print(unreachable(sorted(wanted)[0], local_builds[sorted(wanted)[0]], index, problem), file=sys.stderr)
                return 1
            extra = ["--extra-index-url", index]
    process = subprocess.Popen([sys.executable, "-m", "pip", *args, *extra], stderr=subprocess.PIPE, text=True)
    tail = []
    for line in process.stderr:
        sys.stderr.write(line)
        tail = (tail + [line])[-40:]
    code = process.wait()
    if code != 0 and args[:1] == ["install"]:
        text = "".join(tail)
        for name, version in local_builds.items():
            if f"{name}=={version}" in text:
                print(
                    f"pip: a package you asked for needs {name} {version}, the build that loads with the lab's torch; "
                    f"install it first with: pip install {name}   (it comes from PyTorch's CPU index), then try again",
                    file=sys.stderr,
                )
                break
    return code


def unreachable(name: str, version: str, index: str, problem: str) -> str:
    base = version.split("+")[0]
    return (
        f"pip: {name} for this lab is the build {version}, which only PyTorch's CPU index serves ({index}), and it "
        f"could not be reached ({problem}); on a machine that reaches it, download the wheel "
        f"(pip download --no-deps {name}=={version} --index-url {index}) and install that file here "
        f"(pip install ./{name}-{version}-….whl), or set {contract.TORCH_INDEX_ENV} to a mirror of that index. "
        f"PyPI's {name} {base} is a CUDA build that fails to load with torch's CPU build, so it is not installed."
    )


def reset(work: Path) -> int:
    """Move the student's packages aside, with a backup; the lab makes a fresh environment at its next start."""
    root = student_root(work)
    if not root.exists():
        print(f"reset-packages: you have added no packages ({contract.PACKAGES} does not exist); nothing to do")
        return 0
    backup = unique_backup(root)
    root.rename(backup)
    print(
        f"reset-packages: your packages were moved to {backup.relative_to(work)}; restart the lab to run without "
        "them (make down && make up, or in a classroom: File > Hub Control Panel > Stop My Server, then Start)"
    )
    return 0


# ---- %pip in a notebook ----------------------------------------------------------------------------------


def load_ipython_extension(shell) -> None:
    """IPython's %pip, through the student's pip; what it installed imports at once."""

    def pip_magic(line: str) -> None:
        shell.system(shlex.join([sys.executable, "-m", "labkit.packages", "pip", *shlex.split(line)]))
        refresh()
        if line.split()[:1] == ["install"] and shell.user_ns.get("_exit_code") == 0:
            print(
                "Installed for you, in your workspace (.lab/packages): import it now. A package this kernel had "
                "already imported is replaced after a restart of the kernel."
            )

    if not _seen:
        remember()  # what this kernel's Python read as it started
    shell.register_magic_function(pip_magic, "line", "pip")


def main(argv: list[str]) -> int:
    if argv[:1] == ["pip"]:
        return pip(argv[1:])
    if argv[:1] == ["reset"]:
        return reset(Path(contract.WORKSPACE))
    print("usage: python -m labkit.packages pip ARGS | reset", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
