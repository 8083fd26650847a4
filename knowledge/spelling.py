"""Typos in a question, read against the corpus's words and a French dictionary.

Agents type fast: "succesion", "adopeter", "assurence". A word that neither the corpus nor a
French dictionary knows, of MIN_LENGTH letters or more, one edit away (a letter doubled or
undoubled, two letters swapped, a letter left out or added, a letter changed: the likeliest
kind of edit that reaches a word decides) from a word the corpus uses MIN_COUNT times or
more, and from one such word only (or one used DOMINANCE times as often as the next), is
read as that word: the search looks for both. Words no fiche uses but French has ("franchement",
"galère", "gamin", "arnaque") are in the dictionary and left alone: without it, "franchement"
read as "branchement". A shorter word has too many neighbours to guess from.

Agents also type without accents ("mari decede", "visite medicale apres un arret"). The
lexical search folds accents anyway; the embedders read the text as typed, and read it better
with them: a word typed without accents that French does not write so ("decede"; not
"salarie", a verb, nor "cote") is given the spelling the fiches use for it, when they use
one far more than any other (`corpus_accented_forms`).

The dictionary is pyspellchecker's French word list, read from its package data (no model,
no network); the corpus's words are counted at ingest (`corpus_word_counts`,
`corpus_accented_forms`) and kept with the fiche index.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from importlib.resources import files

from knowledge.text import fold

MIN_LENGTH = 7  # letters of a typed word that may be a typo
MIN_COUNT = 5  # uses in the corpus of the word it is read as
DOMINANCE = 3  # the best neighbour used this many times as often as the next one
# (also: an accented spelling used this many times as often as the word's other spellings)

_WORD_RE = re.compile(r"[a-z]+")
_TYPED_RE = re.compile(r"[^\W\d_]+")
_LOWER_RE = re.compile(r"(?<![^\W\d_])[a-zà-ÿœæ]+(?![^\W\d_])")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def corpus_word_counts(texts: Iterable[str]) -> dict[str, int]:
    """How often each accent-folded word of MIN_LENGTH - 1 letters or more appears (the
    only ones a typo can be read as)."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(w for w in _WORD_RE.findall(fold(text)) if len(w) >= MIN_LENGTH - 1)
    return dict(counts)


def corpus_accented_forms(texts: Iterable[str]) -> dict[str, str]:
    """Accent-folded word -> the accented spelling the texts give it, for the words written
    in lower case with accents DOMINANCE times as often as with any other spelling, twice
    at least ("decede" -> "décédé"; not "eleve": "élève" and "élevé" are both common), and
    that French does not also write without accents ("salarie", a verb; "cote")."""
    by_fold: dict[str, Counter] = {}
    for text in texts:
        for w in _LOWER_RE.findall(text):
            by_fold.setdefault(fold(w), Counter())[w] += 1
    plain = {w for w in _dictionary() if fold(w) == w}  # "salarie", "cote"
    out: dict[str, str] = {}
    for key, spellings in by_fold.items():
        (best, n), *rest = spellings.most_common(2)
        dominant = n >= 2 and n >= DOMINANCE * (rest[0][1] if rest else 0)
        if best != key and dominant and key not in plain:
            out[key] = best
    return out


def _dictionary() -> list[str]:
    """The French dictionary's words as it writes them (~140,000; ~0.3 s to read)."""
    data = (files("spellchecker") / "resources" / "fr.json.gz").read_bytes()
    return list(json.loads(gzip.decompress(data)))


@lru_cache(maxsize=1)
def french_words() -> frozenset[str]:
    """The French dictionary's words, accent-folded (read once)."""
    return frozenset(fold(w) for w in _dictionary())


def _edits(word: str) -> list[set[str]]:
    """The strings one edit away from `word`, the likelier typos first: a letter doubled
    or undoubled ("succesion", "procurration"), two letters swapped ("combein"), a letter
    left out or added ("adopeter"), a letter changed ("assurence"). "démision" is
    "démission" (a letter doubled), not "décision" (one changed), used ten times as often."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    doubled = {a + b[0] + b for a, b in splits if b} | {
        a + b[1:] for a, b in splits if len(b) > 1 and b[0] == b[1]
    }
    swapped = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1 and b[0] != b[1]}
    left_out = {a + b[1:] for a, b in splits if b} | {
        a + c + b for a, b in splits for c in _LETTERS
    }
    changed = {a + c + b[1:] for a, b in splits if b for c in _LETTERS if c != b[0]}
    return [doubled, swapped - doubled, left_out - doubled - swapped, changed]


class Speller:
    """Reads the typos of a text as the corpus's words (see the module docstring)."""

    def __init__(self, counts: dict[str, int], accents: dict[str, str] | None = None) -> None:
        self.counts = counts
        self.accents = accents or {}  # folded word -> the corpus's accented spelling
        # a message's words come back in each of its searches, and the analysis's
        self.correct = lru_cache(maxsize=4096)(self._correct)

    def _correct(self, word: str) -> str | None:
        """The corpus word a typed word stands for, None when it is no typo (or no guess)."""
        word = fold(word)
        if len(word) < MIN_LENGTH or word in self.counts or not word.isalpha():
            return None
        if word in french_words():
            return None
        for edits in _edits(word):
            near = sorted(
                ((n, w) for w in edits if (n := self.counts.get(w, 0)) >= MIN_COUNT),
                reverse=True,
            )
            if near:
                if len(near) > 1 and near[1][0] * DOMINANCE > near[0][0]:
                    return None  # two readings: no guess
                return near[0][1]
        return None

    def corrections(self, text: str) -> list[str]:
        """The corpus words the typos of `text` stand for, in order, once each. A word
        capitalised within a sentence is a name ("Chantal"), not a typo."""
        out: list[str] = []
        for m in _TYPED_RE.finditer(text):
            w = m.group()
            if w[0].isupper() and text[: m.start()].rstrip()[-1:] not in ("", ".", "!", "?"):
                continue
            fixed = self.correct(w)
            if fixed is not None and fixed not in out:
                out.append(fixed)
        return out

    def accented(self, text: str) -> str:
        """`text` with its words typed without accents spelt as the fiches spell them ("mari
        decede" -> "mari décédé"); the words French also writes so ("salarie") were left out
        of the spellings at ingest (`corpus_accented_forms`)."""
        if not self.accents:
            return text

        def spelt(m: re.Match) -> str:
            typed = m.group()
            form = self.accents.get(typed.lower())  # its keys carry no accent
            if form is None:
                return typed
            return form.capitalize() if typed[0].isupper() else form

        return _TYPED_RE.sub(spelt, text)

    def to_json(self) -> dict[str, int]:
        return self.counts

    @classmethod
    def from_json(
        cls, data: dict[str, int] | None, accents: dict[str, str] | None = None
    ) -> Speller:
        return cls(dict(data or {}), dict(accents or {}))
