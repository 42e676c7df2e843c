"""The lab's image: what it is built from, building it with BuildKit only when that changed, and which
image `make up` uses: one built here, one loaded from a teacher's archive, or one pulled from a registry.

What decides whether an image is current is the repository's files that go into it (INPUTS), and its
variant; not the knobs that say where packages come from (BASE_IMAGE, PIP_INDEX_URL, TORCH_CPU_INDEX,
BUILD_NETWORK): an archive built behind a mirror is current for a student without one.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from .. import contract
from .checks import Checks
from .docker import Docker, answers
from .reach import Reach
from .settings import ROOT, Failure, Settings, say

# What the image is made of, as .dockerignore lets it into the build.
INPUTS = ("docker", "notebooks/zh", "notebooks/en", "scripts/labkit", "pyproject.toml")
BUILD_ARGS_FROM_ENV = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX", "TORCH_CPU_INDEX")
SKIPPED = ("__pycache__", ".ipynb_checkpoints", ".egg-info")
COMMIT_LABEL = "pytorch-lab.commit"  # the commit the image was built from ("+changes" when files differed)
BUILT_HERE = ROOT / "build" / "built-images"  # the IDs of the images this checkout built (one per line)


def is_registry_reference(image: str) -> bool:
    """Whether an image name points into a registry (host/…, or …@sha256:…), as Docker reads names."""
    first, slash, _ = image.partition("/")
    return "@sha256:" in image or bool(slash and ("." in first or ":" in first or first == "localhost"))


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
        args = {"VARIANT": self.s.variant}
        if self.s.get("BASE_IMAGE"):
            args["BASE_IMAGE"] = self.s.get("BASE_IMAGE")
        for name in BUILD_ARGS_FROM_ENV:
            if self.s.get(name):
                args[name] = self.s.get(name)
        return args

    def inputs_hash(self) -> str:
        """What the image is made of: every file it copies, and its variant."""
        digest = files_hash(ROOT, INPUTS)
        digest.update(f"variant={self.s.variant}".encode())
        return digest.hexdigest()[:16]

    def commit(self) -> str:
        """The checkout's commit, with "+changes" when an input differs from it; "unknown" outside git."""
        head = answers(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], env=self.s.env)
        if not head:
            return "unknown"
        changed = answers(["git", "-C", str(ROOT), "status", "--porcelain", "--", *INPUTS], env=self.s.env)
        return f"{head}+changes" if changed else head

    def describe(self) -> str:
        """'NAME (ID sha256:1234abcd5678, built from commit …)' for the image the settings name."""
        found = self.docker.image_id(self.s.image) or "?"
        commit = self.docker.image_label(self.s.image, COMMIT_LABEL) or "unknown"
        return f"{self.s.image} (ID {found[:19]}, built from commit {commit})"

    def built_here(self) -> bool:
        found = self.docker.image_id(self.s.image)
        return bool(found) and BUILT_HERE.exists() and found in BUILT_HERE.read_text().split()

    def ensure(self) -> None:
        """The image `make up` uses. Missing: built here, or pulled when IMAGE names a registry's. Present and
        older than this checkout: rebuilt if this checkout built it; a loaded or pulled one is used as it is,
        with one line saying so (make build rebuilds it)."""
        if not self.docker.has_image(self.s.image):
            if is_registry_reference(self.s.image):
                self.pull()
            else:
                self.build()
            return
        if is_registry_reference(self.s.image):
            return
        if (
            self.docker.image_label(self.s.image, contract.INPUTS_LABEL) == self.inputs_hash()
            and not self.s.force_build
        ):
            return
        if self.built_here() or self.s.force_build:
            self.build()
            return
        say(
            f"image {self.describe()} was not built from these files (this checkout is newer, or other); "
            "using it as it is; make build rebuilds it here"
        )

    def pull(self) -> None:
        say(f"pulling {self.s.image}")
        if self.docker.shown("pull", self.s.image) != 0:
            raise Failure(
                f"{self.s.image} could not be pulled (see above); check the name and that its registry answers "
                "(docker pull), or make load FILE=… a teacher's archive"
            )

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

    def label_args(self) -> list[str]:
        return [
            "--label",
            f"{contract.INPUTS_LABEL}={self.inputs_hash()}",
            "--label",
            f"{COMMIT_LABEL}={self.commit()}",
        ]

    def build_arg_args(self) -> list[str]:
        return [arg for name, value in self.build_args().items() for arg in ("--build-arg", f"{name}={value}")]

    def before_build(self) -> None:
        """What a build needs at hand: torch's wheel where this host has one, and every source it will ask."""
        self.prepare_wheelhouse()
        Reach(self.s).before_build()

    def build(self, output=None) -> bool:
        """Build the lab's image unless it holds these inputs; True if it was already up to date.

        output: a file that gets the build's log instead of the terminal (the benchmark reads it)."""
        self.checks.need_docker()
        if is_registry_reference(self.s.image):
            raise Failure(
                f"IMAGE={self.s.image} names an image in a registry, which is pulled, never built; "
                "make up IMAGE=… pulls it, make build builds pytorch-lab:VARIANT here"
            )
        self.checks.need_builder()
        args = self.build_args()
        labels = {COMMIT_LABEL: self.commit()}
        fresh = build_labelled(
            self.s, "docker/Dockerfile", self.s.image, ".", self.inputs_hash(), args, self.before_build, output, labels
        )
        if not fresh:
            built = self.docker.image_id(self.s.image)
            BUILT_HERE.parent.mkdir(parents=True, exist_ok=True)
            with open(BUILT_HERE, "a") as record:
                record.write(f"{built}\n")
        return fresh


def build_labelled(
    settings: Settings,
    dockerfile: str,
    tag: str,
    context: str,
    inputs: str,
    build_args: dict,
    before=None,
    output=None,
    labels: dict | None = None,
) -> bool:
    """Build tag with BuildKit unless its label says it holds these inputs; True if it was up to date."""
    docker = Docker(settings)
    if not settings.force_build and docker.image_label(tag, contract.INPUTS_LABEL) == inputs:
        say(f"image {tag} is up to date")
        return True
    if before:
        before()
    cmd = [docker.command, "build", "-f", dockerfile, "-t", tag, "--label", f"{contract.INPUTS_LABEL}={inputs}"]
    for name, value in (labels or {}).items():
        cmd += ["--label", f"{name}={value}"]
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
