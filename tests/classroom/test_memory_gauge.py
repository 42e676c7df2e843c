"""A student logs in through the hub's page in a real Chromium and sees, in JupyterLab's status bar, the memory
gauge measured against their own limit (the spawner's MEM_LIMIT, which jupyter-resource-usage reads)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from conftest import PASSWORD
from support import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.slow]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("LAB_ARTIFACTS", ROOT / "build" / "test-artifacts"))
# "Mem: 368.89 / 1024.00 MB": what the server's Python processes use, against the student's 1 GB limit. (The
# label is the extension's own; "内存：" where a language pack translates it.)
GAUGE = re.compile(r"(Mem:|内存：)\s*[\d.]+\s*/\s*1024(\.0+)?\s*MB")


def test_a_student_sees_the_memory_gauge_with_their_limit(hub, students):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}; install Debian's chromium (CI does) or set CHROMIUM")
    hub.start_servers("alice")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.goto(f"{hub.base}/hub/login", timeout=60_000)
            page.fill("#username_input", "alice")
            page.fill("#password_input", PASSWORD)
            page.click("#login_submit")
            page.wait_for_url(re.compile(r"/user/alice/lab"), timeout=120_000)
            # The gauge polls the server every few seconds: wait for it to show a number against the limit.
            gauge = page.locator(".jp-StatusBar-Widget", has_text=GAUGE)
            try:
                gauge.first.wait_for(timeout=60_000)
            finally:
                page.screenshot(path=str(SHOTS / "classroom-memory-gauge.png"))
            assert GAUGE.search(gauge.first.inner_text())
        finally:
            browser.close()
