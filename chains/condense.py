"""Turning a follow-up ("et pour un mineur ?") into a standalone question.

With an LLM the chain asks it (prompt in `chains.prompts`); without one, or when that call
fails, `condense_deterministic` rewrites the question: when it looks like a follow-up
(starts with a connector, or carries almost no topic words), the topic words of the previous
question are prepended, except those the follow-up replaces ("majeur" when it says
"mineur", "France" when it says "étranger"...).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from chains.models import Turn
from chains.text import fold, is_content_word, stem, words

_CONNECTOR_RE = re.compile(
    r"^\s*(et|mais|ou|sinon|alors|aussi|même|meme|pour|si|dans ce cas|quid|idem|"
    r"et si|et pour|et en|et dans|et quand|et combien|et le|et la|et les)\b",
    re.IGNORECASE,
)
_ANAPHORA = frozenset(
    ("il", "elle", "ils", "elles", "ca", "cela", "celui", "celle", "ceux", "celles")
)

# Words that replace one another between a question and its follow-up.
_CONTRASTS = [
    {"mineur", "majeur", "adulte", "enfant", "bebe"},
    {"france", "etranger"},
    {"perte", "vol", "perdu", "vole"},
    {"premier", "premiere", "renouvellement", "renouveler"},
    {"particulier", "professionnel", "association", "entreprise"},
    {"salarie", "fonctionnaire", "independant", "chomeur", "retraite", "etudiant"},
    {"proprietaire", "locataire"},
    {"homme", "femme"},
    {"marie", "pacse", "concubin", "divorce", "veuf", "celibataire"},
]
_CONTRAST_STEMS = [{stem(w) for w in group} for group in _CONTRASTS]


# "procuration pour voter, ça se fait où ?": the pronoun takes up the topic named before
# the comma, not the previous question's
_REPLIES = frozenset(("oui", "ok", "okay", "accord", "super", "parfait", "entendu", "bien"))
_TOPIC_FIRST_RE = re.compile(r"^([^,;:]+),\s*(?:ca|cela|il|elle|ils|elles)\b")


def looks_like_followup(question: str) -> bool:
    toks = words(question)
    content = [w for w in toks if is_content_word(w)]
    if _CONNECTOR_RE.match(question):
        return True
    if len(content) <= 1:
        return True
    topic_first = _TOPIC_FIRST_RE.match(fold(question.strip()))
    if topic_first and any(
        is_content_word(w) and fold(w) not in _REPLIES for w in words(topic_first.group(1))
    ):
        return False
    return len(content) <= 3 and any(fold(w) in _ANAPHORA for w in toks)


def _topic_words(text: str) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for w in words(text):
        if not is_content_word(w):
            continue
        s = stem(w)
        if s not in seen:
            seen.add(s)
            out.append(w)
    return out


def condense_deterministic(question: str, history: Sequence[Turn]) -> str:
    """A standalone question for retrieval, without a model."""
    if not history or not looks_like_followup(question):
        return question
    prev_words: list[str] = []
    for turn in reversed(history[-2:]):
        prev_words = _topic_words(turn.question) + prev_words
        if not looks_like_followup(turn.question):
            break
    follow_stems = {stem(w) for w in words(question) if is_content_word(w)}
    replaced = set()
    for group in _CONTRAST_STEMS:
        if follow_stems & group:
            replaced |= group
    keep: list[str] = []
    seen: set[str] = set()
    for w in prev_words:
        s = stem(w)
        if s in follow_stems or s in replaced or s in seen:
            continue
        seen.add(s)
        keep.append(w)
    if not keep:
        return question
    follow = question.strip()
    follow = _CONNECTOR_RE.sub("", follow, count=1).strip(" ,?") or follow
    return f"{' '.join(keep)} : {follow}".strip()
