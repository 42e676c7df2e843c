"""The lab's start, in its container (docker/start-lab.sh runs it): the lessons brought up to date by the
course's rule, the student's packages set up, JupyterLab's language chosen, then the server started: JupyterLab
alone (make up), or the hub's single-user server when a hub started this container (it passes
JUPYTERHUB_API_TOKEN). Every line it writes for the student starts with "start-lab:"; `make up` repeats them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from . import contract, course, packages

LOCALES = {"zh": "zh_CN", "en": "en"}  # JupyterLab's menus (the zh-CN language pack is installed)


def fail(line: str, code: int) -> int:
    course.say(line)
    return code


def main(argv: list[str]) -> int:
    work = Path(contract.WORKSPACE)
    lang = os.environ.get("LAB_LANG") or contract.DEFAULT_LANG
    if lang not in contract.LANGUAGES:
        return fail(f"LAB_LANG must be zh or en, not '{lang}'", 2)
    if not os.access(work, os.W_OK):
        return fail(
            f"{work} is not writable by uid {os.getuid()}; give the workspace folder to that user (chown), "
            "or start the lab with make up, which runs it as you",
            1,
        )
    lessons = Path(os.environ.get(contract.LESSONS_ENV) or contract.LESSONS_DIR)
    course.Workspace(work, lessons).update(lang)
    settings = Path(os.environ["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / "translation-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"locale": LOCALES[lang]}) + "\n")
    python = packages.prepare(work)
    env = packages.environment(python)
    program = str(python or sys.executable)
    if os.environ.get("JUPYTERHUB_API_TOKEN"):
        # The hub says where to listen (JUPYTERHUB_SERVICE_URL) and signs students in; requests come through
        # its proxy under the hub's own host name, so the server must not insist on a local one.
        command = [program, "-m", "jupyterhub.singleuser", "--ServerApp.allow_remote_access=True", *argv]
    else:
        command = [program, "-m", "jupyterlab", f"--port={os.environ.get('LAB_PORT') or contract.LAB_PORT}", *argv]
    os.execve(program, command, env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
