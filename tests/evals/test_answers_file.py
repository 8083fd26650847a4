"""The answers evaluation file is well formed and its facts are real fiche text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chains.evaluate import load_items

HERE = Path(__file__).parent
SAMPLE = HERE.parent.parent / "knowledge" / "sample"


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text.replace("’", "'")).casefold()


@pytest.fixture(scope="module")
def sample_texts() -> dict[str, str]:
    from knowledge.dila import parse_fiche

    texts: dict[str, str] = {}
    for path in SAMPLE.rglob("*.xml"):
        f = parse_fiche(path.read_bytes(), str(path))
        parts = [f.title, f.description]
        parts += [p for s in f.sections for p in (*s.path, *s.paragraphs)]
        parts += [f"{s.title} {s.cerfa or ''}" for s in f.services]
        texts[f.id] = texts.get(f.id, "") + _squash(" ".join(parts))
    return texts


def test_items_cover_the_three_kinds():
    items = load_items(HERE / "answers.jsonl")
    kinds = [i.kind for i in items]
    assert len(items) >= 40
    assert kinds.count("question") >= 25
    assert kinds.count("draft_reply") >= 6
    assert kinds.count("out_of_scope") >= 5


def test_expected_fiches_are_in_the_sample_and_facts_in_their_text(sample_texts):
    for item in load_items(HERE / "answers.jsonl"):
        if item.kind == "out_of_scope":
            assert not item.expected
            continue
        assert item.expected, item.line
        for fid in item.expected:
            assert fid in sample_texts, f"line {item.line}: {fid} not in knowledge/sample"
        for fact in item.answer_facts:
            assert any(_squash(fact) in sample_texts[f] for f in item.expected), (
                f"line {item.line}: {fact!r} is not in {item.expected}"
            )
