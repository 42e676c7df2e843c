"""Every lesson in notebooks/: well-formed, clean, and passing with its quick parameters."""

from __future__ import annotations

import os
import re

import nbformat
import pytest

from labkit.notebooks import PROFILES, lesson_paths, load
from labtest import ROOT, run_runner

LESSONS = lesson_paths(ROOT / "notebooks")
IDS = [p.stem for p in LESSONS]


def test_the_course_has_its_twelve_lessons():
    assert [p.name[:2] for p in LESSONS][:12] == [f"{n:02d}" for n in range(1, 13)]


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    """All lessons run once through the runner, as `make test` does."""
    jobs = os.environ.get("LAB_TEST_JOBS", str(os.cpu_count() or 1))
    return run_runner("--profile", "quick", "--jobs", jobs, output_dir=tmp_path_factory.mktemp("lessons"))


@pytest.fixture(scope="session")
def cuda_run(tmp_path_factory):
    """All lessons asked for device=cuda: on a host without a GPU each must stop at once."""
    jobs = os.environ.get("LAB_TEST_JOBS", str(os.cpu_count() or 1))
    return run_runner("-p", "device", "cuda", "--jobs", jobs, output_dir=tmp_path_factory.mktemp("cuda"))


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_lesson_passes_with_quick_parameters(quick_run, lesson):
    result = quick_run.result(lesson.name)
    assert result["status"] == "passed", f"{lesson.name}: {result['error']}"
    assert result["metrics"], f"{lesson.name} recorded no metrics"


@pytest.mark.slow
def test_lesson_09_records_its_fit(quick_run):
    metrics = quick_run.result("09_linear_regression.ipynb")["metrics"]
    assert {"weight", "bias", "final_loss"} <= set(metrics)
    assert all(isinstance(metrics[k], float) for k in ("weight", "bias", "final_loss"))


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_lesson_asked_for_cuda_without_a_gpu_stops_in_its_first_cells(cuda_run, lesson):
    import torch

    result = cuda_run.result(lesson.name)
    if torch.cuda.is_available():
        assert result["status"] == "passed", result["error"]
    else:
        assert result["status"] == "failed"
        assert re.match(r"cell [1-4] \(In \[\d\]\): SystemExit: device='cuda' was asked for, but PyTorch sees no CUDA GPU", result["error"]), result["error"]


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_lesson_is_committed_clean(lesson):
    node = nbformat.read(lesson, as_version=4)
    dirty = [i + 1 for i, c in enumerate(node.cells) if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{lesson.name}: cells {dirty} carry outputs or execution counts; clear them before committing"


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_lesson_declares_its_parameters_and_profiles(lesson):
    info = load(lesson)
    assert len(info.parameters_cells) == 1, "exactly one cell must be tagged 'parameters'"
    assert {"device", "seed"} <= set(info.declared), f"declares {list(info.declared)}"
    assert info.declared["device"]["default"] == '"auto"'
    assert set(info.profiles) == set(PROFILES)
    for profile, values in info.profiles.items():
        undeclared = set(values) - set(info.declared)
        assert not undeclared, f"profile {profile} sets undeclared {sorted(undeclared)}"


@pytest.mark.parametrize("lesson", LESSONS, ids=IDS)
def test_lesson_is_titled_with_number_english_and_chinese_title(lesson):
    title = nbformat.read(lesson, as_version=4).cells[0].source.splitlines()[0]
    assert re.match(rf"# {lesson.name[:2]} · .+ — .*[\u4e00-\u9fff]", title), title


def test_lesson_09_declares_its_training_knobs():
    info = load(ROOT / "notebooks" / "09_linear_regression.ipynb")
    assert {"epochs", "lr"} <= set(info.declared)
    assert info.profiles["full"]["epochs"] >= 1000


@pytest.mark.slow
def test_a_changed_fact_makes_its_lesson_fail(tmp_path):
    """The lessons' checks are real: lesson 06 with the original's wrong std must fail."""
    source = (ROOT / "notebooks" / "06_tensor_operations.ipynb").read_text()
    assert source.count("1.2910") >= 1
    (tmp_path / "06_broken.ipynb").write_text(source.replace("1.2910", "1.1180"))
    run = run_runner(str(tmp_path / "06_broken.ipynb"), output_dir=tmp_path / "out")
    assert run.returncode == 1
    assert "AssertionError" in run.result("06_broken.ipynb")["error"]
