"""The embedded default generator: no model, the draft is made of the fiches' own sentences.

Each sentence (or list item) of the retrieved chunks is scored against the question: shared
French stems (Snowball, PyStemmer), a bonus when the section title matches the question
(e.g. "Coût" for "combien coûte…"), a bonus for figures when the question asks for an amount
or a deadline, and a small penalty for position (later chunk, later sentence). The best
sentences are kept in their reading order, grouped by source, each cited [n]; the online
services and cerfa forms of the source are listed with their links. Deterministic, a few ms.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from chains.postcheck import find_figures
from chains.prompts import (
    BROUILLON_CLOSING,
    BROUILLON_GREETING,
    BROUILLON_INTRO,
    BROUILLON_SITUATION,
    EXTRACTIVE_LABEL_BROUILLON,
    EXTRACTIVE_LABEL_QUESTION,
    EXTRACTIVE_SITUATION_NOTE,
    SourceContext,
    format_service,
)
from chains.text import content_stems, fold, split_sentences, stem_set

NAME = "extractive"
_DIGIT_RE = re.compile(r"\d")

_AMOUNT_WORDS = {fold(w) for w in ("combien", "coût", "coute", "prix", "tarif", "montant")}
_AMOUNT_STEMS = stem_set("coût prix tarif montant payer gratuit")
_DELAY_WORDS = {fold(w) for w in ("quand", "délai", "delai", "durée", "duree", "combien")}
_DELAY_STEMS = stem_set("délai durée validité date")
_SPECIAL_PLACES = stem_set(
    "étranger Guyane Mayotte outre-mer Réunion Martinique Guadeloupe Calédonie Polynésie "
    "Wallis Futuna Saint-Pierre Miquelon Saint-Barthélemy Saint-Martin"
)


@dataclass(slots=True)
class _Candidate:
    source_pos: int
    chunk_pos: int
    sent_pos: int
    text: str
    section: str
    score: float
    key: str = ""


# Everyday words of agents and citizens -> the fiches' wording (the retriever has its own,
# larger table; this one only helps pick sentences and fiches among those retrieved).
_SYNONYMS = {
    "adulte": "majeur",
    "adultes": "majeurs",
    "enfant": "mineur",
    "enfants": "mineurs",
    "fils": "mineur",
    "fille": "mineur",
    "bebe": "mineur",
    "cni": "carte identité",
    "apl": "aide personnalisée logement",
    "prix": "coût",
    "tarif": "coût",
    "payer": "coût",
}


def _question_profile(question: str) -> tuple[frozenset[str], bool, bool]:
    q_words = {fold(w) for w in question.replace("’", "'").replace("'", " ").split()}
    extra = " ".join(
        _SYNONYMS[w.strip("?!.,;:")] for w in q_words if w.strip("?!.,;:") in _SYNONYMS
    )
    stems = stem_set(f"{question} {extra}")
    wants_amount = bool(q_words & _AMOUNT_WORDS or stems & _AMOUNT_STEMS)
    wants_delay = bool(q_words & _DELAY_WORDS or stems & _DELAY_STEMS)
    return stems, wants_amount, wants_delay


@dataclass(frozen=True, slots=True)
class _Sentence:
    text: str
    key: str  # folded text, to spot the same sentence in several fiches
    stems: frozenset[str]
    n_stems: int
    has_amount: bool
    has_date: bool
    has_digit: bool
    lead_in: bool = False


_LABEL_PREFIXES = (
    "teleservice :",
    "formulaire :",
    "simulateur :",
    "ou s'adresser :",
    "ou s’adresser :",
    "modele de document :",
    "service en ligne :",
)


@lru_cache(maxsize=16384)
def _analyse(text: str) -> tuple[_Sentence, ...]:
    """The sentences of a chunk text with what scoring needs (cached per chunk text)."""
    out = []
    for sentence in split_sentences(text):
        stems = content_stems(sentence)
        kinds = {f.kind for f in find_figures(sentence)}
        folded = fold(sentence)
        out.append(
            _Sentence(
                text=sentence,
                key=folded,
                stems=frozenset(stems),
                n_stems=len(stems),
                has_amount="amount" in kinds or "gratuit" in folded,
                has_date="date" in kinds,
                has_digit=_DIGIT_RE.search(sentence) is not None,
                lead_in=sentence.rstrip().endswith(":")
                or folded.lstrip("- ").startswith(_LABEL_PREFIXES),
            )
        )
    return tuple(out)


def _score(
    s: _Sentence,
    section_stems: frozenset[str],
    q: frozenset[str],
    wants_amount: bool,
    wants_delay: bool,
    chunk_pos: int,
    sent_pos: int,
) -> float:
    if not s.n_stems:
        return -1.0
    overlap = len(q & s.stems)
    section_overlap = len(q & section_stems)
    score = overlap / math.sqrt(1 + 0.15 * s.n_stems) + 0.6 * section_overlap
    if wants_amount and s.has_amount:
        score += 1.5
    if wants_delay and (s.has_date or s.has_digit):
        score += 0.6
    if len(s.text) > 400:
        score -= 0.5
    if s.lead_in:  # "Pièces à fournir :", "Téléservice : …": says nothing by itself
        score -= 2.0
    if section_stems & _SPECIAL_PLACES and not q & _SPECIAL_PLACES:
        score -= 0.8  # "À l'étranger", "En Guyane"...: not the general case asked about
    elif not section_stems:
        score += 0.3  # the introduction sums the fiche up
    return score - 0.08 * chunk_pos - 0.03 * sent_pos


def _candidates(ctx: SourceContext, pos: int, profile) -> list[_Candidate]:
    q, wants_amount, wants_delay = profile
    out: list[_Candidate] = []
    seen: set[str] = set()
    chunks = ctx.chunks or []
    units = [(c.section, c.text) for c in chunks] or [(ctx.source.section, ctx.source.excerpt)]
    title_key = fold(ctx.source.title)
    for ci, (section, text) in enumerate(units):
        section_stems = stem_set(section) if section else frozenset()
        for si, s in enumerate(_analyse(text)):
            if s.key in seen or len(s.text) < 12 or s.key.lstrip("- ") == title_key:
                continue
            seen.add(s.key)
            sc = _score(s, section_stems, q, wants_amount, wants_delay, ci, si)
            out.append(_Candidate(pos, ci, si, s.text, section, sc, s.key))
    return out


def _select(
    contexts: Sequence[SourceContext], question: str, max_sentences: int, max_sources: int
) -> list[tuple[SourceContext, list[_Candidate]]]:
    """The sources to quote (the best-matching ones, shown in citation order) and their
    sentences. The source with the best sentence gets the largest share of sentences."""
    profile = _question_profile(question)
    ranked: list[tuple[float, int, SourceContext, list[_Candidate]]] = []
    for pos, ctx in enumerate(contexts):
        cands = _candidates(ctx, pos, profile)
        if not cands:
            continue
        cands.sort(key=lambda c: (-c.score, c.chunk_pos, c.sent_pos))
        title_overlap = len(profile[0] & stem_set(ctx.source.title))
        ranked.append((cands[0].score + 0.5 * title_overlap - 0.15 * pos, pos, ctx, cands))
    if not ranked:
        return []
    ranked.sort(key=lambda t: (-t[0], t[1]))
    top = ranked[0][0]
    chosen_sources = [ranked[0]] + [
        r for r in ranked[1:] if r[3][0].score > 0.5 and r[0] >= 0.6 * top
    ]
    picked: dict[int, tuple[SourceContext, list[_Candidate]]] = {}
    budget = max_sentences
    used: set[str] = set()
    for _, pos, ctx, all_cands in chosen_sources:
        if budget <= 0 or len(picked) >= max_sources:
            break
        i = len(picked)
        # a sentence already quoted from another fiche is not quoted again
        cands = [c for c in all_cands if c.key not in used]
        if not cands or (i > 0 and cands[0].score <= 0.5):
            continue
        quota = max(2, max_sentences // 2 + 1) if i == 0 else 2
        quota = min(quota, budget)
        best = cands[0].score
        floor = max(0.0, best * 0.4) if i == 0 else max(0.5, best * 0.5)
        chosen = [c for c in cands[:quota] if c.score >= floor or c is cands[0]]
        chosen.sort(key=lambda c: (c.chunk_pos, c.sent_pos))
        used.update(c.key for c in chosen)
        picked[pos] = (ctx, chosen)
        budget -= len(chosen)
    return [picked[pos] for pos in sorted(picked)]


def _services(ctx: SourceContext, question: str, limit: int = 3) -> list[dict]:
    services = [s for s in ctx.source.services if s.get("url")]
    if not services:
        return []
    q = stem_set(question)
    services.sort(key=lambda s: -len(q & stem_set(s.get("title") or "")))
    return services[:limit]


def _depends_on_situation(chosen: list[_Candidate]) -> bool:
    tops = {c.section.split(" › ")[0] for c in chosen if c.section}
    return len(tops) > 1


def _bullet(text: str) -> str:
    return text[2:].strip() if text.startswith(("- ", "• ")) else text


def compose(question: str, mode: str, contexts: Sequence[SourceContext], settings) -> str:
    """The extractive draft for `question` (or the citizen's message in brouillon mode)."""
    picked = _select(
        contexts, question, settings.extractive_max_sentences, settings.extractive_max_sources
    )
    if mode == "brouillon":
        return _compose_brouillon(question, picked)
    return _compose_question(question, picked)


def _compose_question(question: str, picked) -> str:
    lines = [EXTRACTIVE_LABEL_QUESTION, ""]
    situation = False
    for ctx, chosen in picked:
        s = ctx.source
        lines.append(f"**{s.title}** [{s.n}]")
        last_section = None
        for c in chosen:
            if c.section and c.section != last_section:
                lines.append(f"_{c.section}_")
                last_section = c.section
            lines.append(f"- {_bullet(c.text)} [{s.n}]")
        for sv in _services(ctx, question, limit=2):
            lines.append(f"- En ligne : {format_service(sv)} [{s.n}]")
        lines.append(f"- Fiche : {s.url} [{s.n}]")
        lines.append("")
        situation = situation or _depends_on_situation(chosen)
    if situation:
        lines.append(EXTRACTIVE_SITUATION_NOTE)
    return "\n".join(lines).strip()


def _compose_brouillon(question: str, picked) -> str:
    lines = [EXTRACTIVE_LABEL_BROUILLON, "", BROUILLON_GREETING, "", BROUILLON_INTRO, ""]
    situation = False
    for ctx, chosen in picked:
        s = ctx.source
        lines.append(f"Selon la fiche « {s.title} » [{s.n}] :")
        for c in chosen:
            lines.append(f"- {_bullet(c.text)} [{s.n}]")
        services = _services(ctx, question, limit=2)
        for sv in services:
            lines.append(f"Vous pouvez faire la démarche en ligne : {format_service(sv)} [{s.n}]")
        lines.append(f"Pour en savoir plus : {s.url} [{s.n}]")
        lines.append("")
        situation = situation or _depends_on_situation(chosen)
    if situation:
        lines.extend([BROUILLON_SITUATION, ""])
    lines.append(BROUILLON_CLOSING)
    return "\n".join(lines).strip()
