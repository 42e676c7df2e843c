"""make classroom-progress [N]: every student's saved copy of lesson N (no N: of every lesson with exercises),
run and judged in a sandbox of its own, then shown as a table here, a CSV file and an HTML page.

Each student gets one throw-away container of the lab's image (SANDBOX: no network, the classroom's memory,
CPU and process limits, no capabilities, no new privileges, a read-only root with a small writable /tmp and
home), with their volume mounted read-only; labkit/grade.py runs inside it and prints one line per lesson.
As many students run at once as the engine has cores (CLASSROOM_PROGRESS_JOBS); a student's run is stopped
after CLASSROOM_LESSON_TIMEOUT seconds per lesson, its finished lessons kept, and the next student goes on.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from .. import contract
from .docker import Docker
from .progress_report import write_reports
from .settings import Failure, Settings, say

LINE_PREFIX = contract.GRADE_LINE_PREFIX  # the host reads the lines that start with it
LABEL = "pytorch-lab.classroom-progress"  # on every grading container, with the classroom's project
HOME = "/home/student"
# Where matplotlib reads the lab's settings and writes its cache when the image's own folder is read-only.
MATPLOTLIB = ("MATPLOTLIBRC=/opt/matplotlib/matplotlibrc", "MPLCONFIGDIR=/tmp/matplotlib")
STARTING = 60  # seconds a container may take to start and import what it runs, beyond its lessons' time


def sandbox(s: Settings) -> list[str]:
    """docker run's options for a container that runs a student's code outside the student's server."""
    memory = s.classroom_mem_limit
    options = [
        "--network=none",
        f"--memory={memory}",
        f"--memory-swap={memory}",
        f"--cpus={s.classroom_cpu_limit}",
        f"--pids-limit={s.classroom_pids_limit}",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        "--read-only",
        "--tmpfs=/tmp:rw,exec,nosuid,nodev,size=512m,mode=1777",
        f"--tmpfs={HOME}:rw,exec,nosuid,nodev,size=256m,mode=1777",
    ]
    return options + [arg for variable in MATPLOTLIB for arg in ("-e", variable)]


def lesson_number(raw: str | None) -> str | None:
    """'9' -> '09'; nothing -> None (every lesson); anything else is refused in one line."""
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 2:
        raise Failure(f"a lesson is named by its number, such as 9 or 09, not '{raw}'; make classroom-progress 9")
    return f"{int(raw):02d}"


def text(output: str | bytes | None) -> str:
    """A process's output as text (what a timeout leaves behind is bytes)."""
    return output.decode("utf-8", "replace") if isinstance(output, bytes) else output or ""


def records(stdout: str | bytes | None) -> list[dict]:
    """The lessons a grading container reported, in order; lines without the prefix are not ours."""
    found = []
    for line in text(stdout).splitlines():
        if line.startswith(LINE_PREFIX):
            try:
                found.append(json.loads(line[len(LINE_PREFIX) :]))
            except ValueError:
                continue
    return found


def every(lesson: str, exercises: list[str], status: str, note: str) -> dict:
    marks = {n: {"status": status, "detail": ""} for n in exercises}
    return {"lesson": lesson, "lang": "", "exercises": marks, "note": note, "seconds": 0.0}


class RosterRun:
    """One run of a teacher's command over a roster, never empty (ClassroomCommands.students refuses that): student ->
    their volume's name (None: no volume yet)."""

    def __init__(self, settings: Settings, project: str, roster: dict[str, str | None]):
        self.s = settings
        self.docker = Docker(settings)
        self.project = project
        self.roster = roster


