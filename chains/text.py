"""French text helpers shared by the gate, the condenser and the extractive generator:
tokenising, stop words, stemming (PyStemmer, Snowball French) and sentence splitting."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

_WORD_RE = re.compile(r"[0-9A-Za-zÀ-ÖØ-öø-ÿŒœÆæ]+(?:-[0-9A-Za-zÀ-ÖØ-öø-ÿŒœÆæ]+)*")

# Function words and the words of question phrasing, which say nothing about the topic.
STOP_WORDS = frozenset(
    [
        "a",
        "à",
        "afin",
        "ai",
        "aie",
        "aient",
        "aies",
        "ait",
        "alors",
        "as",
        "au",
        "aucun",
        "aucune",
        "aupres",
        "auquel",
        "aura",
        "aurai",
        "auraient",
        "aurais",
        "aurait",
        "auras",
        "aurez",
        "auriez",
        "aurons",
        "auront",
        "aussi",
        "autre",
        "autres",
        "aux",
        "auxquelles",
        "auxquels",
        "avaient",
        "avais",
        "avait",
        "avant",
        "avec",
        "avez",
        "aviez",
        "avions",
        "avoir",
        "avons",
        "ayant",
        "ayez",
        "ayons",
        "bon",
        "bonjour",
        "bonsoir",
        "c",
        "ca",
        "ça",
        "car",
        "ce",
        "ceci",
        "cela",
        "celle",
        "celles",
        "celui",
        "ces",
        "cet",
        "cette",
        "ceux",
        "chaque",
        "chez",
        "ci",
        "combien",
        "comme",
        "comment",
        "concernant",
        "d",
        "dans",
        "de",
        "des",
        "desquelles",
        "desquels",
        "deux",
        "dois",
        "doit",
        "doivent",
        "donc",
        "dont",
        "du",
        "duquel",
        "e",
        "elle",
        "elles",
        "en",
        "encore",
        "entre",
        "es",
        "est",
        "et",
        "etaient",
        "etais",
        "etait",
        "etant",
        "ete",
        "etes",
        "etre",
        "eu",
        "eue",
        "eues",
        "eurent",
        "eus",
        "eut",
        "eux",
        "fais",
        "fait",
        "faire",
        "faut",
        "fois",
        "furent",
        "fut",
        "h",
        "hello",
        "i",
        "ici",
        "il",
        "ils",
        "j",
        "je",
        "jusqu",
        "jusque",
        "l",
        "la",
        "laquelle",
        "le",
        "lequel",
        "les",
        "lesquelles",
        "lesquels",
        "leur",
        "leurs",
        "lui",
        "m",
        "ma",
        "madame",
        "mais",
        "me",
        "meme",
        "memes",
        "merci",
        "mes",
        "messieurs",
        "moi",
        "mon",
        "monsieur",
        "n",
        "ne",
        "ni",
        "non",
        "nos",
        "notre",
        "nous",
        "o",
        "on",
        "ont",
        "ou",
        "où",
        "par",
        "parce",
        "pas",
        "peu",
        "peut",
        "peuvent",
        "peux",
        "plus",
        "pour",
        "pourquoi",
        "pourrait",
        "pouvez",
        "pouvoir",
        "puis",
        "puisque",
        "qu",
        "quand",
        "quant",
        "que",
        "quel",
        "quelle",
        "quelles",
        "quelqu",
        "quelque",
        "quelques",
        "quels",
        "qui",
        "quoi",
        "s",
        "sa",
        "sans",
        "sauf",
        "se",
        "sera",
        "serai",
        "seraient",
        "serais",
        "serait",
        "seras",
        "serez",
        "seriez",
        "serons",
        "seront",
        "ses",
        "si",
        "sien",
        "soi",
        "soient",
        "sois",
        "soit",
        "sommes",
        "son",
        "sont",
        "souhaite",
        "souhaiterais",
        "sous",
        "suis",
        "sur",
        "svp",
        "t",
        "ta",
        "te",
        "tes",
        "toi",
        "ton",
        "tous",
        "tout",
        "toute",
        "toutes",
        "tres",
        "tu",
        "un",
        "une",
        "unes",
        "uns",
        "voici",
        "voila",
        "vos",
        "votre",
        "vous",
        "vouloir",
        "voudrais",
        "voulez",
        "y",
    ]
)

_STEMMER = Stemmer.Stemmer("french")


_FOLD_SRC = "àáâãäåçèéêëìíîïñòóôõöùúûüýÿ"
_FOLD_DST = "aaaaaaceeeeiiiinooooouuuuyy"
_FOLD_TABLE = str.maketrans(
    {**{a: b for a, b in zip(_FOLD_SRC, _FOLD_DST, strict=True)}, "œ": "oe", "æ": "ae"}
)


# Letters the table above does not cover (other diacritics, ligatures, combining marks).
_NEEDS_NFKD = re.compile("[\u00c0-\u024f\u1e00-\u1eff\ufb00-\ufb06\u0300-\u036f]")


def fold(text: str) -> str:
    """Lowercase without accents ('Été' -> 'ete'), for matching only."""
    folded = text.lower().translate(_FOLD_TABLE)
    if folded.isascii() or not _NEEDS_NFKD.search(folded):
        return folded
    folded = unicodedata.normalize("NFKD", folded)
    return "".join(ch for ch in folded if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """Word tokens, apostrophes split off ("d'identité" -> ["d", "identité"])."""
    return _WORD_RE.findall(text.replace("’", "'"))


@lru_cache(maxsize=131072)
def _key(word: str) -> str | None:
    """The stem of a content word, None for a stop word, a digit run or a 1-letter word."""
    w = fold(word)
    if len(w) <= 1 or w in STOP_WORDS or w.isdigit():
        return None
    return fold(_STEMMER.stemWord(word.lower()))


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


def split_sentences(text: str) -> list[str]:
    """Sentences and list items of a chunk text, in order ('- item' lines kept whole)."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith(("- ", "• ")):
            out.append(line)
            continue
        out.extend(s.strip() for s in _SENTENCE_RE.split(line) if s.strip())
    return out
