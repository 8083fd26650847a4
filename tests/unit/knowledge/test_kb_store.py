"""KnowledgeBase + ingest + retriever on real sample fiches with deterministic fake embeddings.

Fast (no USE model): the same code paths as production, only the vectors are fake. The
real-USE versions of these checks are in tests/integration/knowledge/.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace

import pytest

from knowledge.errors import EmbeddingModelMismatch, StoreError
from knowledge.ingest import ingest
from knowledge.store import KnowledgeBase
from tests.support.kb import HashEmbeddings, make_settings


@pytest.fixture
def corpus(tmp_path, sample_corpus_dir):
    """A small copy of the sample: the Associations fiches (real DILA XML)."""
    dst = tmp_path / "corpus"
    shutil.copytree(sample_corpus_dir / "vdd-2020" / "associations", dst)
    return dst


@pytest.fixture
def kb(tmp_path):
    kb = KnowledgeBase.open(
        make_settings(tmp_path / "store", ingest_batch_chunks=50),
        create=True,
        embeddings=HashEmbeddings(),
    )
    yield kb
    kb.close()


def _consistent(kb: KnowledgeBase) -> None:
    assert kb.vector_ids() == kb.catalog.all_chunk_ids()
    assert kb.lexical_is_current()
    lexical = kb.lexical()
    assert lexical is not None
    assert set(lexical.doc_ids) == kb.catalog.all_chunk_ids()


def test_ingest_then_unchanged_reingest(kb, corpus):
    files = sorted(corpus.glob("*.xml"))
    first = ingest(kb, [str(corpus)], progress=False)
    assert first.files_read == len(files)
    assert first.fiches_new == len(files) - len(first.skipped) > 10
    assert first.chunks_total == first.chunks_added > first.fiches_new
    _consistent(kb)
    generation = kb.catalog.generation()

    again = ingest(kb, [str(corpus)], progress=False)
    assert (again.fiches_new, again.fiches_updated, again.chunks_added) == (0, 0, 0)
    assert again.fiches_unchanged == first.fiches_new
    assert kb.catalog.generation() == generation  # nothing written
    _consistent(kb)


def test_changed_fiche_replaced_not_duplicated(kb, corpus):
    ingest(kb, [str(corpus)], progress=False)
    before = kb.catalog.counts()
    path = corpus / "F1122.xml"  # Dissolution d'une association
    xml = path.read_text(encoding="utf-8")
    assert "Dissolution" in xml
    path.write_text(xml.replace("Dissolution", "Liquidation", 3), encoding="utf-8")

    summary = ingest(kb, [str(corpus)], progress=False)
    assert summary.fiches_updated == 1
    assert summary.fiches_new == 0
    assert 0 < summary.chunks_added < 40  # only the changed chunks re-embedded
    assert kb.catalog.counts()[0] == before[0]
    rows = kb.catalog.chunks_of(["F1122"])["F1122"]
    assert any("Liquidation" in (r.context + r.text) for r in rows)
    assert len({r.id for r in rows}) == len(rows)
    _consistent(kb)
    docs = kb.retriever(k=3).search("liquidation association")
    assert docs[0].metadata["fiche_id"] == "F1122"


def test_a_new_chunker_rewrites_texts_it_changed_beyond_what_is_embedded(kb, corpus, monkeypatch):
    """A parser version bump re-reads every file; a chunk whose text changed after its
    embedded head keeps its vector, but its row and the lexical index follow."""
    import knowledge.chunking as chunking
    import knowledge.sources as sources

    ingest(kb, [str(corpus)], progress=False)
    generation = kb.catalog.generation()

    head = kb.settings.embed_max_chars
    chunk_fiche = chunking.chunk_fiche

    def with_tail(fiche, **kw):
        # beyond the embedded head only: no vector changes
        out = []
        for c in chunk_fiche(fiche, **kw):
            if len(c.text) > head:
                text = f"{c.text}\nzyxwvutsrq"
                digest = hashlib.sha256(f"{c.context}\n{text}".encode()).hexdigest()
                c = replace(c, text=text, hash=digest)
            out.append(c)
        return out

    monkeypatch.setattr(chunking, "chunk_fiche", with_tail)
    monkeypatch.setattr(sources, "PARSER_VERSION", b"guichet-parser-test\n")
    summary = ingest(kb, [str(corpus)], progress=False)
    tailed = [r for rows in kb.catalog.chunks_of(kb.catalog.fiches_ids()).values() for r in rows]
    assert any(r.text.endswith("zyxwvutsrq") for r in tailed)
    assert summary.fiches_updated > 0
    assert summary.chunks_added == 0  # the vectors are kept
    assert kb.catalog.generation() != generation
    _consistent(kb)
    docs = kb.retriever(k=3).search("zyxwvutsrq")
    assert docs
    assert docs[0].page_content.endswith("zyxwvutsrq")


def test_prune_removes_absent_fiches(kb, corpus):
    ingest(kb, [str(corpus)], progress=False)
    n = kb.catalog.counts()[0]
    (corpus / "F1122.xml").unlink()
    kept = ingest(kb, [str(corpus)], progress=False)
    assert kept.fiches_deleted == 0
    assert kb.catalog.counts()[0] == n
    pruned = ingest(kb, [str(corpus)], prune=True, progress=False)
    assert pruned.fiches_deleted == 1
    assert pruned.chunks_deleted > 0
    assert "F1122" not in kb.catalog.fiches(["F1122"])
    _consistent(kb)


def test_bad_files_skipped_with_reason_rest_ingested(kb, corpus):
    fixtures = corpus.parent / "bad"
    shutil.copytree(
        __import__("pathlib").Path(__file__).resolve().parents[2] / "fixtures" / "dila", fixtures
    )
    summary = ingest(kb, [str(corpus), str(fixtures)], progress=False)
    reasons = {p.source.rsplit("/", 1)[-1]: p.reason for p in summary.skipped}
    assert "malformed XML" in reasons["malformed.xml"]
    assert "unknown root element" in reasons["unknown_root.xml"]
    assert "has no ID" in reasons["missing_id.xml"]
    assert "DOCTYPE/ENTITY" in reasons["billion_laughs.xml"]
    assert summary.fiches_new == len(list(corpus.glob("*.xml")))


def test_reconcile_removes_orphans_and_reembeds_missing(kb, corpus):
    ingest(kb, [str(corpus)], progress=False)
    # Simulate a kill between steps: an orphan vector, and a chunk whose vector is gone.
    some = sorted(kb.catalog.all_chunk_ids())[0]
    kb.delete_vectors([some])
    import numpy as np

    kb.upsert_vectors(["F999#orphan#0"], np.ones((1, 64), np.float32) / 8, [{"fiche_id": "F999"}])
    report = kb.reconcile()
    assert report == {"orphans_deleted": 1, "missing_marked": 1}
    summary = ingest(kb, [str(corpus)], progress=False)
    assert summary.fiches_updated + summary.fiches_unchanged >= 1
    _consistent(kb)


def test_model_mismatch_is_a_clear_error(kb, tmp_path, corpus):
    ingest(kb, [str(corpus)], progress=False)
    kb.close()
    settings = make_settings(tmp_path / "store")
    with pytest.raises(EmbeddingModelMismatch) as err:
        KnowledgeBase.open(settings, embeddings=HashEmbeddings(dim=32))
    message = str(err.value)
    assert "test-hash/64" in message
    assert "test-hash/32" in message
    assert str(tmp_path / "store") in message


def test_open_missing_store(tmp_path):
    with pytest.raises(StoreError, match="no knowledge base at"):
        KnowledgeBase.open(make_settings(tmp_path / "nothing"), embeddings=HashEmbeddings())


def test_retriever_contract(kb, corpus):
    from knowledge.models import DOC_METADATA_KEYS

    ingest(kb, [str(corpus)], progress=False)
    retriever = kb.retriever(k=4)
    docs = retriever.invoke("dissolution d'une association")
    assert 1 <= len(docs) <= 4
    ids = [d.metadata["fiche_id"] for d in docs]
    assert len(set(ids)) == len(ids)  # distinct fiches
    for d in docs:
        assert set(DOC_METADATA_KEYS) <= set(d.metadata)
        assert d.metadata["url"].startswith("https://")
        assert d.metadata["chunks"]
        assert d.page_content
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True)
    assert len(retriever.invoke("association", k=2)) == 2
    for d in retriever.invoke("association", audience="Particuliers"):
        assert "Particuliers" in d.metadata["audiences"]
    with pytest.raises(ValueError, match="unknown audience"):
        retriever.invoke("association", audience="Martiens")
    assert retriever.invoke("   ") == []


async def test_retriever_async(kb, corpus):
    ingest(kb, [str(corpus)], progress=False)
    docs = await kb.retriever(k=3).ainvoke("subvention", audience="Associations")
    assert docs
    assert all("Associations" in d.metadata["audiences"] for d in docs)


def _ids(docs) -> list[tuple[str, float]]:
    return [(d.metadata["fiche_id"], d.metadata["score"]) for d in docs]


QUERIES = [
    ("dissolution d'une association", None),
    ("subvention", "Associations"),
    ("   ", None),
    ("assemblée générale ag", "Particuliers"),
    ("déclaration en préfecture", None),
]


def test_search_many_gives_what_search_gives(kb, corpus):
    from knowledge.retriever import SearchRequest

    ingest(kb, [str(corpus)], progress=False)
    retriever = kb.retriever(k=4)
    many = retriever.search_many([SearchRequest(q, 3, a) for q, a in QUERIES])
    assert len(many) == len(QUERIES)
    for (q, a), docs in zip(QUERIES, many, strict=True):
        assert _ids(docs) == _ids(retriever.search(q, k=3, audience=a))
    assert many[2] == []  # a blank query among others
    assert 1 <= len(many[0]) <= 3


async def test_concurrent_searches_share_one_batch(kb, corpus, monkeypatch):
    import asyncio

    ingest(kb, [str(corpus)], progress=False)
    retriever = kb.retriever(k=3)
    expected = [_ids(retriever.search(q, audience=a)) for q, a in QUERIES]
    calls: list[int] = []
    embed = kb.embeddings.embed_queries_array

    def counting(texts):
        calls.append(len(texts))
        return embed(texts)

    monkeypatch.setattr(kb.embeddings, "embed_queries_array", counting)
    results = await asyncio.gather(*(retriever.ainvoke(q, audience=a) for q, a in QUERIES))
    assert [_ids(d) for d in results] == expected
    assert calls == [4]  # one embedding call for the four non-blank queries

    # Idle: one query is searched at once, alone.
    calls.clear()
    assert _ids(await retriever.ainvoke(QUERIES[0][0])) == expected[0]
    assert calls == [1]


async def test_batched_search_failure_reaches_every_caller_and_the_next_batch_works(
    kb, corpus, monkeypatch
):
    import asyncio

    ingest(kb, [str(corpus)], progress=False)
    retriever = kb.retriever(k=3)

    def broken(*args, **kwargs):
        raise StoreError("Chroma query failed: connection refused")

    monkeypatch.setattr(kb, "dense_search_many", broken)
    results = await asyncio.gather(
        *(retriever.ainvoke(q) for q in ("subvention", "dissolution")), return_exceptions=True
    )
    assert [type(r) for r in results] == [StoreError, StoreError]
    monkeypatch.undo()
    assert await retriever.ainvoke("subvention")
    with pytest.raises(ValueError, match="unknown audience"):  # checked before batching
        await retriever.ainvoke("subvention", audience="Martiens")


async def test_cancelled_search_does_not_break_its_batch(kb, corpus):
    import asyncio

    ingest(kb, [str(corpus)], progress=False)
    retriever = kb.retriever(k=3)
    doomed = asyncio.ensure_future(retriever.ainvoke("subvention"))
    kept = asyncio.ensure_future(retriever.ainvoke("dissolution d'une association"))
    await asyncio.sleep(0)
    doomed.cancel()
    assert await kept
    assert doomed.cancelled()
