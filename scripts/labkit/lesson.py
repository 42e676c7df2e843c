"""What a lesson's code uses in the kernel: its language, its device, its exercises, its metrics.

A lesson's setup cell makes one ``lesson = Lesson("09_linear_regression", lang, solutions)``.
Then ``lesson.t("中文", "English")`` picks the student's language, ``lesson.device(device)``
resolves "auto"/"cpu"/"cuda", ``lesson.check(N)`` checks exercise N and ``lesson.report(...)``
displays the numbers the runner collects. Standard library only (torch is imported on use).

Exercises live in the lesson's notebook metadata (pytorch_lab.exercises, written by
labkit.lesson_build). ``solutions`` fills them in: False leaves the student's answer, True runs
the reference solution, "wrong" runs a plausible wrong answer that the check must reject.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path

METRICS_MIME = "application/vnd.pytorch-lab.metrics+json"
LESSONS_ENV = "LAB_LESSONS_DIR"
SOLUTION_MODES = (False, True, "wrong")


class Lesson:
    def __init__(self, name: str, lang: str = "zh", solutions=False):
        if lang not in ("zh", "en"):
            raise SystemExit(f"lang must be 'zh' or 'en', not {lang!r} / lang 只能是 'zh' 或 'en'")
        if solutions not in SOLUTION_MODES:
            raise SystemExit(f"solutions must be False, True or 'wrong', not {solutions!r}")
        self.name = name
        self.lang = lang
        self.solutions = solutions
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
                    meta = json.loads(path.read_text(encoding="utf-8"))["metadata"].get("pytorch_lab", {})
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
        exercise = self.exercises()[str(number)]
        namespace = inspect.currentframe().f_back.f_globals
        if self.solutions:
            exec(exercise["solution" if self.solutions is True else "wrong"], namespace)
        status, detail = self._judge(exercise, namespace)
        self.results[str(number)] = status
        label = self.t(f"练习 {number}", f"Exercise {number}")
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

    # ---- metrics --------------------------------------------------------------------------

    def report(self, **metrics) -> None:
        """Display the lesson's key numbers, and its exercises' results, for the runner."""
        if self.results:
            metrics["exercises"] = dict(self.results)
        try:
            from IPython.display import display
        except ImportError:  # plain Python (the benchmark's baseline)
            return
        display({METRICS_MIME: metrics, "text/plain": f"metrics: {metrics}"}, raw=True)
