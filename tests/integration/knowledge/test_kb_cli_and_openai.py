"""CLI JSON contracts on the real sample store, and the OpenAI-compatible embeddings path
against a real HTTP server speaking /v1/embeddings."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from knowledge.errors import EmbeddingModelMismatch, StoreError
from knowledge.ingest import ingest
from knowledge.store import KnowledgeBase
from tests.support.kb import make_settings

GUICHET = str(Path(sys.executable).parent / "guichet")


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def test_search_json_contract_subprocess(sample_kb):
    proc = subprocess.run(
        [GUICHET, "search", "vote par procuration", "--k", "3", "--json",
         "--store", str(sample_kb.store_dir)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert 1 <= len(rows) <= 3
    for row in rows:
        assert set(row) == {"fiche_id", "title", "url", "score", "section"}
        assert isinstance(row["score"], float)
    assert rows[0]["fiche_id"] == "F1604"


def test_search_audience_and_bad_audience(runner, sample_kb):
    store = str(sample_kb.store_dir)
    res = runner.invoke(
        app, ["search", "association", "--audience", "Associations", "--json", "--store", store]
    )
    assert res.exit_code == 0, res.output
    ids = [r["fiche_id"] for r in json.loads(res.stdout)]
    fiches = sample_kb.catalog.fiches(ids)
    assert all("Associations" in fiches[i].audiences for i in ids)
    bad = runner.invoke(app, ["search", "x", "--audience", "Martiens", "--store", store])
    assert bad.exit_code == 2


def test_kb_stats_json(runner, sample_kb):
    res = runner.invoke(app, ["kb", "stats", "--json", "--store", str(sample_kb.store_dir)])
    assert res.exit_code == 0, res.output
    stats = json.loads(res.stdout)
    for key in ("fiches", "chunks", "audiences", "embedding_model", "store"):
        assert key in stats
    assert stats["fiches"] == sample_kb.catalog.counts()[0]
    assert stats["embedding_model"] == "use-multilingual-v3/512"
    assert stats["store"] == str(sample_kb.store_dir)


def test_eval_retrieval_json(runner, sample_kb, tmp_path):
    qfile = tmp_path / "q.jsonl"
    qfile.write_text(
        "\n".join(
            json.dumps(q, ensure_ascii=False)
            for q in (
                {"question": "voter par procuration", "expected": ["F1604"], "note": "ignored"},
                {"question": "dissolution d'une association", "expected": ["F1122"]},
                {"question": "zzz introuvable qwerty", "expected": ["F0"]},
            )
        )
    )
    res = runner.invoke(
        app, ["eval", "retrieval", str(qfile), "--json", "--store", str(sample_kb.store_dir)]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) >= {"n", "hit@1", "hit@5", "hit@10", "mrr@10", "p50_ms", "p95_ms"}
    assert out["n"] == 3
    assert out["hit@10"] == pytest.approx(2 / 3, abs=1e-3)  # the nonsense one must miss
    assert out["p95_ms"] >= out["p50_ms"] > 0


def test_eval_retrieval_searches_within_the_item_audience(runner, sample_kb, tmp_path):
    # an association fiche asked for by a private person's item: the audience keeps it out,
    # as in `eval answers` and in a bot set to GUICHET_AUDIENCE=Particuliers
    qfile = tmp_path / "q.jsonl"
    item = {"question": "dissolution d'une association", "expected": ["F1122"]}
    qfile.write_text(json.dumps({**item, "audience": "particuliers"}, ensure_ascii=False))
    base = ["eval", "retrieval", str(qfile), "--json", "--store", str(sample_kb.store_dir)]
    within = runner.invoke(app, base)
    every = runner.invoke(app, [*base, "--ignore-audience"])
    assert within.exit_code == 0, within.output
    assert every.exit_code == 0, every.output
    assert json.loads(within.stdout)["hit@10"] == 0.0
    assert json.loads(every.stdout)["hit@1"] == 1.0
    qfile.write_text(json.dumps({**item, "audience": "Retraités"}, ensure_ascii=False))
    bad = runner.invoke(app, base)
    assert bad.exit_code == 1
    assert "q.jsonl:1: unknown audience 'Retraités'" in bad.stderr


def test_eval_retrieval_bad_file(runner, sample_kb, tmp_path):
    qfile = tmp_path / "bad.jsonl"
    qfile.write_text('{"question": "x"}\n')
    res = runner.invoke(app, ["eval", "retrieval", str(qfile), "--store", str(sample_kb.store_dir)])
    assert res.exit_code == 1
    assert "bad.jsonl:1" in res.stderr


def test_commands_on_missing_store(runner, tmp_path):
    res = runner.invoke(app, ["kb", "stats", "--store", str(tmp_path / "none")])
    assert res.exit_code == 1
    assert "no knowledge base at" in res.stderr


def test_ingest_cli_summary(runner, tmp_path, sample_corpus_dir):
    corpus = tmp_path / "c"
    shutil.copytree(sample_corpus_dir / "vdd-2020" / "associations", corpus)
    (corpus / "broken.xml").write_text("<Publication ID='F1'><oops></Publication>")
    store = str(tmp_path / "store")
    res = runner.invoke(app, ["ingest", str(corpus), "--store", store, "--no-progress", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["fiches_new"] == len(list(corpus.glob("*.xml"))) - 1
    assert [s["source"].rsplit("/", 1)[-1] for s in summary["skipped"]] == ["broken.xml"]
    metrics = tmp_path / "guichet_ingest.prom"
    text = runner.invoke(
        app, ["ingest", str(corpus), "--store", store, "--no-progress", "--metrics-file", metrics]
    )
    assert text.exit_code == 0
    assert "0 new, 0 updated" in text.stdout
    assert "broken.xml" in text.stdout
    prom = metrics.read_text()
    unchanged = summary["fiches_new"]
    assert 'guichet_ingest_runs_total{result="ok"} 1.0' in prom
    assert f'guichet_ingest_fiches_total{{change="unchanged"}} {float(unchanged)}' in prom
    assert 'guichet_ingest_fiches_total{change="skipped"} 1.0' in prom
    assert "guichet_ingest_last_success_timestamp_seconds" in prom
    failed = runner.invoke(
        app, ["ingest", str(tmp_path / "missing"), "--store", store, "--metrics-file", metrics]
    )
    assert failed.exit_code != 0
    assert 'guichet_ingest_runs_total{result="error"} 1.0' in metrics.read_text()


# --- OpenAI-compatible embeddings -------------------------------------------------------


def test_openai_embeddings_store_and_mismatch(openai_server, tmp_path, sample_corpus_dir):
    corpus = tmp_path / "c"
    corpus.mkdir()
    for f in sorted((sample_corpus_dir / "vdd-2020" / "associations").glob("*.xml"))[:10]:
        shutil.copy(f, corpus / f.name)
    settings = make_settings(
        tmp_path / "store",
        embeddings_backend="openai",
        embeddings_url=openai_server.base_url,
        embeddings_model="bge-m3",
        embeddings_api_key="sk-test-secret",
        embeddings_batch_size=8,
    )
    assert "sk-test-secret" not in repr(settings)
    with KnowledgeBase.open(settings, create=True) as kb:
        assert kb.model_id == "openai:bge-m3"
        summary = ingest(kb, [str(corpus)], progress=False)
        assert summary.fiches_new == 10
        docs = kb.retriever(k=3).invoke("association")
        assert docs
        assert docs[0].metadata["dense_score"] != 0 or docs[0].metadata["lexical_score"] > 0
    assert openai_server.count(path="/v1/embeddings") >= summary.chunks_total // 8
    # the same store opened with the offline model: a clear error naming both
    with pytest.raises(EmbeddingModelMismatch, match=r"openai:bge-m3.*use-multilingual-v3/512"):
        KnowledgeBase.open(make_settings(tmp_path / "store"))


def test_openai_embeddings_unreachable_is_a_store_error(tmp_path):
    from knowledge.embeddings import OpenAIEmbeddings

    emb = OpenAIEmbeddings(base_url="http://127.0.0.1:9/v1", model="m", timeout=2.0)
    with pytest.raises(StoreError, match="unreachable"):
        emb.embed_query("bonjour")
    emb.close()
