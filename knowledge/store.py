"""The knowledge base on disk: SQLite catalog + Chroma vectors + French lexical index.

Layout of `store_dir`:

- `catalog.sqlite3` (WAL): the source of truth. `fiches` (id, content hash, raw-file hashes,
  metadata JSON) and `chunks` (id, fiche_id, hash, embedded-text hash, text, context,
  section, order); `meta` holds the embedding model identity and a `generation` counter
  bumped by every committed change.
- `chroma/` (embedded mode) or a Chroma server (`chroma_url`): one vector per chunk, ID =
  chunk ID, metadata = fiche_id, kind and one boolean per audience (for filtering).
- `lexical/`: the bm25s index over the chunks' full text (see `knowledge.lexical`), built
  from the catalog and swapped atomically; it records the catalog generation it reflects.

Consistency: an ingest upserts a batch's vectors first, then commits the batch's catalog
rows, then deletes vectors of chunks the batch dropped. A kill between any two steps leaves
vectors the catalog does not know (orphans) or catalog chunks without vectors: `reconcile()`
(run at the start of every ingest) deletes the former and marks the latter's fiches for
re-embedding; readers only ever return chunks present in the catalog. The lexical index is
rebuilt whenever its generation differs from the catalog's.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from knowledge.embeddings import E5Embeddings, GuichetEmbeddings, build_embeddings
from knowledge.errors import EmbeddingModelMismatch, StoreError
from knowledge.fiche_index import (
    FICHE_INDEX_VERSION,
    FicheIndex,
    defined_abbreviations,
    fiche_index_version,
    lowercase_word_counts,
    title_acronyms,
    whole_texts,
)
from knowledge.lexical import LexicalIndex, LexicalIndexHandle
from knowledge.models import AUDIENCES, SECTION_SEP
from knowledge.rerank import RemoteReranker
from knowledge.retriever import HybridRetriever
from knowledge.settings import KnowledgeSettings
from knowledge.spelling import corpus_accented_forms, corpus_word_counts, french_words

log = logging.getLogger(__name__)

CATALOG_NAME = "catalog.sqlite3"
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fiches (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    raw_hashes TEXT NOT NULL,
    metadata TEXT NOT NULL,
    audiences TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    fiche_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    embed_hash TEXT NOT NULL,
    text TEXT NOT NULL,
    context TEXT NOT NULL,
    section TEXT NOT NULL,
    ord INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_fiche ON chunks(fiche_id, ord);
"""


@dataclass(frozen=True, slots=True)
class ChunkRow:
    id: str
    fiche_id: str
    hash: str
    embed_hash: str
    text: str
    context: str
    section: str
    order: int


@dataclass(frozen=True, slots=True)
class FicheRow:
    id: str
    hash: str
    raw_hashes: tuple[str, ...]
    metadata: dict[str, Any]
    audiences: tuple[str, ...]


