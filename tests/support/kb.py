"""A real knowledge base built once per test session from the vendored sample corpus.

- `sample_corpus_dir`: knowledge/sample/ (DILA XML files, vdd-2020 and vdd-2025 samples).
- `sample_kb`: a `KnowledgeBase` (embedded Chroma, offline USE embeddings, French BM25) in a
  session temp dir, filled by `knowledge.ingest.ingest` from the sample corpus. Read-only
  for tests: a test that writes builds its own store.
- `sample_ingest_summary`: the `IngestSummary` of that first ingest.
- `sample_retriever`: `sample_kb.retriever(k=5)` (a LangChain `BaseRetriever`).
- `kb_settings_factory`: `KnowledgeSettings` for a fresh store dir, isolated from GUICHET_* env.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import knowledge

SAMPLE_DIR = Path(knowledge.__file__).resolve().parent / "sample"


class HashEmbeddings:
    """Deterministic fake embeddings for fast unit tests: hashed bag of accent-folded words.

    Real `Embeddings` interface (subclass built lazily to keep this module import-light).
    Not langchain-core's `DeterministicFakeEmbedding`: its vector is seeded by the whole
    text, so two texts sharing words are no closer than any two, and the tests that search
    a store (test_kb_store, test_kb_ingest_real) need that they are (tried: 5 failures).
    """

    def __new__(cls, dim: int = 64):
        from knowledge.embeddings import GuichetEmbeddings

        class _Hash(GuichetEmbeddings):
            model_id = f"test-hash/{dim}"

            def _vec(self, text: str) -> list[float]:
                import hashlib
                import math
                import re

                v = [0.0] * dim
                for w in re.findall(r"\w+", text.lower()):
                    h = hashlib.blake2b(w[:6].encode(), digest_size=4).digest()
                    v[int.from_bytes(h, "little") % dim] += 1.0
                n = math.sqrt(sum(x * x for x in v)) or 1.0
                return [x / n for x in v]

            def embed_documents(self, texts: list[str]) -> list[list[float]]:
                return [self._vec(t) for t in texts]

            def embed_query(self, text: str) -> list[float]:
                return self._vec(text)

        return _Hash()


def make_settings(store_dir: Path, **overrides: Any):
    """KnowledgeSettings for tests: explicit values, no .env file, no GUICHET_* surprises."""
    from knowledge.settings import KnowledgeSettings

    values: dict[str, Any] = {
        "store_dir": store_dir,
        "chroma_url": None,
        "embeddings_backend": "use",
        "chroma_collection": "guichet-fiches",
        # e5 costs ~15 s per 300 fiches at ingest: on for the shared sample store (the
        # product's path), off for the many small stores tests build for themselves.
        "e5_second_stage": False,
    }
    values.update(overrides)
    return KnowledgeSettings(_env_file=None, **values)


@pytest.fixture(scope="session")
def sample_corpus_dir() -> Path:
    if not any(SAMPLE_DIR.rglob("*.xml")):
        pytest.fail(f"the vendored sample corpus is missing from {SAMPLE_DIR}")
    return SAMPLE_DIR


@pytest.fixture(scope="session")
def _sample_kb_and_summary(
    tmp_path_factory: pytest.TempPathFactory, sample_corpus_dir: Path
) -> Iterator[tuple[Any, Any]]:
    from knowledge.ingest import ingest
    from knowledge.store import KnowledgeBase

    store_dir = tmp_path_factory.mktemp("sample-kb") / "store"
    kb = KnowledgeBase.open(
        make_settings(store_dir, e5_second_stage=True), create=True, for_ingest=True
    )
    try:
        summary = ingest(kb, [str(sample_corpus_dir)], progress=False)
        kb.embeddings.close()  # stop the ingest worker processes; queries run in-process
        kb.warmup()
        yield kb, summary
    finally:
        kb.close()


@pytest.fixture(scope="session")
def sample_kb(_sample_kb_and_summary: tuple[Any, Any]) -> Any:
    return _sample_kb_and_summary[0]


@pytest.fixture(scope="session")
def sample_ingest_summary(_sample_kb_and_summary: tuple[Any, Any]) -> Any:
    return _sample_kb_and_summary[1]


@pytest.fixture(scope="session")
def sample_retriever(sample_kb: Any) -> Any:
    return sample_kb.retriever(k=5)


@pytest.fixture
def kb_settings_factory(tmp_path: Path) -> Callable[..., Any]:
    def factory(name: str = "store", **overrides: Any):
        return make_settings(tmp_path / name, **overrides)

    return factory
