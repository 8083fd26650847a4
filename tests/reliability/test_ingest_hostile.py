"""`guichet ingest` given malformed XML, a billion-laughs entity file and a zip bomb, next to
one good fiche, as one run of the real CLI: every bad file named with its reason, the good
fiche ingested, time and memory bounded, and the store still usable.

The parser and source reader are unit-tested (tests/unit/knowledge/test_dila.py
bad-input fixtures, tests/unit/knowledge/test_kb_sources.py zip bomb); this is the
end-to-end check through the command an operator runs.
"""

from __future__ import annotations

import json
import resource
import shutil
import time
import zipfile
from pathlib import Path

import pytest

from devtools.process import SAMPLE, ingest_cli, run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dila"

pytestmark = [pytest.mark.slow]


def test_ingest_refuses_bad_files_and_keeps_the_good_one(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(FIXTURES / "malformed.xml", inputs / "malformed.xml")
    shutil.copy(FIXTURES / "billion_laughs.xml", inputs / "billion_laughs.xml")
    shutil.copy(SAMPLE / "F2300.xml", inputs / "F2300.xml")
    bomb = inputs / "bomb.zip"
    with (
        zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf,
        zf.open("F99999.xml", "w") as member,  # 64 MiB of zeros, ~65 KB compressed
    ):
        block = b"\0" * (1 << 20)
        for _ in range(64):
            member.write(block)
    assert bomb.stat().st_size < 1 << 20

    store = tmp_path / "store"
    t0 = time.monotonic()
    proc = ingest_cli(store, [inputs], cwd=tmp_path)
    elapsed = time.monotonic() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert elapsed < 150, elapsed
    assert peak_mb < 2048, peak_mb  # the bomb was never inflated in memory
    summary = json.loads(proc.stdout)
    problems = json.dumps(summary, ensure_ascii=False)
    assert summary["fiches_new"] == 1, problems
    for name, reason in (
        ("malformed.xml", "malformed XML"),
        ("billion_laughs.xml", "DOCTYPE/ENTITY"),
        ("bomb.zip", ""),
    ):
        assert name in problems, (name, problems)
        assert reason in problems, (reason, problems)
    assert "Traceback" not in proc.stderr

    stats = run_cli(["kb", "stats", "--json", "--store", str(store)], cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["fiches"] == 1
