"""labkit's pure functions: parameters, error lines, cell labels, the lesson build, exercise checks.

Fast (no kernel, no Docker): `pytest tests/test_labkit.py` in any environment with labkit installed.
"""

from __future__ import annotations

import json

import nbformat
import pytest

from labkit import lesson_build
from labkit.execute import cell_label, first_unexpected_error
from labkit.lesson import Lesson
from labkit.notebooks import BadInput, NotebookInfo, resolve_parameters
from labkit.runner import parse_value


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1e-3", 0.001),
        (".5", 0.5),
        ("5", 5),
        ("-2", -2),
        ("True", True),
        ("False", False),
        ("None", None),
        ("cuda", "cuda"),
        ("2024-01-01", "2024-01-01"),
        ("true", "true"),
        ("0x10", "0x10"),
        ("", ""),
    ],
)
def test_p_values_are_typed_as_papermill_types_them(raw, value):
    parsed = parse_value(raw)
    assert parsed == value and type(parsed) is type(value)


def notebook_info(declared: dict, profiles: dict | None = None, has_cell: bool = True) -> NotebookInfo:
    node = nbformat.v4.new_notebook()
    if has_cell:
        node.cells.append(nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}))
    node.metadata["pytorch_lab"] = {"profiles": profiles or {}}
    info = NotebookInfo(path=__import__("pathlib").Path("demo.ipynb"), node=node)
    info.declared = declared
    return info


def test_a_profile_is_applied_and_p_overrides_it():
    info = notebook_info({"epochs": {}, "lr": {}}, {"quick": {"epochs": 20, "lr": 0.1}})
    assert resolve_parameters(info, "quick", {"lr": 0.5}) == {"epochs": 20, "lr": 0.5}


def test_an_undeclared_parameter_is_refused_with_what_is_declared():
    info = notebook_info({"epochs": {}, "lr": {}})
    with pytest.raises(BadInput, match=r"declares no parameter 'speed' \(from -p\); it declares: epochs, lr"):
        resolve_parameters(info, None, {"speed": 3})


def test_a_notebook_without_parameters_cell_refuses_any_parameter():
    info = notebook_info({}, has_cell=False)
    with pytest.raises(BadInput, match=r"has no cell tagged 'parameters', so 'rate' cannot be set"):
        resolve_parameters(info, None, {"rate": 3})


def executed(*cells) -> nbformat.NotebookNode:
    node = nbformat.v4.new_notebook()
    for i, (tags, outputs) in enumerate(cells):
        cell = nbformat.v4.new_code_cell("pass", metadata={"tags": tags}, execution_count=i + 1)
        cell.outputs = [nbformat.v4.new_output("error", ename=e, evalue=v, traceback=[]) for e, v in outputs]
        node.cells.append(cell)
    return node


def test_cell_labels_count_the_source_cells_without_injected_ones():
    nb = executed((["parameters"], []), (["injected-parameters"], []), ([], []))
    assert cell_label(nb, 2) == "cell 2 (In [3])"


def test_the_first_error_outside_a_tagged_cell_is_the_failure():
    nb = executed((["raises-exception"], [("ValueError", "expected")]), ([], [("KeyError", "'x'\nmore")]))
    assert first_unexpected_error(nb)[0] == "cell 2 (In [2]): KeyError: 'x'"


def test_sys_exit_without_a_code_is_no_failure():
    assert first_unexpected_error(executed(([], [("SystemExit", "")])))[0] is None


SOURCE = """---
{"profiles": {"quick": {}, "full": {}}}
---
::: zh
# 01 · 演示 — 演示
:::
::: en
# 01 · Demo — 演示
:::
```python tags=parameters
seed = 0
solutions = False
```
```exercise 1
names: answer
--- starter
answer = ...
--- solution
answer = 42
--- wrong
answer = 41
--- check
assert answer == 42
--- hint zh
想想生命的意义。
--- hint en
Think of the meaning of life.
```
"""


def build(tmp_path, text: str) -> dict:
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "01_demo.md").write_text(text, encoding="utf-8")
    return {p.relative_to(tmp_path).as_posix(): json.loads(t) for p, t in lesson_build.outputs(tmp_path).items()}


def test_the_build_writes_both_languages_with_the_same_code(tmp_path):
    out = build(tmp_path, SOURCE)
    zh, en = out["zh/01_demo.ipynb"], out["en/01_demo.ipynb"]
    assert "".join(zh["cells"][0]["source"]) == "# 01 · 演示 — 演示"
    assert "".join(zh["cells"][1]["source"]).startswith('lang = "zh"')
    assert "".join(en["cells"][1]["source"]).startswith('lang = "en"')
    assert [("".join(c["source"]), c["metadata"]) for c in zh["cells"][2:]] == [
        ("answer = ...", {"tags": ["exercise"]}),
        ("lesson.check(1)", {"tags": ["check"]}),
    ]
    assert zh["metadata"]["pytorch_lab"]["exercises"]["1"]["hint"] == "想想生命的意义。"
    assert en["metadata"]["pytorch_lab"]["exercises"]["1"]["solution"] == "answer = 42"
    nbformat.validate(nbformat.from_dict(zh))


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (
            SOURCE.replace("::: en\n# 01 · Demo — 演示\n:::\n", ""),
            r"01_demo.md, line 4: this ::: zh block has no ::: en block",
        ),
        (SOURCE.replace("--- wrong\nanswer = 41\n", ""), r"exercise 1 lacks --- wrong"),
        (SOURCE.replace("```python tags=parameters", "```python tag=parameters"), r"unknown code block option"),
        (SOURCE + "loose text\n", r"expected ::: zh, ::: en, ```python or ```exercise N, not 'loose text'"),
    ],
    ids=["unpaired-prose", "missing-part", "bad-option", "loose-text"],
)
def test_a_malformed_source_is_refused_naming_file_and_line(tmp_path, broken, message):
    with pytest.raises(lesson_build.SourceError, match=message):
        build(tmp_path, broken)


EXERCISE = {
    "1": {
        "names": ["answer"],
        "solution": "answer = 42",
        "wrong": "answer = 41",
        "check": "assert answer == 42, lesson.t('不对', 'no')",
        "hint": "hint",
    }
}


def checked(solutions, answer, capsys):
    lesson = Lesson("01_demo", "en", solutions)
    lesson._exercises = EXERCISE
    namespace = {"lesson": lesson, "answer": answer}
    exec("lesson.check(1)", namespace)
    return lesson.results["1"], namespace["answer"], capsys.readouterr().out


def test_an_unattempted_exercise_is_reported_not_done_without_failing(capsys):
    status, _, out = checked(False, ..., capsys)
    assert status == "not done" and "not answered yet" in out


def test_a_wrong_answer_gets_the_hint_and_a_right_one_a_tick(capsys):
    status, _, out = checked(False, 41, capsys)
    assert status == "rejected" and "Hint: hint" in out and "no" in out
    assert checked(False, 42, capsys)[0] == "passed"


def test_solutions_fill_in_the_reference_and_wrong_the_rejected_answer(capsys):
    assert checked(True, ..., capsys)[:2] == ("passed", 42)
    assert checked("wrong", ..., capsys)[:2] == ("rejected", 41)


def test_a_reference_solution_that_fails_its_check_fails_the_lesson(capsys):
    lesson = Lesson("01_demo", "zh", True)
    lesson._exercises = {"1": {**EXERCISE["1"], "solution": "answer = 7"}}
    with pytest.raises(AssertionError, match="reference solution of exercise 1 fails"):
        exec("lesson.check(1)", {"lesson": lesson})
