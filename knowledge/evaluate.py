"""Retrieval quality on a JSONL question file, and the baselines the bench compares with.

FILE lines are `{"question": str, "expected": [fiche IDs]}`; the agents-dev format is read
too (`"message"` for a citizen's message, `"kind"`, `"id"`); items without an expected
fiche (out of scope) are left out. An item's `"audience"` (Particuliers, Professionnels,
Associations) is passed to the retriever, as the bot passes `GUICHET_AUDIENCE` and as
`guichet eval answers` does, unless the evaluation is asked to ignore it. A hit@k counts
when any expected ID is among the top-k distinct fiches; MRR@k uses the rank of the first
expected ID found. Results come per `kind` when the file has several.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from knowledge.errors import KnowledgeError
from knowledge.fiche_index import whole_texts
from knowledge.lexical import LexicalIndex
from knowledge.models import AUDIENCES, audience_named
from knowledge.retriever import HybridRetriever, expand_query
from knowledge.store import KnowledgeBase

SearchFn = Callable[..., list[str]]  # (question, k[, audience]) -> fiche IDs, best first


class QuestionFileError(KnowledgeError):
    """The question file is missing or one of its lines is not a valid question."""


def read_jsonl(path: str | Path, error: type[Exception]) -> Iterator[tuple[int, str, dict]]:
    """The JSON objects of an evaluation file, each with its line number and where it is
    ("file:line"); raises `error` naming the file and the line of the first that is not one.
    The one reader of the question files (retrieval here, answers in `chains.evaluate`)."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise error(f"{p}: cannot read the file ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise error(f"{p}: not UTF-8 text") from exc
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{p}:{no}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{where}: invalid JSON ({exc.msg})") from exc
        if not isinstance(obj, dict):
            raise error(f"{where}: expected a JSON object")
        yield no, where, obj


def load_questions(path: str | Path) -> list[dict]:
    out = []
    for no, where, obj in read_jsonl(path, QuestionFileError):
        q = obj.get("question", obj.get("message"))
        expected = obj.get("expected")
        if isinstance(expected, str):
            expected = [expected]
        if not isinstance(q, str) or not q.strip() or not isinstance(expected, list):
            raise QuestionFileError(
                f'{where}: expected {{"question": str, "expected": [fiche IDs]}}'
            )
        if not expected:
            continue  # out of scope: nothing to find
        audience = obj.get("audience")
        if audience is not None:
            audience = audience_named(str(audience))
            if audience is None:
                raise QuestionFileError(
                    f"{where}: unknown audience {obj.get('audience')!r}; "
                    f"expected one of {', '.join(AUDIENCES)}"
                )
        out.append(
            {
                "id": str(obj.get("id", f"line-{no}")),
                "kind": str(obj.get("kind", "question")),
                "question": q,
                "expected": [str(e) for e in expected],
                "audience": audience,
            }
        )
    if not out:
        raise QuestionFileError(f"{path}: no question")
    return out


def evaluate(
    search: SearchFn,
    questions: Sequence[dict],
    *,
    k: int = 10,
    misses: list | None = None,
    times: list | None = None,
    audience: bool = False,
) -> dict:
    """hit@1/5/10, mrr@10 (and hit@k, mrr@k) and latency of `search(question, k) -> IDs`
    (`audience`: of `search(question, k, audience)` with each question's audience).

    The search always goes at least 10 deep so that hit@10 and mrr@10 mean what they say.
    `misses`, when given, receives each question whose first result is not expected:
    {id, question, expected, rank of the first expected fiche (None: not in the top k),
    top: the first IDs returned}.
    """
    depth = max(k, 10)
    hits = {1: 0, 5: 0, 10: 0, k: 0}
    rr = {10: 0.0, k: 0.0}
    times = [] if times is None else times
    for q in questions:
        t = time.perf_counter()
        args = (q["question"], depth, q.get("audience")) if audience else (q["question"], depth)
        ids = search(*args)[:depth]
        times.append((time.perf_counter() - t) * 1000)
        expected = set(q["expected"])
        rank = next((i for i, fid in enumerate(ids, 1) if fid in expected), None)
        if misses is not None and rank != 1:
            misses.append(
                {
                    "id": q.get("id"),
                    "question": q["question"],
                    "expected": q["expected"],
                    "rank": rank,
                    "top": ids[:3],
                }
            )
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


def retriever_search(retriever: HybridRetriever) -> SearchFn:
    """The retriever as a search function; the audience, when given, restricts the fiches."""

    def search(question: str, k: int, audience: str | None = None) -> list[str]:
        return [d.metadata["fiche_id"] for d in retriever.search(question, k=k, audience=audience)]

    return search


def by_kind(questions: Sequence[dict]) -> dict[str, list[dict]]:
    """The questions grouped by `kind`, in first-seen order."""
    groups: dict[str, list[dict]] = {}
    for q in questions:
        groups.setdefault(q.get("kind", "question"), []).append(q)
    return groups


def evaluate_retrieval(
    kb: KnowledgeBase,
    path: str | Path,
    *,
    k: int = 10,
    misses: list | None = None,
    audience: bool = True,
) -> dict:
    """What `guichet eval retrieval FILE --k K` prints: the figures, per kind if several
    (`audience`: each question searched within its item's audience, when it has one)."""
    questions = load_questions(path)
    kb.warmup()
    search = retriever_search(kb.retriever(k=k))
    groups = by_kind(questions)
    if len(groups) == 1:
        return evaluate(search, questions, k=k, misses=misses, audience=audience)
    return {
        kind: evaluate(search, qs, k=k, misses=misses, audience=audience)
        for kind, qs in groups.items()
    }


class FicheBM25Baseline:
    """Plain BM25 over whole fiches (title + all chunk texts), same French analyzer."""

    def __init__(self, kb: KnowledgeBase, *, expand: bool = False) -> None:
        rows = kb.catalog.query("SELECT id, context, text FROM chunks ORDER BY fiche_id, ord")
        texts = whole_texts(rows)
        ids = list(texts)
        self.expand = expand
        self.index = LexicalIndex.build(ids, [texts[i] for i in ids])

    def search(self, question: str, k: int) -> list[str]:
        q = expand_query(question) if self.expand else question
        return [fid for fid, _ in self.index.search(q, k)]
