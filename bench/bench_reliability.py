"""Load figures of issue 6, on a real Synapse and `guichet run` as a real process.

1. Burst: 200 questions from 20 agents spread over 60 s (encrypted DMs), the OpenAI-compatible
   test server answering in a fixed 1.0 s: every question answered exactly once? p50/p95
   latency (reply's origin_server_ts - question's), the bot's peak RSS (VmHWM).
2. Endurance: 1,000 questions in a row from one agent (LLM latency 0): RSS after the warm-up
   vs at the end (growth), p50/p95.

Everything it starts (Synapse, the bot, the LLM test server, a tiny store built by
`guichet ingest` from 7 vendored fiches) lives in a temp dir and is stopped at the end.

    /work/venv/bin/python bench/bench_reliability.py            # both runs (~6-10 min here)
    /work/venv/bin/python bench/bench_reliability.py --only burst --questions 200 --users 20

The reduced version (40 questions / 8 users / 10 s) runs in CI: tests/reliability/test_load.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools.homeserver import LocalSynapse  # noqa: E402
from devtools.load import run_load  # noqa: E402
from devtools.process import copy_fiches, ingest_cli  # noqa: E402


async def main(args: argparse.Namespace) -> dict:
    out: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
        " at start (shared with other jobs)",
    }
    with tempfile.TemporaryDirectory(prefix="bench-reliability-") as tmp:
        base = Path(tmp)
        proc = ingest_cli(base / "store", [copy_fiches(base / "in")], cwd=base)
        if proc.returncode != 0:
            raise SystemExit(f"ingest failed: {proc.stderr}")
        hs = LocalSynapse(base / "synapse", encrypt_by_default="invite")
        hs.start()
        try:
            if args.only in (None, "burst"):
                burst = await run_load(
                    hs,
                    base / "store",
                    base / "burst",
                    users=args.users,
                    questions=args.questions,
                    spread_s=args.spread,
                    llm_latency_s=args.latency,
                    reply_wait_s=300,
                )
                out["burst"] = burst.summary()
                print(json.dumps({"burst": out["burst"]}, ensure_ascii=False), flush=True)
            if args.only in (None, "endurance"):
                endurance = await run_load(
                    hs,
                    base / "store",
                    base / "endurance",
                    users=1,
                    questions=args.in_a_row,
                    spread_s=0,
                    llm_latency_s=0.0,
                    sequential=True,
                )
                summary = endurance.summary()
                summary["rss_growth_mb"] = round(summary["rss_end_mb"] - summary["rss_start_mb"], 1)
                samples = endurance.rss_samples_mb
                if samples:
                    tenth = max(1, len(samples) // 10)
                    summary["rss_first_tenth_mean_mb"] = round(sum(samples[:tenth]) / tenth, 1)
                    summary["rss_last_tenth_mean_mb"] = round(sum(samples[-tenth:]) / tenth, 1)
                out["endurance"] = summary
                print(json.dumps({"endurance": summary}, ensure_ascii=False), flush=True)
        finally:
            hs.stop()
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("burst", "endurance"), default=None)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spread", type=float, default=60.0, help="seconds over which to send")
    parser.add_argument("--latency", type=float, default=1.0, help="LLM seconds per answer")
    parser.add_argument("--in-a-row", type=int, default=1000)
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON")
    figures = asyncio.run(main(parser.parse_args()))
    text = json.dumps(figures, indent=2, ensure_ascii=False)
    print(text)
    args = parser.parse_args()
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
