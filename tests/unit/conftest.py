"""Fixtures of the fast tests: the host commands run in this process, over an environment of the test's
own, against a stand-in for the `docker` command-line tool where a command would ask Docker something.

The stand-in answers only what the test says it answers (a prefix of the arguments -> output and exit
status), and logs every call; anything else fails as a missing feature of the engine would. The real
engine and Compose are exercised in tests/host."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from labkit.host import cli

STAND_IN = """#!{python}
import json, sys
from pathlib import Path

here = Path(__file__).resolve().parent
args = sys.argv[1:]
with open(here / "calls.log", "a") as log:
    log.write(json.dumps(args) + "\\n")
best = None  # the answer to the longest prefix of args
for key, answer in json.loads((here / "answers.json").read_text()).items():
    prefix = key.split("\\x1f")
    if args[: len(prefix)] == prefix and (best is None or len(prefix) > best[0]):
        best = (len(prefix), answer)
if best is None:
    print("stand-in: no answer for", args, file=sys.stderr)
    sys.exit(1)
out, code = best[1]
print(out, end="")
sys.exit(code)
"""

# What an ordinary engine answers to the questions every command asks first.
ENGINE = {
    ("--version",): ("Docker version 28.2.2, build e6534b4\n", 0),
    ("info", "--format", "{{.ServerVersion}}"): ("28.2.2\n", 0),
    ("info", "--format", "{{.OSType}}/{{.Architecture}}"): ("linux/x86_64\n", 0),
    ("buildx", "version"): ("github.com/docker/buildx v0.13.1\n", 0),
    ("ps",): ("", 0),  # no container of the lab or the hub exists
    ("compose", "version"): ("Docker Compose version v2.26.1\n", 0),
}


@dataclass
class StandIn:
    folder: Path

    def program(self, name: str, answers: dict) -> Path:
        """A program called name in the stand-in folder that answers as told."""
        home = self.folder / name
        home.mkdir(exist_ok=True)
        (home / "answers.json").write_text(json.dumps({"\x1f".join(k): v for k, v in answers.items()}))
        path = home / name
        path.write_text(STAND_IN.format(python=sys.executable))
        path.chmod(0o755)
        link = self.folder / "bin" / name
        link.parent.mkdir(exist_ok=True)
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(path)
        return link

    def calls(self, name: str) -> list[list[str]]:
        log = self.folder / name / "calls.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def stand_in(tmp_path, monkeypatch) -> StandIn:
    """A folder of stand-in programs, first (and alone, but for the shell's basics) on PATH."""
    helper = StandIn(tmp_path / "stand-in")
    (helper.folder / "bin").mkdir(parents=True)
    monkeypatch.setenv("PATH", f"{helper.folder / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin")
    return helper


@pytest.fixture
def engine(stand_in, monkeypatch) -> StandIn:
    """A stand-in `docker` that answers as a running engine does, named by DOCKER."""
    monkeypatch.setenv("DOCKER", str(stand_in.program("docker", ENGINE)))
    return stand_in


@pytest.fixture
def host(monkeypatch, capfd, tmp_path):
    """Run a host command in this process with these knobs: (exit status, stdout, stderr)."""
    for knob in ("VARIANT", "IMAGE", "LAB_LANG", "LAB_PORT", "HUB_PORT", "COMPOSE", "NB", "N", "JUPYTER_TOKEN"):
        monkeypatch.delenv(knob, raising=False)
    monkeypatch.setenv("CI", "1")
    monkeypatch.setenv("LAB_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.setenv("LAB_TOKEN_FILE", str(tmp_path / "token"))
    monkeypatch.setenv("CLASSROOM_ADMIN_TOKEN_FILE", str(tmp_path / "admin-token"))

    def run(*args: str, **knobs: str) -> tuple[int, str, str]:
        for name, value in knobs.items():
            monkeypatch.setenv(name, value)
        capfd.readouterr()
        code = cli.main(list(args))
        out, err = capfd.readouterr()
        return code, out, err

    return run
