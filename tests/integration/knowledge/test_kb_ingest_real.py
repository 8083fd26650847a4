"""The knowledge base on the vendored sample with the real offline model (USE), real
embedded Chroma, a real HTTP server, a real `chroma run` server and real processes."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from knowledge.errors import IngestError
from knowledge.ingest import ingest
from knowledge.store import KnowledgeBase
from tests.support.kb import HashEmbeddings, make_settings

GUICHET = str(Path(sys.executable).parent / "guichet")


def test_sample_kb_is_complete_and_consistent(sample_kb, sample_ingest_summary, sample_corpus_dir):
    xml_files = list(sample_corpus_dir.rglob("*.xml"))
    s = sample_ingest_summary
    assert s.files_read == len(xml_files)
    assert s.skipped == []
    stats = sample_kb.stats()
    assert stats["fiches"] == s.fiches_new > 250
    assert stats["chunks"] == stats["vectors"] == s.chunks_total
    assert stats["embedding_model"] == "use-multilingual-v3/512"
    assert stats["lexical_generation"] == stats["generation"]
    assert all(
        stats["audiences"][a] > 0 for a in ("Particuliers", "Professionnels", "Associations")
    )
    assert sample_kb.vector_ids() == sample_kb.catalog.all_chunk_ids()


def test_unchanged_reingest_is_a_no_op(sample_kb, sample_corpus_dir):
    generation = sample_kb.catalog.generation()
    t = time.perf_counter()
    again = ingest(sample_kb, [str(sample_corpus_dir)], progress=False)
    assert again.fiches_new == again.fiches_updated == again.chunks_added == 0
    assert again.fiches_unchanged == sample_kb.catalog.counts()[0]
    assert sample_kb.catalog.generation() == generation
    assert time.perf_counter() - t < 30


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("premier passeport pour un enfant", "F14930"),
        ("APL conditions", "F12006"),
        ("voter par procuration", "F1604"),
        ("dissolution asso", "F1122"),
        ("smic montant", "F2300"),
    ],
)
def test_real_retrieval_finds_the_fiche(sample_retriever, sample_kb, query, expected):
    if expected not in sample_kb.catalog.fiches([expected]):
        pytest.fail(f"{expected} is not in the sample corpus any more: update this test")
    ids = [d.metadata["fiche_id"] for d in sample_retriever.invoke(query, k=5)]
    assert expected in ids


def test_batched_search_ranks_like_single_searches(sample_retriever, sample_corpus_dir):
    """A burst of questions is searched as one batch (one USE call, one Chroma query): each
    question gets the fiches it gets alone."""
    from knowledge.retriever import SearchRequest

    lines = (sample_corpus_dir / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines[:40]]
    batched = sample_retriever.search_many([SearchRequest(q, 5) for q in questions])
    for question, docs in zip(questions, batched, strict=True):
        alone = sample_retriever.search(question, k=5)
        assert [d.id for d in docs] == [d.id for d in alone], question
        for a, b in zip(docs, alone, strict=True):
            # float32 embeddings of a batch differ in the last digits from single ones
            assert a.metadata["score"] == pytest.approx(b.metadata["score"], abs=1e-4)


def test_shared_fiche_has_merged_audiences(sample_kb, sample_corpus_dir):
    by_aud: dict[str, set[str]] = {}
    for p in sample_corpus_dir.joinpath("vdd-2020").rglob("*.xml"):
        by_aud.setdefault(p.stem, set()).add(p.parent.name)
    shared = sorted(fid for fid, auds in by_aud.items() if len(auds) > 1)
    if not shared:
        pytest.fail("the sample has no fiche shared by two audience folders")
    fiche = sample_kb.catalog.fiches([shared[0]])[shared[0]]
    assert len(fiche.audiences) >= 2
    # one fiche, not one per copy
    rows = sample_kb.catalog.query("SELECT count(*) FROM fiches WHERE id = ?", (shared[0],))
    assert rows[0][0] == 1


# --- URL inputs ------------------------------------------------------------------------


@pytest.fixture
def http_dir(tmp_path):
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_zip_served_over_http(http_dir, tmp_path, sample_corpus_dir):
    root, base = http_dir
    files = sorted((sample_corpus_dir / "vdd-2020" / "associations").glob("*.xml"))[:12]
    with zipfile.ZipFile(root / "vosdroits-latest.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            zf.write(f, f.name)
    with KnowledgeBase.open(
        make_settings(tmp_path / "store"), create=True, embeddings=HashEmbeddings()
    ) as kb:
        summary = ingest(kb, [f"{base}/vosdroits-latest.zip"], progress=False)
        assert summary.fiches_new == len(files)
        assert summary.skipped == []
        with pytest.raises(IngestError, match="HTTP 404"):
            ingest(kb, [f"{base}/absent.zip"], progress=False)


def test_unreachable_url_is_an_error_and_non_zero_exit(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/vosdroits-latest.zip"
    with (
        KnowledgeBase.open(
            make_settings(tmp_path / "store"), create=True, embeddings=HashEmbeddings()
        ) as kb,
        pytest.raises(IngestError, match="cannot download"),
    ):
        ingest(kb, [url], progress=False)
    proc = subprocess.run(
        [GUICHET, "ingest", url, "--store", str(tmp_path / "s2"), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "cannot download" in proc.stderr


def test_cli_errors_for_non_zip_and_empty_zip(tmp_path):
    txt = tmp_path / "notes.txt"
    txt.write_text("bonjour")
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w"):
        pass
    for path, message in ((txt, "not a DILA zip"), (empty, "holds no XML file")):
        proc = subprocess.run(
            [GUICHET, "ingest", str(path), "--store", str(tmp_path / "s"), "--no-progress"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1, proc.stderr
        assert message in proc.stderr
        assert not (tmp_path / "s").exists()  # no empty store left behind by a failed first run


# --- kill -9 in the middle of an ingest ------------------------------------------------


def _ids(store: Path) -> tuple[set[str], set[str]]:
    with sqlite3.connect(store / "catalog.sqlite3") as conn:
        chunks = {r[0] for r in conn.execute("SELECT id FROM chunks")}
        fiches = {r[0] for r in conn.execute("SELECT id FROM fiches")}
    return fiches, chunks


@pytest.mark.slow
def test_sigkill_mid_ingest_then_rerun_is_consistent(tmp_path, sample_kb, sample_corpus_dir):
    store = tmp_path / "killed"
    env = {**os.environ, "GUICHET_INGEST_BATCH_CHUNKS": "48", "GUICHET_CHROMA_URL": ""}
    cmd = [GUICHET, "ingest", str(sample_corpus_dir), "--store", str(store), "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    fiches: set[str] = set()
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.3)
        try:
            fiches, _ = _ids(store)
        except sqlite3.Error:
            continue
        if len(fiches) >= 20:
            break
    assert proc.poll() is None, "the ingest ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    killed_fiches, _ = _ids(store)
    expected_fiches, expected_chunks = (
        set(sample_kb.catalog.fiches_ids()),
        set(sample_kb.catalog.all_chunk_ids()),
    )
    assert 0 < len(killed_fiches) < len(expected_fiches)

    rerun = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["fiches_unchanged"] >= len(killed_fiches) - 1
    fiches, chunks = _ids(store)
    assert fiches == expected_fiches
    assert chunks == expected_chunks  # same chunks as a clean ingest: no duplicates
    with KnowledgeBase.open(make_settings(store)) as kb:
        assert kb.vector_ids() == chunks  # no orphan vectors, none missing
        assert kb.lexical_is_current()
        assert set(kb.lexical().doc_ids) == chunks


# --- Chroma server ---------------------------------------------------------------------


@pytest.mark.chroma_server
def test_chroma_server_store(chroma_server_url, tmp_path, sample_corpus_dir):
    corpus = tmp_path / "corpus"
    shutil.copytree(sample_corpus_dir / "vdd-2020" / "associations", corpus)
    settings = make_settings(
        tmp_path / "store", chroma_url=chroma_server_url, chroma_collection="test-server"
    )
    with KnowledgeBase.open(settings, create=True, embeddings=HashEmbeddings()) as kb:
        summary = ingest(kb, [str(corpus)], progress=False)
        assert summary.fiches_new > 10
        stats = kb.stats()
        assert stats["chroma"] == chroma_server_url
        assert stats["vectors"] == stats["chunks"] == summary.chunks_total
        docs = kb.retriever(k=3).invoke("dissolution d'une association")
        assert "F1122" in [d.metadata["fiche_id"] for d in docs]
        assert max(d.metadata["dense_score"] for d in docs) > 0
    # the vectors live in the server: a fresh client sees them
    import chromadb

    host, port = chroma_server_url.removeprefix("http://").split(":")
    client = chromadb.HttpClient(host=host, port=int(port))
    assert client.get_collection("test-server", embedding_function=None).count() == (
        summary.chunks_total
    )


# --- a reader process while another process ingests -----------------------------------


def test_reader_sees_vectors_published_by_another_process(tmp_path, sample_corpus_dir):
    part = sample_corpus_dir / "vdd-2020" / "particuliers"
    first, later = tmp_path / "first", tmp_path / "later"
    first.mkdir()
    later.mkdir()
    for name in ("F14930.xml", "F1342.xml"):
        shutil.copy(part / name, first / name)
    shutil.copy(part / "F1604.xml", later / "F1604.xml")  # Vote par procuration
    store = tmp_path / "store"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    base = [GUICHET, "ingest", "--store", str(store), "--no-progress"]
    subprocess.run([*base, str(first)], env=env, check=True, timeout=300, capture_output=True)
    with KnowledgeBase.open(make_settings(store)) as reader:
        retriever = reader.retriever(k=3)
        before = retriever.invoke("vote par procuration")
        assert "F1604" not in [d.metadata["fiche_id"] for d in before]
        subprocess.run(
            [*base, str(first), str(later)], env=env, check=True, timeout=300, capture_output=True
        )
        after = retriever.invoke("vote par procuration")
        top = after[0].metadata
        assert top["fiche_id"] == "F1604"
        assert top["dense_score"] > 0.3  # found by the vectors too, not only by BM25
        assert reader.stats()["vectors"] == reader.stats()["chunks"]
