"""French text helpers of the gate, the condenser and the extractive generator: tokenising,
stemming (PyStemmer, Snowball French) and sentence splitting. Accent folding and stop words
are `knowledge.text`'s (one place for the whole project)."""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise

import Stemmer

from knowledge.text import FRENCH_STOP_WORDS, QUESTION_WORDS, fold

_WORD_RE = re.compile(r"[0-9A-Za-zÀ-ÖØ-öø-ÿŒœÆæ]+(?:-[0-9A-Za-zÀ-ÖØ-öø-ÿŒœÆæ]+)*")

STOP_WORDS = FRENCH_STOP_WORDS | QUESTION_WORDS

_STEMMER = Stemmer.Stemmer("french")


# The pronoun of a question asked by inversion ("peut-elle", "faut-il", "va-t-on", "est-ce"),
# split off so that the verb is read alone (a stop word, most often), not as a word of its own
# ("peut-el") that no fiche holds.
_INVERSION_RE = re.compile(
    r"(?<=\w)-(?:t-)?(?:il|elle|on|ils|elles|je|tu|nous|vous|ce)(?![\w-])(?<!rendez-vous)",
    re.IGNORECASE,
)


def words(text: str) -> list[str]:
    """Word tokens, apostrophes and inverted pronouns split off ("d'identité" -> ["d",
    "identité"], "peut-elle" -> ["peut"])."""
    return _WORD_RE.findall(_INVERSION_RE.sub(" ", text.replace("’", "'")))


def compounds(text: str) -> str:
    """The text's adjacent content words joined by a hyphen ("auto ecole" -> "auto-ecole",
    "pole emploi" -> "pole-emploi"), never across punctuation: the fiches write such
    compounds with their hyphen, a single word to the stemmer, and an agent often types
    them without."""
    out = []
    for clause in _CLAUSE_SPLIT_RE.split(text):
        tokens = (w if "-" not in w and _key(w) is not None else None for w in words(clause))
        out.extend(f"{a}-{b}" for a, b in pairwise(tokens) if a and b)
    return " ".join(out)


_CLAUSE_SPLIT_RE = re.compile(r"[,;:.!?()«»\"/]")


@lru_cache(maxsize=131072)
def _key(word: str) -> str | None:
    """The stem of a content word, None for a stop word, a digit run or a 1-letter word."""
    w = fold(word)
    if len(w) <= 1 or w in STOP_WORDS or w.isdigit():
        return None
    if w in _FIRST:
        return "premi"  # "son 1er bon" and "pour la 1re fois", "première demande"
    return fold(_STEMMER.stemWord(word.lower()))


# "premier", "première" written with a digit
_FIRST = frozenset({"1er", "1ers", "1re", "1res", "1ere", "1eres"})


def is_content_word(word: str) -> bool:
    return _key(word) is not None


def stem(word: str) -> str:
    key = _key(word)
    return key if key is not None else fold(_STEMMER.stemWord(word.lower()))


def content_stems(text: str) -> list[str]:
    """Stems of the content words of `text`, in order (duplicates kept)."""
    keys = map(_key, words(text))
    return [k for k in keys if k is not None]


@lru_cache(maxsize=8192)
def stem_set(text: str) -> frozenset[str]:
    """The set of content stems of `text` (cached: chunk texts come back often)."""
    return frozenset(content_stems(text))


_SENTENCE_RE = re.compile(r"(?<=[.!?…])\s+(?=[«\"(]?[A-ZÀ-ÖØ-Þ0-9])")
# The abbreviations the fiches write before a capital or a figure, where no sentence ends
# ("(NAF rév. 2)", "(art. L. 600-1)", "Octobre 2018 à sept. 2019", "si M. Dupont")
_ABBREVIATION_END_RE = re.compile(
    r"(?:^|[\s(])(?:art|rév|janv|févr|avr|juil|sept|oct|nov|déc|cf|réf|M|Mme|MM)\.$"
)


# An item of a numbered list ("1. Faire un recours préalable…", "2. une indemnité…"): kept
# whole, with its number
NUMBERED_ITEM_RE = re.compile(r"\d{1,2}\. \S")


def split_sentences(text: str) -> list[str]:
    """Sentences and list items of a chunk text, in order ('- item' and '1. item' lines kept
    whole)."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith(("- ", "• ")) or NUMBERED_ITEM_RE.match(line):
            # an item, bulleted or numbered ("1. Recours préalable… . Il doit…"), whole
            out.append(line)
            continue
        pieces: list[str] = []
        for piece in (s.strip() for s in _SENTENCE_RE.split(line)):
            if pieces and _ABBREVIATION_END_RE.search(pieces[-1]):
                pieces[-1] = f"{pieces[-1]} {piece}"
            elif piece:
                pieces.append(piece)
        out.extend(pieces)
    return out
