"""The run-notebooks command against fixture notebooks named after what they do.

What the runner concludes about each fixture is also checked by the fixture's own pytest item
(its metadata's pytorch_lab.expect); here: the command line, its reports and its refusals."""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET

import nbformat
import pytest

from support import FIXTURES, ROOT, run_runner


def fixture(name: str) -> str:
    return str((FIXTURES / name).relative_to(ROOT))


@pytest.mark.slow
def test_a_passing_notebook_reports_its_parameters_metrics_and_junit(runner):
    run = runner(fixture("passes_with_parameters.ipynb"), "-p", "rate", "0.5", "-p", "name", "demo")
    assert run.returncode == 0, run.stderr
    result = run.result("passes_with_parameters.ipynb")
    assert result["status"] == "passed" and result["error"] is None
    assert result["parameters"] == {"rate": 0.5, "name": "demo"}
    assert result["metrics"] == {"doubled": 1.0, "name": "demo"}
    assert result["seconds"] > 0
    assert "PASSED tests/notebooks/passes_with_parameters.ipynb" in run.stderr
    assert "1 passed, 0 failed" in run.stderr
    suite = ET.parse(run.output_dir / "junit.xml").getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("1", "0")
    executed = nbformat.read(run.output_dir / "passes_with_parameters.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)


@pytest.mark.slow
def test_the_source_notebook_is_never_written(runner):
    source = FIXTURES / "passes_with_parameters.ipynb"
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    assert runner(fixture("passes_with_parameters.ipynb")).returncode == 0
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before
    refused = run_runner(fixture("passes_with_parameters.ipynb"), output_dir=FIXTURES)
    assert refused.returncode == 2
    assert "output folder is the notebook's own folder" in refused.stderr
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before


@pytest.mark.slow
def test_a_failing_cell_names_notebook_cell_exception_and_copy(runner):
    run = runner(fixture("fails_in_cell_3.ipynb"))
    assert run.returncode == 1
    failure = [
        line
        for line in run.stderr.splitlines()
        if line.startswith("FAILED") and ":" in line and "executed copy" in line
    ]
    assert len(failure) == 1, run.stderr
    assert "fails_in_cell_3.ipynb" in failure[0]
    assert "cell 3 (In [3])" in failure[0]
    assert "ZeroDivisionError: division by zero" in failure[0]
    assert str(run.output_dir / "fails_in_cell_3.ipynb") in failure[0]
    result = run.result("fails_in_cell_3.ipynb")
    assert result["status"] == "failed" and "ZeroDivisionError" in result["traceback"]
    suite = ET.parse(run.output_dir / "junit.xml").getroot()
    assert suite.get("failures") == "1"
    assert "ZeroDivisionError" in suite.find("testcase/failure").get("message")


@pytest.mark.slow
def test_a_cell_past_the_timeout_fails_only_its_notebook(runner):
    run = runner(fixture("never_ends.ipynb"), fixture("no_parameters_cell.ipynb"), "--timeout", "3", "--jobs", "2")
    assert run.returncode == 1
    # The execution count may or may not have reached the runner before the stop.
    assert re.search(r"never_ends\.ipynb: cell 2( \(In \[2\]\))? ran past the 3 s limit \(--timeout\)", run.stderr), (
        run.stderr
    )
    assert run.result("never_ends.ipynb")["status"] == "failed"
    assert run.result("no_parameters_cell.ipynb")["status"] == "passed"


@pytest.mark.slow
def test_a_dead_kernel_fails_its_notebook_with_a_message(runner):
    run = runner(fixture("kills_its_kernel.ipynb"), fixture("passes_with_parameters.ipynb"))
    assert run.returncode == 1
    assert re.search(r"kills_its_kernel\.ipynb: the kernel died while running cell 2( \(In \[2\]\))? ", run.stderr), (
        run.stderr
    )
    assert run.result("passes_with_parameters.ipynb")["status"] == "passed"


@pytest.mark.slow
def test_an_error_in_a_cell_tagged_raises_exception_does_not_fail_the_run(runner):
    run = runner(fixture("errs_in_tagged_cell.ipynb"))
    assert run.returncode == 0, run.stderr
    executed = nbformat.read(run.output_dir / "errs_in_tagged_cell.ipynb", as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert any(o.output_type == "error" and o.ename == "IndexError" for o in outputs)
    assert any(o.output_type == "stream" and "after the expected error: 6" in o.text for o in outputs)
    # papermill's "An Exception was encountered" banner would mislead a reader of a passing copy
    assert not any("papermill-error-cell-tag" in c.metadata.get("tags", []) for c in executed.cells)


@pytest.mark.slow
def test_an_error_outside_the_tagged_cell_still_fails(runner):
    run = runner(fixture("errs_after_tagged_cell.ipynb"))
    assert run.returncode == 1
    assert "errs_after_tagged_cell.ipynb: cell 2 (In [2]): KeyError: 'not expected'" in run.stderr


@pytest.mark.slow
def test_a_notebook_without_parameters_cell_runs_as_it_is(runner):
    run = runner(fixture("no_parameters_cell.ipynb"), "--profile", "full")
    assert run.returncode == 0, run.stderr
    assert run.result("no_parameters_cell.ipynb")["parameters"] == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["tests/notebooks/missing.ipynb"],
            "tests/notebooks/missing.ipynb: no such file or folder",
            id="missing-path",
        ),
        pytest.param(["pyproject.toml"], "pyproject.toml: not a notebook (expected a .ipynb file)", id="not-ipynb"),
        pytest.param([fixture("not_a_notebook.ipynb")], "not_a_notebook.ipynb: not a readable notebook", id="not-json"),
        pytest.param(["--profile", "slow"], "unknown profile 'slow'; choose quick or full", id="unknown-profile"),
        pytest.param(
            [fixture("passes_with_parameters.ipynb"), "-p", "speed", "3"],
            "passes_with_parameters.ipynb declares no parameter 'speed' (from -p); it declares: rate, name",
            id="undeclared-parameter",
        ),
        pytest.param(
            [fixture("no_parameters_cell.ipynb"), "-p", "rate", "3"],
            "no_parameters_cell.ipynb has no cell tagged 'parameters', so 'rate' cannot be set",
            id="parameter-without-cell",
        ),
        pytest.param(["--jobs", "0"], "--jobs must be at least 1", id="zero-jobs"),
        pytest.param(["--nonsense"], "unrecognized arguments: --nonsense", id="unknown-option"),
    ],
)
def test_bad_input_is_refused_in_one_line_before_anything_runs(runner, args, message):
    run = runner(*args, timeout=60)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("run-notebooks: error: ") and message in lines[0]
    assert "Traceback" not in run.stderr
    assert not (run.output_dir / "summary.json").exists()