class Catalog:
    """The SQLite catalog (thread-safe: one connection behind a lock, WAL for readers)."""

    def __init__(self, path: Path, *, create: bool) -> None:
        self.path = path
        if not create and not path.exists():
            raise StoreError(
                f"no knowledge base at {path.parent} (run `guichet ingest` first, "
                f"or pass --store DIR)"
            )
        try:
            self._conn = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, timeout=30.0
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=30000")
            if create:
                self._conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the catalog {path}: {exc}") from exc
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def transaction(self):
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def query_in(self, sql: str, ids: Iterable[str], *, batch: int = 500) -> list[tuple]:
        """`sql` with its `IN ({})` filled for `ids` (deduplicated), in batches under SQLite's
        parameter limit."""
        ids = list(dict.fromkeys(ids))
        rows: list[tuple] = []
        for i in range(0, len(ids), batch):
            part = ids[i : i + batch]
            rows.extend(self.query(sql.format(",".join("?" * len(part))), part))
        return rows

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # --- meta --------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        try:
            rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path} is not a Guichet catalog: {exc}") from exc
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    # --- reads -------------------------------------------------------------------------

    def fiche_states(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        """{fiche_id: (content hash, raw-file hashes)} for every fiche."""
        rows = self.query("SELECT id, hash, raw_hashes FROM fiches")
        return {r[0]: (r[1], tuple(json.loads(r[2]))) for r in rows}

    def fiches(self, ids: Iterable[str]) -> dict[str, FicheRow]:
        rows = self.query_in(
            "SELECT id, hash, raw_hashes, metadata, audiences FROM fiches WHERE id IN ({})", ids
        )
        return {
            r[0]: FicheRow(
                r[0], r[1], tuple(json.loads(r[2])), json.loads(r[3]), tuple(json.loads(r[4]))
            )
            for r in rows
        }

    def chunks(self, ids: Iterable[str]) -> dict[str, ChunkRow]:
        out: dict[str, ChunkRow] = {}
        for r in self.query_in(
            "SELECT id, fiche_id, hash, embed_hash, text, context, section, ord "
            "FROM chunks WHERE id IN ({})",
            ids,
        ):
            out[r[0]] = ChunkRow(*r)
        return out

    def chunks_of(self, fiche_ids: Iterable[str]) -> dict[str, list[ChunkRow]]:
        ids = list(dict.fromkeys(fiche_ids))
        out: dict[str, list[ChunkRow]] = {f: [] for f in ids}
        for r in self.query_in(
            "SELECT id, fiche_id, hash, embed_hash, text, context, section, ord "
            "FROM chunks WHERE fiche_id IN ({}) ORDER BY fiche_id, ord",
            ids,
        ):
            out[r[1]].append(ChunkRow(*r))
        return out

    def fiches_ids(self) -> set[str]:
        return {r[0] for r in self.query("SELECT id FROM fiches")}

    def all_chunk_ids(self) -> set[str]:
        return {r[0] for r in self.query("SELECT id FROM chunks")}

    def counts(self) -> tuple[int, int]:
        f = self.query("SELECT count(*) FROM fiches")[0][0]
        c = self.query("SELECT count(*) FROM chunks")[0][0]
        return f, c


class ChromaEmbeddingFunction:
    """Adapter handing our embedding model to Chroma, so Chroma never loads its own."""

    def __init__(self, embeddings: GuichetEmbeddings | None, model_id: str | None = None) -> None:
        self._embeddings = embeddings
        self.model_id = embeddings.model_id if embeddings else (model_id or "?")

    def _model(self) -> GuichetEmbeddings:
        if self._embeddings is None:
            raise StoreError(
                f"this collection was built by Guichet with {self.model_id!r}: "
                "open it through knowledge.store.KnowledgeBase"
            )
        return self._embeddings

    def __call__(self, input: list[str]) -> list[np.ndarray]:
        return list(self._model().embed_array(list(input)))

    def embed_query(self, input: list[str]) -> list[np.ndarray]:
        return [np.asarray(self._model().embed_query(t), dtype=np.float32) for t in input]

    @staticmethod
    def name() -> str:
        return "guichet"

    def get_config(self) -> dict[str, Any]:
        return {"model_id": self.model_id}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaEmbeddingFunction:
        # Chroma rebuilds the function when it reads the collection's configuration: hand it
        # a placeholder that names the model (we always pass our own function anyway).
        return ChromaEmbeddingFunction(None, str(config.get("model_id")))

    def is_legacy(self) -> bool:
        return False

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine"]

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        return None

    def validate_config_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        return None


def _chroma_client(settings: KnowledgeSettings, store_dir: Path) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        parts = urlsplit(settings.chroma_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StoreError(f"GUICHET_CHROMA_URL {settings.chroma_url!r} is not an http(s) URL")
        try:
            return chromadb.HttpClient(
                host=parts.hostname,
                port=parts.port or (443 if parts.scheme == "https" else 80),
                ssl=parts.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:
            raise StoreError(f"Chroma server {settings.chroma_url} unreachable: {exc}") from exc
    return chromadb.PersistentClient(path=str(store_dir / "chroma"), settings=chroma_settings)


class KnowledgeBase:
    """The store: open it with `KnowledgeBase.open(settings)`; close it with `close()`."""

    def __init__(
        self,
        *,
        settings: KnowledgeSettings,
        store_dir: Path,
        embeddings: GuichetEmbeddings,
        catalog: Catalog,
        client: Any,
        collection: Any,
    ) -> None:
        self.settings = settings
        self.store_dir = store_dir
        self.embeddings = embeddings
        self.catalog = catalog
        self._client = client
        self.collection = collection
        self.lexical_dir = store_dir / "lexical"
        self._lexical = LexicalIndexHandle(self.lexical_dir, companion=FicheIndex.load)
        # Embedded Chroma loads its index once per process: when another process (an
        # ingest) publishes a new generation, reopen the client so new vectors are seen.
        self._dense_lock = threading.RLock()
        current = LexicalIndex.current(self.lexical_dir)
        self._dense_generation = int(current["generation"]) if current else 0
        self._masks_lock = threading.Lock()
        self._masks: tuple[int, dict[str, np.ndarray]] | None = None
        self._audiences_cache: tuple[int, dict[str, frozenset[str]]] | None = None
        # The second stage's offline model (vectors of fiche cards at ingest, of queries at
        # search time); None when switched off.
        self.e5: E5Embeddings | None = E5Embeddings() if settings.e5_second_stage else None
        self.reranker: RemoteReranker | None = None
        if settings.rerank_url:
            key = settings.rerank_api_key
            self.reranker = RemoteReranker(
                settings.rerank_url,
                model=settings.rerank_model,
                api_key=key.get_secret_value() if key else None,
                timeout=settings.rerank_timeout,
            )

    # --- opening -----------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        settings: KnowledgeSettings,
        *,
        create: bool = False,
        embeddings: GuichetEmbeddings | None = None,
        for_ingest: bool = False,
    ) -> KnowledgeBase:
        """Open the store of `settings` (with `create=True`, create it when missing).

        `embeddings` overrides the model built from the settings (tests use a fake one).
        Raises `StoreError` when there is no store and `create` is False, and
        `EmbeddingModelMismatch` when the store was built with another model.
        """
        store_dir = Path(settings.store_dir).expanduser()
        if create:
            store_dir.mkdir(parents=True, exist_ok=True)
        elif not (store_dir / CATALOG_NAME).exists():
            raise StoreError(
                f"no knowledge base at {store_dir} (run `guichet ingest` first, "
                f"or pass --store DIR / set GUICHET_STORE_DIR)"
            )
        catalog = Catalog(store_dir / CATALOG_NAME, create=create)
        try:
            emb = embeddings or build_embeddings(settings, for_ingest=for_ingest)
            location = settings.chroma_url or str(store_dir)
            stored = catalog.get_meta("embedding_model")
            if stored is None:
                if not create:
                    raise StoreError(f"the catalog in {store_dir} is not initialised")
                catalog.set_meta("schema_version", SCHEMA_VERSION)
                catalog.set_meta("embedding_model", emb.model_id)
                catalog.set_meta("generation", "0")
            elif stored != emb.model_id:
                raise EmbeddingModelMismatch(stored, emb.model_id, location)
            client = _chroma_client(settings, store_dir)
            collection = cls._collection(client, settings, emb, location)
        except BaseException:
            catalog.close()
            raise
        return cls(
            settings=settings,
            store_dir=store_dir,
            embeddings=emb,
            catalog=catalog,
            client=client,
            collection=collection,
        )

    @staticmethod
    def _collection(
        client: Any, settings: KnowledgeSettings, emb: GuichetEmbeddings, location: str
    ) -> Any:
        ef = ChromaEmbeddingFunction(emb)
        try:
            collection = client.get_or_create_collection(
                name=settings.chroma_collection,
                embedding_function=ef,
                metadata={"hnsw:space": "cosine", "guichet_embedding_model": emb.model_id},
            )
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(
                f"cannot open Chroma collection {settings.chroma_collection!r} at {location}: {exc}"
            ) from exc
        stored = (collection.metadata or {}).get("guichet_embedding_model")
        if stored and stored != emb.model_id:
            raise EmbeddingModelMismatch(stored, emb.model_id, location)
        return collection

    def close(self) -> None:
        self.embeddings.close()
        if self.reranker is not None:
            self.reranker.close()
        self.catalog.close()
        with contextlib.suppress(Exception):
            self._client.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading -----------------------------------------------------------------------

    @property
    def model_id(self) -> str:
        return self.embeddings.model_id

    @property
    def location(self) -> str:
        if self.settings.chroma_url:
            return f"{self.store_dir} (vectors on {self.settings.chroma_url})"
        return str(self.store_dir)

    def warmup(self) -> None:
        """Load the embedding models and the indexes now (the first query is then fast)."""
        self.embeddings.embed_query("amorce")
        if self.e5 is not None:
            self.e5.warmup()
        self.lexical()
        french_words()  # the typos' dictionary (~0.25 s, read once)

    def lexical(self) -> LexicalIndex | None:
        index = self._lexical.get()
        if index is not None and index.generation > self._dense_generation:
            self._refresh_vectors(index.generation)
        return index

    def _refresh_vectors(self, generation: int) -> None:
        """Reopen an embedded Chroma after another process published `generation`."""
        with self._dense_lock:
            if generation <= self._dense_generation:
                return
            self._dense_generation = generation
            if self.settings.chroma_url:
                return  # a server always serves its latest state
            log.info(
                "store generation %d published by another process: reopening Chroma", generation
            )
            try:
                with contextlib.suppress(Exception):
                    self._client.close()
                self._client = _chroma_client(self.settings, self.store_dir)
                self.collection = self._collection(
                    self._client, self.settings, self.embeddings, str(self.store_dir)
                )
            except Exception:
                log.exception("could not reopen the embedded Chroma store; keeping the old view")

    def lexical_masks(self, index: LexicalIndex) -> dict[str, np.ndarray]:
        """Per-audience boolean masks over the lexical index's documents."""
        with self._masks_lock:
            if self._masks is not None and self._masks[0] == id(index):
                return self._masks[1]
            fiche_of = [cid.split("#", 1)[0] for cid in index.doc_ids]
            rows = self.catalog.query("SELECT id, audiences FROM fiches")
            auds = {r[0]: set(json.loads(r[1])) for r in rows}
            masks = {
                a: np.fromiter((a in auds.get(f, ()) for f in fiche_of), bool, len(fiche_of))
                for a in AUDIENCES
            }
            self._masks = (id(index), masks)
            return masks

    def fiche_audiences(self) -> dict[str, frozenset[str]]:
        """{fiche_id: audiences}, cached per catalog generation (for audience filtering)."""
        generation = self.catalog.generation()
        cached = self._audiences_cache
        if cached is not None and cached[0] == generation:
            return cached[1]
        rows = self.catalog.query("SELECT id, audiences FROM fiches")
        mapping = {r[0]: frozenset(json.loads(r[1])) for r in rows}
        self._audiences_cache = (generation, mapping)
        return mapping

    def dense_search_many(
        self, vectors: np.ndarray, n: int, *, audiences: Sequence[str | None]
    ) -> list[list[tuple[str, float]]]:
        """Top-n (chunk_id, cosine similarity) for each vector, in one Chroma query.

        The audience filter is applied after the vector search (over 4x more candidates):
        Chroma's metadata `where` pre-filter costs ~0.5 s on the full corpus.
        """
        if len(vectors) == 0:
            return []
        self.lexical()  # notices a generation published by another process
        fetch = n if all(a is None for a in audiences) else n * 4
        try:
            with self._dense_lock:
                res = self.collection.query(
                    query_embeddings=list(np.asarray(vectors, dtype=np.float32)),
                    n_results=fetch,
                    include=["distances"],
                )
        except Exception as exc:
            raise StoreError(f"Chroma query failed: {exc}") from exc
        out = []
        auds = self.fiche_audiences() if any(a is not None for a in audiences) else {}
        for i, audience in enumerate(audiences):
            ids = res["ids"][i] if res["ids"] else []
            dists = res["distances"][i] if res["distances"] else []
            hits = [(c, 1.0 - float(d)) for c, d in zip(ids, dists, strict=True)]
            if audience is not None:
                hits = [h for h in hits if audience in auds.get(h[0].split("#", 1)[0], ())]
            out.append(hits[:n])
        return out

    def lexical_search(
        self, query: str, n: int, *, audience: str | None = None
    ) -> list[tuple[str, float]]:
        index = self.lexical()
        if index is None or len(index) == 0:
            return []
        mask = self.lexical_masks(index).get(audience) if audience else None
        return index.search(query, n, mask=mask)

    def retriever(self, k: int | None = None, **kwargs: Any):
        """A LangChain retriever (hybrid dense + lexical) over this store, returning `k`
        fiches unless a search asks for another number (the answer chain passes its own,
        GUICHET_RETRIEVAL_K)."""
        return HybridRetriever(kb=self, **({"k": k} if k else {}), **kwargs)

    def stats(self) -> dict[str, Any]:
        fiches, chunks = self.catalog.counts()
        audiences: dict[str, int] = dict.fromkeys(AUDIENCES, 0)
        kinds: dict[str, int] = {}
        for aud_json, fid in self.catalog.query("SELECT audiences, id FROM fiches"):
            for a in json.loads(aud_json):
                audiences[a] = audiences.get(a, 0) + 1
            kinds[fid[:1]] = kinds.get(fid[:1], 0) + 1
        lexical = LexicalIndex.current(self.lexical_dir)
        return {
            "fiches": fiches,
            "chunks": chunks,
            "vectors": self.collection.count(),
            "audiences": audiences,
            "kinds": kinds,
            "embedding_model": self.model_id,
            "store": str(self.store_dir),
            "chroma": self.settings.chroma_url or str(self.store_dir / "chroma"),
            "collection": self.settings.chroma_collection,
            "generation": self.catalog.generation(),
            "lexical_generation": lexical["generation"] if lexical else None,
            "size_bytes": _dir_size(self.store_dir),
        }

    # --- writing (used by knowledge.ingest) --------------------------------------------

    def upsert_vectors(
        self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]]
    ) -> None:
        step = 2000
        for i in range(0, len(ids), step):
            self.collection.upsert(
                ids=list(ids[i : i + step]),
                embeddings=vectors[i : i + step],
                metadatas=list(metadatas[i : i + step]),
            )

    def update_vector_metadata(
        self, ids: Sequence[str], metadatas: Sequence[dict[str, Any]]
    ) -> None:
        step = 2000
        for i in range(0, len(ids), step):
            self.collection.update(
                ids=list(ids[i : i + step]), metadatas=list(metadatas[i : i + step])
            )

    def delete_vectors(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), 2000):
            self.collection.delete(ids=ids[i : i + 2000])

    def vector_ids(self) -> set[str]:
        out: set[str] = set()
        offset, step = 0, 5000
        while True:
            res = self.collection.get(include=[], limit=step, offset=offset)
            out.update(res["ids"])
            if len(res["ids"]) < step:
                return out
            offset += step

    def reconcile(self) -> dict[str, int]:
        """Make Chroma agree with the catalog after an interrupted ingest.

        Vectors whose chunk is not in the catalog are deleted; catalog chunks without a
        vector get their `embed_hash` cleared and their fiche's hash reset, so the next
        ingest re-embeds them.
        """
        vectors = self.vector_ids()
        chunks = self.catalog.all_chunk_ids()
        orphans = vectors - chunks
        missing = chunks - vectors
        if orphans:
            log.warning("deleting %d vectors the catalog does not know", len(orphans))
            self.delete_vectors(sorted(orphans))
        if missing:
            log.warning("%d catalog chunks have no vector: marking them stale", len(missing))
            ids = sorted(missing)
            with self.catalog.transaction() as conn:
                for i in range(0, len(ids), 500):
                    part = ids[i : i + 500]
                    marks = ",".join("?" * len(part))
                    conn.execute(f"UPDATE chunks SET embed_hash = '' WHERE id IN ({marks})", part)
                    conn.execute(
                        f"UPDATE fiches SET hash = '', raw_hashes = '[]' WHERE id IN "
                        f"(SELECT fiche_id FROM chunks WHERE id IN ({marks}))",
                        part,
                    )
                _bump_generation(conn)
        return {"orphans_deleted": len(orphans), "missing_marked": len(missing)}

    def lexical_is_current(self) -> bool:
        """The lexical and fiche indexes reflect the catalog (and this code's index format)."""
        info = LexicalIndex.current(self.lexical_dir)
        if info is None or int(info["generation"]) != self.catalog.generation():
            return False
        saved = fiche_index_version(self.lexical_dir / info["dir"] / "fiches")
        # e5 vectors are needed when this process uses e5 (an ingest with e5 on rebuilds a
        # store made without them); a store that has them serves a reader without e5 too
        return (
            saved is not None and saved[0] == FICHE_INDEX_VERSION and (saved[1] or self.e5 is None)
        )

    def rebuild_lexical(self) -> LexicalIndex:
        """Build the lexical and fiche-level indexes from the catalog; swap them in atomically."""
        generation = self.catalog.generation()
        rows = self.catalog.query("SELECT id, context, text FROM chunks ORDER BY fiche_id, ord")
        index = LexicalIndex.build(
            [r[0] for r in rows],
            [f"{r[1]}\n{r[2]}" for r in rows],
            generation=generation,
        )
        fiche_rows = [
            (r[0], json.loads(r[1]))
            for r in self.catalog.query("SELECT id, metadata FROM fiches ORDER BY id")
        ]
        previous = self._lexical.get()
        index.fiches = FicheIndex.build(
            fiche_rows,
            embed=self.embeddings.embed_array,
            e5=self.e5,
            previous=previous.fiches if previous is not None else None,
            word_counts=lowercase_word_counts(r[2] for r in rows),
            defined=defined_abbreviations(r[2] for r in rows),
            bodies=whole_texts(rows),
            acronyms=title_acronyms(t for r in rows for t in r[1].split(SECTION_SEP)),
            spelling=corpus_word_counts(t for r in rows for t in r[1:]),
            accents=corpus_accented_forms(t for r in rows for t in r[1:]),
        )
        index.save(self.lexical_dir)
        self._dense_generation = max(self._dense_generation, generation)  # our writes: seen
        self._lexical.set(index)
        return index


def _bump_generation(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('generation', '1') "
        "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
    )


def bump_generation(conn: sqlite3.Connection) -> None:
    """Increment the catalog generation inside an open transaction."""
    _bump_generation(conn)


def _dir_size(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        with contextlib.suppress(OSError):
            if p.is_file():
                total += p.stat().st_size
    return total
