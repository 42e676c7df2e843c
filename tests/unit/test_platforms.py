"""The files that make the image on a student's machine: both platforms, the default index, LF endings.

Static checks from the host: no Docker, no network. No arm64 image can be built here (no
emulation), so arm64 is proven from the lock: every entry has a wheel pip verified for it.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from support import ROOT

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_CPU_AARCH64 = "84453b69508ec79902f899c5ed9495acb9e2bbe9fda5f1d5d6f19e3c3842e1a7"
TORCH_CPU_X86_64 = "6746dbcbeb526eb61330b76b41ff1b4eb848951103a892eeb080dfa2b264667b"


def lock_entries(path) -> dict[str, tuple[str, set[str]]]:
    """name -> (version, hashes) of a pip-compile lock."""
    entries = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", path.read_text()):
        head = re.match(r"([A-Za-z0-9._-]+)==(\S+)", block)
        if head:
            entries[normal(head.group(1))] = (head.group(2), set(re.findall(r"--hash=sha256:(\w+)", block)))
    return entries


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def arm64_wheel_fits(filename: str) -> bool:
    """A wheel that pip installs on linux/arm64 with CPython 3.11 (manylinux glibc) or anywhere (pure Python)."""
    *_, python, abi, platform = filename[: -len(".whl")].split("-")
    pure = platform == "any" and abi == "none" and any(t in ("py3", "py311", "cp311") for t in python.split("."))
    native = (re.fullmatch(r"(manylinux_2_\d+|manylinux2014)_aarch64", p) for p in platform.split("."))
    return pure or (any(native) and ("cp311" in python.split(".") or abi == "abi3"))


def test_the_cpu_lock_installs_on_linux_arm64():
    entries = lock_entries(ROOT / "docker" / "requirements-cpu.lock")
    manifest = [
        line.split()
        for line in (ROOT / "docker" / "requirements-cpu.arm64.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    covered = {}
    for filename, digest in manifest:
        name, version = filename.split("-")[:2]
        assert arm64_wheel_fits(filename), f"{filename} does not install on linux/arm64 with CPython 3.11"
        locked_version, hashes = entries[normal(name)]
        assert version == locked_version, f"{filename}: the lock pins {locked_version}"
        assert digest.removeprefix("sha256:") in hashes, f"{filename}: its hash is not in the lock"
        covered[normal(name)] = digest.removeprefix("sha256:")
    missing = sorted(set(entries) - set(covered))
    assert not missing, f"no arm64 wheel recorded for {missing}; rerun scripts/lock_requirements.sh"
    assert covered["torch"] == TORCH_CPU_AARCH64


def test_torch_is_the_cpu_build_hashed_for_both_platforms():
    version, hashes = lock_entries(ROOT / "docker" / "requirements-cpu.lock")["torch"]
    assert version == "2.13.0+cpu"
    assert hashes == {TORCH_CPU_X86_64, TORCH_CPU_AARCH64}


def test_the_default_extra_index_is_pytorchs_cpu_index():
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    [default] = re.findall(r"^ARG TORCH_CPU_INDEX=(\S+)$", dockerfile, flags=re.M)
    assert default == CPU_INDEX
    # ... added to any other index (a PyPI mirror has no +cpu torch), unless the wheelhouse holds torch
    # or no index may be used at all.
    assert re.search(r'-z "\$\{PIP_NO_INDEX\}" \]', dockerfile)
    assert (
        'export PIP_EXTRA_INDEX_URL="${PIP_EXTRA_INDEX_URL:+${PIP_EXTRA_INDEX_URL} }${TORCH_CPU_INDEX}"' in dockerfile
    )


def test_git_keeps_every_script_lf():
    scripts = ["docker/start-lab.sh", "docker/reset-lesson.sh", "scripts/lab.py", ".ci/run", "Makefile"]
    out = subprocess.run(
        ["git", "check-attr", "eol", *scripts], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == [f"{s}: eol: lf" for s in scripts]


def test_a_checkout_with_windows_line_endings_still_gives_lf_scripts(tmp_path):
    """Git for Windows converts to CRLF by default (core.autocrlf=true); .gitattributes must win."""
    if subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True).returncode != 0:
        pytest.fail("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "-c", "core.autocrlf=true", "clone", "-q", "--no-hardlinks", str(ROOT), str(clone)], check=True
    )
    committed = subprocess.run(
        ["git", "ls-files", "docker", "scripts"], cwd=clone, capture_output=True, text=True
    ).stdout.split()
    texts = [p for p in committed if p.endswith((".sh", ".py", "Dockerfile", ".lock", ".json"))]
    assert "docker/start-lab.sh" in texts
    with_cr = [p for p in texts if b"\r" in (clone / p).read_bytes()]
    assert not with_cr, f"checked out with CRLF: {with_cr}"
