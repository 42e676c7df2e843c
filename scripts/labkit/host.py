"""The lab's host commands, behind the Makefile: `python3 scripts/lab.py COMMAND` (make help lists them).

Every knob is an environment variable (the Makefile exports them; README lists them).
Standard library only, Python 3.9 or newer, so it runs wherever Docker does: Linux, macOS, WSL2, Windows.
A problem ends the command with one line, `error: what is wrong; what to do`, and exit status 1.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import webbrowser
from dataclasses import dataclass, field
from pathlib import Path

from . import engine
from .engine import ROOT

LANGUAGES = ("zh", "en")
IMAGE_INPUTS = ("docker", "notebooks/zh", "notebooks/en", "scripts/labkit", "pyproject.toml")  # as .dockerignore
BUILD_ARGS_FROM_ENV = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX", "TORCH_CPU_INDEX")
CUDA_PLATFORM = "linux/amd64"
HOST_VENV = ROOT / "build" / "venv"
HOST_LOCK = ROOT / "tests" / "requirements-host.lock"


class Failure(Exception):
    """Ends a command: str() is the one line the user reads after 'error: '."""


def say(message: str) -> None:
    print(f"lab: {message}", file=sys.stderr, flush=True)


@dataclass
class Settings:
    """The knobs, read once from the environment."""

    env: dict = field(default_factory=lambda: dict(os.environ))

    def get(self, name: str, default: str = "") -> str:
        value = self.env.get(name)
        return default if value is None or value == "" else value

    @property
    def variant(self) -> str:
        return self.get("VARIANT", "cpu")

    @property
    def docker(self) -> str:
        return self.get("DOCKER", engine.DEFAULT_DOCKER)

    @property
    def image(self) -> str:
        return self.get("IMAGE", f"pytorch-lab:{self.variant}")

    @property
    def port(self) -> int:
        raw = self.get("LAB_PORT", "8888")
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise Failure(f"LAB_PORT must be a port number (1-65535), not '{raw}'")
        return int(raw)

    @property
    def lang(self) -> str:
        lang = self.get("LAB_LANG", LANGUAGES[0])
        if lang not in LANGUAGES:
            raise Failure(f"LAB_LANG must be zh (中文) or en (English), not '{lang}'")
        return lang

    @property
    def project(self) -> str:
        return self.get("LAB_PROJECT", "pytorch-lab")

    @property
    def workspace(self) -> Path:
        return Path(self.get("LAB_WORKSPACE", str(ROOT / "workspace"))).resolve()

    @property
    def token_file(self) -> Path:
        return Path(self.get("LAB_TOKEN_FILE", str(ROOT / ".lab-token"))).resolve()

    @property
    def uid_gid(self) -> tuple[str, str]:
        # The image's user is the host user, so the workspace's files are yours. root on the
        # host (CI, sudo) and Windows get an ordinary uid instead: the lab never runs as root.
        uid = os.getuid() if hasattr(os, "getuid") else 0
        gid = os.getgid() if hasattr(os, "getgid") else 0
        if uid == 0:
            uid = gid = 1000
        return self.get("LAB_UID", str(uid)), self.get("LAB_GID", str(gid))

    @property
    def service(self) -> str:
        return "lab-gpu" if self.variant == "cuda" and self.get("LAB_GPU", "1") == "1" else "lab"


class Lab:
    """The host commands, over one set of settings."""

    def __init__(self, settings: Settings | None = None):
        self.s = settings or Settings()

    # ---- checks: each returns what it found, or raises Failure with the problem and its fix ----

    def check_variant(self) -> None:
        if self.s.variant not in ("cpu", "cuda"):
            raise Failure(f"VARIANT must be cpu or cuda, not '{self.s.variant}'")

    def check_docker_client(self) -> str:
        found = engine.answers([self.s.docker, "--version"]) if shutil.which(self.s.docker) else None
        if found is None:
            raise Failure(
                f"Docker is not installed ('{self.s.docker}' not found); "
                "install Docker Engine (Linux) or Docker Desktop, then retry"
            )
        return found

    def check_docker_engine(self) -> str:
        version = engine.answers([self.s.docker, "info", "--format", "{{.ServerVersion}}"])
        if not version:
            raise Failure(
                "the Docker engine is not running, or you may not use it; start it "
                "(sudo systemctl start docker, or open Docker Desktop) and check 'docker info'"
            )
        return f"engine {version} running"

    def check_buildkit(self) -> str:
        """The image is built with BuildKit (secrets, cache and bind mounts); a client of 23 or newer needs buildx."""
        buildx = engine.answers([self.s.docker, "buildx", "version"])
        if buildx is not None:
            return f"BuildKit through {buildx}"
        version = engine.client_version(self.s.docker)
        if version is not None and version < (23,):
            return f"client {'.'.join(map(str, version))} builds with BuildKit itself"
        shown = ".".join(map(str, version)) if version else "?"
        raise Failure(
            f"the Docker client {shown} has no buildx plugin, so it cannot build the lab's image; "
            "install buildx (package docker-buildx-plugin, or docker-buildx on Debian and Ubuntu; "
            "Docker Desktop ships it), then check 'docker buildx version'"
        )

    def check_platform(self) -> str:
        found = engine.engine_platform(self.s.docker) or "unknown"
        if self.s.variant == "cuda" and found != CUDA_PLATFORM:
            raise Failure(
                f"the CUDA image is built for {CUDA_PLATFORM} only, and this Docker engine is {found}; use VARIANT=cpu"
            )
        return f"images are built for {found}, natively"

    def check_compose(self) -> str:
        choice = self.s.get("COMPOSE", "auto")
        if choice not in ("auto", "v1", "v2"):
            raise Failure(f"COMPOSE must be auto, v2 (docker compose) or v1 (docker-compose), not '{choice}'")
        cmd = engine.compose_command(self.s.docker, choice)
        if cmd is None:
            wanted = {"v1": "docker-compose (v1)", "v2": "the compose plugin (docker compose)"}.get(
                choice, "the compose plugin (docker compose) or docker-compose"
            )
            raise Failure(f"Docker Compose is missing; install {wanted} (package docker-compose-plugin)")
        version = engine.answers([*cmd, "version", "--short"]) or "?"
        return f"docker-compose (v1) {version}" if cmd == ["docker-compose"] else f"docker compose (v2) {version}"

    MIN_DRIVER = 580  # what torch's CUDA 13 build needs of the host

    def check_nvidia_driver(self) -> str:
        minimum = int(self.s.get("MIN_DRIVER", str(self.MIN_DRIVER)))
        if not shutil.which("nvidia-smi"):
            raise Failure(
                f"no NVIDIA driver on this host (nvidia-smi not found); the CUDA lab needs an NVIDIA GPU "
                f"with driver >= {minimum}; use VARIANT=cpu"
            )
        driver = engine.answers(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])
        if not driver:
            raise Failure("nvidia-smi found no working GPU; check the driver with nvidia-smi, or use VARIANT=cpu")
        major = driver.split(".")[0]
        if not major.isdigit() or int(major) < minimum:
            raise Failure(
                f"NVIDIA driver {driver} is older than {minimum}, which torch's CUDA 13 build needs; "
                "update the driver, or build for an older CUDA (README)"
            )
        return f"NVIDIA driver {driver} (>= {minimum})"

    def check_nvidia_runtime(self) -> str:
        runtimes = engine.answers([self.s.docker, "info", "--format", "{{json .Runtimes}}"]) or ""
        if "nvidia" in runtimes:
            return "Docker has the NVIDIA runtime"
        raise Failure(
            "Docker has no NVIDIA runtime; install the NVIDIA Container Toolkit, run "
            "'sudo nvidia-ctk runtime configure --runtime=docker' and restart Docker"
        )

    def check_disk(self) -> str:
        need_gb = 5 if self.s.variant == "cpu" else 20
        folder = engine.answers([self.s.docker, "info", "--format", "{{.DockerRootDir}}"]) or ""
        if not folder or not Path(folder).is_dir():
            folder = str(ROOT)  # Docker Desktop keeps its disk in a VM: check here instead
        free_gb = int(shutil.disk_usage(folder).free / 2**30)
        if free_gb >= need_gb:
            return f"{free_gb} GB free in {folder} (the {self.s.variant} image needs about {need_gb} GB)"
        raise Failure(
            f"only {free_gb} GB free in {folder}; the {self.s.variant} image needs about {need_gb} GB: "
            "free some space (docker system prune)"
        )

    def check_port(self) -> str:
        port = self.s.port
        if not engine.port_in_use(port):
            return f"port {port} is free on 127.0.0.1"
        if self.lab_running():
            return f"port {port} is used by this lab (running)"
        raise Failure(
            f"port {port} is in use on 127.0.0.1; stop what uses it or pick another: make up LAB_PORT={port + 1}"
        )

    def need_docker(self) -> None:
        self.check_docker_client()
        self.check_docker_engine()

    def need_gpu(self) -> None:
        self.check_platform()
        self.check_nvidia_driver()
        self.check_nvidia_runtime()

    # ---- the image -----------------------------------------------------------------------

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
        digest = hashlib.sha256()
        for top in IMAGE_INPUTS:
            path = ROOT / top
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            for f in files:
                rel = f.relative_to(ROOT).as_posix()
                if "__pycache__" in rel or ".ipynb_checkpoints" in rel:
                    continue
                digest.update(rel.encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
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
        version = self.locked_torch()
        pattern = f"torch-{version}-cp311-*.whl"
        if any(folder.glob(pattern)):
            return folder
        dirs = self.s.env.get("WHEEL_DIRS")
        if dirs is None:  # the folders pip on this host is configured to find wheels in
            dirs = engine.answers([sys.executable, "-m", "pip", "config", "get", "global.find-links"]) or ""
        for source in dirs.split():
            for wheel in sorted(Path(source).glob(pattern)):
                shutil.copy2(wheel, folder / wheel.name)
                say(f"wheelhouse: copied {wheel.name}")
                return folder
        return folder

    @staticmethod
    def locked_torch() -> str:
        for line in (ROOT / "docker" / "requirements-cpu.lock").read_text().splitlines():
            if line.startswith("torch=="):
                return line.split("==", 1)[1].split()[0]
        raise Failure("docker/requirements-cpu.lock pins no torch; regenerate it with scripts/lock_requirements.sh")

    def build(self) -> None:
        self.check_variant()
        self.need_docker()
        self.check_buildkit()
        self.check_platform()
        self.docker_build(
            "docker/Dockerfile",
            self.s.image,
            ".",
            self.inputs_hash(),
            self.build_args(),
            before=self.prepare_wheelhouse,
        )

    def docker_build(self, dockerfile: str, tag: str, context: str, inputs: str, build_args: dict, before=None) -> bool:
        """Build tag with BuildKit unless its label says it holds these inputs; True if it was up to date."""
        label = engine.answers(
            [self.s.docker, "image", "inspect", "--format", '{{index .Config.Labels "pytorch-lab.inputs"}}', tag]
        )
        if self.s.get("FORCE_BUILD") != "1" and label == inputs:
            say(f"image {tag} is up to date")
            return True
        if before:
            before()
        cmd = [self.s.docker, "build", "-f", dockerfile, "-t", tag, "--label", f"pytorch-lab.inputs={inputs}"]
        for name, value in build_args.items():
            cmd += ["--build-arg", f"{name}={value}"]
        if self.s.get("CA_BUNDLE"):
            cmd += ["--secret", f"id=ca_bundle,src={self.s.get('CA_BUNDLE')}"]
        if self.s.get("BUILD_NETWORK"):
            cmd += ["--network", self.s.get("BUILD_NETWORK")]
        say(f"building {tag}")
        proc = subprocess.run([*cmd, context], cwd=ROOT, env={**self.s.env, "DOCKER_BUILDKIT": "1"})
        if proc.returncode != 0:
            raise Failure(f"building {tag} failed (see the build's output above)")
        # Each rebuild leaves the previous image dangling; a few CUDA ones fill a disk.
        engine.docker(
            "image", "prune", "-f", "--filter", "label=pytorch-lab.inputs", check=False, docker_cmd=self.s.docker
        )
        return False

    # ---- the running lab -----------------------------------------------------------------

    def compose(self, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
        self.check_compose()
        cmd = engine.compose_command(self.s.docker, self.s.get("COMPOSE", "auto"))
        env = {
            **self.s.env,
            "LAB_IMAGE": self.s.image,
            "LAB_PORT": str(self.s.port),
            "LAB_LANG": self.s.lang,
            "LAB_WORKSPACE": str(self.s.workspace),
            "LAB_TOKEN_FILE": str(self.s.token_file),
        }
        return subprocess.run(
            [*cmd, "-f", str(ROOT / "compose.yaml"), "-p", self.s.project, *args],
            cwd=ROOT,
            env=env,
            capture_output=capture,
            text=True,
        )

    def container_id(self) -> str:
        # Compose v1 and v2 both label their containers; asking the engine is faster than compose ps.
        out = engine.answers(
            [
                self.s.docker,
                "ps",
                "-aq",
                "--filter",
                f"label=com.docker.compose.project={self.s.project}",
                "--filter",
                f"label=com.docker.compose.service={self.s.service}",
            ]
        )
        return out or ""

    def lab_running(self) -> bool:
        cid = self.container_id()
        return bool(cid) and engine.answers([self.s.docker, "inspect", "--format", "{{.State.Running}}", cid]) == "true"

    def prepare_host_files(self) -> None:
        """The workspace and the token file, made on first start and owned by the lab's user."""
        self.s.workspace.mkdir(parents=True, exist_ok=True)
        token_file = self.s.token_file
        if self.s.get("JUPYTER_TOKEN"):
            engine.write_private(token_file, self.s.get("JUPYTER_TOKEN") + "\n")
        elif not token_file.exists() or not token_file.read_text().strip():
            engine.write_private(token_file, engine.new_token())
        os.chmod(token_file, 0o600)
        if hasattr(os, "getuid") and os.getuid() == 0:
            uid, gid = (int(n) for n in self.s.uid_gid)
            for path in (self.s.workspace, token_file):
                os.chown(path, uid, gid)

    def wait_healthy(self, cid: str) -> None:
        """Ready when the server answers its health probe; fail fast when the container gives up."""
        timeout = float(self.s.get("WAIT_SECONDS", "180"))

        def ready() -> bool:
            status = (
                engine.answers(
                    [
                        self.s.docker,
                        "inspect",
                        "--format",
                        "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}",
                        cid,
                    ]
                )
                or "gone"
            )
            if status in ("unhealthy", "exited", "dead", "gone"):
                engine.docker("logs", "--tail", "20", cid, check=False, capture=False, docker_cmd=self.s.docker)
                raise Failure(f"the lab did not start ({status}); the log is above (make logs)")
            # Docker's own check runs every few seconds; asking the same question now saves the wait.
            return status == "healthy" or engine.http_status(self.s.port, "/api") == 200

        try:
            engine.wait_until(ready, timeout, interval=0.2, what="the lab")
        except engine.TimedOut:
            raise Failure(f"the lab was not healthy after {timeout:.0f}s; see make logs") from None

    def up(self) -> None:
        self.check_variant()
        lang = self.s.lang
        self.need_docker()
        if self.s.service == "lab-gpu":
            self.need_gpu()
        port = self.s.port
        if not self.lab_running() and engine.port_in_use(port):
            raise Failure(
                f"port {port} is already in use on 127.0.0.1; stop what uses it or pick another port: "
                f"make up LAB_PORT={port + 1}"
            )
        self.check_compose()
        self.build()
        self.prepare_host_files()
        if self.compose("up", "-d", self.s.service).returncode != 0:
            raise Failure("docker compose could not start the lab (see above)")
        self.wait_healthy(self.container_id())
        url = f"http://127.0.0.1:{port}/lab?token={self.s.token_file.read_text().strip()}"
        say(f"ready ({'中文' if lang == 'zh' else 'English'}); your work is saved in {self.s.workspace}")
        print(url, flush=True)
        if not self.s.get("CI") and self.s.get("OPEN_BROWSER", "1") == "1" and has_desktop():
            webbrowser.open(url)

    def down(self) -> None:
        self.need_docker()
        if self.compose("--profile", "gpu", "down").returncode != 0:
            raise Failure("docker compose could not stop the lab (see above)")

    def logs(self) -> None:
        self.need_docker()
        self.compose("logs", "--tail", self.s.get("TAIL", "100"), self.s.service)

    def shell(self) -> None:
        self.need_docker()
        if not self.lab_running():
            raise Failure("the lab is not running; start it with make up")
        subprocess.run([self.s.docker, "exec", "-it", self.container_id(), "bash"])

    def reset_lesson(self, number: str) -> None:
        if not number:
            raise Failure("say which lesson: make reset-lesson 9 (or N=9)")
        self.need_docker()
        self.build()
        self.prepare_host_files()
        proc = subprocess.run(
            [
                self.s.docker,
                "run",
                "--rm",
                "-e",
                f"LAB_LANG={self.s.lang}",
                "-v",
                f"{self.s.workspace}:/home/student/work",
                self.s.image,
                "reset-lesson",
                number,
            ]
        )
        if proc.returncode != 0:
            raise SystemExit(proc.returncode)  # the image's script said what was wrong

    # ---- notebooks in the image ------------------------------------------------------------

    def run_notebooks(
        self,
        notebooks: list[str] | None = None,
        params: list[str] | None = None,
        out: str | None = None,
        gpus: str = "",
    ) -> int:
        """Run notebooks of this repository inside the image: make run NB="a.ipynb b.ipynb"."""
        self.need_docker()
        notebooks = engine.words(self.s.get("NB")) if notebooks is None else notebooks
        paths = []
        for nb in notebooks:
            path = Path(nb)
            if not path.exists():
                # notebooks/09_linear_regression.ipynb: lesson 09 in the lab's language (notebooks/zh/...)
                lesson = ROOT / "notebooks" / self.s.lang / path.name
                if path.resolve().parent != ROOT / "notebooks" or not lesson.exists():
                    raise Failure(
                        f"{nb}: no such notebook; give paths under this folder, "
                        "e.g. NB=notebooks/zh/09_linear_regression.ipynb"
                    )
                say(f"{nb}: running {lesson.relative_to(ROOT).as_posix()}, the lesson in the lab's language")
                path = lesson
            if not path.resolve().is_relative_to(ROOT):
                raise Failure(f"{nb} is outside this folder; the image sees only the repository")
            paths.append(path)
        self.build()
        out_dir = Path(out or self.s.get("OUT", "build/run")).resolve()
        out_dir.mkdir(parents=True, exist_ok=True)
        if hasattr(os, "getuid") and os.getuid() == 0:
            os.chown(out_dir, *(int(n) for n in self.s.uid_gid))
        targets = [path.resolve().relative_to(ROOT).as_posix() for path in paths] or [
            f"/opt/lab/notebooks/{self.s.lang}"
        ]
        # LAB_WARM_KERNELS=0 in the environment spawns every kernel instead (labkit/warm.py).
        cmd = [self.s.docker, "run", "--rm", "--no-healthcheck", "-e", "LAB_WARM_KERNELS"]
        if gpus:
            cmd += ["--gpus", gpus]
        cmd += [
            "-v",
            f"{ROOT}:/repo",
            "-v",
            f"{out_dir}:/out",
            "-w",
            "/repo",
            self.s.image,
            "run-notebooks",
            *targets,
            *(params if params is not None else engine.words(self.s.get("PARAMS"))),
            "--timeout",
            self.s.get("TIMEOUT", "600"),
            "--output-dir",
            "/out",
        ]
        return subprocess.run(cmd).returncode

    def test(self) -> int:
        """The suite inside the image (labkit, lessons, runner), then the image and lab tests from the host."""
        self.check_variant()
        self.need_docker()
        self.build()
        say(f"running the lessons and the runner's tests inside {self.s.image}")
        extra = engine.words(self.s.get("PYTEST_ARGS"))
        jobs = self.s.get("LAB_TEST_JOBS", "auto")
        # tests/ is mounted, never baked in: the image holds only what students and the runner use.
        proc = subprocess.run(
            [
                self.s.docker,
                "run",
                "--rm",
                "--no-healthcheck",
                "-e",
                "PYTHONDONTWRITEBYTECODE=1",
                "-e",
                "LAB_WARM_KERNELS",
                "-v",
                f"{ROOT / 'tests'}:/opt/lab/tests:ro",
                "-v",
                f"{ROOT / 'pyproject.toml'}:/opt/lab/pyproject.toml:ro",
                "-w",
                "/opt/lab",
                self.s.image,
                "python",
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "-n",
                jobs,
                "tests",
                "notebooks",
                "--ignore=tests/host",
                "--ignore=tests/classroom",
                *extra,
            ]
        )
        # pytest's 5 is "no test collected": a PYTEST_ARGS selection (-k 09_linear) may leave one side empty.
        no_tests = 5
        if proc.returncode not in (0, no_tests) or (proc.returncode == no_tests and not extra):
            return proc.returncode
        say("testing the image and the lab from the host")
        python = self.host_venv()
        env = {**self.s.env, "LAB_IMAGE": self.s.image, "REQUIRE_DOCKER": "1"}
        host = subprocess.run(
            [str(python), "-m", "pytest", "-p", "no:cacheprovider", "tests/host", *extra], cwd=ROOT, env=env
        ).returncode
        if extra and {proc.returncode, host} == {no_tests}:
            raise Failure(f"no test matched PYTEST_ARGS={self.s.get('PYTEST_ARGS')!r}")
        return 0 if extra and host == no_tests else host

    def test_gpu(self) -> int:
        self.s.env["VARIANT"] = "cuda"
        if self.s.image.endswith(":cpu"):
            self.s.env["IMAGE"] = self.s.image[: -len(":cpu")] + ":cuda"
        self.need_docker()
        self.need_gpu()
        self.build()
        params = [
            "--profile",
            "full",
            "-p",
            "device",
            "cuda",
            "-p",
            "solutions",
            "True",
            *engine.words(self.s.get("PARAMS")),
        ]
        return self.run_notebooks(
            ["notebooks/zh", "notebooks/en"], params, self.s.get("OUT", "build/test-gpu"), gpus="all"
        )

    # ---- doctor, lint, tools ---------------------------------------------------------------

    def doctor(self) -> int:
        """One line per check, a fix for each failure; non-zero exit if any failed."""
        self.check_variant()
        checks = [
            ("docker", self.check_docker_client),
            ("engine", self.check_docker_engine),
            ("buildkit", self.check_buildkit),
            ("platform", self.check_platform),
            ("compose", self.check_compose),
            ("disk", self.check_disk),
            ("port", self.check_port),
        ]
        if self.s.variant == "cuda":
            checks += [("nvidia driver", self.check_nvidia_driver), ("nvidia runtime", self.check_nvidia_runtime)]
        failed = False
        for name, check in checks:
            try:
                print(f"ok    {name:<15} {check()}", flush=True)
            except Failure as problem:
                print(f"FAIL  {name:<15} {problem}", flush=True)
                failed = True
        return 1 if failed else 0

    def host_venv(self) -> Path:
        """build/venv with the host's test and lint tools (tests/requirements-host.lock)."""
        python = HOST_VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        stamp = HOST_VENV / ".lock"
        if not python.exists() or not stamp.exists() or stamp.read_bytes() != HOST_LOCK.read_bytes():
            say("installing the host test tools into build/venv")
            subprocess.run([sys.executable, "-m", "venv", str(HOST_VENV)], check=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "--require-hashes", "-r", str(HOST_LOCK)], check=True
            )
            # labkit itself, for its host helpers (labkit.engine); its notebook dependencies stay out.
            subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT)], check=True)
            shutil.copyfile(HOST_LOCK, stamp)
        return python

    def lint(self) -> int:
        python = self.host_venv()
        tools = python.parent
        shell_scripts = sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*.sh") if "build" not in p.parts) + [
            ".ci/run"
        ]
        python_files = ["scripts", "tests"]
        steps = [
            [str(tools / "hadolint"), "docker/Dockerfile", "classroom/Dockerfile"],
            [str(tools / "shellcheck"), *shell_scripts],
            [str(tools / "ruff"), "check", *python_files],
            [str(tools / "ruff"), "format", "--check", *python_files],
            # The host commands run on the Python that macOS ships (3.9): nothing newer may creep in.
            [
                str(tools / "vermin"),
                "--no-tips",
                "--violations",
                "--target=3.9-",
                "--eval-annotations",
                "scripts/labkit/host.py",
                "scripts/labkit/engine.py",
                "scripts/labkit/classroom.py",
                "scripts/labkit/lesson_build.py",
                "scripts/lab.py",
            ],
        ]
        failed = 0
        for step in steps:
            proc = subprocess.run(step, cwd=ROOT)
            name = Path(step[0]).name + (" " + step[1] if Path(step[0]).name == "ruff" else "")
            if proc.returncode != 0:
                print(f"lint: {name} found problems (above)", file=sys.stderr)
                failed = 1
            else:
                say(f"{name}: clean")
        return failed

    def lessons(self, check: bool) -> int:
        from . import lesson_build

        return lesson_build.main(["--check"] if check else [])

    def bench(self, args: list[str]) -> int:
        self.need_docker()
        from . import bench

        return bench.main(args)


