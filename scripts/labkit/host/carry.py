"""One image for a whole class without building it: written to an archive a teacher carries (save, load), or
pushed to the school's registry and pulled from it (publish; `make up IMAGE=host/ns/pytorch-lab:cpu@sha256:…`).

    make save [VARIANT=cpu] [FILE=build/pytorch-lab-cpu.tar.gz]   the image, compressed, and FILE.sha256 beside it
    make load FILE=…                                               checks FILE against FILE.sha256, then loads it
    make publish REGISTRY=host[:port]/namespace [VARIANT=cpu]      tags, pushes, prints the reference to pull
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .. import contract
from .checks import Checks
from .docker import Docker
from .image import Image
from .settings import ROOT, Failure, Settings, say

CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


class Progress:
    """A line that counts megabytes on a terminal, rewritten at most twice a second; silent elsewhere."""

    def __init__(self, what: str):
        self.what = what
        self.done = 0
        self.shown = 0.0
        self.live = sys.stderr.isatty()

    def add(self, count: int) -> None:
        self.done += count
        if self.live and time.monotonic() - self.shown > 0.5:
            self.shown = time.monotonic()
            print(f"\rlab: {self.what}: {self.done / 1e6:,.0f} MB", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.live:
            print(file=sys.stderr)


class Carry:
    def __init__(self, settings: Settings):
        self.s = settings
        self.docker = Docker(settings)
        self.checks = Checks(settings)

    def archive(self) -> Path:
        default = ROOT / "build" / f"{self.s.image.replace('/', '-').replace(':', '-')}.tar.gz"
        return self.s.path("FILE", default)

    def save(self) -> int:
        self.checks.need_docker()
        if not self.docker.has_image(self.s.image):
            raise Failure(
                f"there is no image {self.s.image} to save; build it first: make build VARIANT={self.s.variant}"
            )
        target = self.archive()
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        progress = Progress(f"writing {target.name}")
        digest = hashlib.sha256()
        save = subprocess.Popen([self.docker.command, "save", self.s.image], stdout=subprocess.PIPE, env=self.s.env)

        class Counted:  # what gzip writes: into the file, the checksum and the progress line at once
            def __init__(self, f):
                self.f = f

            def write(self, data):
                digest.update(data)
                progress.add(len(data))
                return self.f.write(data)

            def flush(self):
                self.f.flush()

        with open(partial, "wb") as f, gzip.GzipFile(fileobj=Counted(f), mode="wb", compresslevel=6, mtime=0) as gz:
            shutil.copyfileobj(save.stdout, gz, CHUNK)
        progress.close()
        if save.wait() != 0:
            partial.unlink(missing_ok=True)
            raise Failure(f"docker save {self.s.image} failed (see above)")
        os.replace(partial, target)
        checksum = target.with_name(target.name + ".sha256")
        checksum.write_text(f"{digest.hexdigest()}  {target.name}\n")
        say(f"saved {Image(self.s).describe()}")
        print(f"{target}\n{checksum}", flush=True)
        say(
            f"{target.stat().st_size / 1e9:.2f} GB; copy both files, then on each computer: make load FILE={target.name}"
        )
        return 0

    def load(self) -> int:
        if not self.s.get("FILE"):
            raise Failure("say which archive: make load FILE=build/pytorch-lab-cpu.tar.gz (with its .sha256 beside it)")
        archive = Path(self.s.get("FILE")).resolve()
        checksum = archive.with_name(archive.name + ".sha256")
        if not archive.is_file():
            raise Failure(f"{archive} does not exist; give the path of the archive that make save wrote")
        if not checksum.is_file():
            raise Failure(
                f"{checksum.name} is not beside {archive.name}; copy it with the archive (make save writes both)"
            )
        self.checks.need_docker()
        expected = checksum.read_text().split()[0] if checksum.read_text().split() else ""
        say(f"checking {archive.name}")
        found = sha256_of(archive)
        if found != expected:
            raise Failure(
                f"{archive.name} is damaged or incomplete: its sha256 is {found[:12]}…, {checksum.name} says "
                f"{expected[:12]}…; copy it again (nothing was loaded)"
            )
        progress = Progress(f"loading {archive.name}")
        load = subprocess.Popen(
            [self.docker.command, "load"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=False, env=self.s.env
        )
        try:
            with gzip.open(archive, "rb") as gz:
                for block in iter(lambda: gz.read(CHUNK), b""):
                    load.stdin.write(block)
                    progress.add(len(block))
            load.stdin.close()
        except (OSError, EOFError) as problem:
            load.kill()
            raise Failure(f"{archive.name} could not be read ({problem}); copy it again") from None
        finally:
            progress.close()
        out = load.stdout.read().decode(errors="replace")
        if load.wait() != 0:
            raise Failure(f"docker load refused {archive.name}: {out.strip()[-200:]}")
        names = re.findall(r"Loaded image: (\S+)", out)
        for name in names:
            say(f"loaded {Image(Settings({**self.s.env, 'IMAGE': name})).describe()}")
        if names:
            say(f"start it with: make up IMAGE={names[0]}" if names[0] != self.s.image else "start it with: make up")
        return 0

    def publish(self) -> int:
        registry = self.s.get("REGISTRY").rstrip("/")
        if not registry or not re.fullmatch(r"[A-Za-z0-9.-]+(:\d+)?(/[a-z0-9._-]+)+", registry):
            raise Failure(
                f"REGISTRY must be host[:port]/namespace, e.g. REGISTRY=registry.school.example/course, not '{registry}'"
            )
        self.checks.need_docker()
        if not self.docker.has_image(self.s.image):
            raise Failure(
                f"there is no image {self.s.image} to publish; build it first: make build VARIANT={self.s.variant}"
            )
        target = f"{registry}/{contract.IMAGE_REPOSITORY}:{self.s.variant}"
        image = Image(self.s)
        if "linux/arm64" in self.docker.answer_all("buildx", "ls") and self.s.variant == "cpu":
            # A builder here can make linux/arm64 too: one multi-platform image for every student's computer.
            say(f"building and pushing {target} for linux/amd64 and linux/arm64")
            proc = subprocess.run(
                [self.docker.command, "buildx", "build", "--platform", "linux/amd64,linux/arm64", "--push",
                 "-f", "docker/Dockerfile", "-t", target, *image.label_args(), *image.build_arg_args(), "."],
                cwd=ROOT, env=self.s.env,
            )  # fmt: skip
            if proc.returncode != 0:
                raise Failure(f"building {target} for both platforms failed (see above)")
            self.docker("pull", target, check=False)
        else:
            self.docker("tag", self.s.image, target)
            say(f"pushing {target}")
            if self.docker.shown("push", target) != 0:
                raise Failure(f"pushing {target} failed (see above); log in first if the registry asks (docker login)")
            say(
                f"published for {self.docker.platform()} only: no builder here makes linux/arm64. Where one does "
                "(QEMU, or an arm64 machine), publish both with: docker buildx build --platform linux/amd64,linux/arm64 "
                f"-f docker/Dockerfile --build-arg VARIANT={self.s.variant} -t {target} --push ."
            )
        digests = self.docker.answer_all(
            "image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", target
        )
        found = [d for d in digests.split() if d.startswith(f"{registry}/")]
        if not found:
            raise Failure(
                f"{target} was pushed, but Docker reports no digest for it; check: docker image inspect {target}"
            )
        reference = f"{target}@{found[0].split('@', 1)[1]}"
        say(f"students start it with: make up IMAGE={reference}   (make up pulls it, never builds it)")
        print(reference, flush=True)
        return 0
