"""Fit the second stage's weights (knowledge/ranker.json), with cross-validation.

    .venv/bin/python bench/fit_ranker.py [--store /work/stores/full] [--write]

Data: every development question with its expected fiches —
- ../shared/data/questions/agents-dev.jsonl (agents' questions and citizens' messages),
- bench/questions-labour-short.jsonl (short labour-law queries, written for this bench),
- bench/questions-paraphrased.jsonl (65 paraphrases),
- 600 items of ../shared/data/questions/dev-related-questions.jsonl (fixed sample), so that
  title-like questions keep working;
- bench/questions-agents-extra.jsonl (questions and messages on 150 other fiches) and
  bench/questions-agents-extra2.jsonl (on 80 more), written the same way as agents-dev and
  weighing as it does (since the twenty-first session: until then they weighed nothing, a
  check of the weights on fiches never seen; the folds below are that check now).

For each question, the first stage's candidates (`HybridRetriever.candidates_many`) and
their features (`knowledge.ranking.FEATURES`) are computed once; the model is a linear score
trained with a listwise softmax loss (the expected fiches share the target mass), L2
regularised, on standardised features; each set weighs `SET_WEIGHTS` in the loss.

Cross-validation: 5 folds grouped by expected fiche (a fiche's questions are all in the
same fold), so the figures estimate what happens on questions about other fiches, the
situation of the held-out verification set. Reported per set and kind: hit@1 / hit@5 of
the first stage alone and of the fitted model, for every feature group left out in turn
(each mechanism's share). `--write` refits on everything and writes knowledge/ranker.json
with the coefficients and the cross-validated figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from knowledge.ranking import KIND_FEATURES  # noqa: E402

DATA = Path(os.environ.get("GUICHET_BENCH_DATA", "/work/shared/data"))
FOLDS = 5
L2 = 1e-3
# How much each set weighs in the loss (each set's items share its weight): the sets
# written the way agents and citizens write count most, they are what Guichet is for.
SET_WEIGHTS = {
    "agents questions": 3.0,
    "agents messages": 2.0,
    # the two sets written the same way on other fiches (bench/questions-agents-extra*.md)
    # weigh as agents-dev: agents' questions are told in many ways, and one set of 180 is
    # too few to learn them (the folds keep a fiche's questions together, so each set's
    # cross-validated figures are those of fiches the weights never saw)
    "extra questions": 3.0,
    "extra messages": 2.0,
    "extra2 questions": 3.0,
    "extra2 messages": 2.0,
    "labour short": 1.0,
    "paraphrased": 1.0,
    "related (600)": 1.0,
}
GROUPS = {
    "e5 (second embedder)": ("e5", "e5_gap"),
    "fiche-level lists": ("rrf_title_lex", "rrf_card_lex", "rrf_card_dense", "cos_card_dense"),
    "kind of publication": KIND_FEATURES,
    "word pairs": ("body_pairs",),
}


def load_sets() -> dict[str, list[dict]]:
    sys.path.insert(0, str(HERE.parent))
    from knowledge.evaluate import by_kind, load_questions

    agents = by_kind(load_questions(DATA / "questions" / "agents-dev.jsonl"))
    related = load_questions(DATA / "questions" / "dev-related-questions.jsonl")
    random.Random(7).shuffle(related)
    extra = by_kind(load_questions(HERE / "questions-agents-extra.jsonl"))
    extra2 = by_kind(load_questions(HERE / "questions-agents-extra2.jsonl"))
    return {
        "agents questions": agents["question"],
        "agents messages": agents["draft_reply"],
        "extra questions": extra["question"],
        "extra messages": extra["draft_reply"],
        "extra2 questions": extra2["question"],
        "extra2 messages": extra2["draft_reply"],
        "labour short": load_questions(HERE / "questions-labour-short.jsonl"),
        "paraphrased": load_questions(HERE / "questions-paraphrased.jsonl"),
        "related (600)": related[:600],
    }


def collect(retriever, questions: list[dict]) -> list[dict]:
    """Candidates and features of each question (one batch call per 32 questions)."""
    from knowledge.retriever import SearchRequest

    out = []
    for start in range(0, len(questions), 32):
        part = questions[start : start + 32]
        staged = retriever.candidates_many([SearchRequest(q["question"], 10) for q in part])
        for q, st in zip(part, staged, strict=True):
            if st is None:
                continue
            ids = [c.fiche_id for c in st.candidates]
            first = np.asarray([c.first_stage for c in st.candidates], dtype=np.float32)
            out.append(
                {
                    "ids": ids,
                    "x": st.features,
                    "first": first,
                    "y": np.asarray([i in q["expected"] for i in ids], dtype=np.float32),
                    "group": q["expected"][0],
                }
            )
    return out


def fit(lists: list[dict], weights: list[float], cols: np.ndarray, iters: int = 400):
    """Listwise softmax regression on the chosen columns; returns (w, mean, scale).

    Lists are padded to one length (padding masked out) so that each step is one tensor
    product: a fit takes about a second."""
    train = [(d["x"][:, cols], d["y"], w) for d, w in zip(lists, weights, strict=True)]
    train = [(x, y / y.sum(), w) for x, y, w in train if y.sum() > 0]
    allx = np.concatenate([x for x, _, _ in train])
    mean = allx.mean(0)
    scale = allx.std(0) + 1e-6
    length = max(len(x) for x, _, _ in train)
    X = np.zeros((len(train), length, len(cols)))
    Y = np.zeros((len(train), length))
    M = np.full((len(train), length), -1e9)
    W = np.asarray([w for _, _, w in train])
    W = W / W.sum()
    for i, (x, y, _) in enumerate(train):
        X[i, : len(x)] = (x - mean) / scale
        Y[i, : len(y)] = y
        M[i, : len(x)] = 0.0
    theta = np.zeros(len(cols))
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    lr = 0.05
    for t in range(1, iters + 1):
        s = X @ theta + M
        p = np.exp(s - s.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        grad = np.einsum("n,nlf->f", W, X * (p - Y)[:, :, None]) + L2 * theta
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        theta -= lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return theta, mean, scale


def model_entry(theta, mean, scale, cols: np.ndarray, n: int) -> dict:
    """A fitted model as ranker.json keeps it: one weight, mean and scale per feature, the
    features left out (not in `cols`) weighing nothing."""
    weights, means, scales = np.zeros(n), np.zeros(n), np.ones(n)
    weights[cols], means[cols], scales[cols] = theta, mean, scale
    return {
        "weights": [round(float(x), 5) for x in weights],
        "mean": [round(float(x), 6) for x in means],
        "scale": [round(float(x), 6) for x in scales],
    }


def ranks(d: dict, scores: np.ndarray) -> int | None:
    order = np.lexsort((np.asarray(d["ids"]), -scores))
    for r, i in enumerate(order, 1):
        if d["y"][i] > 0:
            return r
    return None


def metrics(lists: list[dict], score_fn) -> dict:
    r = [ranks(d, score_fn(d)) for d in lists]
    n = len(lists)
    return {
        "hit@1": round(sum(1 for x in r if x == 1) / n, 3),
        "hit@5": round(sum(1 for x in r if x and x <= 5) / n, 3),
    }


def crossval(data: dict[str, list[dict]], cols: np.ndarray) -> dict:
    groups = sorted({d["group"] for lists in data.values() for d in lists})
    random.Random(11).shuffle(groups)
    fold_of = {g: i % FOLDS for i, g in enumerate(groups)}
    scores: dict[int, np.ndarray] = {}
    flat = [d for lists in data.values() for d in lists]
    set_w = [SET_WEIGHTS[name] / len(lists) for name, lists in data.items() for _ in lists]
    for fold in range(FOLDS):
        idx = [i for i, d in enumerate(flat) if fold_of[d["group"]] != fold]
        theta, mean, scale = fit([flat[i] for i in idx], [set_w[i] for i in idx], cols)
        for i, d in enumerate(flat):
            if fold_of[d["group"]] == fold:
                scores[i] = ((d["x"][:, cols] - mean) / scale) @ theta
    out = {}
    pos = 0
    for name, lists in data.items():
        ids = {id(d): pos + k for k, d in enumerate(lists)}
        out[name] = metrics(lists, lambda d, ids=ids: scores[ids[id(d)]])
        pos += len(lists)
    return out


def main() -> int:
    sys.path.insert(0, str(HERE.parent))
    from knowledge.ranking import E5_FEATURES, FEATURES, WITHOUT_E5
    from knowledge.settings import KnowledgeSettings
    from knowledge.store import KnowledgeBase

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="/work/stores/full")
    ap.add_argument("--write", action="store_true", help="refit on all and write ranker.json")
    args = ap.parse_args()

    sets = load_sets()
    settings = KnowledgeSettings(store_dir=Path(args.store), _env_file=None)
    with KnowledgeBase.open(settings) as kb:
        kb.warmup()
        retriever = kb.retriever(k=10)
        data = {name: collect(retriever, qs) for name, qs in sets.items()}
    report: dict = {"n": {k: len(v) for k, v in data.items()}}
    report["first stage only"] = {
        name: metrics(lists, lambda d: d["first"]) for name, lists in data.items()
    }
    report["recall of the candidate pool"] = {
        name: round(sum(1 for d in lists if d["y"].sum() > 0) / len(lists), 3)
        for name, lists in data.items()
    }
    all_cols = np.arange(len(FEATURES))
    report["second stage (cross-validated)"] = crossval(data, all_cols)
    for group, names in GROUPS.items():
        cols = np.asarray([i for i, f in enumerate(FEATURES) if f not in names])
        report[f"without {group} (cross-validated)"] = crossval(data, cols)
    print(json.dumps(report, indent=1, ensure_ascii=False))

    if args.write:
        flat = [d for lists in data.values() for d in lists]
        set_w = [SET_WEIGHTS[name] / len(lists) for name, lists in data.items() for _ in lists]
        # the weights for a search without e5 (the second embedder off, or a store without its
        # vectors): fitted without its features, zero on them
        no_e5 = np.asarray([i for i, f in enumerate(FEATURES) if f not in E5_FEATURES])
        out = {
            "features": list(FEATURES),
            **model_entry(*fit(flat, set_w, all_cols), all_cols, len(FEATURES)),
            WITHOUT_E5: model_entry(*fit(flat, set_w, no_e5), no_e5, len(FEATURES)),
            "fitted": f"bench/fit_ranker.py --write (listwise softmax, L2 {L2:g})",
            "data": {k: len(v) for k, v in sets.items()},
            "cross_validation": report,
        }
        path = HERE.parent / "knowledge" / "ranker.json"
        path.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
