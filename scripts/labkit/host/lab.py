"""The lab on this machine: start it, stop it, read its log, open a shell, reset a lesson, run notebooks
and the test suite in its image."""

from __future__ import annotations

import os
import platform
import subprocess
import webbrowser
from pathlib import Path

from .. import contract
from .checks import Checks
from .docker import Compose, Docker
from .image import Image
from .net import http_status, port_in_use
from .settings import ROOT, Failure, Settings, port_busy, say
from .tokens import ensure_token
from .tools import pytest

NO_TESTS = 5  # pytest's exit status when no test was collected


def notebook_paths(names: list[str], lang: str, root: Path = ROOT) -> list[tuple[Path, str | None]]:
    """The notebooks `make run NB=...` names, as paths under root, each with a note for the user or None.

    notebooks/09_linear_regression.ipynb, which does not exist, is lesson 09 in the lab's language."""
    found = []
    for name in names:
        path = Path(name)
        note = None
        if not path.exists():
            lesson = root / "notebooks" / lang / path.name
            if path.resolve().parent != root / "notebooks" or not lesson.exists():
                raise Failure(
                    f"{name}: no such notebook; give paths under this folder, "
                    f"e.g. NB=notebooks/{lang}/09_linear_regression.ipynb"
                )
            path = lesson
            note = f"{name}: running {lesson.relative_to(root).as_posix()}, the lesson in the lab's language"
        if not path.resolve().is_relative_to(root):
            raise Failure(f"{name} is outside this folder; the image sees only the repository")
        found.append((path.resolve(), note))
    return found


