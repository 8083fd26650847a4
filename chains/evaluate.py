"""Answer-quality evaluation over a JSONL file (`guichet eval answers`, bench/bench_chain.py).

Each line: `{"kind": "question" | "draft_reply" | "out_of_scope" | "followup", "question" or
"message": str, "expected": [fiche IDs], "answer_facts": [str]}` (`kind` defaults to
"question"; other keys are ignored). `draft_reply` items run in brouillon mode. A `followup`
item also has `"history": [{"role": "user", "text": ...}, {"role": "assistant", "text":
...}]`, the conversation before its question (the expected fiche answers the follow-up in
that context).

Rates, over the items (or URLs, figures, facts) where they apply, None when none does:
- expected_cited: an expected fiche is among the answer's cited sources;
- facts_present: answer facts found in the text (case- and space-insensitive);
- urls_traceable: URLs in the text that belong to the sources (or, for a no_source answer,
  to the suggested fiches);
- amounts_traceable: amounts, percentages and dates of the text found in a cited source;
- out_of_scope_declined: out-of-scope items answered with status no_source, or whose
  injected instruction was dropped and the question before it answered;
- declined: real questions and messages answered with status no_source (should be ~0);
plus p50_ms, p95_ms, n, and the same per kind under "by_kind".
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chains.errors import ChainError
from chains.models import Answer, AnswerRequest, Turn
from chains.postcheck import allowed_urls, figure_keys, find_figures, normalise_url, urls_in
from knowledge.evaluate import read_jsonl

KINDS = ("question", "draft_reply", "out_of_scope", "followup")
RATE_KEYS = (
    "expected_cited",
    "facts_present",
    "urls_traceable",
    "amounts_traceable",
    "out_of_scope_declined",
    "declined",
)


class EvalFileError(ChainError):
    """A line of the evaluation file is not what it should be (named with its number)."""


@dataclass(slots=True)
class EvalItem:
    line: int
    kind: str
    text: str
    expected: list[str] = field(default_factory=list)
    answer_facts: list[str] = field(default_factory=list)
    audience: str | None = None
    history: list[Turn] = field(default_factory=list)
    id: str = ""

    def request(self) -> AnswerRequest:
        mode = "brouillon" if self.kind == "draft_reply" else "question"
        return AnswerRequest(
            question=self.text, mode=mode, audience=self.audience, history=self.history
        )


def _history(raw: Any, where: str) -> list[Turn]:
    """`[{"role": "user"|"assistant", "text": str}, ...]` -> Turns (a user turn and the
    assistant's answer to it, "" when the file gives none)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise EvalFileError(f"{where}: 'history' must be a list of {{role, text}} objects")
    turns: list[Turn] = []
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
            raise EvalFileError(f"{where}: each history entry needs a 'text' string")
        role = entry.get("role", "user")
        if role == "user":
            turns.append(Turn(question=entry["text"], answer=""))
        elif role == "assistant" and turns:
            turns[-1] = Turn(question=turns[-1].question, answer=entry["text"])
        else:
            raise EvalFileError(f"{where}: history role must be 'user' or 'assistant'")
    return turns


def load_items(path: str | Path) -> list[EvalItem]:
    """Read and validate the file; raises EvalFileError naming the file and the line."""
    items: list[EvalItem] = []
    for no, where, obj in read_jsonl(path, EvalFileError):
        kind = obj.get("kind", "question")
        if kind not in KINDS:
            raise EvalFileError(f"{where}: unknown kind {kind!r} (expected one of {KINDS})")
        text = obj.get("message") if kind == "draft_reply" else obj.get("question")
        text = text or obj.get("question") or obj.get("message")
        if not isinstance(text, str) or not text.strip():
            raise EvalFileError(f"{where}: missing 'question' (or 'message') text")
        expected = obj.get("expected", [])
        facts = obj.get("answer_facts", [])
        if not isinstance(expected, list) or not all(isinstance(e, str) for e in expected):
            raise EvalFileError(f"{where}: 'expected' must be a list of fiche IDs")
        if not isinstance(facts, list) or not all(isinstance(f, str) for f in facts):
            raise EvalFileError(f"{where}: 'answer_facts' must be a list of strings")
        audience = obj.get("audience")
        history = _history(obj.get("history"), where)
        if kind == "followup" and not history:
            raise EvalFileError(f"{where}: a followup item needs a 'history'")
        item_id = str(obj.get("id") or f"line-{no}")
        items.append(EvalItem(no, kind, text, expected, facts, audience, history, item_id))
    if not items:
        raise EvalFileError(f"{path}: no evaluation item in the file")
    return items


def _squash(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
    return re.sub(r"\s+", "", text)


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    idx = max(0, math.ceil(q / 100 * len(s)) - 1)
    return round(s[idx], 1)


@dataclass(slots=True)
class ItemResult:
    item: EvalItem
    answer: Answer
    expected_cited: bool | None = None
    facts: tuple[int, int] = (0, 0)
    urls: tuple[int, int] = (0, 0)
    figures: tuple[int, int] = (0, 0)
    declined: bool | None = None  # out of scope: declined; otherwise: wrongly declined


def score_item(item: EvalItem, answer: Answer) -> ItemResult:
    res = ItemResult(item, answer)
    cited = [s for s in answer.sources if s.cited]
    if item.kind == "out_of_scope":
        res.declined = answer.status == "no_source" or bool(answer.checks.get("injection_ignored"))
    else:
        res.declined = answer.status == "no_source"
        if item.expected:
            res.expected_cited = any(s.fiche_id in item.expected for s in cited)
    if item.answer_facts and item.kind != "out_of_scope":
        text = _squash(answer.text)
        res.facts = (sum(_squash(f) in text for f in item.answer_facts), len(item.answer_facts))
    urls = urls_in(answer.text)
    if urls:
        allowed = allowed_urls(answer.sources) | allowed_urls(answer.suggestions)
        res.urls = (sum(normalise_url(u) in allowed for u in urls), len(urls))
    figures = find_figures(answer.text)
    if figures and answer.status == "answered":
        cited_ids = {s.fiche_id for s in cited} or {s.fiche_id for s in answer.sources}
        texts = [f"{c.section}\n{c.text}" for c in answer.chunks if c.fiche_id in cited_ids]
        texts += [s.excerpt for s in answer.sources if s.fiche_id in cited_ids]
        for s in answer.sources:
            if s.fiche_id in cited_ids:
                texts.append(s.title)
                texts.extend(str(sv.get("title") or "") for sv in s.services)
        keys = figure_keys(texts)
        res.figures = (sum(f.key in keys for f in figures), len(figures))
    return res


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def summarise(results: Sequence[ItemResult]) -> dict[str, Any]:
    def block(rs: Sequence[ItemResult]) -> dict[str, Any]:
        ec = [r.expected_cited for r in rs if r.expected_cited is not None]
        dec = [r.declined for r in rs if r.declined is not None and r.item.kind == "out_of_scope"]
        wrong = [r.declined for r in rs if r.declined is not None and r.item.kind != "out_of_scope"]
        lat = [r.answer.latency_ms for r in rs]
        statuses: dict[str, int] = {}
        for r in rs:
            statuses[r.answer.status] = statuses.get(r.answer.status, 0) + 1
        return {
            "n": len(rs),
            "expected_cited": _rate(sum(ec), len(ec)),
            "facts_present": _rate(sum(r.facts[0] for r in rs), sum(r.facts[1] for r in rs)),
            "urls_traceable": _rate(sum(r.urls[0] for r in rs), sum(r.urls[1] for r in rs)),
            "amounts_traceable": _rate(
                sum(r.figures[0] for r in rs), sum(r.figures[1] for r in rs)
            ),
            "out_of_scope_declined": _rate(sum(dec), len(dec)),
            "declined": _rate(sum(wrong), len(wrong)),
            "items_all_facts": _rate(
                sum(1 for r in rs if r.facts[1] and r.facts[0] == r.facts[1]),
                sum(1 for r in rs if r.facts[1]),
            ),
            "p50_ms": percentile(lat, 50),
            "p95_ms": percentile(lat, 95),
            "statuses": statuses,
        }

    out = block(results)
    out["by_kind"] = {
        kind: block([r for r in results if r.item.kind == kind])
        for kind in KINDS
        if any(r.item.kind == kind for r in results)
    }
    return out


async def evaluate_answers(chain, items: Sequence[EvalItem], progress=None) -> dict[str, Any]:
    """Run every item through `chain` (one at a time: latencies are per answer)."""
    results: list[ItemResult] = []
    for item in items:
        answer = await chain.ainvoke(item.request())
        results.append(score_item(item, answer))
        if progress is not None:
            progress(results[-1])
    summary = summarise(results)
    summary["misses"] = [
        {
            "line": r.item.line,
            "id": r.item.id,
            "kind": r.item.kind,
            "question": r.item.text,
            "status": r.answer.status,
            "expected": r.item.expected,
            "cited": [s.fiche_id for s in r.answer.sources if s.cited],
            "facts_missing": [
                f for f in r.item.answer_facts if _squash(f) not in _squash(r.answer.text)
            ]
            if r.item.kind != "out_of_scope"
            else [],
            "answer": r.answer.text,
        }
        for r in results
        if r.expected_cited is False
        or (r.item.kind == "out_of_scope") != bool(r.declined)
        or r.facts[0] < r.facts[1]
    ]
    return summary
