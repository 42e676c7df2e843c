"""make classroom-collect [N] [DEST=…]: a copy of every student's work (or of lesson N's notebooks, their
backups included) in a folder per student under DEST, and DEST/manifest.json: what was taken, from which
volume, when, each file's size and sha256, and what was left out.

Each volume is read by a throw-away container (no network, a read-only root and the volume mounted
read-only: nothing a student owns can change) that writes a tar stream; this side unpacks regular files and
folders only, under the student's folder, so a link or a name that climbs out of it is listed as left out,
never followed. The packages a student installed (.lab/packages) are not their work and stay behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tarfile
import tempfile
import threading
import time
import uuid
from pathlib import Path, PurePosixPath

from .. import contract
from .progress import LABEL, RosterRun, sandbox
from .settings import Failure, say

PER_STUDENT = 600  # seconds one student's copy may take before its container is stopped
LEFT_BEHIND = f"./{contract.PACKAGES}"


def tar_command(number: str | None) -> list[str]:
    """What the container runs: a tar stream of the workspace, or of lesson N's notebooks at its top."""
    if number is None:
        return ["tar", "-C", contract.WORKSPACE, f"--exclude={LEFT_BEHIND}", "-cf", "-", "."]
    pick = f"find . -maxdepth 1 -type f -name '{number}_*.ipynb' -print0 | tar --null -T - -cf -"
    return ["sh", "-c", f"cd {contract.WORKSPACE} && {pick}"]


def safe_parts(name: str) -> tuple[str, ...] | None:
    """A member's path as parts under the student's folder, or None when it would land outside it."""
    path = PurePosixPath(name)
    parts = tuple(p for p in path.parts if p not in ("", "."))
    if path.is_absolute() or ".." in parts or any("\\" in p or ":" in p for p in parts):
        return None
    return parts


def unpack(stream, folder: Path) -> tuple[list[dict], list[str]]:
    """Regular files and folders of a tar stream into folder; (files taken, entries left out)."""
    taken, left_out = [], []
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            parts = safe_parts(member.name)
            if not parts:
                if member.name not in (".", "./"):
                    left_out.append(f"{member.name} (outside the workspace)")
                continue
            shown = "/".join(parts)
            if member.isdir():
                folder.joinpath(*parts).mkdir(parents=True, exist_ok=True)
                continue
            if not member.isfile():
                left_out.append(f"{shown} (a link or special file: not copied)")
                continue
            target = folder.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            source = archive.extractfile(member)
            with open(target, "wb") as out:
                block = source.read(1 << 20)
                while block:
                    digest.update(block)
                    out.write(block)
                    block = source.read(1 << 20)
            os.chmod(target, 0o755 if member.mode & 0o111 else 0o644)
            os.utime(target, (member.mtime, member.mtime))
            modified = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(member.mtime))
            taken.append({"path": shown, "bytes": member.size, "sha256": digest.hexdigest(), "modified": modified})
    return sorted(taken, key=lambda f: f["path"]), left_out


class Collection(RosterRun):
    """make classroom-collect: each student's volume copied, read-only, into a folder of their own."""

    def destination(self) -> Path:
        given = self.s.get("DEST")
        dest = Path(given).resolve() if given else self.s.classroom_output / time.strftime("collect-%Y%m%d-%H%M%S")
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise Failure(f"DEST={dest} is not an empty folder; name a new or empty one, or leave DEST out")
        return dest

    def copy(self, volume: str, folder: Path, number: str | None) -> dict:
        """One volume's files into folder, read by a container that can read but never change them."""
        name = f"{self.project}-collect-{uuid.uuid4().hex[:10]}"
        # root without capabilities but the one to read every file, whatever its mode; the volume is read-only.
        options = (*sandbox(self.s), "--cap-add=DAC_READ_SEARCH", "--name", name, "--label", f"{LABEL}={self.project}")
        tar = tar_command(number)
        cmd = self.docker.run_args(
            self.s.image,
            *tar[1:],
            volumes=(f"{volume}:{contract.WORKSPACE}:ro",),
            user="0:0",
            entrypoint=tar[0],
            options=options,
        )
        folder.mkdir(parents=True)
        with tempfile.TemporaryFile() as complaints:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=complaints, env=self.docker.env)
            watchdog = threading.Timer(PER_STUDENT, lambda: self.docker("rm", "-f", name, check=False))
            watchdog.start()
            try:
                taken, left_out = unpack(proc.stdout, folder)
                error = ""
            except (tarfile.TarError, OSError) as problem:
                taken, left_out, error = [], [], f"the copy failed: {problem}"
            finally:
                watchdog.cancel()
                proc.stdout.close()
                code = proc.wait()
                complaints.seek(0)
                complaint = complaints.read().decode("utf-8", "replace").strip()
        if code not in (0, 1) and not error:  # tar's 1: a file changed while it was read
            error = f"the copy failed (exit status {code}): {complaint.splitlines()[-1] if complaint else 'no message'}"
        return {"volume": volume, "files": taken, "left_out": left_out, "error": error}

    def run(self, number: str | None) -> int:
        dest = self.destination()
        dest.mkdir(parents=True, exist_ok=True)
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        manifest = {
            "collected_at": started,
            "classroom": self.project,
            "what": f"lesson {number}'s notebooks" if number else "every file but the student's packages",
            "left_behind": [] if number else [contract.PACKAGES],
            "students": {},
        }
        failed = 0
        for student, volume in sorted(self.roster.items()):
            if volume is None:
                manifest["students"][student] = {"volume": None, "files": [], "left_out": [], "error": "no volume yet"}
                continue
            entry = self.copy(volume, dest / student, number)
            manifest["students"][student] = entry
            failed += bool(entry["error"])
            size = sum(f["bytes"] for f in entry["files"])
            say(f"collect: {student}: {len(entry['files'])} file(s), {size / 1e6:.1f} MB {entry['error']}".rstrip())
        manifest["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        (dest / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", "utf-8")
        print(dest, flush=True)
        if failed:
            raise Failure(f"{failed} student(s) could not be copied (see above and {dest / 'manifest.json'}); retry")
        return 0