def has_desktop() -> bool:
    """Where opening a browser shows one: macOS, Windows, or a Linux desktop session."""
    system = platform.system()
    return system in ("Darwin", "Windows") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


COMMANDS = (
    "build",
    "up",
    "down",
    "logs",
    "shell",
    "run",
    "test",
    "test-gpu",
    "reset-lesson",
    "doctor",
    "bench",
    "lint",
    "lessons",
    "host-venv",
    "classroom-up",
    "classroom-down",
    "classroom-status",
    "test-classroom",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab", description="The lab's host commands (make help describes each).")
    parser.add_argument("command", choices=COMMANDS, metavar="COMMAND", help=", ".join(COMMANDS))
    parser.add_argument(
        "args", nargs=argparse.REMAINDER, help="the command's arguments (reset-lesson N; lessons --check)"
    )
    args = parser.parse_args(argv)
    lab = Lab()
    try:
        if args.command == "reset-lesson":
            lab.reset_lesson(args.args[0] if args.args else lab.s.get("N"))
            return 0
        if args.command.startswith("classroom-") or args.command == "test-classroom":
            from . import classroom

            return classroom.run(args.command)
        if args.command in ("build", "up", "down", "logs", "shell"):
            getattr(lab, args.command)()
            return 0
        actions = {
            "run": lambda: lab.run_notebooks(),
            "test": lab.test,
            "test-gpu": lab.test_gpu,
            "doctor": lab.doctor,
            "lint": lab.lint,
            "lessons": lambda: lab.lessons("--check" in args.args),
            "bench": lambda: lab.bench(args.args or engine.words(lab.s.get("BENCH_ARGS"))),
            "host-venv": lambda: print(lab.host_venv()) or 0,
        }
        return actions[args.command]()
    except Failure as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
