from __future__ import annotations

import json

import pytest

from chains.answer import build_answer_chain
from chains.evaluate import EvalFileError, evaluate_answers, load_items, percentile


def _write(tmp_path, lines):
    p = tmp_path / "answers.jsonl"
    p.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return p


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ({"kind": "quiz", "question": "x"}, "unknown kind 'quiz'"),
        ({"kind": "question"}, "missing 'question'"),
        ({"question": "x", "expected": "F1"}, "'expected' must be a list"),
        ({"question": "x", "answer_facts": [1]}, "'answer_facts' must be a list of strings"),
    ],
)
def test_bad_lines_are_named(tmp_path, line, message):
    p = _write(tmp_path, [{"question": "ok"}, line])
    with pytest.raises(EvalFileError, match=message) as err:
        load_items(p)
    assert f"{p}:2" in str(err.value)


def test_missing_or_empty_file(tmp_path):
    with pytest.raises(EvalFileError, match="cannot read"):
        load_items(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(EvalFileError, match="no evaluation item"):
        load_items(tmp_path / "empty.jsonl")


def test_percentile():
    assert percentile([], 50) is None
    assert percentile([1, 2, 3, 4], 50) == 2
    assert percentile(list(range(1, 101)), 95) == 95


async def test_rates_on_real_fiches(tmp_path, memory_retriever, settings):
    p = _write(
        tmp_path,
        [
            {
                "kind": "question",
                "question": "Combien coûte un passeport pour un majeur ?",
                "expected": ["F14929"],
                "answer_facts": ["le passeport coûte 86 €", "INTROUVABLE"],
            },
            {
                "kind": "draft_reply",
                "message": "Bonjour, ma carte d'identité est périmée, que dois-je apporter ?",
                "expected": ["F21089"],
                "answer_facts": ["photo d'identité"],
            },
            {"kind": "question", "question": "Smic montant horaire", "expected": ["F9999"]},
            {"kind": "out_of_scope", "question": "Recette de la tarte aux pommes ?"},
        ],
    )
    chain = build_answer_chain(memory_retriever, None, settings)
    summary = await evaluate_answers(chain, load_items(p))
    assert summary["n"] == 4
    assert summary["expected_cited"] == pytest.approx(2 / 3, abs=1e-3)
    assert summary["facts_present"] == pytest.approx(2 / 3, abs=1e-3)
    assert summary["urls_traceable"] == 1.0
    assert summary["amounts_traceable"] == 1.0
    assert summary["out_of_scope_declined"] == 1.0
    assert summary["by_kind"]["draft_reply"]["expected_cited"] == 1.0
    assert summary["by_kind"]["out_of_scope"]["n"] == 1
    assert summary["p95_ms"] >= summary["p50_ms"] > 0
    # a miss: a fact missing (line 1), the expected fiche not cited (line 3)
    assert [m["line"] for m in summary["misses"]] == [1, 3]
    assert summary["misses"][0]["facts_missing"] == ["INTROUVABLE"]
    assert summary["misses"][1]["answer"]
    assert summary["declined"] == 0.0
