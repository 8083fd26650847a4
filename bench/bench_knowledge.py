"""Knowledge-base benchmark on the full DILA corpus (not a test: run it by hand).

    /work/venv/bin/python bench/bench_knowledge.py [--store /work/store-full] [--reuse]

Measures, in one run on one corpus:
- full ingest time (parse + chunk + embed + Chroma + lexical), CPU seconds included;
- unchanged re-ingest time; store size on disk;
- retrieval latency p50/p95 (Guichet's retriever, query analysis, embeddings and second stage
  included) over every question;
- quality (hit@1, hit@5, hit@10, MRR@10), side by side in the same run, of: plain BM25 over
  whole fiches, dense only (Chroma + USE over chunks), plain RRF of the two (equal weights,
  k=60), and Guichet, on: agents-dev questions and citizens' messages (separately), the
  three sets written the same way on other fiches (bench/questions-agents-extra.jsonl,
  bench/questions-agents-extra2.jsonl, bench/questions-agents-extra3.jsonl: the last one
  never fitted on), the short labour-law queries
  (bench/questions-labour-short.jsonl), the related-questions regression set and the 65
  paraphrases (bench/questions-paraphrased.jsonl);
- peak RSS of the process (store open, every model loaded).

Writes bench/results/knowledge.json and bench/results/knowledge.md. The machine is shared
and noisy (2 cores, other jobs running): the load average is recorded with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("GUICHET_BENCH_DATA", "/work/shared/data"))


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    sys.path.insert(0, str(HERE.parent))
    from knowledge.evaluate import (
        FicheBM25Baseline,
        by_kind,
        evaluate,
        load_questions,
        retriever_search,
    )
    from knowledge.ingest import ingest
    from knowledge.settings import KnowledgeSettings
    from knowledge.store import KnowledgeBase

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="/work/store-full", help="store directory (rebuilt)")
    ap.add_argument("--reuse", action="store_true", help="keep an existing store, skip ingest")
    ap.add_argument("--dev-limit", type=int, default=0, help="only the first N dev questions")
    ap.add_argument(
        "--systems",
        default="bm25_fiche,dense,rrf,guichet,guichet_audience",
        help="comma-separated systems to run (guichet alone: a latency check on a quiet "
        "machine; writes bench/results/knowledge-latency.json instead)",
    )
    ap.add_argument(
        "--ingest-only",
        action="store_true",
        help="measure the ingests and stop (then fit the ranker, then run with --reuse)",
    )
    args = ap.parse_args()

    inputs = sorted(str(p) for p in (DATA / "vdd-2020").glob("*.zip"))
    dev = load_questions(DATA / "questions" / "dev-related-questions.jsonl")
    if args.dev_limit:
        dev = dev[: args.dev_limit]
    para = load_questions(HERE / "questions-paraphrased.jsonl")
    agents = by_kind(load_questions(DATA / "questions" / "agents-dev.jsonl"))
    labour = load_questions(HERE / "questions-labour-short.jsonl")
    extra = by_kind(load_questions(HERE / "questions-agents-extra.jsonl"))
    extra2 = by_kind(load_questions(HERE / "questions-agents-extra2.jsonl"))
    extra3 = by_kind(load_questions(HERE / "questions-agents-extra3.jsonl"))
    sets = {
        "agents-dev questions": agents["question"],
        "agents-dev citizens' messages": agents["draft_reply"],
        "agents-extra questions (other fiches)": extra["question"],
        "agents-extra citizens' messages (other fiches)": extra["draft_reply"],
        "agents-extra2 questions (other fiches, fresh)": extra2["question"],
        "agents-extra2 citizens' messages (other fiches, fresh)": extra2["draft_reply"],
        "agents-extra3 questions (other fiches, never fitted on)": extra3["question"],
        "agents-extra3 citizens' messages (other fiches, never fitted on)": extra3["draft_reply"],
        "labour-law short queries": labour,
        "related questions (dev)": dev,
        "paraphrased": para,
    }
    store = Path(args.store)
    settings = KnowledgeSettings(store_dir=store, _env_file=None)
    results: dict = {
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
            "loadavg_start": os.getloadavg(),
        },
        "settings": {
            "embed_max_chars": settings.embed_max_chars,
            "ingest_workers": settings.ingest_workers,
            "fusion": [
                settings.fusion_dense_weight,
                settings.fusion_lexical_weight,
                settings.fusion_rrf_k,
            ],
            "candidates": settings.retrieval_candidates,
        },
        "inputs": inputs,
    }

    previous = HERE / "results" / "knowledge.json"
    if args.reuse and previous.exists():
        # keep the ingest figures of the run that built this store
        old = json.loads(previous.read_text())
        for key in ("ingest_full", "ingest_unchanged"):
            if key in old:
                results[key] = {**old[key], "from_previous_run": True}
    if not args.reuse:
        shutil.rmtree(store, ignore_errors=True)
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        with KnowledgeBase.open(settings, create=True, for_ingest=True) as kb:
            summary = ingest(kb, inputs, progress=False)
        wall = time.perf_counter() - t0
        results["ingest_full"] = {
            "seconds": round(wall, 1),
            "cpu_seconds": round(cpu_seconds() - cpu0, 1),
            "files_read": summary.files_read,
            "fiches": summary.fiches_new,
            "chunks": summary.chunks_total,
            "skipped": len(summary.skipped),
            "loadavg_after": os.getloadavg(),
        }
        print("full ingest", results["ingest_full"], flush=True)

        t0 = time.perf_counter()
        with KnowledgeBase.open(settings, for_ingest=True) as kb:
            again = ingest(kb, inputs, progress=False)
        results["ingest_unchanged"] = {
            "seconds": round(time.perf_counter() - t0, 1),
            "seconds_inside_ingest": again.seconds,
            "fiches_unchanged": again.fiches_unchanged,
            "fiches_new": again.fiches_new,
            "fiches_updated": again.fiches_updated,
        }
        print("unchanged re-ingest", results["ingest_unchanged"], flush=True)
        if args.ingest_only:
            out = HERE / "results"
            out.mkdir(exist_ok=True)
            (out / "knowledge.json").write_text(
                json.dumps(results, indent=2, ensure_ascii=False) + "\n"
            )
            return 0

    with KnowledgeBase.open(settings) as kb:
        stats = kb.stats()
        results["store"] = {
            "size_mb": round(stats["size_bytes"] / 1e6, 1),
            "fiches": stats["fiches"],
            "chunks": stats["chunks"],
            "vectors": stats["vectors"],
            "embedding_model": stats["embedding_model"],
        }
        kb.warmup()
        bm25 = FicheBM25Baseline(kb)
        systems = {
            "bm25_fiche": bm25.search,
            "dense": retriever_search(kb.retriever(mode="dense")),
            "rrf": retriever_search(
                kb.retriever(mode="rrf", dense_weight=1.0, lexical_weight=1.0, rrf_k=60.0)
            ),
            "guichet": retriever_search(kb.retriever()),
            # the same, each item searched within its audience (when the set gives one), as
            # `guichet eval retrieval` and `eval answers` do and the bot with GUICHET_AUDIENCE
            "guichet_audience": retriever_search(kb.retriever()),
        }
        wanted = args.systems.split(",")
        systems = {name: fn for name, fn in systems.items() if name in wanted}
        quality: dict = {}
        latencies: list[float] = []
        for set_name, questions in sets.items():
            for name, search in systems.items():
                times: list[float] = []
                with_audience = name == "guichet_audience"
                if with_audience and not any(q.get("audience") for q in questions):
                    continue  # the set names no audience: the same as "guichet"
                r = evaluate(search, questions, k=10, times=times, audience=with_audience)
                quality.setdefault(set_name, {})[name] = r
                if name == "guichet":
                    latencies.extend(times)
                print(set_name, name, r, flush=True)
        results["quality"] = quality
        results["latency_ms"] = {
            "p50": round(float(np.percentile(latencies, 50)), 1),
            "p95": round(float(np.percentile(latencies, 95)), 1),
            "n": len(latencies),
        }
        results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    results["machine"]["loadavg_end"] = os.getloadavg()

    out = HERE / "results"
    out.mkdir(exist_ok=True)
    if set(args.systems.split(",")) == {"guichet"}:
        (out / "knowledge-latency.json").write_text(
            json.dumps(results, indent=2, ensure_ascii=False) + "\n"
        )
        print(json.dumps(results["latency_ms"]), results["machine"])
        return 0
    (out / "knowledge.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (out / "knowledge.md").write_text(markdown(results))
    print(markdown(results))
    return 0


def markdown(r: dict) -> str:
    lines = [
        "| set | retriever | n | hit@1 | hit@5 | hit@10 | MRR@10 |",
        "|---|---|---|---|---|---|---|",
    ]
    names = {
        "bm25_fiche": "BM25 whole fiches",
        "dense": "dense only (USE, chunks)",
        "rrf": "plain RRF of BM25 chunks + dense",
        "guichet": "**Guichet**",
        "guichet_audience": "**Guichet**, within the item's audience",
    }
    for set_name, systems in r.get("quality", {}).items():
        for name, q in systems.items():
            lines.append(
                f"| {set_name} | {names[name]} | {q['n']} | {q['hit@1']:.3f} | {q['hit@5']:.3f} "
                f"| {q['hit@10']:.3f} | {q['mrr@10']:.3f} |"
            )
    lines.append("")
    if "ingest_full" in r:
        i = r["ingest_full"]
        lines.append(
            f"- full ingest: {i['seconds']} s wall, {i['cpu_seconds']} CPU s, {i['files_read']} "
            f"files -> {i['fiches']} fiches, {i['chunks']} chunks"
        )
    if "ingest_unchanged" in r:
        lines.append(f"- unchanged re-ingest: {r['ingest_unchanged']['seconds']} s")
    if "store" in r:
        lines.append(f"- store size on disk: {r['store']['size_mb']} MB")
    if "latency_ms" in r:
        lat = r["latency_ms"]
        lines.append(
            f"- Guichet retrieval latency (analysis, embeddings, both stages): p50 {lat['p50']} "
            f"ms, p95 {lat['p95']} ms (n={lat['n']})"
        )
    if "peak_rss_mb" in r:
        lines.append(f"- peak RSS of the benchmark process: {r['peak_rss_mb']} MB")
    m = r["machine"]
    lines.append(
        f"- machine: {m['cores']} cores, shared; load average at start "
        f"{m['loadavg_start'][0]:.1f}, at end {m.get('loadavg_end', [0])[0]:.1f}"
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
