"""The runner's reports: summary.json for people and scripts, junit.xml for CI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from .execute import Result


def write_summary(results: list[Result], folder: Path) -> Path:
    path = folder / "summary.json"
    path.write_text(json.dumps({"notebooks": [r.summary() for r in results]}, indent=2) + "\n")
    return path


def write_junit(results: list[Result], folder: Path) -> Path:
    failures = [r for r in results if r.status != "passed"]
    suite = ET.Element(
        "testsuite",
        name="notebooks",
        tests=str(len(results)),
        failures=str(len(failures)),
        errors="0",
        time=f"{sum(r.seconds for r in results):.2f}",
    )
    for r in results:
        case = ET.SubElement(suite, "testcase", classname="notebooks", name=r.path, time=f"{r.seconds:.2f}")
        if r.status != "passed":
            failure = ET.SubElement(case, "failure", message=r.error or "failed")
            failure.text = r.traceback or r.error
    path = folder / "junit.xml"
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
    return path
