"""Parse and chunk a whole DILA corpus; print timings and chunk statistics.

Usage:
    python bench/parse_chunk.py [ZIP_OR_DIR ...] [--max-chars 1000 1500 2000] [--json]

Defaults to ../shared/data/vdd-2020/*.zip (the 7,591-file 2020 corpus). Reads zip members
in memory (no extraction). Single process, one core: CPU time is reported next to wall
time because the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import zipfile
from pathlib import Path

from knowledge.chunking import chunk_fiche
from knowledge.dila import merge_all, parse_fiche
from knowledge.errors import ParseError

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "vdd-2020"


def read_inputs(paths: list[Path]) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for path in paths:
        if path.is_dir():
            zips = sorted(path.glob("*.zip"))
            xmls = sorted(path.rglob("*.xml"))
            out.extend(read_inputs(zips))
            out.extend((str(p), p.read_bytes()) for p in xmls)
        elif path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                for name in zf.namelist():
                    if name.endswith(".xml"):
                        out.append((f"{path.name}:{name}", zf.read(name)))
        else:
            out.append((str(path), path.read_bytes()))
    return out


def quantile(values: list[int], q: float) -> int:
    return values[int(q * (len(values) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="*", type=Path, default=[DEFAULT])
    parser.add_argument("--max-chars", nargs="+", type=int, default=[1000, 1500, 2000])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    files = read_inputs(args.inputs)
    if not files:
        print("no XML files found", file=sys.stderr)
        return 2
    cpu, wall = time.process_time(), time.perf_counter()
    fiches, errors = [], []
    for source, data in files:
        try:
            fiches.append(parse_fiche(data, source))
        except ParseError as exc:
            errors.append(str(exc))
    parse_cpu, parse_wall = time.process_time() - cpu, time.perf_counter() - wall
    merged = merge_all(fiches)
    result = {
        "files": len(files),
        "parsed": len(fiches),
        "parse_errors": errors[:20],
        "unique_fiches": len(merged),
        "parse_cpu_s": round(parse_cpu, 2),
        "parse_wall_s": round(parse_wall, 2),
        "chunking": [],
    }
    for max_chars in args.max_chars:
        cpu, wall = time.process_time(), time.perf_counter()
        chunks = [c for f in merged for c in chunk_fiche(f, max_chars=max_chars)]
        chunk_cpu = time.process_time() - cpu
        lengths = sorted(len(c.text) for c in chunks)
        full = [len(c.full_text) for c in chunks]
        kinds: dict[str, int] = {}
        for c in chunks:
            kinds[c.fiche_id[0]] = kinds.get(c.fiche_id[0], 0) + 1
        result["chunking"].append(
            {
                "max_chars": max_chars,
                "chunks": len(chunks),
                "by_kind": kinds,
                "distinct_texts": len({c.text for c in chunks}),
                "text_len": {
                    "p10": quantile(lengths, 0.1),
                    "p50": quantile(lengths, 0.5),
                    "p90": quantile(lengths, 0.9),
                    "max": lengths[-1],
                    "mean": round(statistics.mean(lengths)),
                },
                "under_100_chars": sum(1 for x in lengths if x < 100),
                "full_text_chars_total": sum(full),
                "chunk_cpu_s": round(chunk_cpu, 2),
                "chunk_wall_s": round(time.perf_counter() - wall, 2),
            }
        )
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(
        f"{result['files']} files, {result['parsed']} parsed, {len(errors)} errors, "
        f"{result['unique_fiches']} unique fiches; parse {parse_cpu:.1f} s CPU "
        f"({parse_wall:.1f} s wall)"
    )
    for row in result["chunking"]:
        t = row["text_len"]
        print(
            f"max_chars={row['max_chars']}: {row['chunks']} chunks {row['by_kind']} "
            f"({row['distinct_texts']} distinct texts); text p10/p50/p90/max "
            f"{t['p10']}/{t['p50']}/{t['p90']}/{t['max']} mean {t['mean']}; "
            f"<100 chars {row['under_100_chars']}; full_text total "
            f"{row['full_text_chars_total'] / 1e6:.1f}M chars; chunking {row['chunk_cpu_s']} s CPU"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
