"""Answer quality and latency: the extractive generator vs a REAL model, on agents' questions.

The real model is Qwen2.5-Coder-0.5B-Instruct (Q4_K_M) served by llama.cpp's
OpenAI-compatible server on 127.0.0.1 with 2 threads (devtools/llamacpp.py: fetched from
PyPI once, cached), started for this run only. Both generators answer the same items of
`agents-dev.jsonl` (kinds question / draft_reply / out_of_scope, read by
`chains.evaluate.load_items`) over the same store and retrieval; scored by
`chains.evaluate.score_item`: expected fiche cited, answer facts present, URLs and figures
traceable, out-of-scope declined, latency p50/p95.

    python bench/bench_llm.py [--store /work/stores/full] [--limit 30] [--budget-seconds 900]
                              [--questions FILE] [--out bench/results/llm.json]

Items are a seeded sample that keeps the file's mix of kinds. The model runs item by item
until --budget-seconds is spent (items left are reported, not run); the extractive scores are
given on all the sample and on the items the model did. Without the store (missing or empty),
a store of the bundled sample corpus is built in a temporary directory (most expected fiches
of agents-dev are then absent: the scores mean little). The machine is shared: the load
average is recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chains.answer import build_answer_chain  # noqa: E402
from chains.evaluate import KINDS, EvalItem, load_items, percentile, score_item, summarise  # noqa: E402
from chains.llm import build_chat_model  # noqa: E402
from chains.settings import ChainSettings  # noqa: E402
from devtools import llamacpp  # noqa: E402
from devtools.bench import run_header  # noqa: E402
from knowledge.settings import KnowledgeSettings  # noqa: E402
from knowledge.store import KnowledgeBase  # noqa: E402

QUESTIONS = Path("/work/shared/data/questions/agents-dev.jsonl")
DEFAULT_STORE = Path("/work/stores/full")
SAMPLE_DIR = ROOT / "knowledge" / "sample"


def sample_items(items: list[EvalItem], limit: int | None, seed: int) -> list[EvalItem]:
    """A seeded sample keeping the mix of kinds (at least one of each when limit allows),
    interleaved so that a budget cut leaves a mix too."""
    rng = random.Random(seed)
    by_kind = {k: [i for i in items if i.kind == k] for k in KINDS}
    for group in by_kind.values():
        rng.shuffle(group)
    n = len(items) if not limit else min(limit, len(items))
    share = {k: len(v) / len(items) for k, v in by_kind.items()}
    taken = dict.fromkeys(KINDS, 0)
    out: list[EvalItem] = []
    while len(out) < n:
        open_kinds = [k for k in KINDS if taken[k] < len(by_kind[k])]
        # the kind furthest below its share; a kind not yet taken first
        kind = max(open_kinds, key=lambda k: (taken[k] == 0, share[k] * (len(out) + 1) - taken[k]))
        out.append(by_kind[kind][taken[kind]])
        taken[kind] += 1
    return out


def open_store(path: Path, tmp: Path) -> tuple[KnowledgeBase, str]:
    if (path / "catalog.sqlite3").exists():
        return KnowledgeBase.open(KnowledgeSettings(store_dir=path)), str(path)
    from knowledge.ingest import ingest

    print(f"no store at {path}: building one from {SAMPLE_DIR} (sample corpus)", file=sys.stderr)
    settings = KnowledgeSettings(_env_file=None, store_dir=tmp / "store", chroma_url=None)
    kb = KnowledgeBase.open(settings, create=True, for_ingest=True)
    ingest(kb, [str(SAMPLE_DIR)], progress=False)
    kb.close()
    return KnowledgeBase.open(settings), f"sample corpus ({SAMPLE_DIR}), built in {tmp}"


def block(results, wall_s: float | None = None) -> dict:
    out = summarise(results) if results else {"n": 0}
    if results:
        gen = [
            r.answer.timings_ms["Generate"] for r in results if "Generate" in r.answer.timings_ms
        ]
        out["generate_p50_ms"] = percentile(gen, 50)
        out["generate_p95_ms"] = percentile(gen, 95)
        toks = [r.answer.tokens for r in results if r.answer.tokens]
        if toks:
            out["mean_input_tokens"] = round(
                sum(t.get("input_tokens", 0) for t in toks) / len(toks)
            )
            out["mean_output_tokens"] = round(
                sum(t.get("output_tokens", 0) for t in toks) / len(toks)
            )
        out["errors"] = sorted({r.answer.error for r in results if r.answer.error})
        # drafts the model wrote that said nothing, replaced by the embedded generator's,
        # and drafts quoting the system prompt, replaced by a notice
        out["replaced_by_embedded"] = sum(1 for r in results if r.answer.checks.get("llm_fallback"))
        out["prompt_leaks_replaced"] = sum(1 for r in results if r.answer.checks.get("prompt_leak"))
        # latency of the items that reached the generator (no_source answers skip it)
        lat = [r.answer.latency_ms for r in results if r.answer.status != "no_source"]
        out["generated_n"] = len(lat)
        out["generated_p50_ms"] = percentile(lat, 50)
        out["generated_p95_ms"] = percentile(lat, 95)
    if wall_s is not None:
        out["wall_s"] = round(wall_s, 1)
    return out


def example(r, chars: int = 400) -> dict:
    a = r.answer
    return {
        "line": r.item.line,
        "kind": r.item.kind,
        "text": r.item.text[:200],
        "expected": r.item.expected,
        "status": a.status,
        "error": a.error,
        "cited": [s.fiche_id for s in a.sources if s.cited],
        "flagged": a.flagged,
        "latency_ms": round(a.latency_ms),
        "answer": a.text[:chars],
    }


async def run(args: argparse.Namespace) -> dict:
    all_items = load_items(args.questions)
    items = sample_items(all_items, args.limit, args.seed)
    base = ChainSettings(_env_file=None, retrieval_k=args.k, context_max_chars=args.context_chars)
    llm_settings = base.model_copy(
        update={
            "llm_model": llamacpp.MODEL_ALIAS,
            "llm_max_tokens": args.max_tokens,
            "llm_temperature": 0.0,
            "llm_timeout": args.llm_timeout,
        }
    )
    with tempfile.TemporaryDirectory(prefix="bench-llm-") as tmp:
        kb, store_label = open_store(args.store, Path(tmp))
        try:
            kb_stats = kb.stats()
            retriever = kb.retriever(k=args.k)
            load0 = os.getloadavg()

            # 1. extractive, every sampled item
            ext_chain = build_answer_chain(retriever, None, base)
            await ext_chain.ainvoke(items[0].request())  # warm-up (embedding model, caches)
            t0 = time.perf_counter()
            ext = [score_item(i, await ext_chain.ainvoke(i.request())) for i in items]
            ext_wall = time.perf_counter() - t0
            load1 = os.getloadavg()

            # 2. the real model, within the budget
            model = llamacpp.fetch_model()
            t_start = time.perf_counter()
            with llamacpp.llama_server(model, threads=2, ctx=args.ctx) as url:
                startup_s = time.perf_counter() - t_start
                s = llm_settings.model_copy(update={"llm_url": url})
                llm = build_chat_model(s)
                llm_chain = build_answer_chain(retriever, llm, s)
                t0 = time.perf_counter()
                got = []
                for n, item in enumerate(items, start=1):
                    if time.perf_counter() - t0 > args.budget_seconds:
                        break
                    answer = await llm_chain.ainvoke(item.request())
                    got.append(score_item(item, answer))
                    print(
                        f"  llm {n}/{len(items)} {item.kind} {answer.status} "
                        f"{answer.latency_ms / 1000:.1f}s",
                        file=sys.stderr,
                        flush=True,
                    )
                llm_wall = time.perf_counter() - t0
                await llm.http_async_client.aclose()
            load2 = os.getloadavg()
        finally:
            kb.close()

    done = {r.item.line for r in got}
    ext_same = [r for r in ext if r.item.line in done]
    return {
        **run_header(
            [load0, load1, load2], "shared 2-core machine: other jobs may run at the same time"
        ),
        "store": {"used": store_label}
        | {k: kb_stats.get(k) for k in ("fiches", "chunks", "embedding_model")},
        "questions": {
            "file": str(args.questions),
            "sampled": len(items),
            "seed": args.seed,
            "by_kind": {k: sum(i.kind == k for i in items) for k in KINDS},
        },
        "settings": {
            "retrieval_k": args.k,
            "context_max_chars": args.context_chars,
            "llm_max_tokens": args.max_tokens,
            "llm_timeout_s": args.llm_timeout,
            "llm_temperature": 0.0,
            "budget_seconds": args.budget_seconds,
        },
        "model": {
            "file": llamacpp.MODEL_FILE,
            "sha256": llamacpp.MODEL_SHA256,
            "server": "llama.cpp (xllamacpp), 127.0.0.1, 2 threads, 1 slot",
            "context_tokens": args.ctx,
            "server_startup_s": round(startup_s, 1),
        },
        "extractive_all": block(ext, ext_wall),
        "extractive_same_items": block(ext_same),
        "llm": block(got, llm_wall),
        "llm_not_run_budget": len(items) - len(got),
        "examples_llm": [example(r) for r in got[: args.examples]],
        "examples_extractive": [example(r) for r in ext_same[: args.examples]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--limit", type=int, default=30, help="items sampled (0: all)")
    parser.add_argument("--budget-seconds", type=float, default=900.0, help="for the model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=3, help="fiches retrieved per question")
    parser.add_argument("--context-chars", type=int, default=3000, help="fiche text in the prompt")
    parser.add_argument("--max-tokens", type=int, default=200, help="generated tokens cap")
    parser.add_argument("--llm-timeout", type=float, default=120.0, help="per-answer deadline")
    parser.add_argument("--ctx", type=int, default=4096, help="server context (tokens)")
    parser.add_argument("--examples", type=int, default=8, help="answers kept in the output")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "llm.json")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    keys = ("n", "expected_cited", "facts_present", "out_of_scope_declined", "urls_traceable")
    keys += ("amounts_traceable", "p50_ms", "p95_ms", "generated_p50_ms", "generated_p95_ms")
    keys += ("statuses", "errors", "wall_s")
    short = {
        name: {k: result[name].get(k) for k in keys}
        for name in ("extractive_all", "extractive_same_items", "llm")
    }
    short["llm_not_run_budget"] = result["llm_not_run_budget"]
    print(json.dumps(short, ensure_ascii=False, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
