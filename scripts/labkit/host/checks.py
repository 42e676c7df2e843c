"""What the lab needs of this machine: each check returns what it found, or raises a Failure that says
what is wrong and what to do. `make doctor` runs them all; the commands run the ones they need first."""

from __future__ import annotations

import shutil
from pathlib import Path

from .. import contract
from .docker import Docker, answers, compose_command, compose_missing
from .net import port_in_use
from .reach import Reach
from .settings import ROOT, Failure, Settings, port_busy


class Checks:
    def __init__(self, settings: Settings):
        self.s = settings
        self.docker = Docker(settings)

    def docker_client(self) -> str:
        found = self.docker.answer("--version") if self.docker.installed() else None
        if found is None:
            raise Failure(
                f"Docker is not installed ('{self.docker.command}' not found); "
                "install Docker Engine (Linux) or Docker Desktop, then retry"
            )
        return found

    def docker_engine(self) -> str:
        version = self.docker.answer("info", "--format", "{{.ServerVersion}}")
        if not version:
            raise Failure(
                "the Docker engine is not running, or you may not use it; start it "
                "(sudo systemctl start docker, or open Docker Desktop) and check 'docker info'"
            )
        return f"engine {version} running"

    def buildkit(self) -> str:
        """The image is built with BuildKit (secrets, cache and bind mounts); a client of 23 or newer needs buildx."""
        buildx = self.docker.answer("buildx", "version")
        if buildx is not None:
            return f"BuildKit through {buildx}"
        version = self.docker.client_version()
        if version is not None and version < (23,):
            return f"client {'.'.join(map(str, version))} builds with BuildKit itself"
        shown = ".".join(map(str, version)) if version else "?"
        raise Failure(
            f"the Docker client {shown} has no buildx plugin, so it cannot build the lab's image; "
            "install buildx (package docker-buildx-plugin, or docker-buildx on Debian and Ubuntu; "
            "Docker Desktop ships it), then check 'docker buildx version'"
        )

    def platform(self) -> str:
        found = self.docker.platform() or "unknown"
        if self.s.variant == "cuda" and found != contract.CUDA_PLATFORM:
            raise Failure(
                f"the CUDA image is built for {contract.CUDA_PLATFORM} only, and this Docker engine is {found}; "
                "use VARIANT=cpu"
            )
        return f"images are built for {found}, natively"

    def compose(self) -> str:
        choice = self.s.compose_choice
        cmd = compose_command(self.docker, choice)
        if cmd is None:
            raise compose_missing(choice)
        version = answers([*cmd, "version", "--short"], env=self.s.env) or "?"
        return f"docker-compose (v1) {version}" if cmd == ["docker-compose"] else f"docker compose (v2) {version}"

    def nvidia_driver(self) -> str:
        minimum = self.s.min_driver
        if not shutil.which("nvidia-smi", path=self.s.env.get("PATH")):
            raise Failure(
                f"no NVIDIA driver on this host (nvidia-smi not found); the CUDA lab needs an NVIDIA GPU "
                f"with driver >= {minimum}; use VARIANT=cpu"
            )
        driver = answers(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], env=self.s.env)
        if not driver:
            raise Failure("nvidia-smi found no working GPU; check the driver with nvidia-smi, or use VARIANT=cpu")
        major = driver.split(".")[0]
        if not major.isdigit() or int(major) < minimum:
            raise Failure(
                f"NVIDIA driver {driver} is older than {minimum}, which torch's CUDA 13 build needs; "
                "update the driver, or build for an older CUDA (README)"
            )
        return f"NVIDIA driver {driver} (>= {minimum})"

    def nvidia_runtime(self) -> str:
        runtimes = self.docker.answer("info", "--format", "{{json .Runtimes}}") or ""
        if "nvidia" in runtimes:
            return "Docker has the NVIDIA runtime"
        raise Failure(
            "Docker has no NVIDIA runtime; install the NVIDIA Container Toolkit, run "
            "'sudo nvidia-ctk runtime configure --runtime=docker' and restart Docker"
        )

    def disk(self) -> str:
        need_gb = 5 if self.s.variant == "cpu" else 20
        folder = self.docker.answer("info", "--format", "{{.DockerRootDir}}") or ""
        if not folder or not Path(folder).is_dir():
            folder = str(ROOT)  # Docker Desktop keeps its disk in a VM: check here instead
        free_gb = int(shutil.disk_usage(folder).free / 2**30)
        if free_gb >= need_gb:
            return f"{free_gb} GB free in {folder} (the {self.s.variant} image needs about {need_gb} GB)"
        raise Failure(
            f"only {free_gb} GB free in {folder}; the {self.s.variant} image needs about {need_gb} GB: "
            "free some space (docker system prune)"
        )

    def port(self) -> str:
        port = self.s.lab_port
        if not port_in_use(port):
            return f"port {port} is free on 127.0.0.1"
        if self.docker.running(self.docker.compose_container(self.s.project, self.s.service)):
            return f"port {port} is used by this lab (running)"
        raise port_busy(port, "up", "LAB_PORT")

    def base_image(self) -> str:
        if self.docker.has_image(self.s.image):
            return f"not needed: {self.s.image} is here"
        return Reach(self.s).doctor_base()

    def indexes(self) -> str:
        if self.docker.has_image(self.s.image):
            return f"not needed: {self.s.image} is here"
        return Reach(self.s).doctor_indexes()

    # ---- what the commands need first ---------------------------------------------------------

    def need_docker(self) -> None:
        self.docker_client()
        self.docker_engine()

    def need_gpu(self) -> None:
        self.platform()
        self.nvidia_driver()
        self.nvidia_runtime()

    def need_builder(self) -> None:
        self.buildkit()
        self.platform()

    def doctor(self) -> int:
        """One line per check, a fix for each failure; exit status 1 if any failed."""
        self.s.variant  # noqa: B018  (a bad VARIANT is refused before anything is checked)
        checks = [
            ("docker", self.docker_client),
            ("engine", self.docker_engine),
            ("buildkit", self.buildkit),
            ("platform", self.platform),
            ("compose", self.compose),
            ("disk", self.disk),
            ("port", self.port),
            ("base image", self.base_image),
            ("indexes", self.indexes),
        ]
        if self.s.variant == "cuda":
            checks += [("nvidia driver", self.nvidia_driver), ("nvidia runtime", self.nvidia_runtime)]
        failed = False
        for name, check in checks:
            try:
                print(f"ok    {name:<15} {check()}", flush=True)
            except Failure as problem:
                print(f"FAIL  {name:<15} {problem}", flush=True)
                failed = True
        return 1 if failed else 0
