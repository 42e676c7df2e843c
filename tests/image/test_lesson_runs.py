"""Lessons run by the runner as a teacher runs them: parameters from the command line, a broken fact,
Chinese labels in a plot. (Every lesson's own items run in `pytest notebooks`.)"""

from __future__ import annotations

import pytest

from support import LESSONS, run_runner


@pytest.mark.slow
def test_lesson_09_takes_a_learning_rate_in_scientific_notation(tmp_path):
    """make run NB=notebooks/zh/09_linear_regression.ipynb PARAMS="-p lr 1e-3 -p epochs 50", as a teacher types it."""
    run = run_runner(
        str(LESSONS / "zh" / "09_linear_regression.ipynb"),
        "-p",
        "lr",
        "1e-3",
        "-p",
        "epochs",
        "50",
        output_dir=tmp_path / "out",
    )
    assert run.returncode == 0, run.stderr
    result = run.result("09_linear_regression.ipynb")
    assert result["parameters"]["lr"] == 0.001 and isinstance(result["parameters"]["lr"], float)
    assert all(isinstance(result["metrics"][k], float) for k in ("weight", "bias", "final_loss"))


@pytest.mark.slow
def test_a_changed_fact_makes_its_lesson_fail(tmp_path):
    """The lessons' checks are real: lesson 06 with the original's wrong std must fail."""
    source = (LESSONS / "zh" / "06_tensor_operations.ipynb").read_text(encoding="utf-8")
    assert source.count("1.2910") >= 1
    broken = tmp_path / "06_tensor_operations.ipynb"
    broken.write_text(source.replace("1.2910", "1.1180"), encoding="utf-8")
    run = run_runner(str(broken), output_dir=tmp_path / "out")
    assert run.returncode == 1
    assert "AssertionError" in run.result("06_tensor_operations.ipynb")["error"]


def test_chinese_plot_labels_have_their_glyphs():
    """matplotlib as the lab sets it (docker/matplotlibrc) draws Chinese: a missing glyph is an error here."""
    import io
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, -1], label="损失曲线")
        ax.set_title("线性回归：数据与拟合直线")
        ax.set_xlabel("训练轮数（epoch）")
        ax.legend()
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)
    assert "WenQuanYi Micro Hei" in matplotlib.rcParams["font.sans-serif"]
