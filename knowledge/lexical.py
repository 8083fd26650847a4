"""French lexical index: BM25 (bm25s) over stemmed, accent-folded words without stop words.

The index lives in `DIR/gen-*/` folders; `DIR/CURRENT` (a small JSON file replaced atomically
with `os.replace`) names the folder in use. A writer builds a new folder, then swaps
`CURRENT`; a reader keeps the index it loaded and picks the new one up at its next query
(`LexicalIndexHandle.get`). Readers therefore never see a half-written index.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import Stemmer

from knowledge.errors import StoreError
from knowledge.text import ASKING_WORDS, FRENCH_STOP_WORDS, fold

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+", re.UNICODE)

_STOP = FRENCH_STOP_WORDS
_ASKING = frozenset(Stemmer.Stemmer("french").stemWord(fold(w)) for w in ASKING_WORDS)


class FrenchAnalyzer:
    """Lower-case, split on words, fold accents, stem (Snowball French), drop stop words."""

    def __init__(self) -> None:
        self._stemmer = Stemmer.Stemmer("french")
        self._stem = lru_cache(maxsize=200_000)(self._stem_uncached)

    def _stem_uncached(self, word: str) -> str:
        # Fold accents first: agents often type without them ("conge maternite"), and the
        # stemmer must then see the same word as in the fiche ("congé maternité").
        folded = fold(word)
        if folded in _STOP:
            return ""
        return self._stemmer.stemWord(folded)

    def __call__(self, text: str) -> list[str]:
        out = []
        for w in _WORD.findall(text.lower().replace("_", " ")):
            s = self._stem(w)
            if s and s not in _STOP:
                out.append(s)
        return out

    def query(self, text: str) -> list[str]:
        """The terms of a query: its words without those it asks with (`ASKING_WORDS`)."""
        return [t for t in self(text) if t not in _ASKING]


class LexicalIndex:
    """A BM25 index over documents identified by string IDs (chunk IDs)."""

    def __init__(self, bm25: bm25s.BM25 | None, doc_ids: list[str], generation: int) -> None:
        self.bm25 = bm25
        self.doc_ids = doc_ids
        self.generation = generation
        self.analyzer = FrenchAnalyzer()
        # The fiche-level index of the same catalog generation (knowledge.fiche_index),
        # saved and swapped with this one.
        self.fiches: Any = None

    @classmethod
    def build(
        cls, doc_ids: Sequence[str], texts: Sequence[str], *, generation: int = 0
    ) -> LexicalIndex:
        analyzer = FrenchAnalyzer()
        return cls.from_tokens(doc_ids, [analyzer(t) for t in texts], generation=generation)

    @classmethod
    def from_tokens(
        cls, doc_ids: Sequence[str], analysed: Sequence[list[str]], *, generation: int = 0
    ) -> LexicalIndex:
        """The index of documents already analysed (`FrenchAnalyzer`'s output)."""
        tokens = [t or ["_vide_"] for t in analysed]
        if not tokens:
            return cls(None, [], generation)
        bm25 = bm25s.BM25(k1=1.2, b=0.75)
        bm25.index(tokens, show_progress=False)
        return cls(bm25, list(doc_ids), generation)

    def __len__(self) -> int:
        return len(self.doc_ids)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for the query (zeros when no query word is known)."""
        if self.bm25 is None:
            return np.zeros(0, dtype=np.float32)
        ids = self.bm25.get_tokens_ids(self.analyzer.query(query))
        if not ids:
            return np.zeros(len(self.doc_ids), dtype=np.float32)
        return self.bm25.get_scores_from_ids(ids)

    def search(
        self, query: str, k: int, *, mask: np.ndarray | None = None
    ) -> list[tuple[str, float]]:
        """Top-k (doc_id, score) with a positive score; `mask` (bool per doc) filters."""
        scores = self.scores(query)
        if scores.size == 0:
            return []
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        k = min(k, scores.size)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.doc_ids[i], float(scores[i])) for i in top if scores[i] > 0]

    # --- persistence -------------------------------------------------------------------

    def save_into(self, folder: Path) -> None:
        """Write the BM25 matrices into `folder` (a part of a bigger saved index)."""
        folder.mkdir(parents=True, exist_ok=True)
        if self.bm25 is not None:
            self.bm25.save(str(folder), show_progress=False)

    @classmethod
    def load_from(cls, folder: Path, doc_ids: list[str]) -> LexicalIndex:
        """Read what `save_into` wrote (the caller keeps the document IDs)."""
        has = (folder / "params.index.json").exists()
        return cls(bm25s.BM25.load(str(folder), load_corpus=False) if has else None, doc_ids, 0)

    def save(self, root: Path) -> None:
        """Write a new generation folder under root, then atomically point CURRENT at it."""
        root.mkdir(parents=True, exist_ok=True)
        name = f"gen-{self.generation}-{os.getpid()}"
        tmp = root / f".tmp-{name}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        if self.bm25 is not None:
            self.bm25.save(str(tmp), show_progress=False)
        (tmp / "doc_ids.json").write_text(json.dumps(self.doc_ids), encoding="utf-8")
        if self.fiches is not None:
            self.fiches.save(tmp / "fiches")
        final = root / name
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        pointer = root / f".CURRENT.{os.getpid()}"
        pointer.write_text(json.dumps({"dir": name, "generation": self.generation}))
        with open(pointer, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(pointer, root / "CURRENT")
        # Older generations: readers loaded them fully in memory, they may go.
        for old in root.glob("gen-*"):
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
        for old in root.glob(".tmp-*"):
            with contextlib.suppress(OSError):
                if old.stat().st_mtime < (root / "CURRENT").stat().st_mtime - 3600:
                    shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def current(root: Path) -> dict | None:
        try:
            return json.loads((root / "CURRENT").read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StoreError(f"lexical index pointer {root / 'CURRENT'} unreadable: {exc}") from exc

    @classmethod
    def load(
        cls, root: Path, *, companion: Callable[[Path], Any] | None = None
    ) -> LexicalIndex | None:
        """Load the generation CURRENT names (None when no index was ever written), and with
        it, through `companion`, what was saved beside it (the store passes
        `FicheIndex.load`: the fiche index builds on this module, not the reverse)."""
        for _attempt in range(3):  # a writer may swap and clean up between read and load
            info = cls.current(root)
            if info is None:
                return None
            folder = root / info["dir"]
            try:
                doc_ids = json.loads((folder / "doc_ids.json").read_text(encoding="utf-8"))
                bm25 = (
                    bm25s.BM25.load(str(folder), load_corpus=False)
                    if (folder / "params.index.json").exists()
                    else None
                )
                index = cls(bm25, doc_ids, int(info["generation"]))
                companion_dir = folder / "fiches"
                if companion is not None and companion_dir.exists():
                    index.fiches = companion(companion_dir)
            except FileNotFoundError:
                continue
            return index
        raise StoreError(f"lexical index under {root} keeps changing or is incomplete")


PAIR_WINDOW = 2  # a pair: two words of the text at most this far apart (stop words aside)


def word_pairs(terms: Sequence[str], window: int = PAIR_WINDOW) -> list[tuple[str, str]]:
    """The ordered pairs of analysed words at most `window` apart: "congé de maternité" gives
    ("cong", "matern"); "titre de séjour pluriannuel" also ("titr", "pluriannuel")."""
    return [
        (a, b) for gap in range(1, window + 1) for a, b in zip(terms, terms[gap:], strict=False)
    ]


class PairIndex:
    """BM25 over word pairs instead of words: how much of a query's phrasing a document holds
    ("congé parental" as two words side by side, not a "congé" here and a "parental" there).

    Used as a second-stage feature over the candidates' whole texts (the body field), where
    the fiche that is about the asker's case holds the query's pairs and its siblings only its
    words. Pairs are kept as integer keys of the words' positions in a sorted vocabulary; the
    BM25 weight of each (document, pair) is computed at build time (a sparse matrix by rows),
    so a score is a lookup of the query's pairs in each candidate's row. Not `bm25s` as
    `LexicalIndex` is: it would keep the ~500,000 distinct pairs of the 2020 corpus as a dict
    of strings (tens of MB more in the bot) and score every document, where 30 are needed."""

    K1, B = 1.2, 0.75

    def __init__(
        self,
        words: list[str],
        keys: np.ndarray,
        indptr: np.ndarray,
        cols: np.ndarray,
        weights: np.ndarray,
    ) -> None:
        self.words = words
        self._word_id = {w: i for i, w in enumerate(words)}
        self.keys = keys  # sorted int64 pair keys (first word id * len(words) + second's)
        self.indptr = indptr  # rows: documents; row d is cols[indptr[d]:indptr[d + 1]]
        self.cols = cols  # sorted within a row: positions in `keys`
        self.weights = weights

    @classmethod
    def build(cls, analysed: Sequence[list[str]], window: int = PAIR_WINDOW) -> PairIndex:
        """From each document's analysed words (`FrenchAnalyzer`'s output, in text order)."""
        words = sorted({w for terms in analysed for w in terms})
        word_id = {w: i for i, w in enumerate(words)}
        n_words = max(len(words), 1)
        doc_keys = []
        for terms in analysed:
            ids = np.fromiter((word_id[w] for w in terms), np.int64, len(terms))
            parts = [ids[:-gap] * n_words + ids[gap:] for gap in range(1, window + 1)]
            doc_keys.append(np.concatenate(parts) if parts else np.zeros(0, np.int64))
        keys = np.unique(np.concatenate(doc_keys)) if doc_keys else np.zeros(0, np.int64)
        lengths = np.asarray([len(k) for k in doc_keys], dtype=np.float64)
        avg = max(float(lengths.mean()), 1.0) if len(lengths) else 1.0
        rows_cols, rows_tf = [], []
        df = np.zeros(len(keys), dtype=np.int64)
        for k in doc_keys:
            cols, tf = np.unique(np.searchsorted(keys, k), return_counts=True)
            rows_cols.append(cols)
            rows_tf.append(tf)
            df[cols] += 1
        n_docs = len(doc_keys)
        idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        indptr = np.zeros(n_docs + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(c) for c in rows_cols])
        cols = np.concatenate(rows_cols).astype(np.int32) if rows_cols else np.zeros(0, np.int32)
        tf = np.concatenate(rows_tf).astype(np.float64) if rows_tf else np.zeros(0)
        norm = np.repeat(cls.K1 * (1 - cls.B + cls.B * lengths / avg), np.diff(indptr))
        weights = (idf[cols] * tf * (cls.K1 + 1) / (tf + norm)).astype(np.float32)
        return cls(words, keys, indptr, cols, weights)

    def query_columns(self, terms: Sequence[str], window: int = PAIR_WINDOW) -> np.ndarray:
        """The columns of the query's pairs that some document holds (sorted, unique)."""
        n_words = max(len(self.words), 1)
        found = []
        for a, b in set(word_pairs(terms, window)):
            ia, ib = self._word_id.get(a), self._word_id.get(b)
            if ia is None or ib is None:
                continue
            key = ia * n_words + ib
            pos = int(np.searchsorted(self.keys, key))
            if pos < len(self.keys) and self.keys[pos] == key:
                found.append(pos)
        return np.asarray(sorted(found), dtype=np.int32)

    def score(self, doc: int, columns: np.ndarray) -> float:
        """The BM25 score of document `doc` (row) for the query's pair columns."""
        start, end = self.indptr[doc], self.indptr[doc + 1]
        row = self.cols[start:end]
        pos = np.searchsorted(row, columns)
        inside = pos < len(row)
        pos = pos[inside]
        present = pos[row[pos] == columns[inside]]
        return float(self.weights[start + present].sum())

    def save(self, path: Path) -> None:
        words = np.frombuffer("\n".join(self.words).encode("utf-8"), dtype=np.uint8)
        np.savez(
            path,
            keys=self.keys,
            indptr=self.indptr,
            cols=self.cols,
            weights=self.weights,
            words=words,
        )

    @classmethod
    def load(cls, path: Path) -> PairIndex:
        with np.load(path) as a:
            text = a["words"].tobytes().decode("utf-8")
            words = text.split("\n") if text else []
            return cls(words, a["keys"], a["indptr"], a["cols"], a["weights"])


class LexicalIndexHandle:
    """Thread-safe holder that reloads the index when CURRENT changed on disk."""

    def __init__(self, root: Path, *, companion: Callable[[Path], Any] | None = None) -> None:
        self.root = root
        self.companion = companion
        self._lock = threading.Lock()
        self._index: LexicalIndex | None = None
        self._stamp: tuple[int, int] | None = None

    def _pointer_stamp(self) -> tuple[int, int] | None:
        try:
            st = (self.root / "CURRENT").stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_ino)

    def get(self) -> LexicalIndex | None:
        stamp = self._pointer_stamp()
        if stamp == self._stamp and (self._index is not None or stamp is None):
            return self._index
        with self._lock:
            if stamp != self._stamp or self._index is None:
                self._index = LexicalIndex.load(self.root, companion=self.companion)
                self._stamp = stamp
                if self._index is not None:
                    log.info(
                        "lexical index generation %s loaded (%d documents)",
                        self._index.generation,
                        len(self._index),
                    )
            return self._index

    def set(self, index: LexicalIndex) -> None:
        with self._lock:
            self._index = index
            self._stamp = self._pointer_stamp()
