"""The host commands' knobs, each read once from the environment, with its default and its check.

The Makefile exports its variables, so `make up LAB_PORT=8890` and `LAB_PORT=8890 python -m scripts.lab up`
both arrive here. A knob with a bad value stops the command with one line that names the knob, the
value, and what would be right (a Failure, which the front door prints as `error: ...`).
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .. import contract

ROOT = Path(__file__).resolve().parents[3]  # scripts/labkit/host/settings.py -> the repository


class Failure(Exception):
    """Ends a host command: str() is the one line the user reads after 'error: '."""


def say(message: str) -> None:
    """A line of progress, on stderr, so that stdout holds only what a command answers (the lab's URL)."""
    print(f"lab: {message}", file=sys.stderr, flush=True)


def port_busy(port: int, target: str, knob: str) -> Failure:
    """The one refusal for a port something else holds, with the next port to try."""
    return Failure(
        f"port {port} is already in use on 127.0.0.1; stop what uses it or pick another port: "
        f"make {target} {knob}={port + 1}"
    )


def one_of(knob: str, value: str, allowed, what: str = "") -> str:
    if value not in allowed:
        choices = what or " or ".join(allowed)
        raise Failure(f"{knob} must be {choices}, not '{value}'")
    return value


@dataclass
class Settings:
    """The knobs, over one environment (os.environ unless a test or the benchmark gives its own)."""

    env: dict = field(default_factory=lambda: dict(os.environ))

    def get(self, name: str, default: str = "") -> str:
        """A knob's value; unset and empty both mean its default (make passes empty variables)."""
        value = self.env.get(name)
        return default if value is None or value == "" else value

    def words(self, name: str) -> list[str]:
        """A knob that holds a list (NB, PARAMS, PYTEST_ARGS), split as a shell would split it."""
        return shlex.split(self.get(name))

    def port(self, name: str, default: int) -> int:
        raw = self.get(name, str(default))
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise Failure(f"{name} must be a port number (1-65535), not '{raw}'")
        return int(raw)

    def path(self, name: str, default: Path) -> Path:
        """A knob that names a file or folder: absolute, relative ones from where the command runs."""
        return Path(self.get(name, str(default))).resolve()

    def seconds(self, name: str, default: float) -> float:
        raw = self.get(name, str(default))
        try:
            value = float(raw)
        except ValueError:
            value = -1
        if value <= 0:
            raise Failure(f"{name} must be a number of seconds above 0, not '{raw}'")
        return value

    # ---- the image ---------------------------------------------------------------------------

    @property
    def variant(self) -> str:
        return one_of("VARIANT", self.get("VARIANT", contract.VARIANTS[0]), contract.VARIANTS)

    @property
    def image(self) -> str:
        return self.get("IMAGE", contract.image_name(self.variant))

    @property
    def docker(self) -> str:
        return self.get("DOCKER", "docker")

    @property
    def compose_choice(self) -> str:
        return one_of(
            "COMPOSE",
            self.get("COMPOSE", "auto"),
            ("auto", "v2", "v1"),
            "auto, v2 (docker compose) or v1 (docker-compose)",
        )

    @property
    def force_build(self) -> bool:
        return self.get("FORCE_BUILD") == "1"

    @property
    def min_driver(self) -> int:
        raw = self.get("MIN_DRIVER", "580")  # what torch's CUDA 13 build needs of the host's NVIDIA driver
        if not raw.isdigit():
            raise Failure(f"MIN_DRIVER must be a driver's major version (e.g. 580), not '{raw}'")
        return int(raw)

    # ---- the lab -----------------------------------------------------------------------------

    @property
    def lang(self) -> str:
        return one_of(
            "LAB_LANG", self.get("LAB_LANG", contract.DEFAULT_LANG), contract.LANGUAGES, "zh (中文) or en (English)"
        )

    @property
    def lab_port(self) -> int:
        return self.port("LAB_PORT", contract.LAB_PORT)

    @property
    def project(self) -> str:
        return self.get("LAB_PROJECT", contract.PROJECT)

    @property
    def workspace(self) -> Path:
        return self.path("LAB_WORKSPACE", ROOT / "workspace")

    @property
    def token_file(self) -> Path:
        return self.path("LAB_TOKEN_FILE", ROOT / ".lab-token")

    @property
    def uid_gid(self) -> tuple[str, str]:
        """The user the lab's files belong to: the host user; root on the host (CI, sudo) and Windows get
        the image's own user instead, since the lab never runs as root."""
        uid = os.getuid() if hasattr(os, "getuid") else 0
        gid = os.getgid() if hasattr(os, "getgid") else 0
        if uid == 0:
            uid = gid = contract.DEFAULT_UID
        return self.get("LAB_UID", str(uid)), self.get("LAB_GID", str(gid))

    @property
    def service(self) -> str:
        """Compose's service: the GPU one for the CUDA image, unless LAB_GPU=0 (the CUDA image on a CPU)."""
        return "lab-gpu" if self.variant == "cuda" and self.get("LAB_GPU", "1") == "1" else "lab"

    @property
    def wait_seconds(self) -> float:
        return self.seconds("WAIT_SECONDS", contract.WAIT_SECONDS)

    @property
    def open_browser(self) -> bool:
        return not self.get("CI") and self.get("OPEN_BROWSER", "1") == "1"

    # ---- the classroom -----------------------------------------------------------------------

    @property
    def hub_port(self) -> int:
        return self.port("HUB_PORT", contract.HUB_PORT)

    @property
    def classroom_project(self) -> str:
        return self.get("CLASSROOM_PROJECT", contract.CLASSROOM_PROJECT)

    @property
    def hub_image(self) -> str:
        return self.get("CLASSROOM_HUB_IMAGE", contract.HUB_IMAGE)

    @property
    def admin_token_file(self) -> Path:
        return self.path("CLASSROOM_ADMIN_TOKEN_FILE", ROOT / ".hub-admin-token")

    @property
    def teacher(self) -> str:
        return self.get("CLASSROOM_TEACHER", "teacher")

    @property
    def classroom_mem_limit(self) -> str:
        """Each student's memory (512M, 1G, 1.5G: as JupyterHub reads it, so Docker too), their server's and their
        progress run's."""
        raw = self.get("CLASSROOM_MEM_LIMIT", "1G")
        number, unit = raw[:-1], raw[-1:]
        if unit not in ("K", "M", "G") or not number.replace(".", "", 1).isdigit():
            raise Failure(f"CLASSROOM_MEM_LIMIT must be an amount of memory such as 512M or 1G, not '{raw}'")
        return raw

    @property
    def classroom_cpu_limit(self) -> float:
        raw = self.get("CLASSROOM_CPU_LIMIT", "1.0")
        try:
            value = float(raw)
        except ValueError:
            value = -1
        if value <= 0:
            raise Failure(f"CLASSROOM_CPU_LIMIT must be a share of CPU cores above 0 (such as 1.0), not '{raw}'")
        return value

    @property
    def classroom_pids_limit(self) -> int:
        """The processes and threads one student's container may hold (a fork bomb stops there)."""
        raw = self.get("CLASSROOM_PIDS_LIMIT", "1024")
        if not raw.isdigit() or int(raw) < 128:
            raise Failure(f"CLASSROOM_PIDS_LIMIT must be a whole number of processes, 128 or more, not '{raw}'")
        return int(raw)

    @property
    def cell_timeout(self) -> float:
        """classroom-progress: the longest one cell of a student's lesson may run."""
        return self.seconds("CLASSROOM_CELL_TIMEOUT", 60)

    @property
    def lesson_timeout(self) -> float:
        """classroom-progress: the longest one student's run of one lesson may take, all cells together."""
        return self.seconds("CLASSROOM_LESSON_TIMEOUT", 300)

    @property
    def progress_jobs(self) -> int | None:
        """classroom-progress: students run at once; None: as many as the engine has cores."""
        raw = self.get("CLASSROOM_PROGRESS_JOBS")
        if raw and (not raw.isdigit() or int(raw) < 1):
            raise Failure(
                f"CLASSROOM_PROGRESS_JOBS must be a whole number of students at once (1 or more), not '{raw}'"
            )
        return int(raw) if raw else None

    @property
    def classroom_output(self) -> Path:
        """Where classroom-progress writes its CSV and HTML, and classroom-collect its folders unless DEST says."""
        return self.path("CLASSROOM_OUT", ROOT / "build" / "classroom")
