"""French text, the one place for what every part matches on: accent folding and stop words.

`knowledge` (the BM25 analyzer, query analysis, the corpus vocabulary) and `chains` (the
gate, the condenser, the extractive generator) both use these; nothing here imports
anything of the project.
"""

from __future__ import annotations

import re
import unicodedata

import bm25s

_FOLD_SRC = "àáâãäåçèéêëìíîïñòóôõöùúûüýÿ"
_FOLD_DST = "aaaaaaceeeeiiiinooooouuuuyy"
_FOLD_TABLE = str.maketrans(
    {**{a: b for a, b in zip(_FOLD_SRC, _FOLD_DST, strict=True)}, "œ": "oe", "æ": "ae", "’": "'"}
)
# Letters the table above does not cover (other diacritics, ligatures, combining marks).
_NEEDS_NFKD = re.compile("[\u00c0-\u024f\u1e00-\u1eff\ufb00-\ufb06\u0300-\u036f]")


def fold(text: str) -> str:
    """Lower case without accents, typographic apostrophe as ASCII ('Été’' -> "ete'"):
    agents type "conge maternite" and "soeur" for "congé maternité" and "sœur"."""
    folded = text.lower().translate(_FOLD_TABLE)
    if folded.isascii() or not _NEEDS_NFKD.search(folded):
        return folded
    folded = unicodedata.normalize("NFKD", folded)
    return "".join(ch for ch in folded if not unicodedata.combining(ch))


# The end the chunker gives a text the DILA cut mid-word ("… la décl" -> "… la […]"): its
# words count for search, and a draft never quotes it as a sentence.
CUT_MARK = " […]"

# French function words (bm25s' list), elisions and a few words every fiche and question
# has; accent-folded. The BM25 index drops them.
FRENCH_STOP_WORDS = frozenset(
    {fold(w) for w in bm25s.stopwords.STOPWORDS_FRENCH}
    | {
        "a", "c", "ce", "comment", "d", "est", "etre", "faire", "j", "je", "l", "m", "ma",
        "mes", "mon", "n", "on", "peut", "qu", "quel", "quelle", "quelles", "quels", "quoi",
        "s", "si", "t", "the", "vos", "votre", "vous", "y",
    }
)  # fmt: skip

# The words of question phrasing, courtesy and vague quantity, which say nothing about the
# topic: matching a question's words to a fiche's sentences also drops these.
QUESTION_WORDS = frozenset({
    "afin", "alors", "aucun", "aucune", "aupres", "auquel", "aussi", "autre", "autres",
    "auxquelles", "auxquels", "avant", "avoir", "bon", "bonjour", "bonsoir", "ca", "car",
    "ceci", "cela", "celle", "celles", "celui", "cet", "cette", "ceux", "chaque", "chez",
    "ci", "combien", "comme", "concernant", "desquelles", "desquels", "deux", "dois",
    "doit", "doivent", "donc", "dont", "duquel", "e", "elles", "encore", "entre", "fais",
    "fait", "faut", "fois", "h", "hello", "i", "ici", "jusqu", "jusque", "laquelle",
    "lequel", "lesquelles", "lesquels", "leurs", "madame", "memes", "merci", "messieurs",
    "monsieur", "ni", "non", "o", "parce", "peu", "peuvent", "peux", "plus", "pourquoi",
    "pourrait", "pouvez", "pouvoir", "puis", "puisque", "quand", "quant", "quelqu",
    "quelque", "quelques", "sans", "sauf", "sien", "soi", "souhaite", "souhaiterais",
    "sous", "svp", "tous", "tout", "toute", "toutes", "tres", "unes", "uns", "voici",
    "voila", "voudrais", "voulez", "vouloir",
})  # fmt: skip
