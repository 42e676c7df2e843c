"""The classroom's commands: one JupyterHub on this machine, a container of the lab's image per student.

    make classroom-up [HUB_PORT=8000]   build what is missing, start the hub, wait until it answers, print its URL
    make classroom-down                 stop the hub and every student's container; every student's volume stays
    make classroom-status               the hub, the students, their servers (on which image) and their volumes
    make classroom-progress [N]         every student's exercises of lesson N, judged in a sandbox (progress.py)
    make classroom-collect [N] [DEST=…] every student's work, copied out read-only (classroom_collect.py)
    make test-classroom                 tests/classroom, with the host's test tools (build/venv)

The hub's image, config and Compose file are in classroom/.
"""

from __future__ import annotations

import string

from .. import contract
from .checks import Checks
from .classroom_collect import Collection
from .docker import Compose, Docker
from .image import Image, build_labelled, files_hash
from .net import http_status, port_in_use
from .progress import ClassProgress, lesson_number
from .rest import Rest
from .settings import ROOT, Failure, Settings, port_busy, say
from .tokens import ensure_token
from .tools import pytest

FOLDER = ROOT / "classroom"
HUB_INPUTS = (
    "Dockerfile",
    "requirements.lock",
    "jupyterhub_config.py",
    "proxy/package.json",
    "proxy/package-lock.json",
)


def docker_safe(name: str) -> str:
    """A hub user's name as DockerSpawner writes it into container and volume names (its default escape:
    lowercase letters and digits kept, every other byte as -XX)."""
    safe = set(string.ascii_lowercase + string.digits)
    return "".join(c if c in safe else "".join(f"-{b:02X}" for b in c.encode()) for c in name).lower()


