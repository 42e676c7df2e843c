"""What a lesson's code uses in the kernel: its language, its device, its exercises, its metrics.

A lesson's setup cell makes one ``lesson = Lesson("09_linear_regression", lang, solutions)``.
Then ``lesson.t("中文", "English")`` picks the student's language, ``lesson.device(device)``
resolves "auto"/"cpu"/"cuda", ``lesson.check(N)`` checks exercise N, ``lesson.progress(range(epochs))`` draws a progress bar and
``lesson.report(...)`` shows a short summary and records the numbers the runner collects.
Standard library only (torch, tqdm and IPython are imported on use).

Exercises live in the lesson's notebook metadata (pytorch_lab.exercises, written by
labkit.lesson_build). ``solutions`` fills them in: False leaves the student's answer, True runs
the reference solution, "wrong" runs a plausible wrong answer that the check must reject.
The build also writes ``checks="…"`` into the setup cell's ``Lesson(...)`` call: a fingerprint of the
exercises the copy was made with. A copy whose checks are older than the course's is told so,
never judged with checks written for another version of the lesson.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
from pathlib import Path

from .contract import LANGUAGES, LESSONS_ENV, METADATA_KEY, METRICS_MIME

SOLUTION_MODES = (False, True, "wrong")


def checks_fingerprint(exercises: dict) -> str:
    """A short fingerprint of what decides a verdict (names, check, solution, wrong), the same in both languages."""
    decisive = {n: {k: e[k] for k in ("names", "check", "solution", "wrong")} for n, e in sorted(exercises.items())}
    return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()[:12]


class Lesson:
    def __init__(self, name: str, lang: str = "zh", solutions=False, checks: str | None = None):
        if lang not in LANGUAGES:
            raise SystemExit(f"lang must be 'zh' or 'en', not {lang!r} / lang 只能是 'zh' 或 'en'")
        if solutions not in SOLUTION_MODES:
            raise SystemExit(f"solutions must be False, True or 'wrong', not {solutions!r}")
        self.name = name
        self.lang = lang
        self.solutions = solutions
        self.checks = checks
        self.results: dict[str, str] = {}
        self._exercises = None

    def t(self, zh: str, en: str) -> str:
        """The text in the lesson's language."""
        return zh if self.lang == "zh" else en

    def device(self, device: str) -> str:
        """'cpu' or 'cuda' for the asked device; stops the lesson in one line if it cannot be had."""
        import torch

        if device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if device not in ("cpu", "cuda"):
            raise SystemExit(
                f"device must be 'auto', 'cpu' or 'cuda', not {device!r} / device 只能是 'auto'、'cpu' 或 'cuda'"
            )
        if device == "cuda" and not torch.cuda.is_available():
            raise SystemExit(
                "device='cuda' was asked for, but PyTorch sees no CUDA GPU here: use device='cpu' or 'auto'"
                " / 要求使用 CUDA，但 PyTorch 找不到 GPU：请改用 device='cpu' 或 'auto'"
            )
        return device

    # ---- exercises ------------------------------------------------------------------------

    def exercises(self) -> dict:
        """The lesson's exercises, from its original notebook (the image's copy, else this folder's)."""
        if self._exercises is None:
            candidates = []
            if os.environ.get(LESSONS_ENV):
                candidates.append(Path(os.environ[LESSONS_ENV]) / self.lang / f"{self.name}.ipynb")
            candidates.append(Path.cwd() / f"{self.name}.ipynb")
            for path in candidates:
                if path.is_file():
                    meta = json.loads(path.read_text(encoding="utf-8"))["metadata"].get(METADATA_KEY, {})
                    self._exercises = meta.get("exercises", {})
                    break
            else:
                raise FileNotFoundError(
                    self.t(
                        f"找不到本课的原始文件 {self.name}.ipynb，无法检查练习",
                        f"cannot find the lesson's original {self.name}.ipynb to check its exercises",
                    )
                )
        return self._exercises

    def check(self, number: int) -> None:
        """Check exercise N in the caller's variables; print ✓, a hint, or that it is not done yet.

        The verdict ("passed", "rejected" or "not done") goes to self.results and the lesson's report."""
        exercises = self.exercises()
        label = self.t(f"练习 {number}", f"Exercise {number}")
        if self.checks and exercises and self.checks != checks_fingerprint(exercises):
            self.results[str(number)] = "outdated"
            print(
                f"⚠️ {label}: "
                + self.t(
                    f"这份第 {self.name[:2]} 课比课程里的版本旧，练习的检查已经改过，所以这里不判对错。"
                    f"要换成新版本：make reset-lesson {int(self.name[:2])}（你的这份会另存为备份）。",
                    f"this copy of lesson {self.name[:2]} is older than the course's, whose checks have changed, "
                    f"so it is not judged here. To take the new version: make reset-lesson {int(self.name[:2])} "
                    "(your copy is kept as a backup).",
                )
            )
            return
        exercise = exercises[str(number)]
        namespace = inspect.currentframe().f_back.f_globals
        if self.solutions:
            exec(exercise["solution" if self.solutions is True else "wrong"], namespace)
        status, detail = self._judge(exercise, namespace)
        self.results[str(number)] = status
        if status == "passed":
            print(f"✓ {label}: " + self.t("正确！", "correct!"))
        elif status == "not done":
            print(
                f"✏️ {label}: "
                + self.t(
                    "还没有作答：把 ... 换成你的代码，再运行这两个单元格。",
                    "not answered yet: replace ... with your code and run both cells again.",
                )
            )
        else:
            print(
                f"✗ {label}: "
                + self.t("还不对。", "not yet right.")
                + f" {detail}\n  "
                + self.t("提示：", "Hint: ")
                + exercise["hint"]
            )
        if self.solutions is True and status != "passed":
            raise AssertionError(f"the reference solution of exercise {number} fails its check: {detail}")
        if self.solutions == "wrong" and status != "rejected":
            raise AssertionError(f"the wrong answer to exercise {number} was not rejected by its check ({status})")

    def _judge(self, exercise: dict, namespace: dict) -> tuple[str, str]:
        if any(namespace.get(name, ...) is ... for name in exercise["names"]):
            return "not done", ""
        scope = dict(namespace)
        try:
            exec(exercise["check"], scope)
        except AssertionError as exc:
            return "rejected", str(exc)
        except Exception as exc:  # the student's answer may be of any wrong kind
            return "rejected", f"({type(exc).__name__}: {exc})"
        return "passed", ""

    # ---- progress ---------------------------------------------------------------------------

    def progress(self, iterable, desc: str | None = None, total: int | None = None):
        """A progress bar over iterable: a widget in the lab, text elsewhere.

        In an executed copy (the runner, make test) the bar's last state stays readable as text."""
        return progress(iterable, desc=desc, total=total)

    # ---- metrics --------------------------------------------------------------------------

    def report(self, **metrics) -> None:
        """Show the lesson's key numbers and its exercises' results, and record them for the runner."""
        if self.results:
            metrics["exercises"] = dict(self.results)
        text = self.summary(metrics)
        try:
            from IPython.display import display
        except ImportError:  # plain Python (the benchmark's baseline)
            print(text)
            return
        display({METRICS_MIME: metrics, "text/plain": text}, raw=True)

    def summary(self, metrics: dict) -> str:
        """The numbers as a student reads them: rounded, one per line, exercises as ✓ or what is missing."""
        marks = {
            "passed": "✓",
            "not done": self.t("未完成", "not done"),
            "rejected": self.t("✗ 还不对", "✗ not yet right"),
            "outdated": self.t("旧版本，未检查", "older copy, not checked"),
        }
        lines = [self.t(f"第 {self.name[:2]} 课的结果：", f"Lesson {self.name[:2]}, results:")]
        for key, value in metrics.items():
            if key == "exercises":
                continue
            lines.append(f"  {key}: {rounded(value)}")
        for number, status in metrics.get("exercises", {}).items():
            lines.append(f"  {self.t('练习', 'exercise')} {number}: {marks.get(status, status)}")
        return "\n".join(lines)


