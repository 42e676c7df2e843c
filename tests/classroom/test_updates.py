"""The teacher rebuilds the image (a lesson fixed, another one changed): each student gets it at the next start
of their server, an edited lesson stays theirs, and make classroom-status says who still runs the old image.
Runs last: it moves the tests' tag of the lab's image to the rebuilt one (the hub fixture removes it)."""

from __future__ import annotations

import json

import pytest

from support import ROOT, docker

pytestmark = [pytest.mark.docker, pytest.mark.slow]
EDITED, UNTOUCHED = "01_course_overview.ipynb", "02_introduction_to_pytorch.ipynb"
MARK = "(fixed in the course's new version)"


def changed(lang: str, name: str) -> dict:
    lesson = json.loads((ROOT / "notebooks" / lang / name).read_text(encoding="utf-8"))
    first = next(c for c in lesson["cells"] if c["cell_type"] == "markdown")
    first["source"] = "".join(first["source"]) + f"\n\n{MARK}\n"
    return lesson


def rebuild(image: str, folder) -> str:
    """The image with two lessons changed, under the same tag, as a teacher's rebuild leaves it; its ID."""
    for lang in ("zh", "en"):
        (folder / lang).mkdir(parents=True)
        for name in (EDITED, UNTOUCHED):
            (folder / lang / name).write_text(json.dumps(changed(lang, name), ensure_ascii=False), encoding="utf-8")
    container = docker("create", image).stdout.strip()
    try:
        docker("cp", f"{folder}/.", f"{container}:/opt/lab/notebooks/")
        docker("commit", container, image)
    finally:
        docker("rm", "-f", container, check=False)
    return docker("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()


def status_line(hub, name: str) -> str:
    lines = [line for line in hub.command("classroom-status").stdout.splitlines() if line.split()[:1] == [name]]
    assert len(lines) == 1, lines
    return lines[0]


def test_a_rebuilt_image_reaches_a_student_at_their_next_start_and_keeps_their_edited_lesson(hub, students, tmp_path):
    hub.start_servers("alice")
    server = hub.server("alice", hub.user_token("alice"))
    mine = server.get(f"api/contents/{EDITED}").json()
    mine["content"]["cells"][0]["source"] = "# alice's own notes\n"
    saved = server.request(
        "PUT", f"api/contents/{EDITED}", {"type": "notebook", "format": "json", "content": mine["content"]}
    )
    assert saved.status == 200, saved.body[:300]
    assert "current image" in status_line(hub, "alice")

    new_id = rebuild(hub.lab_image, tmp_path / "lessons")
    assert "older image" in status_line(hub, "alice")  # still running what it started with
    assert MARK not in server.get(f"api/contents/{UNTOUCHED}").body.decode()

    hub.stop_server("alice")
    hub.start_servers("alice")
    container = hub.student_container("alice")
    assert docker("inspect", "--format", "{{.Image}}", container).stdout.strip() == new_id
    assert "current image" in status_line(hub, "alice")
    server = hub.server("alice", hub.user_token("alice"))
    untouched = server.get(f"api/contents/{UNTOUCHED}").json()["content"]
    assert MARK in "".join(c["source"] for c in untouched["cells"])  # the course's fix reached her
    edited = server.get(f"api/contents/{EDITED}").json()["content"]
    assert edited["cells"][0]["source"] == "# alice's own notes\n"  # her edit is kept
    assert MARK not in "".join(c["source"] for c in edited["cells"])
    log = docker("logs", container).stderr
    assert "lesson 01: the course has a newer version; you changed yours, so it is kept as it is." in log