@pytest.mark.slow
def test_results_keep_the_command_line_order_with_parallel_jobs(runner):
    names = ["fails_in_cell_3.ipynb", "no_parameters_cell.ipynb", "passes_with_parameters.ipynb"]
    run = runner(*(fixture(n) for n in names), "--jobs", "3")
    assert [n["path"].rsplit("/", 1)[-1] for n in run.summary["notebooks"]] == names


@pytest.mark.slow
def test_numbers_given_with_p_arrive_as_numbers(runner):
    """-p lr 1e-3 is the float 0.001, as with papermill's own -p (YAML would make it a string)."""
    run = runner(fixture("passes_with_parameters.ipynb"), "-p", "rate", "1e-3", "-p", "name", "2024-01-01")
    assert run.returncode == 0, run.stderr
    result = run.result("passes_with_parameters.ipynb")
    assert result["parameters"] == {"rate": 0.001, "name": "2024-01-01"}
    assert result["metrics"]["doubled"] == 0.002


@pytest.mark.slow
def test_lessons_of_both_languages_keep_apart_in_the_output(runner, tmp_path):
    lessons = ROOT / "notebooks"
    run = runner(str(lessons / "zh" / "01_course_overview.ipynb"), str(lessons / "en" / "01_course_overview.ipynb"))
    assert run.returncode == 0, run.stderr
    assert (run.output_dir / "zh" / "01_course_overview.ipynb").is_file()
    assert (run.output_dir / "en" / "01_course_overview.ipynb").is_file()
