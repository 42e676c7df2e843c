"""Can the build reach what it needs? The base image's registry, the package index, PyTorch's CPU index:
each asked in a few seconds, before a build (and by make doctor), so that a student behind a blocked network
reads one line naming what could not be reached and the ways out, within a minute, instead of a build that
retries for ten.

Only the addresses the build is configured with are asked: the base image's name, PIP_INDEX_URL and
PIP_EXTRA_INDEX_URL, TORCH_CPU_INDEX; where the build would use pip's own default index, pip itself is asked.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from .. import contract
from .docker import Docker
from .settings import ROOT, Failure, Settings, say

PROBE_SECONDS = 5  # an index that has not answered in this long will not serve a build
PULL_SILENCE = 30  # a pull that has printed nothing for this long has stalled
WAYS_OUT = "or make load FILE=… the teacher's archive (README: 在中国大陆 / in mainland China)"


def default_base_image() -> str:
    found = re.search(r"^ARG BASE_IMAGE=(\S+)$", (ROOT / "docker" / "Dockerfile").read_text(), re.M)
    return found.group(1) if found else ""


def registry_of(image: str) -> str:
    """The registry an image name points to: its first part when that names a host, else Docker Hub."""
    first, slash, _ = image.partition("/")
    return first if slash and ("." in first or ":" in first or first == "localhost") else "Docker Hub"


def why(text: str) -> str:
    """What a network error's text says, in a few words."""
    lower = text.lower()
    for needle, words in (
        ("refused", "the connection was refused"),
        ("no such host", "the name does not resolve"),
        ("name or service not known", "the name does not resolve"),
        ("name resolution", "the name does not resolve"),
        ("nodename nor servname", "the name does not resolve"),
        ("getaddrinfo", "the name does not resolve"),
        ("timed out", "no answer"),
        ("timeout", "no answer"),
        ("unauthorized", "it asks for a login: docker login"),
        ("manifest unknown", "it has no such image"),
        ("not found", "it has no such image"),
        ("certificate", "its certificate is not trusted here"),
    ):
        if needle in lower:
            return words
    return text.strip().splitlines()[-1][:120] if text.strip() else "no answer"


