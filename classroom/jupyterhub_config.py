# The classroom's hub: one container of the lab's image per student (DockerSpawner), each with its
# own named volume for its work, memory and CPU limits, and an idle culler. Students sign up with a
# password (NativeAuthenticator); the teacher approves them at /hub/authorize, or lists them ahead
# in CLASSROOM_STUDENTS. Every setting a teacher may change is an environment variable that
# classroom/compose.yaml passes (`make classroom-up` sets them; classroom/README.md lists them).
import os
import sys
from pathlib import Path

import nativeauthenticator

c = get_config()  # noqa: F821
env = os.environ.get

project = env("CLASSROOM_PROJECT", "pytorch-lab-classroom")
data = Path(env("CLASSROOM_DATA", "/srv/jupyterhub"))

# ---- the hub and its proxy -------------------------------------------------------------------
# Inside the hub's container; compose publishes port 8000 on 127.0.0.1 unless HUB_BIND says otherwise.
c.JupyterHub.bind_url = "http://0.0.0.0:8000"
# Student servers reach the hub's API by the hub's name on the classroom's network.
c.JupyterHub.hub_bind_url = "http://0.0.0.0:8081"
c.JupyterHub.hub_connect_url = f"http://{env('CLASSROOM_HUB_HOST', 'hub')}:8081"
c.JupyterHub.db_url = f"sqlite:///{data / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(data / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(data / "proxy.pid")
# A hub that restarts leaves the students' servers running; make classroom-down removes them itself.
c.JupyterHub.cleanup_servers = False

# ---- who may sign in --------------------------------------------------------------------------
c.JupyterHub.authenticator_class = "native"
# Its login page carries the link to sign up.
c.JupyterHub.template_paths = [str(Path(nativeauthenticator.__file__).parent / "templates")]
teacher = env("CLASSROOM_TEACHER", "teacher")
c.Authenticator.admin_users = {teacher}
# Students named here are approved as they sign up; anyone else waits for the teacher's approval.
c.Authenticator.allowed_users = set(env("CLASSROOM_STUDENTS", "").replace(",", " ").split())
# NativeAuthenticator's own approval is the gate, so JupyterHub lets every approved user in.
c.Authenticator.allow_all = True
c.NativeAuthenticator.open_signup = env("CLASSROOM_OPEN_SIGNUP", "0") == "1"
c.NativeAuthenticator.minimum_password_length = 8
c.NativeAuthenticator.check_common_password = True
# Five wrong passwords in a row lock an account for ten minutes.
c.NativeAuthenticator.allowed_failed_logins = 5
c.NativeAuthenticator.seconds_before_next_try = 600

# ---- the students' servers --------------------------------------------------------------------
c.JupyterHub.spawner_class = "docker"
c.DockerSpawner.image = env("CLASSROOM_LAB_IMAGE", "pytorch-lab:cpu")
c.DockerSpawner.pull_policy = env("CLASSROOM_PULL_POLICY", "ifnotpresent")
c.DockerSpawner.network_name = env("CLASSROOM_NETWORK", project)
c.DockerSpawner.use_internal_ip = True
c.DockerSpawner.name_template = f"{project}-{{username}}"
# The container is thrown away when the server stops; the student's work stays in their volume.
c.DockerSpawner.remove = True
workspace = "/home/student/work"
c.DockerSpawner.volumes = {f"{project}-work-{{username}}": workspace}
c.DockerSpawner.notebook_dir = workspace
c.DockerSpawner.extra_create_kwargs = {"labels": {"pytorch-lab.classroom": project}}
# What every student's server holds to: one student cannot take the machine, or another student, down.
mem_limit = env("CLASSROOM_MEM_LIMIT", "1G")
c.DockerSpawner.mem_limit = mem_limit
c.DockerSpawner.cpu_limit = float(env("CLASSROOM_CPU_LIMIT", "1.0"))
c.DockerSpawner.extra_host_config = {
    # No swap beyond the limit: a kernel that outgrows it is stopped, not the whole host slowed down.
    "memswap_limit": mem_limit,
    # Processes and threads: a fork bomb fills its own container's table, not the host's.
    "pids_limit": int(env("CLASSROOM_PIDS_LIMIT", "1024")),
    # The lab runs as an unprivileged user and needs no capability; nothing in it may gain one (setuid).
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    # The image cannot be changed from inside; what the lab writes beside the student's volume lives in
    # memory (counted in the student's memory limit) and goes with the container.
    "read_only": True,
    "tmpfs": {
        "/tmp": "rw,exec,nosuid,nodev,size=512m,mode=1777",
        str(Path(workspace).parent): "rw,exec,nosuid,nodev,size=256m,mode=1777",  # HOME; the volume is mounted in it
    },
}
c.DockerSpawner.environment = {
    "LAB_LANG": env("LAB_LANG", "zh"),
    # The image's matplotlib folder is read-only here: its settings (the CJK font) are read from it, its
    # cache is written to /tmp.
    "MATPLOTLIBRC": "/opt/matplotlib/matplotlibrc",
    "MPLCONFIGDIR": "/tmp/matplotlib",
    # pip's cache would sit in memory; what a student installs goes to their volume anyway.
    "PIP_NO_CACHE_DIR": "1",
    # When each server starts its warm-kernel template (labkit/warm): 1 with the server, lazy with the first
    # kernel, 0 never (classroom/README.md: what 30 students asking at once measured).
    "LAB_WARM_KERNELS": env("CLASSROOM_WARM_KERNELS", "lazy"),
}
c.Spawner.default_url = "/lab"
# Bounded waits: a server that cannot start is reported in a minute, not two.
c.Spawner.start_timeout = int(env("CLASSROOM_START_TIMEOUT", "90"))
c.Spawner.http_timeout = int(env("CLASSROOM_HTTP_TIMEOUT", "60"))

# ---- the teacher's API token and the idle culler ---------------------------------------------
services = []
roles = []
token_file = Path(env("CLASSROOM_ADMIN_TOKEN_FILE", "/run/secrets/hub_admin_token"))
if token_file.is_file() and token_file.read_text().strip():
    services.append({"name": "teacher", "api_token": token_file.read_text().strip()})
    roles.append({"name": "admin", "services": ["teacher"]})
idle_timeout = int(env("CLASSROOM_IDLE_TIMEOUT", "3600"))
if idle_timeout > 0:
    services.append(
        {
            "name": "idle-culler",
            "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={idle_timeout}"],
        }
    )
    roles.append(
        {
            "name": "idle-culler",
            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
            "services": ["idle-culler"],
        }
    )
c.JupyterHub.services = services
c.JupyterHub.load_roles = roles
