"""Retrieval quality on a JSONL question file, and the baselines the bench compares with.

FILE lines are `{"question": str, "expected": [fiche IDs]}` (other keys ignored). A hit@k
counts when any expected ID is among the top-k distinct fiches; MRR@k uses the rank of the
first expected ID found.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from knowledge.errors import KnowledgeError
from knowledge.lexical import LexicalIndex
from knowledge.retriever import HybridRetriever, expand_query
from knowledge.store import KnowledgeBase

SearchFn = Callable[[str, int], list[str]]


class QuestionFileError(KnowledgeError):
    """The question file is missing or one of its lines is not a valid question."""


def load_questions(path: str | Path) -> list[dict]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise QuestionFileError(f"{path}: cannot read: {exc}") from exc
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise QuestionFileError(f"{path}:{n}: not JSON: {exc}") from exc
        q = obj.get("question") if isinstance(obj, dict) else None
        expected = obj.get("expected") if isinstance(obj, dict) else None
        if isinstance(expected, str):
            expected = [expected]
        if not isinstance(q, str) or not q.strip() or not isinstance(expected, list):
            raise QuestionFileError(
                f'{path}:{n}: expected {{"question": str, "expected": [fiche IDs]}}'
            )
        out.append({"question": q, "expected": [str(e) for e in expected]})
    if not out:
        raise QuestionFileError(f"{path}: no question")
    return out


def evaluate(search: SearchFn, questions: Sequence[dict], *, k: int = 10) -> dict:
    """hit@1/5/10, mrr@10 (and hit@k, mrr@k) and latency of `search(question, k) -> IDs`.

    The search always goes at least 10 deep so that hit@10 and mrr@10 mean what they say.
    """
    depth = max(k, 10)
    hits = {1: 0, 5: 0, 10: 0, k: 0}
    rr = {10: 0.0, k: 0.0}
    times = []
    for q in questions:
        t = time.perf_counter()
        ids = search(q["question"], depth)[:depth]
        times.append((time.perf_counter() - t) * 1000)
        expected = set(q["expected"])
        rank = next((i for i, fid in enumerate(ids, 1) if fid in expected), None)
        if rank is not None:
            for cut in rr:
                if rank <= cut:
                    rr[cut] += 1.0 / rank
            for cut in hits:
                if rank <= cut:
                    hits[cut] += 1
    n = len(questions)
    out = {"n": n}
    for cut in sorted(hits):
        out[f"hit@{cut}"] = round(hits[cut] / n, 4) if n else 0.0
    for cut in sorted(rr):
        out[f"mrr@{cut}"] = round(rr[cut] / n, 4) if n else 0.0
    out["p50_ms"] = round(float(np.percentile(times, 50)), 2) if times else 0.0
    out["p95_ms"] = round(float(np.percentile(times, 95)), 2) if times else 0.0
    return out


def retriever_search(retriever: HybridRetriever, audience: str | None = None) -> SearchFn:
    def search(question: str, k: int) -> list[str]:
        return [d.metadata["fiche_id"] for d in retriever.search(question, k=k, audience=audience)]

    return search


def evaluate_retrieval(kb: KnowledgeBase, path: str | Path, *, k: int = 10) -> dict:
    """What `guichet eval retrieval FILE --k K` prints."""
    questions = load_questions(path)
    kb.warmup()
    return evaluate(retriever_search(kb.retriever(k=k)), questions, k=k)


class FicheBM25Baseline:
    """Plain BM25 over whole fiches (title + all chunk texts), same French analyzer."""

    def __init__(self, kb: KnowledgeBase, *, expand: bool = False) -> None:
        rows = kb.catalog.query("SELECT fiche_id, context, text FROM chunks ORDER BY fiche_id, ord")
        texts: dict[str, list[str]] = {}
        for fid, ctx, text in rows:
            parts = texts.setdefault(fid, [])
            if not parts:
                parts.append(ctx.split(" › ", 1)[0])  # the fiche title, once
            parts.append(text)
        ids = list(texts)
        self.expand = expand
        self.index = LexicalIndex.build(ids, ["\n".join(texts[i]) for i in ids])

    def search(self, question: str, k: int) -> list[str]:
        q = expand_query(question) if self.expand else question
        return [fid for fid, _ in self.index.search(q, k)]