def index_problem(url: str, timeout: float = PROBE_SECONDS) -> str | None:
    """None when the index's page answers within timeout; else why not."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read(1024)
        return None
    except urllib.error.HTTPError as error:
        return None if error.code in (401, 403, 404) else f"answered HTTP {error.code}"  # it answers: reachable
    except OSError as problem:
        return why(str(getattr(problem, "reason", problem)))


def host_of(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


class Reach:
    def __init__(self, settings: Settings):
        self.s = settings
        self.docker = Docker(settings)

    def base_image(self) -> str:
        return self.s.get("BASE_IMAGE") or default_base_image()

    def torch_from_index(self) -> bool:
        """Whether the CPU build takes torch from PyTorch's CPU index (or TORCH_CPU_INDEX's mirror of it): unless
        the wheelhouse holds torch's wheel or PIP_NO_INDEX forbids indexes (docker/Dockerfile)."""
        wheel = any((ROOT / "build" / "wheelhouse" / "cpu").glob("torch-*.whl"))
        return self.s.variant == "cpu" and not self.s.get("PIP_NO_INDEX") and not wheel

    def indexes(self) -> list[tuple[str, str, str, str]]:
        """(what, url, page to ask for, the knob that points elsewhere) of each index the build will use."""
        found = []
        if self.s.get("PIP_NO_INDEX"):
            return found
        if self.s.get("PIP_INDEX_URL"):
            url = self.s.get("PIP_INDEX_URL")
            found.append(("the package index", url, f"{url.rstrip('/')}/pip/", "PIP_INDEX_URL"))
        for url in self.s.get("PIP_EXTRA_INDEX_URL").split():
            found.append(("the extra package index", url, f"{url.rstrip('/')}/pip/", "PIP_EXTRA_INDEX_URL"))
        if self.torch_from_index():
            url = self.s.get("TORCH_CPU_INDEX", contract.TORCH_CPU_INDEX)
            found.append(("PyTorch's CPU index", url, f"{url.rstrip('/')}/torch/", "TORCH_CPU_INDEX"))
        return found

    def unreachable(self, what: str, url: str, problem: str, knob: str) -> Failure:
        fix = {
            "TORCH_CPU_INDEX": "set TORCH_CPU_INDEX to a mirror of PyTorch's CPU wheels",
            "PIP_INDEX_URL": "set PIP_INDEX_URL to a mirror of PyPI that answers",
            "PIP_EXTRA_INDEX_URL": "set PIP_EXTRA_INDEX_URL to one that answers",
            "": "set PIP_INDEX_URL to a mirror of PyPI",
        }[knob]
        return Failure(
            f"{what} at {host_of(url)} could not be reached ({problem} within {PROBE_SECONDS} s); {fix} "
            f"(a mirror serves the same files: the locks' hashes check them), {WAYS_OUT}"
        )

    # ---- before a build --------------------------------------------------------------------------

    def loopback_needs_host_network(self) -> None:
        for _, url, _, knob in self.indexes():
            if (
                urllib.parse.urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")
                and self.s.get("BUILD_NETWORK") != "host"
            ):
                raise Failure(f"{knob}={url} is on this machine, which the build reaches only with BUILD_NETWORK=host")

    def check_indexes(self) -> None:
        self.loopback_needs_host_network()
        for what, url, page, knob in self.indexes():
            problem = index_problem(page)
            if problem:
                raise self.unreachable(what, url, problem, knob)

    def pull_base(self) -> None:
        """Pull the base image unless it is here; one line when its registry cannot be reached or stalls."""
        image = self.base_image()
        if not image or self.docker.has_image(image):
            return
        say(f"pulling the base image {image}")
        proc = subprocess.Popen(
            [self.docker.command, "pull", image],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.s.env,
        )
        last = [time.monotonic()]
        lines: list[str] = []

        def read() -> None:
            for line in proc.stdout:
                last[0] = time.monotonic()
                lines.append(line)
                sys.stderr.write(line)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        while proc.poll() is None:
            if time.monotonic() - last[0] > PULL_SILENCE:
                proc.kill()
                proc.wait()
                raise self.base_unreachable(image, f"no answer for {PULL_SILENCE} s")
            time.sleep(0.2)
        reader.join(5)
        if proc.returncode != 0:
            raise self.base_unreachable(image, why("".join(lines[-3:])))

    def base_unreachable(self, image: str, problem: str) -> Failure:
        return Failure(
            f"the base image {image} could not be pulled from {registry_of(image)} ({problem}); "
            'add a registry mirror in Docker\'s settings (daemon.json "registry-mirrors", or Docker Desktop > '
            f"Settings > Docker Engine), or set BASE_IMAGE to an image you can pull, {WAYS_OUT}"
        )

    def before_build(self) -> None:
        self.check_indexes()
        self.pull_base()

    # ---- make doctor, where the image is not built yet --------------------------------------------

    def doctor_base(self) -> str:
        image = self.base_image()
        if self.docker.has_image(image):
            return f"{image} is here"
        insecure = ["--insecure"] if registry_of(image).split(":")[0] in ("127.0.0.1", "localhost") else []
        try:
            proc = self.docker("manifest", "inspect", *insecure, image, check=False, timeout=PROBE_SECONDS * 2)
        except subprocess.TimeoutExpired:
            raise self.base_unreachable(image, f"no answer within {PROBE_SECONDS * 2} s") from None
        if proc.returncode != 0:
            raise self.base_unreachable(image, why(proc.stderr or proc.stdout))
        return f"{image} can be pulled from {registry_of(image)}"

    def doctor_indexes(self) -> str:
        self.loopback_needs_host_network()
        asked = []
        for what, url, page, knob in self.indexes():
            problem = index_problem(page)
            if problem:
                raise self.unreachable(what, url, problem, knob)
            asked.append(f"{what} at {host_of(url)}")
        if not self.s.get("PIP_INDEX_URL") and not self.s.get("PIP_NO_INDEX"):
            asked.append(self.default_index())
        return "; ".join(asked) + (" answers" if len(asked) == 1 else " answer")

    def default_index(self) -> str:
        """pip's own default index, asked by pip itself (with no configuration, as in the build)."""
        cert = ["--cert", self.s.get("CA_BUNDLE")] if self.s.get("CA_BUNDLE") else []
        ask = [sys.executable, "-m", "pip", "index", "versions", "pip", "--isolated", "--disable-pip-version-check"]
        try:
            with tempfile.TemporaryDirectory() as home:
                proc = subprocess.run(
                    [*ask, "--timeout", str(PROBE_SECONDS), "--retries", "0", *cert],
                    capture_output=True,
                    text=True,
                    timeout=PROBE_SECONDS * 3,
                    env={**self.s.env, "PIP_CONFIG_FILE": str(Path(home) / "none")},
                )
        except subprocess.TimeoutExpired:
            raise self.unreachable("pip's default package index", "PyPI", "no answer", "") from None
        if proc.returncode != 0 and "No module named pip" in proc.stderr:
            return "pip's default index (not asked: this computer's Python has no pip)"
        if proc.returncode != 0:
            raise self.unreachable("pip's default package index", "PyPI", why(proc.stderr), "")
        return "pip's default index"
