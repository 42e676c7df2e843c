"""A newcomer's first minutes, in a real Chromium: open the URL, see the lessons, run lesson 09.

The lab speaks Chinese by default (menus and lessons) and English with LAB_LANG=en: both are opened."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from labkit.host.net import wait_until
from support import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.docker]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("LAB_ARTIFACTS", ROOT / "build" / "test-artifacts"))


# What the student reads in each language (zh: JupyterLab's zh-CN language pack).
WORDS = {
    "zh": {"File": "文件", "Run": "运行", "Run All Cells": "运行所有单元格", "Idle": "空闲"},
    "en": {"File": "File", "Run": "Run", "Run All Cells": "Run All Cells", "Idle": "Idle"},
}


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}; install Debian's chromium (CI does) or set CHROMIUM")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture(autouse=True)
def screenshot_on_failure(request):
    """What the browser showed when a test failed: build/test-artifacts/failed-<test>.png."""
    yield
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed and "page" in request.fixturenames:
        request.getfixturevalue("page").screenshot(path=str(SHOTS / f"failed-{request.node.name}.png"))


def open_lesson(page, lab, lang: str, name: str):
    """Open the printed URL, check the lesson list and the menus' language, open a lesson; its panel."""
    words = WORDS[lang]
    page.goto(lab.url)
    listing = page.locator(".jp-DirListing-itemText")
    listing.filter(has_text="13_").first.wait_for(timeout=60_000)
    names = set(listing.all_inner_texts())
    lessons = {p.name for p in (ROOT / "notebooks" / lang).glob("[0-9][0-9]_*.ipynb")}
    assert lessons <= names, f"missing from the file browser: {sorted(lessons - names)}"
    menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
    assert words["File"] in menus and words["Run"] in menus, menus
    page.screenshot(path=str(SHOTS / f"01-lesson-list-{lang}.png"))
    listing.filter(has_text=name).dblclick()
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    notebook.locator(".jp-Notebook-cell").first.wait_for(timeout=60_000)
    # Run All before the kernel is connected would be dropped: wait as a student would, for "Idle".
    page.get_by_text(re.compile(rf"Python 3 \(ipykernel\) \| {words['Idle']}")).wait_for(timeout=60_000)
    return notebook


def run_all(page, lang: str):
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{WORDS[lang]['Run']}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{WORDS[lang]['Run All Cells']}$")).click()


def test_an_english_student_gets_english_menus_and_lessons(lab_en, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        notebook = open_lesson(page, lab_en, "en", "09_linear_regression.ipynb")
        heading = notebook.locator(".jp-MarkdownOutput h1").first.inner_text()
        assert heading.startswith("09 · Autograd in practice"), heading
        page.screenshot(path=str(SHOTS / "03-lesson-09-en.png"))
    finally:
        context.close()


def test_student_opens_the_lab_runs_lesson_09_and_saves_it(lab, page):
    notebook = open_lesson(page, lab, "zh", "09_linear_regression.ipynb")
    heading = notebook.locator(".jp-MarkdownOutput h1").first.inner_text()
    assert re.search(r"[\u4e00-\u9fff]", heading.split("—")[0]), heading  # the Chinese title
    run_all(page, "zh")

    source = json.loads((ROOT / "notebooks" / "zh" / "09_linear_regression.ipynb").read_text())
    code_cells = sum(c["cell_type"] == "code" for c in source["cells"])
    # Done when every code cell of the open notebook shows an execution count, [n]:
    try:
        page.wait_for_function(
            """n => {
                const prompts = [...document.querySelectorAll(
                    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt')];
                return prompts.length === n && prompts.every(p => /^\\[\\d+\\]:$/.test(p.textContent.trim()));
            }""",
            arg=code_cells,
            timeout=180_000,
        )
    finally:
        page.screenshot(path=str(SHOTS / "02-lesson-09-run.png"))
    # lesson.progress draws tqdm's widget: a bar that ends full, and its text
    bar = notebook.locator(".widget-hprogress").first
    bar.wait_for(timeout=30_000)
    bar.scroll_into_view_if_needed()
    assert "100%" in bar.locator("xpath=..").inner_text(), bar.locator("xpath=..").inner_text()
    page.screenshot(path=str(SHOTS / "02-lesson-09-progress.png"))
    plot = notebook.locator(".jp-OutputArea-output img").first
    plot.wait_for(timeout=30_000)
    plot.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "02-lesson-09-plot.png"))
    errors = notebook.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']", has_text="Traceback"
    )
    assert errors.count() == 0

    page.keyboard.press("Control+s")
    saved = lab.workspace / "09_linear_regression.ipynb"

    def saved_with_outputs():
        node = json.loads(saved.read_text())
        code = [c for c in node["cells"] if c["cell_type"] == "code"]
        return code if all(c["execution_count"] for c in code) else None

    code = wait_until(saved_with_outputs, 30, what="the executed notebook saved in the workspace")
    outputs = [o for c in code for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert os.stat(saved).st_uid == os.stat(lab.workspace).st_uid  # the student's file, not root's


def test_the_status_bar_shows_how_much_memory_the_lab_uses(lab, page):
    """jupyter-resource-usage; it refreshes every few seconds. (Its zh-CN translation is in the language pack, but
    JupyterLab 4.6 shows the English "Mem:", as with other strings the 4.5 pack does not cover.)"""
    gauge = page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"(Mem|内存)[:：]\s*[\d.]+\s*[KMG]?B"))
    gauge.first.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / "04-memory-gauge.png"))


def test_restarting_the_lab_while_a_kernel_runs_corrupts_no_notebook(lab, page):
    """Runs after the test above: lesson 09 is open and saved with its outputs."""
    saved = lab.workspace / "09_linear_regression.ipynb"
    before = json.loads(saved.read_text())
    run_all(page, "zh")
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputArea-prompt", has_text="[*]:").first.wait_for(
        timeout=30_000
    )
    lab.command("down")
    lab.up()
    for notebook in lab.workspace.glob("*.ipynb"):
        node = json.loads(notebook.read_text())  # a torn write would not parse
        assert node["nbformat"] == 4 and node["cells"], notebook.name
    assert json.loads(saved.read_text()) == before  # the unsaved run changed nothing on disk
    answer = lab.request("/api/contents/09_linear_regression.ipynb", token=lab.token)
    assert answer.status == 200 and answer.json()["content"]["cells"]
