"""Benchmark of the answer chain over a store (by default the full 2020 corpus).

1. Chain overhead excluding the LLM call: the chain runs with a real ChatOpenAI against the
   fake OpenAI server (devtools/openai_server.py, zero latency, on 127.0.0.1); overhead
   = total latency − the Generate step (the LLM HTTP call). Measured in the same run, side by
   side: retrieval alone (`retriever.ainvoke`), and the whole chain with the extractive
   generator. Target: overhead p95 ≤ 60 ms.
2. The dev set (`dev-related-questions.jsonl`) through the chain with the extractive
   generator: expected fiche cited, URLs traceable (must be 100 %), figures traceable,
   latency.

    python bench/bench_chain.py [--store /work/store-full] [--dev FILE] [--limit N]
                                [--overhead-n 300] [--out bench/results/chain.json]

The machine is shared (2 cores, other jobs running): the load average is recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from langchain_core.documents import Document  # noqa: E402
from langchain_core.retrievers import BaseRetriever  # noqa: E402
from pydantic import Field  # noqa: E402

from chains.answer import build_answer_chain  # noqa: E402
from chains.evaluate import evaluate_answers, load_items, percentile  # noqa: E402
from chains.llm import build_chat_model  # noqa: E402
from chains.models import AnswerRequest  # noqa: E402
from chains.settings import ChainSettings  # noqa: E402
from devtools.bench import run_header  # noqa: E402
from devtools.openai_server import FakeOpenAIServer  # noqa: E402
from knowledge.settings import KnowledgeSettings  # noqa: E402
from knowledge.store import KnowledgeBase  # noqa: E402

DEV = Path("/work/shared/data/questions/dev-related-questions.jsonl")


def stats(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50_ms": percentile(values, 50),
        "p95_ms": percentile(values, 95),
        "mean_ms": round(sum(values) / len(values), 2) if values else None,
    }


class ReplayRetriever(BaseRetriever):
    """Hands back the documents the real retriever returned for the same query: the chain's
    own cost, without retrieval, measured on the real documents."""

    docs: dict = Field(default_factory=dict)

    def _get_relevant_documents(self, query, *, run_manager, **kwargs):
        return [
            Document(page_content=d.page_content, metadata=d.metadata) for d in self.docs[query]
        ]

    async def _aget_relevant_documents(self, query, *, run_manager, **kwargs):
        return self._get_relevant_documents(query, run_manager=run_manager)


async def bench_overhead(kb, questions: list[str], settings: ChainSettings) -> dict:
    retriever = kb.retriever(k=settings.retrieval_k)
    replay = ReplayRetriever()
    with FakeOpenAIServer() as server:
        llm_settings = settings.model_copy(
            update={"llm_url": server.base_url, "llm_model": "guichet-test", "llm_timeout": 10}
        )
        llm_chain = build_answer_chain(retriever, build_chat_model(llm_settings), llm_settings)
        own_chain = build_answer_chain(replay, build_chat_model(llm_settings), llm_settings)
        ext_chain = build_answer_chain(retriever, None, settings)
        # warm up: embedding workers, caches, HTTP connection
        for q in questions[:5]:
            await retriever.ainvoke(q)
            await llm_chain.ainvoke(AnswerRequest(question=q))
            await ext_chain.ainvoke(AnswerRequest(question=q))
        retrieval, overhead, llm_call, ext_total, own = [], [], [], [], []
        steps: dict[str, list[float]] = {}
        # interleaved, so that load changes hit the three measures alike
        for q in questions:
            t0 = time.perf_counter()
            replay.docs[q] = await retriever.ainvoke(q)
            retrieval.append((time.perf_counter() - t0) * 1000)
            r = await own_chain.ainvoke(AnswerRequest(question=q))
            own.append(r.latency_ms - r.timings_ms.get("Generate", 0.0))
            a = await llm_chain.ainvoke(AnswerRequest(question=q))
            gen = a.timings_ms.get("Generate", 0.0)
            overhead.append(a.latency_ms - gen)
            if "Generate" in a.timings_ms:
                llm_call.append(gen)
            for k, v in a.timings_ms.items():
                steps.setdefault(k, []).append(v)
            e = await ext_chain.ainvoke(AnswerRequest(question=q))
            ext_total.append(e.latency_ms)
        requests = server.count(path="/v1/chat/completions")
    return {
        "retrieval_alone": stats(retrieval),
        "chain_overhead_excluding_llm": stats(overhead),
        "chain_own_overhead_excluding_llm_and_retrieval": stats(own),
        "llm_call_to_local_fake_server": stats(llm_call),
        "chain_total_extractive": stats(ext_total),
        "steps_with_llm": {k: stats(v) for k, v in steps.items()},
        "llm_requests": requests,
        "overhead_p95_target_ms": 60,
        "overhead_p95_ok": (percentile(overhead, 95) or 1e9) <= 60,
        "overhead_minus_retrieval_p50_ms": round(
            (percentile(overhead, 50) or 0) - (percentile(retrieval, 50) or 0), 2
        ),
    }


async def bench_dev(kb, dev: Path, limit: int | None, settings: ChainSettings) -> dict:
    items = load_items(dev)
    if limit:
        items = random.Random(0).sample(items, min(limit, len(items)))
    chain = build_answer_chain(kb.retriever(k=settings.retrieval_k), None, settings)
    await chain.ainvoke(items[0].request())  # warm up
    retrieved_expected = 0

    def progress(result) -> None:
        nonlocal retrieved_expected
        ids = {s.fiche_id for s in result.answer.sources}
        retrieved_expected += bool(ids & set(result.item.expected))
        done = len(seen)
        seen.append(1)
        if done % 200 == 0:
            print(f"  dev {done}/{len(items)}", file=sys.stderr, flush=True)

    seen: list[int] = []
    t0 = time.perf_counter()
    summary = await evaluate_answers(chain, items, progress=progress)
    wall = time.perf_counter() - t0
    summary.pop("by_kind", None)
    misses = summary.pop("misses")
    summary["expected_among_sources_after_gate"] = round(retrieved_expected / len(items), 4)
    summary["misses_sample"] = misses[:15]
    summary["wall_s"] = round(wall, 1)
    summary["file"] = str(dev)
    return summary


async def main(args: argparse.Namespace) -> dict:
    settings = ChainSettings(_env_file=None)
    kb = KnowledgeBase.open(KnowledgeSettings(store_dir=args.store))
    try:
        stats_kb = kb.stats()
        dev_items = load_items(args.dev)
        questions = [i.text for i in random.Random(1).sample(dev_items, args.overhead_n)]
        load0 = os.getloadavg()
        overhead = await bench_overhead(kb, questions, settings)
        load1 = os.getloadavg()
        dev = await bench_dev(kb, args.dev, args.limit, settings)
        load2 = os.getloadavg()
    finally:
        kb.close()
    return {
        **run_header(
            [load0, load1, load2],
            "shared 2-core machine, other helpers' jobs running at the same time",
        ),
        "store": {k: stats_kb.get(k) for k in ("fiches", "chunks", "embedding_model", "store")},
        "settings": {"retrieval_k": settings.retrieval_k, "generator_dev": "extractive"},
        "overhead": overhead,
        "dev_extractive": dev,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, default=Path("/work/store-full"))
    parser.add_argument("--dev", type=Path, default=DEV)
    parser.add_argument("--limit", type=int, default=None, help="dev questions (default all)")
    parser.add_argument("--overhead-n", type=int, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "chain.json")
    args = parser.parse_args()
    if not args.store.is_dir() or not any(args.store.iterdir()):
        sys.exit(f"no store at {args.store}: build it with `guichet ingest ... --store DIR`")
    result = asyncio.run(main(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    o, d = result["overhead"], result["dev_extractive"]
    d.pop("misses_sample", None)
    print(
        json.dumps(
            {"overhead": {k: v for k, v in o.items() if k != "steps_with_llm"}, "dev": d}, indent=2
        )
    )
