"""The lessons' bilingual source and the notebooks built from it (no Docker needed)."""

from __future__ import annotations

from labkit import lesson_build
from support import ROOT

NOTEBOOKS = ROOT / "notebooks"


def test_the_generated_notebooks_are_up_to_date_with_their_source():
    stale = lesson_build.stale(NOTEBOOKS)
    assert not stale, f"rebuild with `make lessons`: {[str(p.relative_to(ROOT)) for p in stale]}"


def test_every_lesson_has_a_source_and_both_languages():
    sources = [p.stem for p in lesson_build.sources(NOTEBOOKS)]
    assert sources == sorted(sources) and len(sources) == 14
    for lang in lesson_build.LANGUAGES:
        assert sorted(p.stem for p in (NOTEBOOKS / lang).glob("*.ipynb")) == sources


def test_the_glossary_gives_each_term_one_translation():
    rows = [
        line.split("|")[1:3]
        for line in (NOTEBOOKS / "source" / "GLOSSARY.md").read_text().splitlines()
        if line.startswith("| ") and not line.startswith("| English")
    ]
    english = [e.strip() for e, _ in rows]
    assert len(rows) > 40 and len(english) == len(set(english))