def has_desktop() -> bool:
    """Where opening a browser shows one: macOS, Windows, or a Linux desktop session."""
    system = platform.system()
    return system in ("Darwin", "Windows") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class LabCommands:
    """The lab's commands, over one set of settings."""

    def __init__(self, settings: Settings | None = None):
        self.s = settings or Settings()
        self.docker = Docker(self.s)
        self.checks = Checks(self.s)
        self.image = Image(self.s)

    # ---- the running lab ---------------------------------------------------------------------

    def compose(self) -> Compose:
        uid, gid = self.s.uid_gid
        variables = {
            "LAB_UID": uid,
            "LAB_GID": gid,
            "LAB_IMAGE": self.s.image,
            "LAB_PORT": str(self.s.lab_port),
            "LAB_LANG": self.s.lang,
            "LAB_WORKSPACE": str(self.s.workspace),
            "LAB_TOKEN_FILE": str(self.s.token_file),
        }
        return Compose(self.s, ROOT / "compose.yaml", self.s.project, variables)

    def container(self) -> str:
        return self.docker.compose_container(self.s.project, self.s.service)

    def running(self) -> bool:
        return self.docker.running(self.container())

    def prepare_host_files(self) -> None:
        """The workspace and the token file, made on first start and owned by the lab's user."""
        self.s.workspace.mkdir(parents=True, exist_ok=True)
        ensure_token(self.s.token_file, self.s.get("JUPYTER_TOKEN"))
        if hasattr(os, "getuid") and os.getuid() == 0:
            uid, gid = (int(n) for n in self.s.uid_gid)
            for path in (self.s.workspace, self.s.token_file):
                os.chown(path, uid, gid)

    def prepare(self) -> None:
        """What `make up` does before Compose starts the lab: the image (built, loaded or pulled), the workspace
        and the token. For VS Code's Dev Containers, which then start the lab with Compose themselves."""
        self.s.lang  # noqa: B018  (a bad LAB_LANG is refused before anything runs)
        self.checks.need_docker()
        self.image.ensure()
        say(f"image {self.image.describe()}")
        self.prepare_host_files()

    def up(self) -> str:
        """Start the lab and wait until it serves; print its URL (the one line on stdout) and return it."""
        lang = self.s.lang
        self.s.variant  # noqa: B018  (a bad VARIANT is refused before anything runs)
        self.checks.need_docker()
        if self.s.service == "lab-gpu":
            self.checks.need_gpu()
        port = self.s.lab_port
        if not self.running() and port_in_use(port):
            raise port_busy(port, "up", "LAB_PORT")
        compose = self.compose()
        compose.command()
        self.image.ensure()
        say(f"image {self.image.describe()}")
        self.prepare_host_files()
        if compose("up", "-d", self.s.service).returncode != 0:
            raise Failure("docker compose could not start the lab (see above)")
        cid = self.container()
        self.docker.wait_serving(
            cid,
            lambda: http_status(port, "/api") == 200,  # Docker's own check comes every few seconds: ask now
            self.s.wait_seconds,
            "the lab",
            lambda: self.docker("logs", "--tail", "20", cid, check=False, capture=False),
            "see make logs",
        )
        # What the lab's start had to say (a lesson with a newer version, packages that stop Python), once.
        log = self.docker("logs", cid, check=False)
        for line in (log.stdout + log.stderr).splitlines():
            if line.startswith(contract.START_LOG_PREFIX):
                say(line[len(contract.START_LOG_PREFIX) :].strip())
        url = f"http://127.0.0.1:{port}/lab?token={self.s.token_file.read_text().strip()}"
        say(f"ready ({contract.LANGUAGE_NAMES[lang]}); your work is saved in {self.s.workspace}")
        print(url, flush=True)
        if self.s.open_browser and has_desktop():
            webbrowser.open(url)
        return url

    def down(self) -> None:
        self.checks.need_docker()
        if self.compose()("--profile", "gpu", "down").returncode != 0:
            raise Failure("docker compose could not stop the lab (see above)")

    def logs(self) -> None:
        self.checks.need_docker()
        self.compose()("logs", "--tail", self.s.get("TAIL", "100"), self.s.service)

    def shell(self) -> None:
        self.checks.need_docker()
        if not self.running():
            raise Failure("the lab is not running; start it with make up")
        subprocess.run([self.docker.command, "exec", "-it", self.container(), "bash"], env=self.s.env)

    def in_workspace(self, *command: str) -> int:
        """A command of the image on the workspace, as the lab's user; the image's script says what was wrong
        in one line, and its exit status is the command's."""
        self.checks.need_docker()
        self.image.ensure()
        self.prepare_host_files()
        return self.docker.run_in_image(
            self.s.image,
            *command,
            env=(f"LAB_LANG={self.s.lang}",),
            volumes=(f"{self.s.workspace}:{contract.WORKSPACE}",),
            user=":".join(self.s.uid_gid),
            capture=False,
        ).returncode

    def reset_lesson(self, number: str) -> int:
        if not number:
            raise Failure("say which lesson: make reset-lesson 9 (or N=9)")
        return self.in_workspace("reset-lesson", number)

    def reset_packages(self) -> int:
        return self.in_workspace("reset-packages")

    # ---- notebooks in the image ----------------------------------------------------------------

    def run_notebooks(
        self, notebooks: list[str] | None = None, params: list[str] | None = None, out: str = "", gpus: str = ""
    ) -> int:
        """Run notebooks of this repository inside the image: make run NB="a.ipynb b.ipynb"."""
        self.checks.need_docker()
        paths = notebook_paths(self.s.words("NB") if notebooks is None else notebooks, self.s.lang)
        for _, note in paths:
            if note:
                say(note)
        self.image.ensure()
        out_dir = Path(out or self.s.get("OUT", "build/run")).resolve()
        out_dir.mkdir(parents=True, exist_ok=True)
        if hasattr(os, "getuid") and os.getuid() == 0:
            os.chown(out_dir, *(int(n) for n in self.s.uid_gid))
        targets = [path.relative_to(ROOT).as_posix() for path, _ in paths] or [f"{contract.LESSONS_DIR}/{self.s.lang}"]
        params = self.s.words("PARAMS") if params is None else params
        return self.docker.run_in_image(
            self.s.image,
            "run-notebooks",
            *targets,
            *params,
            "--timeout",
            self.s.get("TIMEOUT", "600"),
            "--output-dir",
            "/out",
            volumes=(f"{ROOT}:/repo", f"{out_dir}:/out"),
            env=(contract.WARM_ENV,),  # LAB_WARM_KERNELS=0 here spawns every kernel instead
            workdir="/repo",
            user=":".join(self.s.uid_gid),
            options=("--gpus", gpus) if gpus else (),
            capture=False,
        ).returncode

    def test(self) -> int:
        """The fast tests (no Docker), the suite inside the image (lessons, runner, warm kernels), then the image
        and the lab from the host; the first that fails ends the run."""
        self.s.variant  # noqa: B018
        extra = self.s.words("PYTEST_ARGS")
        unit = self.host_tests("tests/unit", {})
        if unit not in (0, NO_TESTS) or (unit == NO_TESTS and not extra):
            return unit
        self.checks.need_docker()
        self.image.build()
        say(f"running the lessons and the runner's tests inside {self.s.image}")
        # tests/ is mounted, never baked in: the image holds only what students and the runner use.
        # No network: nothing a lesson or a test does may download anything.
        inside = self.docker.run_in_image(
            self.s.image,
            "python",
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-n",
            self.s.get("LAB_TEST_JOBS", "auto"),
            "tests/image",
            "tests/notebooks",
            "notebooks",
            *extra,
            volumes=(f"{ROOT / 'tests'}:/opt/lab/tests:ro", f"{ROOT / 'pyproject.toml'}:/opt/lab/pyproject.toml:ro"),
            env=("PYTHONDONTWRITEBYTECODE=1", contract.WARM_ENV),
            workdir="/opt/lab",
            options=("--network", "none"),
            capture=False,
        ).returncode
        # A PYTEST_ARGS selection (-k 09_linear) may leave one side with nothing to run.
        if inside not in (0, NO_TESTS) or (inside == NO_TESTS and not extra):
            return inside
        say("testing the image and the lab from the host")
        host = self.host_tests("tests/host", {"LAB_IMAGE": self.s.image, "REQUIRE_DOCKER": "1"})
        if extra and {unit, inside, host} == {NO_TESTS}:
            raise Failure(f"no test matched PYTEST_ARGS={self.s.get('PYTEST_ARGS')!r}")
        return 0 if extra and host == NO_TESTS else host

    def test_unit(self) -> int:
        """The tests that need no Docker: labkit's functions, the lesson sources, the host side's settings."""
        return self.host_tests("tests/unit", {})

    def host_tests(self, folder: str, env: dict) -> int:
        return pytest(self.s, folder, env)

    def test_gpu(self) -> int:
        self.s.env["VARIANT"] = "cuda"
        if self.s.image.endswith(":cpu"):
            self.s.env["IMAGE"] = self.s.image[: -len(":cpu")] + ":cuda"
        self.checks.need_docker()
        self.checks.need_gpu()
        self.image.build()
        params = ["--profile", "full", "-p", "device", "cuda", "-p", "solutions", "True", *self.s.words("PARAMS")]
        out = self.s.get("OUT", "build/test-gpu")
        return self.run_notebooks(["notebooks/zh", "notebooks/en"], params, out, gpus="all")