class ClassroomCommands:
    """The classroom's commands, over the lab's settings and its image."""

    def __init__(self, settings: Settings | None = None):
        self.s = settings or Settings()
        self.docker = Docker(self.s)
        self.checks = Checks(self.s)

    @property
    def project(self) -> str:
        return self.s.classroom_project

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.s.hub_port}/hub/"

    def hub_inputs_hash(self) -> str:
        digest = files_hash(FOLDER, HUB_INPUTS)
        digest.update(self.s.get("BASE_IMAGE").encode())
        return digest.hexdigest()[:16]

    def build_hub(self) -> None:
        base = {"BASE_IMAGE": self.s.get("BASE_IMAGE")} if self.s.get("BASE_IMAGE") else {}
        build_labelled(self.s, "classroom/Dockerfile", self.s.hub_image, "classroom", self.hub_inputs_hash(), base)

    def compose(self) -> Compose:
        variables = {
            "HUB_PORT": str(self.s.hub_port),
            "CLASSROOM_PROJECT": self.project,
            "CLASSROOM_HUB_IMAGE": self.s.hub_image,
            "CLASSROOM_LAB_IMAGE": self.s.image,
            "CLASSROOM_ADMIN_TOKEN_FILE": str(self.s.admin_token_file),
            "LAB_LANG": self.s.lang,
        }
        return Compose(self.s, FOLDER / "compose.yaml", self.project, variables)

    def hub_container(self) -> str:
        return self.docker.compose_container(self.project, "hub")

    def hub_state(self) -> str:
        cid = self.hub_container()
        return (self.docker.answer("inspect", "--format", "{{.State.Status}}", cid) if cid else None) or "absent"

    def student_containers(self) -> list[str]:
        return self.docker.containers(f"{contract.CLASSROOM_LABEL}={self.project}")

    def student_volumes(self) -> list[str]:
        prefix = f"{self.project}-work-"
        out = self.docker.answer_all("volume", "ls", "-q", "--filter", f"name={prefix}")
        return sorted(v for v in out.split() if v.startswith(prefix))

    def users(self) -> list[dict]:
        """The hub's users, from its API; [] when the hub is not running."""
        if self.hub_state() != "running":
            return []
        try:
            return self.api().call("GET", "users")
        except (OSError, ValueError) as problem:
            raise Failure(f"the hub's API did not answer ({problem}); see make classroom-status") from None

    def roster(self) -> dict[str, str | None]:
        """Every student: the hub's users but the teachers, and every volume of work, even one whose student the
        hub no longer knows; each with their volume's name, or None before their first server."""
        volumes = set(self.student_volumes())
        prefix = f"{self.project}-work-"
        found: dict[str, str | None] = {}
        for user in self.users():
            if not user.get("admin"):
                volume = f"{prefix}{docker_safe(user['name'])}"
                found[user["name"]] = volume if volume in volumes else None
        for volume in volumes - set(found.values()):
            found[volume[len(prefix) :]] = volume
        return found

    def students(self) -> dict[str, str | None]:
        """The roster, refused in one line when nobody is in it yet."""
        found = self.roster()
        if not found:
            raise Failure(
                "this classroom has no students yet: nobody has signed up or started a server "
                "(make classroom-status lists them)"
            )
        return found

    def image_id(self) -> str:
        return self.docker.image_id(self.s.image) or ""

    def need_image(self) -> None:
        if not self.image_id():
            raise Failure(f"the lab's image {self.s.image} is not here; make build (or make classroom-up) first")

    def api(self) -> Rest:
        """The hub's REST API with the teacher's token."""
        token = ensure_token(self.s.admin_token_file)
        return Rest(f"http://127.0.0.1:{self.s.hub_port}/hub/api", token, timeout=10)

    # ---- the commands --------------------------------------------------------------------------

    def up(self) -> str:
        self.s.variant  # noqa: B018  (bad knobs fail here, before anything is built)
        self.s.lang  # noqa: B018
        self.s.classroom_mem_limit, self.s.classroom_cpu_limit, self.s.classroom_pids_limit  # noqa: B018
        self.checks.need_docker()
        port = self.s.hub_port
        if self.hub_state() != "running" and port_in_use(port):
            raise port_busy(port, "classroom-up", "HUB_PORT")
        compose = self.compose()
        compose.command()
        Image(self.s).build()
        self.build_hub()
        ensure_token(self.s.admin_token_file)
        if compose("up", "-d", "hub").returncode != 0:
            raise Failure("docker compose could not start the hub (see above)")
        self.docker.wait_serving(
            self.hub_container(),
            lambda: http_status(port, "/hub/health") == 200,
            self.s.wait_seconds,
            "the hub",
            lambda: compose("logs", "--tail", "30", "hub"),
            "see make classroom-status; make classroom-down, then retry",
        )
        say(
            f"classroom ready: students sign up and log in at the URL below; the teacher signs up as "
            f"'{self.s.teacher}' first and approves students at {self.url}authorize; admin API token in "
            f"{self.s.admin_token_file}"
        )
        print(self.url, flush=True)
        return self.url

    def down(self) -> None:
        self.checks.need_docker()
        students = self.student_containers()
        if students:
            say(f"stopping {len(students)} student server(s); their volumes stay")
            self.docker("rm", "-f", *students, check=False)
        # No -v: the hub's database and every student's work outlive this.
        if self.compose()("down").returncode != 0:
            raise Failure("docker compose could not stop the hub (see above)")

    def status(self) -> int:
        self.checks.need_docker()
        state = self.hub_state()
        print(f"hub        {state}" + (f" at {self.url}" if state == "running" else ""))
        users: list[dict] = []
        if state == "running":
            try:
                users = self.api().call("GET", "users")
            except (OSError, ValueError) as problem:
                print(f"           the hub's API did not answer: {problem}")
        servers = {}
        for user in users:
            server = (user.get("servers") or {}).get("")
            servers[user["name"]] = (
                "no server"
                if not server
                else ("ready" if server.get("ready") else (server.get("pending") or "starting"))
            )
        volumes = {v[len(f"{self.project}-work-") :]: v for v in self.student_volumes()}
        images = self.server_images()
        names = sorted(set(servers) | set(volumes))
        print(f"students   {len(names)}")
        for name in names:
            admin = next((u.get("admin") for u in users if u["name"] == name), False)
            line = (
                f"  {name:<20} {'teacher' if admin else 'student':<8} {servers.get(name, '-'):<10} "
                f"{volumes.get(docker_safe(name), volumes.get(name, '(no volume)'))}"
            )
            print(f"{line}  {images[docker_safe(name)]}" if docker_safe(name) in images else line)
        return 0

    def server_images(self) -> dict[str, str]:
        """For each running student container (by its name's user part): whether it runs the image the tag
        names now, or one from before the teacher rebuilt it (it gets the new one at its next start)."""
        current = self.image_id()
        found = {}
        for cid in self.student_containers():
            line = self.docker.answer("inspect", "--format", "{{.Name}} {{.Image}}", cid) or ""
            name, _, image = line.lstrip("/").partition(" ")
            user = name[len(f"{self.project}-") :]
            if image and image == current:
                found[user] = "current image"
            elif image:
                found[user] = f"older image {image[7:19]}: restart the server to update it"
        return found

    def progress(self, number: str | None) -> int:
        lesson = lesson_number(number)
        self.checks.need_docker()
        self.need_image()
        return ClassProgress(self.s, self.project, self.students()).run(lesson)

    def collect(self, number: str | None) -> int:
        lesson = lesson_number(number)
        self.checks.need_docker()
        self.need_image()
        return Collection(self.s, self.project, self.students()).run(lesson)

    def test(self) -> int:
        self.checks.need_docker()
        return pytest(self.s, "tests/classroom", {"LAB_IMAGE": self.s.image, "REQUIRE_DOCKER": "1"})
