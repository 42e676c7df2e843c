"""The lab's image: what it is built from, and building it with BuildKit only when that changed."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from .. import contract
from .checks import Checks
from .docker import Docker, answers
from .settings import ROOT, Failure, Settings, say

# What the image is made of, as .dockerignore lets it into the build.
INPUTS = ("docker", "notebooks/zh", "notebooks/en", "scripts/labkit", "pyproject.toml")
BUILD_ARGS_FROM_ENV = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX", "TORCH_CPU_INDEX")
SKIPPED = ("__pycache__", ".ipynb_checkpoints", ".egg-info")


def files_hash(root: Path, tops: tuple, digest=None):
    """sha256 over every file under the given paths of root: its path and its bytes, in a stable order."""
    digest = digest or hashlib.sha256()
    for top in tops:
        path = root / top
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for f in files:
            rel = f.relative_to(root).as_posix()
            if any(skip in rel for skip in SKIPPED):
                continue
            digest.update(rel.encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    return digest


def locked_torch(lock: Path = ROOT / "docker" / "requirements-cpu.lock") -> str:
    for line in lock.read_text().splitlines():
        if line.startswith("torch=="):
            return line.split("==", 1)[1].split()[0]
    raise Failure(f"{lock.relative_to(ROOT)} pins no torch; regenerate it with scripts/lock_requirements.sh")


class Image:
    """The lab's image of the settings' variant, under the settings' name."""

    def __init__(self, settings: Settings):
        self.s = settings
        self.docker = Docker(settings)
        self.checks = Checks(settings)

    def build_args(self) -> dict[str, str]:
        uid, gid = self.s.uid_gid
        args = {"VARIANT": self.s.variant, "LAB_UID": uid, "LAB_GID": gid}
        if self.s.get("BASE_IMAGE"):
            args["BASE_IMAGE"] = self.s.get("BASE_IMAGE")
        for name in BUILD_ARGS_FROM_ENV:
            if self.s.get(name):
                args[name] = self.s.get(name)
        return args

    def inputs_hash(self) -> str:
        """What the image is made of: every file it copies, and how it is built."""
        digest = files_hash(ROOT, INPUTS)
        settings = sorted(self.build_args().items()) + [("network", self.s.get("BUILD_NETWORK"))]
        digest.update(repr(settings).encode())
        return digest.hexdigest()[:16]

    def prepare_wheelhouse(self) -> Path:
        """build/wheelhouse/VARIANT, with torch's +cpu wheel copied in where pip on this host has one.

        Wheels there come first in the build. Where none is found, the CPU build takes torch from
        PyTorch's CPU wheel index (the Dockerfile's TORCH_CPU_INDEX), as on any connected machine.
        """
        folder = ROOT / "build" / "wheelhouse" / self.s.variant
        folder.mkdir(parents=True, exist_ok=True)
        if self.s.variant != "cpu":
            return folder
        pattern = f"torch-{locked_torch()}-cp311-*.whl"
        if any(folder.glob(pattern)):
            return folder
        dirs = self.s.env.get("WHEEL_DIRS")
        if dirs is None:  # the folders pip on this host is configured to find wheels in
            dirs = answers([sys.executable, "-m", "pip", "config", "get", "global.find-links"], env=self.s.env) or ""
        for source in dirs.split():
            for wheel in sorted(Path(source).glob(pattern)):
                shutil.copy2(wheel, folder / wheel.name)
                say(f"wheelhouse: copied {wheel.name}")
                return folder
        return folder

    def build(self, output=None) -> bool:
        """Build the lab's image unless it holds these inputs; True if it was already up to date.

        output: a file that gets the build's log instead of the terminal (the benchmark reads it)."""
        self.checks.need_docker()
        self.checks.need_builder()
        args = self.build_args()
        return build_labelled(
            self.s, "docker/Dockerfile", self.s.image, ".", self.inputs_hash(), args, self.prepare_wheelhouse, output
        )


def build_labelled(
    settings: Settings,
    dockerfile: str,
    tag: str,
    context: str,
    inputs: str,
    build_args: dict,
    before=None,
    output=None,
) -> bool:
    """Build tag with BuildKit unless its label says it holds these inputs; True if it was up to date."""
    docker = Docker(settings)
    if not settings.force_build and docker.image_label(tag, contract.INPUTS_LABEL) == inputs:
        say(f"image {tag} is up to date")
        return True
    if before:
        before()
    cmd = [docker.command, "build", "-f", dockerfile, "-t", tag, "--label", f"{contract.INPUTS_LABEL}={inputs}"]
    for name, value in build_args.items():
        cmd += ["--build-arg", f"{name}={value}"]
    if settings.get("CA_BUNDLE"):
        cmd += ["--secret", f"id=ca_bundle,src={settings.get('CA_BUNDLE')}"]
    if settings.get("BUILD_NETWORK"):
        cmd += ["--network", settings.get("BUILD_NETWORK")]
    say(f"building {tag}")
    proc = subprocess.run(
        [*cmd, context],
        cwd=ROOT,
        env={**settings.env, "DOCKER_BUILDKIT": "1", **({"BUILDKIT_PROGRESS": "plain"} if output else {})},
        stdout=output,
        stderr=subprocess.STDOUT if output else None,
    )
    if proc.returncode != 0:
        raise Failure(f"building {tag} failed (see the build's output above)")
    # Each rebuild leaves the previous image dangling; a few CUDA ones fill a disk.
    docker("image", "prune", "-f", "--filter", f"label={contract.INPUTS_LABEL}", check=False)
    return False