def rounded(value):
    """Floats to 4 significant digits, inside lists too; everything else as it is."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, (list, tuple)):
        return [rounded(v) for v in value]
    return value


def in_a_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def progress(iterable, desc: str | None = None, total: int | None = None):
    """tqdm over iterable: the notebook widget where ipywidgets and a kernel are, else text on stdout."""
    if in_a_kernel():
        try:
            return _WidgetBar(iterable, desc=desc, total=total)
        except ImportError:
            pass
    from tqdm.std import tqdm

    # stdout: a notebook shows stderr in red; mininterval keeps an executed copy's text short
    return tqdm(iterable, desc=desc, total=total, file=sys.stdout, mininterval=1.0, ascii=True)


def _WidgetBar(iterable, **kwargs):  # noqa: N802  (a factory that stands for the class below)
    import ipywidgets  # noqa: F401  (without it tqdm.notebook would warn and fall back to text)
    from IPython.display import display
    from tqdm.notebook import tqdm

    class WidgetBar(tqdm):
        """tqdm.notebook's bar, displayed with an id, so that closing it also leaves its final text in the output."""

        def __init__(self, *args, **kw):
            super().__init__(*args, display=False, **kw)
            self.handle = display(self.container, display_id=True)

        def close(self):
            if self.disable:  # closed already (tqdm closes again when the bar is collected)
                return
            super().close()
            if getattr(self, "handle", None) is not None:
                self.handle.update(self.container)

    return WidgetBar(iterable, **kwargs)
