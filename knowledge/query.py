"""What a question or a citizen's message asks: the requests to search with, and the cues.

Agents type short questions ("renouvellement CNI mineur pièces ?"); citizens write messages
where the need sits among greetings, anger and anecdote ("Bonjour, mon papa est décédé il y a
6 semaines. [...] Faut-il d'abord mettre la carte grise à notre nom ?"). `analyse` splits a
text into sentences, sets aside what asks nothing (greetings, thanks, closing formulas,
anger that names little else: an angry sentence telling the matter is kept), and keeps:

- `main`: the text without what was set aside (the whole need, searched as one query);
- `requests`: each sentence that asks something (a question mark, an interrogative or a
  request phrase), with the sentence before it when the question alone says little
  ("C'est légal ?"); a request that names no topic even then ("Il faut faire une demande
  quelque part ? C'est combien ?") is left to the search of `main`, alone it finds noise.
  The retriever searches each request and fuses the rankings; the answer chain answers each
  one.
- cues: whether the text asks for a form / an online service (`wants_form`) or for an
  overview of a whole topic (`wants_overview`), which lets a form (R) or a dossier (N) rank
  first.

Pure functions, no model: a few microseconds per message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from knowledge.text import FRENCH_STOP_WORDS, QUESTION_WORDS, fold

# Words that carry no request on their own (greetings, politeness, closings), accent-folded.
_GREETING_RE = re.compile(
    r"^\s*(?:(?:bonjour|bonsoir|salut|hello|coucou|madame|monsieur|mesdames|messieurs|"
    r"cher|chere|chers|mme|m\.)\b[\s,!.]*)+",
    re.IGNORECASE,
)
_CLOSING_RE = re.compile(
    r"^\s*(?:merci\b.*|cordialement.*|bien cordialement.*|bonne (?:journee|soiree)\b.*|"
    r"(?:je vous prie|veuillez agreer|dans l'attente|en vous remerciant|d'avance merci|"
    r"salutations|bien a vous|a bientot)\b.*)$",
    re.IGNORECASE,
)
# Sentences that vent rather than ask (kept in `main`, never searched alone).
_VENT_RE = re.compile(
    r"\b(?:scandal\w*|inadmissible|honte\w*|ras le bol|marre|inacceptable|incroyable|"
    r"n'importe quoi|je tourne en rond|c'est (?:deja )?(?:assez |tres |vraiment )?complique|"
    r"je suis (?:completement |totalement )?(?:perdue?|desesperee?|a bout|epuisee?)|"
    r"personne ne (?:repond|sait)|ca fait \w+ (?:mois|semaines) que)\b",
    re.IGNORECASE,
)
_ASK_RE = re.compile(
    r"\?|\b(?:est-ce qu|comment|combien|quand|pourquoi|quel(?:le)?s?|lequel|laquelle|"
    r"ou (?:faut|dois|doit|peut|aller|s'adresser|faire|trouver)|"
    r"faut-il|dois-je|doit-on|puis-je|peut-on|peut-il|peut-elle|ai-je|a-t-on|a-t-il|"
    r"suis-je|est-il|est-elle|y a-t-il|"
    r"pouvez-vous|pourriez-vous|savoir (?:si|comment|quoi|combien|ou|qui)|"
    r"que (?:faire|dois-je|faut-il))\b",
    re.IGNORECASE,
)
# A wish ("je voudrais la vendre l'an prochain", "je souhaite changer de nom") is a request
# only in a message that asks nothing with a question mark: next to questions, it tells the
# citizen's plan, the situation the questions are about.
_WISH_RE = re.compile(
    r"\b(?:je (?:voudrais|souhaite|souhaiterais|cherche|demande|aimerais)|j'aimerais)\b",
    re.IGNORECASE,
)
_FORM_RE = re.compile(
    r"\b(?:cerfa|formulaires?|imprimes?|telecharg\w*|teleservices?|simulateurs?|"
    r"en ligne|demarche en ligne|modele de (?:lettre|courrier))\b",
    re.IGNORECASE,
)
_OVERVIEW_RE = re.compile(
    r"\b(?:tout savoir|vue d'ensemble|dossier complet|toutes les (?:demarches|aides)|"
    r"quelles sont (?:toutes )?les (?:aides|demarches)|panorama|guide)\b",
    re.IGNORECASE,
)
_SENTENCE_RE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")
_WORD_RE = re.compile(r"[^\W\d_]{3,}")

# Beyond this many words, a text is a message to analyse rather than a question.
MESSAGE_WORDS = 25
# A question shorter than this (words) borrows the sentence before it.
SHORT_REQUEST_WORDS = 5
# A request naming fewer topic words than this (borrowed sentence included) is not searched
# on its own.
TOPIC_WORDS = 2
MAX_REQUESTS = 4
# a sentence of anger is set aside only when, its angry words apart, it names little else
# ("C'est scandaleux, ça fait trois mois que personne ne répond."); "Ça fait 3 semaines que
# j'ai demandé à mon opérateur de repasser aux factures papier" vents and holds the matter
VENT_WORDS = 3


@dataclass(frozen=True, slots=True)
class QueryAnalysis:
    """What `analyse` found in a question or a message."""

    text: str  # the text as given
    main: str  # what is searched as one query: the text without greetings and closings
    requests: tuple[str, ...] = ()  # each request of a message (empty for a short question)
    wants_form: bool = False
    wants_overview: bool = False
    set_aside: tuple[str, ...] = field(default=())  # sentences dropped from the search

    @property
    def queries(self) -> tuple[str, ...]:
        """The queries to search with: `main` first, then each distinct request."""
        out = [self.main]
        out.extend(r for r in self.requests if r != self.main)
        return tuple(q for q in out if q)


# Words that ask or tell without naming a topic ("il faut faire une demande quelque part ?"),
# besides the stop words and question words of knowledge.text.
_GENERIC = frozenset({
    "aller", "chose", "choses", "demande", "demander", "dire", "droit", "moment", "normal",
    "part", "possible", "rien", "savoir", "vrai",
})  # fmt: skip


def _words(text: str) -> int:
    return len(_WORD_RE.findall(text))


def _content_words(text: str) -> int:
    """Words that name a topic: not stop words, question words or generic verbs."""
    return sum(
        1
        for w in _WORD_RE.findall(fold(text))
        if w not in FRENCH_STOP_WORDS and w not in QUESTION_WORDS and w not in _GENERIC
    )


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_RE.findall(text) if s.strip()]


def analyse(text: str) -> QueryAnalysis:
    """Split a question or a message into what to search (see the module docstring)."""
    text = text.strip()
    folded = fold(text)
    wants_form = bool(_FORM_RE.search(folded))
    wants_overview = bool(_OVERVIEW_RE.search(folded))
    sentences = _sentences(text)
    kept: list[str] = []
    asks: list[str] = []
    wishes: set[str] = set()  # the requests that are only a wish
    set_aside: list[str] = []
    previous = ""
    for sentence in sentences:
        f = fold(sentence)
        stripped = sentence[_GREETING_RE.match(f).end() :] if _GREETING_RE.match(f) else sentence
        f = fold(stripped)
        if not stripped.strip() or _CLOSING_RE.match(f):
            set_aside.append(sentence)
            continue
        asks_outright = bool(_ASK_RE.search(f))
        wish = not asks_outright and bool(_WISH_RE.search(f))
        is_ask = asks_outright or wish
        vents = bool(_VENT_RE.search(f)) and _content_words(_VENT_RE.sub(" ", f)) <= VENT_WORDS
        if vents and not is_ask:
            set_aside.append(sentence)
            continue
        kept.append(stripped.strip())
        if is_ask:
            request = stripped.strip()
            if _words(request) < SHORT_REQUEST_WORDS and previous:
                request = f"{previous} {request}"
                if asks and asks[-1] == previous:
                    # "… c'est payant ? Et comment on la saisit ?": one request, not that
                    # one and a copy of it with its tail
                    asks.pop()
            asks.append(request)
            if wish:
                wishes.add(request)
        previous = stripped.strip()
    main = " ".join(kept) if kept else text
    if len(text.split()) <= MESSAGE_WORDS or len(kept) <= 1:
        return QueryAnalysis(text, main, (), wants_form, wants_overview, tuple(set_aside))
    # a request that names no topic even with the sentence before it ("Il faut faire une
    # demande quelque part ? C'est combien ?") is searched as part of the whole message only
    asks = [a for a in asks if _content_words(a) >= TOPIC_WORDS]
    if any("?" in a for a in asks):
        asks = [a for a in asks if a not in wishes]
    requests = tuple(dict.fromkeys(asks))[:MAX_REQUESTS]
    return QueryAnalysis(text, main, requests, wants_form, wants_overview, tuple(set_aside))
