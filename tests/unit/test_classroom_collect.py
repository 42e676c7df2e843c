"""classroom-collect without Docker: what a tar stream from a student's volume may put on the teacher's disk
(regular files and folders under the student's folder, nothing else), and where it goes."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from labkit.host.classroom_collect import Collection, safe_parts, tar_command, unpack
from labkit.host.settings import Failure, Settings


def stream(*members: tuple[str, bytes | str | None]) -> io.BytesIO:
    """A tar stream: (name, bytes) a file, (name, None) a folder, (name, "->target") a symbolic link."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if data is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data[2:]
                archive.addfile(info)
            else:
                info.size, info.mode = len(data), 0o4755
                archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def test_regular_files_are_copied_with_their_hash_and_nothing_else_lands(tmp_path):
    folder = tmp_path / "ana"
    taken, left_out = unpack(
        stream(
            (".", None),
            ("./09_linear_regression.ipynb", b"{}"),
            ("./data", None),
            ("./data/points.csv", b"1,2\n"),
            ("./escape", "->/etc"),
            ("./escape/passwd", b"x"),
            ("../outside.txt", b"x"),
            ("/etc/cron.d/job", b"x"),
        ),
        folder,
    )
    assert [f["path"] for f in taken] == ["09_linear_regression.ipynb", "data/points.csv", "escape/passwd"]
    assert taken[1]["sha256"] == hashlib.sha256(b"1,2\n").hexdigest() and taken[1]["bytes"] == 4
    assert taken[1]["modified"] == "2023-11-14T22:13:20Z"
    assert left_out == [
        "escape (a link or special file: not copied)",
        "../outside.txt (outside the workspace)",
        "/etc/cron.d/job (outside the workspace)",
    ]
    assert not (folder / "escape").is_symlink() and (folder / "escape" / "passwd").read_bytes() == b"x"
    assert not (tmp_path / "outside.txt").exists()
    assert (folder / "data" / "points.csv").stat().st_mode & 0o7777 == 0o755  # no setuid bit comes along


def test_a_path_is_kept_only_inside_the_students_folder():
    assert safe_parts("./a/b.ipynb") == ("a", "b.ipynb")
    assert safe_parts("a/../../b") is None and safe_parts("/abs") is None and safe_parts("c:\\x") is None


def test_the_container_packs_the_workspace_without_the_packages_or_only_one_lessons_notebooks():
    assert tar_command(None) == ["tar", "-C", "/home/student/work", "--exclude=./.lab/packages", "-cf", "-", "."]
    assert "-name '09_*.ipynb'" in tar_command("09")[-1]


def test_a_destination_that_already_holds_files_is_refused(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "x").write_text("")
    collection = Collection(Settings({"DEST": str(tmp_path / "old")}), "room", {})
    with pytest.raises(Failure) as refused:
        collection.destination()
    assert str(refused.value) == (
        f"DEST={tmp_path / 'old'} is not an empty folder; name a new or empty one, or leave DEST out"
    )
    fresh = Collection(Settings({"CLASSROOM_OUT": str(tmp_path / "out")}), "room", {}).destination()
    assert fresh.parent == tmp_path / "out" and fresh.name.startswith("collect-")