class ClassProgress(RosterRun):
    """make classroom-progress: each student's copies judged in a sandbox, then the table and the reports."""

    def run_grader(self, *args: str, volume: str | None = None, timeout: float = 120, warm: bool = False):
        name = f"{self.project}-progress-{uuid.uuid4().hex[:10]}"
        options = [*sandbox(self.s), "--name", name, "--label", f"{LABEL}={self.project}"]
        volumes = (f"{volume}:{contract.WORKSPACE}:ro",) if volume else ()
        try:
            return self.docker.run_in_image(
                self.s.image,
                "python",
                "-m",
                "labkit.grade",
                *args,
                volumes=volumes,
                # A template pays off over several lessons; for one it would only add a process.
                env=(f"LAB_WARM_KERNELS={int(warm)}",),
                options=tuple(options),
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as late:
            # The client is gone; its container is not: remove it, keep what it had reported.
            self.docker("rm", "-f", name, check=False)
            return late

    def lessons(self, number: str | None) -> dict[str, list[str]]:
        """The image's lessons to judge (name -> exercise numbers), or a refusal naming the ones there are."""
        proc = self.run_grader("--list")
        found = records(proc.stdout)
        if not found or not isinstance(found[0].get("lessons"), dict):
            why = text(proc.stderr).strip().splitlines()[-1:] or ["no answer"]
            raise Failure(
                f"the lab's image {self.s.image} cannot judge lessons ({why[0][:200]}); "
                "rebuild it from this checkout: make build"
            )
        every_lesson = found[0]["lessons"]
        if number is None:
            return every_lesson
        chosen = {name: ex for name, ex in every_lesson.items() if name[:2] == number}
        if not chosen:
            known = " ".join(name[:2] for name in every_lesson)
            raise Failure(f"the course has no lesson {number} with exercises; the lessons with exercises are: {known}")
        return chosen

    def student(self, name: str, volume: str | None, lessons: dict[str, list[str]]) -> list[dict]:
        """One student's lessons, judged in their own container; every lesson accounted for, whatever happened."""
        if volume is None:
            note = "no work yet (never started a server)"
            return [{**every(lesson, ex, "not started", note), "student": name} for lesson, ex in lessons.items()]
        bound = self.s.lesson_timeout * len(lessons) + STARTING
        started = time.monotonic()
        args = ["--timeout", f"{self.s.cell_timeout:g}", *sorted({lesson[:2] for lesson in lessons})]
        proc = self.run_grader(*args, volume=volume, timeout=bound, warm=len(lessons) > 1)
        reported = {r.get("lesson"): r for r in records(proc.stdout) if r.get("lesson") in lessons}
        timed_out = isinstance(proc, subprocess.TimeoutExpired)
        if timed_out:
            note = f"stopped: one student's run may take {bound:.0f} s (CLASSROOM_LESSON_TIMEOUT per lesson)"
        elif proc.returncode == 137:
            note = "the grading container was stopped (out of memory?)"
        else:
            lines = text(proc.stderr).strip().splitlines()
            note = f"the grading container failed: {lines[-1][:200]}" if lines else "the grading container failed"
        results = []
        for lesson, exercises in lessons.items():
            found = reported.get(lesson) or every(lesson, exercises, "timeout" if timed_out else "error", note)
            results.append({**found, "student": name})
        say(f"progress: {name} judged in {time.monotonic() - started:.1f} s")
        return results

    def jobs(self) -> int:
        cores = self.docker.answer("info", "--format", "{{.NCPU}}") or ""
        return self.s.progress_jobs or (int(cores) if cores.isdigit() else 2)

    def run(self, number: str | None) -> int:
        lessons = self.lessons(number)
        jobs = min(self.jobs(), len(self.roster))
        say(f"progress: {len(self.roster)} student(s), {len(lessons)} lesson(s), {jobs} at once")
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            runs = [pool.submit(self.student, name, volume, lessons) for name, volume in sorted(self.roster.items())]
            results = [row for run in runs for row in run.result()]
        seconds = time.monotonic() - started
        folder = self.s.classroom_output
        table, files = write_reports(results, lessons, folder, number, self.s.image, seconds)
        print(table, flush=True)
        say(f"progress: {len(self.roster)} student(s) in {seconds:.1f} s; " + ", ".join(str(f) for f in files))
        return 0
