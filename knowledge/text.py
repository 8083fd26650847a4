"""French text, the one place for what every part matches on: accent folding, stop words,
the ages and durations a text states or a title's range holds, and the other countries a
text names.

`knowledge` (the BM25 analyzer, query analysis, the corpus vocabulary) and `chains` (the
gate, the condenser, the extractive generator) both use these; nothing here imports
anything of the project.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Callable, Iterator

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
    # what a message tells with ("mon voisin dit que…", "est-ce que ça va…", "peut-être",
    # "environ 4 mois"), which a fiche's words match whatever its topic
    "deja", "dis", "disent", "dit", "environ", "est-ce", "peut-etre", "va", "vais",
    "vont", "vraiment",
})  # fmt: skip


# The words a question asks with, greets with or names the person with, which no fiche is
# about: the lexical search drops them from the query (not from the fiches), so that
# "combien de parts ?" does not match "À partir de combien d'enfants…" on "combien" and "un
# monsieur" does not match "Monsieur" in a fiche, nor "ça" the "(CAA)" of a title (both
# "ca"). ("usagère" and "usagers" stem as "usage", a topic.)
ASKING_WORDS = frozenset({
    "alors", "aussi", "bonjour", "bonsoir", "ca", "car", "ceci", "cela", "combien", "comme",
    "dame", "dois", "doit", "doivent", "donc", "encore", "faut", "hello", "jusqu", "madame",
    "merci", "monsieur", "peuvent", "peux", "pourquoi", "pourrait", "pouvez", "puis",
    "quand", "quelqu", "quelque", "quelques", "souhaite", "souhaiterais", "svp", "tout",
    "toute", "toutes", "tous", "tres", "usager", "voici", "voila", "voudrais",
})  # fmt: skip


# Ages and durations: what a question states ("un jeune de 23 ans", "un bébé de 8 mois") and
# the ranges titles and cases state ("RSA demandeur de 25 ans et plus", "Entre 12 et 16 ans",
# "Moins de 6 mois"), so that a question can be matched to the case that holds it.
Span = tuple[float, str]  # (16.0, "ans")
_SPAN_RE = re.compile(r"(\d+(?:[,.]\d+)?)\s*(ans?|mois|semaines?)\b")
_SPAN_UNIT = {"an": "ans", "ans": "ans", "mois": "mois", "semaine": "mois", "semaines": "mois"}
# a span told in weeks is counted in months ("décédé il y a 6 semaines": "moins de 3 mois")
_SPAN_SCALE = {"semaine": 12 / 52, "semaines": 12 / 52}
_RANGE_RES = (
    (re.compile(r"(?:entre|de) (\d+) (?:ans? )?(?:et|a) (\d+) (ans?|mois)\b"), "both"),
    (re.compile(r"\b(\d+)-(\d+) (ans?|mois)\b"), "both"),
    (re.compile(r"(?:avant|moins de|- de|inferieure? a) (\d+) (ans?|mois)\b"), "below"),
    (re.compile(r"(?:jusqu'a) (\d+) (ans?|mois)\b"), "upto"),
    (re.compile(r"(?:a partir de|des|superieure? a|apres) (\d+) (ans?|mois)\b"), "from"),
    (re.compile(r"(?:plus de|\+ de|au-dela de) (\d+) (ans?|mois)\b"), "above"),
    (re.compile(r"\b(\d+) (ans?|mois) (?:et plus|ou plus|\(ou plus\))"), "from"),
    (re.compile(r"(?:^|\b(?:a|ayant|avez|de)) (\d+) (ans?|mois)\b"), "exactly"),
)


# A number right after one of these is a bound ("moins de 25 ans"), not a stated age.
_BOUND_BEFORE_RE = re.compile(
    r"(?:moins de|plus de|\+ de|- de|avant|apres|entre|jusqu'a|des|au-dela de|et|sous) $"
    r"|(?:^|\s)[-+<>]\s?$"  # "un jeune -26 ans", "les +50 ans"
)


# Years: those a question states ("titularisé en 2016", "bail signé en 2018") and the periods
# cases state ("Titularisé avant 2013", "Contrat de location signé après le 9 mars 2015",
# "Vous êtes né(e) entre 1998 et 2000"), as spans of unit "année". A year-like number that
# counts euros or is part of a larger number ("2000 €", "1 2000") is no year.
_YEAR = r"(?<![\d,.])(?<!\d )((?:19|20)\d\d)\b(?!\s*(?:€|euros?\b|eur\b|[,.]\d|\d))"
_YEAR_RE = re.compile(_YEAR)
_MONTHS = "janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre"
_DATE = rf"(?:le |la |l'|fin |debut )?(?:\d{{1,2}}(?:er)? )?(?:(?:{_MONTHS}) )?"
_LAW_RE = re.compile(r"\b(?:loi|decret|arrete|ordonnance|circulaire|directive)\b[^,;:]{0,22}$")
_YEAR_RANGE_RES = (
    (re.compile(rf"(?:entre|du|de) {_DATE}{_YEAR} (?:et|au|a) {_DATE}{_YEAR}"), "both"),
    (re.compile(rf"(?:avant|anterieure? a|anterieurs? a) ({_DATE}){_YEAR}"), "below"),
    (re.compile(rf"(?:jusqu'au|jusqu'en|jusqu'a) ({_DATE}){_YEAR}"), "upto"),
    (re.compile(rf"(?:apres|a partir d[eu]|depuis|des|a compter d[eu]) ({_DATE}){_YEAR}"), "from"),
    # a table's first cell: "1953 - 1954", "1973 ou après", "1950 ou avant"
    (re.compile(rf"{_YEAR} ?[-–] ?{_YEAR}"), "both"),
    (re.compile(rf"{_YEAR} (?:ou|et) (?:apres|plus tard|suivantes?)\b"), "from"),
    (re.compile(rf"{_YEAR} (?:ou|et) (?:avant|anterieures?)\b"), "upto"),
    (re.compile(_YEAR), "exactly"),
)


# Sums of money: those a question states ("le voleur a retiré 200 €", "une dette de 1 500
# euros") and the ranges cases state ("Jusqu'à 50 € dépensés", "Plus de 50 € dépensés",
# "Revenus compris entre 30 852 € et 41 136 €", "Créance inférieure à 10 000 €"), as spans
# of unit "€".
_EUROS = r"(\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+)(?:,(\d{1,2}))?\s?(?:€|euros?\b)"
_EUROS_RE = re.compile(_EUROS)
_AT_MOST = r"(?:inferieure?s?|egale?s?)(?: ou (?:inferieure?s?|egale?s?))? a"
_AT_LEAST = r"(?:superieure?s?|egale?s?)(?: ou (?:superieure?s?|egale?s?))? a"
_EURO_RANGE_RES = (
    (re.compile(rf"entre {_EUROS} et {_EUROS}"), "both"),
    (
        re.compile(
            rf"(?:moins de|{_AT_MOST}|< ou = a|jusqu'a|n'excedant pas|ne depass(?:ant|e|ent) pas)"
            rf" {_EUROS}"
        ),
        "upto",
    ),
    (re.compile(rf"(?:plus de|\+ de|{_AT_LEAST}|au[- ]dela de|a partir de) {_EUROS}"), "from"),
)


# Children: how many a question tells the family has ("ils ont 3 enfants", "maman avec un
# enfant à charge", "monsieur 2 enfants", "pour son 2e enfant") and the counts cases state
# ("1 enfant", "2 enfants à charge", "3 enfants ou plus", "À partir de 2 enfants", "Vous
# êtes parent d'au moins 3 enfants"), as spans of unit "enfants": "Famille nombreuse (3
# enfants ou plus)" is no case for a family of 2. A count of children born or adopted at
# once ("Naissance de 2 enfants (ou plus)") is another thing.
_COUNT_WORDS = {"un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6}
_CHILDREN = r"enfants?(?:\(s\))?"
_CHILDREN_TOLD_RES = (
    # "3 enfants", "deux enfants", "un seul enfant", after a verb of having or a preposition
    # when spelled out ("avec un enfant", not "inscrire un enfant")
    re.compile(rf"(?<![\d,.])\b(\d{{1,2}})\s+(?:petits?\s+)?{_CHILDREN}\b"),
    re.compile(
        r"\b(?:a|ai|as|avons|avez|ont|avec|de|sommes|eu|eleve|ayant)\s+"
        rf"(un|une|deux|trois|quatre|cinq|six)\s+(?:seul\s+|petits?\s+)?{_CHILDREN}\b"
    ),
    re.compile(rf"\b(un) seul {_CHILDREN}\b"),
    # "son 2e enfant", "le troisième bébé": the family counts that many
    re.compile(r"\b(\d)\s?(?:e|eme|ieme)\s+(?:enfant|bebe)\b"),
    re.compile(r"\b(deuxieme|second|troisieme|quatrieme|cinquieme)\s+(?:enfant|bebe)\b"),
)
_ORDINALS = {"deuxieme": 2, "second": 2, "troisieme": 3, "quatrieme": 4, "cinquieme": 5}
_AT_ONCE_RE = re.compile(r"(?:naissance|adoption|adopte[es]*|nes?|nees?)\s+(?:de\s+|d')?$")
_CHILD_RANGE_RES = (
    (re.compile(rf"\b(\d{{1,2}}) (?:ou|a|et) (\d{{1,2}}) {_CHILDREN}"), "both"),
    (re.compile(rf"(?:a partir de|au moins|des|minimum) (\d{{1,2}}) {_CHILDREN}"), "from"),
    (re.compile(rf"(?:plus de|\+ de) (\d{{1,2}}) {_CHILDREN}"), "above"),
    (re.compile(rf"(?:moins de) (\d{{1,2}}) {_CHILDREN}"), "below"),
    (
        re.compile(
            rf"\b(\d{{1,2}}) {_CHILDREN}(?: a charge| mineurs?(?:\(s\))?)?"
            r" (?:ou plus|ou \+|et plus|et \+|\(ou plus\))"
        ),
        "from",
    ),
    (re.compile(rf"(?<![\d,.])\b(\d{{1,2}}) {_CHILDREN}\b"), "exactly"),
)


def range_bounds(kind: str, a: float, b: float = 0.0, step: float = 0.01) -> tuple[float, float]:
    """The inclusive bounds of a range a text states: "both" (a to b), "both_below" (a to less
    than b), "above_upto" (more than a, b at most), "below" (less than a), "upto" (a at most),
    "from" (a at least), "above" (more than a) or "exactly" (a); `step` is the smallest
    difference (1 for counts)."""
    return {
        "both": (a, b),
        "both_below": (a, b - step),
        "above_upto": (a + step, b),
        "below": (0.0, a - step),
        "upto": (0.0, a),
        "from": (a, math.inf),
        "above": (a + step, math.inf),
        "exactly": (a, a),
    }[kind]


def children_told(text: str) -> tuple[Span, ...]:
    """How many children the text tells a family has, as spans (2.0, "enfants")."""
    folded = fold(text).replace("’", "'")
    out: list[Span] = []
    for pattern in _CHILDREN_TOLD_RES:
        for m in pattern.finditer(folded):
            before = folded[max(0, m.start() - 14) : m.start()]
            if _is_bound(folded, m) or _AT_ONCE_RE.search(before):
                continue
            word = m.group(1)
            n = int(word) if word.isdigit() else _COUNT_WORDS.get(word) or _ORDINALS[word]
            if 0 < n < 20 and (float(n), "enfants") not in out:
                out.append((float(n), "enfants"))
    return tuple(out)


def _child_ranges(folded: str) -> list[tuple[float, float, str]]:
    """The counts of children a title states (`children_told`, above)."""
    out: list[tuple[float, float, str]] = []
    for kind, m in _matches(_CHILD_RANGE_RES, folded):
        if _AT_ONCE_RE.search(folded[max(0, m.start() - 14) : m.start()]):
            continue
        b = float(m.group(2)) if kind == "both" else 0.0
        out.append((*range_bounds(kind, float(m.group(1)), b, step=1), "enfants"))
    return out


# How many of a thing a question tells ("un porteur 2 essieux", "un bar avec 2 écrans", "PME
# de 45 salariés") and the counts a table's rows state of the same thing ("Véhicule porteur à
# 3 essieux", "À partir de 50 salariés", "4 essieux et plus"); units of time, money and
# measure are read elsewhere or not at all. A thing is its noun's key ("essieux" and
# "essieu", "salariés" and "salarie" typed without accent).
_THING = r"([a-z][a-z'-]{2,})"
_THING_RE = re.compile(rf"(?<![\d,.])\b(\d{{1,3}}) {_THING}\b")
_NOT_THINGS = frozenset({
    "an", "ans", "mois", "jour", "jours", "semaine", "semaines", "heure", "heures", "minute",
    "minutes", "seconde", "secondes", "euro", "euros", "eur", "fois", "pour", "cent",
    "points", "trimestre", "trimestres", "annee", "annees",
})  # fmt: skip
_THING_RANGE_RES = (
    (re.compile(rf"\bentre (\d{{1,3}}) et (\d{{1,3}}) {_THING}"), "both"),
    (re.compile(rf"\b(\d{{1,3}}) (?:a|ou) (\d{{1,3}}) {_THING}"), "both"),
    (re.compile(rf"(?:a partir de|au moins|des|minimum) (\d{{1,3}}) {_THING}"), "from"),
    (re.compile(rf"(?:plus de|\+ de|au-dela de) (\d{{1,3}}) {_THING}"), "above"),
    (re.compile(rf"(?:moins de|- de) (\d{{1,3}}) {_THING}"), "below"),
    (re.compile(rf"\b(\d{{1,3}}) {_THING} (?:ou plus|et plus|ou \+|et \+)"), "from"),
    (_THING_RE, "exactly"),
)


def _thing_key(word: str) -> str:
    key = word.rstrip("sx") if len(word) > 3 else word
    return key[:-1] if key.endswith("e") and len(key) > 4 else key


def things_told(question: str) -> tuple[Span, ...]:
    """The counts of things a question states, as (2.0, "essieu")."""
    folded = fold(question).replace("’", "'")
    out = []
    for m in _THING_RE.finditer(folded):
        if m.group(2) in _NOT_THINGS or _is_bound(folded, m):
            continue
        out.append((float(m.group(1)), _thing_key(m.group(2))))
    return tuple(dict.fromkeys(out))


def thing_ranges(text: str) -> tuple[tuple[float, float, str], ...]:
    """The counts of things a text states, as ranges with the thing's key ((3.0, inf,
    "essieu") for "à partir de 3 essieux")."""
    return tuple(
        (*range_bounds(kind, float(nums[0]), float(nums[-1]), step=1), _thing_key(word))
        for kind, m in _matches(_THING_RANGE_RES, fold(text))
        for *nums, word in [m.groups()]
    )


# A measure: a length, a surface, a distance, a speed ("un bateau de 8 m", "abri de 12m2",
# "8 000 km par an", "un mur de 2m20"), and the ranges a table's row states of one ("De 8 m à
# moins de 9 m", "Supérieure à 50 m² et jusqu'à 150 m²", "Jusqu'à 5 000 km", "Plus de 150
# m²"); the units as the fiches write them
_MEASURE_N = r"(\d{1,3}(?:[ \u00a0\u202f]\d{3})*(?:[,.]\d+)?)"
_MEASURE_U = (
    r"(km ?/ ?h|kilometres? ?(?:/|par) ?heure|km|kilometres?|m2(?!\d)|m²|m 2\b"
    r"|metres? carres?|cm|centimetres?|metres?|m)(?![a-z0-9²])"
)
_MEASURE_TOLD_RE = re.compile(rf"(?<![\d,.])\b{_MEASURE_N} ?(?:{_MEASURE_U}|m(\d\d)\b)")
_MEASURE_RANGE_RES = (
    (re.compile(rf"\bde {_MEASURE_N} ?(?:{_MEASURE_U} )?a moins de {_MEASURE_N} ?{_MEASURE_U}"),
     "both_below"),
    (re.compile(rf"\b(?:de|entre) {_MEASURE_N} ?(?:{_MEASURE_U} )?(?:a|et) {_MEASURE_N} ?"
                rf"{_MEASURE_U}"), "both"),
    (re.compile(rf"\b(?:superieure?s? a|plus de|>) ?{_MEASURE_N} ?(?:{_MEASURE_U} )?"
                rf"(?:et jusqu'a|et ≤|a|et) ?{_MEASURE_N} ?{_MEASURE_U}"), "above_upto"),
    (re.compile(rf"(?:\bjusqu'a|≤|\bau maximum) ?{_MEASURE_N} ?{_MEASURE_U}"), "upto"),
    (re.compile(rf"(?:\bmoins de|\binferieure?s? a|<) ?{_MEASURE_N} ?{_MEASURE_U}"), "below"),
    (re.compile(rf"(?:\bplus de|\bsuperieure?s? a|\bau-dela de|>) ?{_MEASURE_N} ?"
                rf"{_MEASURE_U}"), "above"),
    (re.compile(rf"(?:\ba partir de|≥|⩾) ?{_MEASURE_N} ?{_MEASURE_U}"), "from"),
    (re.compile(rf"\b{_MEASURE_N} ?{_MEASURE_U} (?:et plus|ou plus)"), "from"),
    (re.compile(rf"(?<![\d,.])\b{_MEASURE_N} ?{_MEASURE_U}"), "exactly"),
)  # fmt: skip


def _measure(number: str) -> float:
    return float(re.sub(r"[\s\u00a0\u202f]", "", number).replace(",", "."))


def _measure_unit(unit: str) -> str:
    """The unit as written short: "km/h", "m²", "km", "cm" or "m"."""
    if "h" in unit:
        return "km/h"
    if "2" in unit or "²" in unit or "carre" in unit:
        return "m²"
    for short in ("km", "kilo", "cm", "centi"):
        if unit.startswith(short):
            return "km" if short.startswith("k") else "cm"
    return "m"


_DIMENSION = {"km/h": "speed", "m²": "surface"}  # any other unit measures a length


def measure_dimensions(text: str) -> frozenset[str]:
    """What the measures a text states measure: "speed", "surface" or "length"."""
    return frozenset(_DIMENSION.get(unit, "length") for _, unit in measures_told(text))


def measures_told(text: str) -> tuple[Span, ...]:
    """The measures a question states, as (8.0, "m"), (12.0, "m²"), (2.2, "m") for "2m20"."""
    out = []
    for m in _MEASURE_TOLD_RE.finditer(fold(text)):
        if m.group(3):  # "2m20"
            out.append((_measure(m.group(1)) + float(m.group(3)) / 100, "m"))
        else:
            out.append((_measure(m.group(1)), _measure_unit(m.group(2))))
    return tuple(dict.fromkeys(out))


_MEASURE_END_RE = re.compile(rf"\d\s?{_MEASURE_U}$")


def ends_on_measure(text: str) -> bool:
    """Whether the text ends on a measure ("Longueur : De 8 m à moins de 9 m"), as a table's
    row names itself by the range it ends on."""
    return bool(_MEASURE_END_RE.search(fold(text)))


def measure_ranges(text: str) -> tuple[tuple[float, float, str], ...]:
    """The ranges of measures a text states, bounds inclusive, with their unit ((8.0, 8.99,
    "m") for "De 8 m à moins de 9 m")."""
    out = []
    for kind, m in _matches(_MEASURE_RANGE_RES, fold(text)):
        nums = [g for i, g in enumerate(m.groups()) if g and i % 2 == 0]
        unit = _measure_unit([g for i, g in enumerate(m.groups()) if g and i % 2 == 1][-1])
        out.append((*range_bounds(kind, _measure(nums[0]), _measure(nums[-1])), unit))
    return tuple(out)


def _euros(whole: str, cents: str | None) -> float:
    return float(re.sub(r"\D", "", whole)) + (float(f"0.{cents}") if cents else 0.0)


def stated_spans(text: str) -> tuple[Span, ...]:
    """The ages and durations a text states, in years or months (not the bounds it names:
    "moins de 25 ans" states no age), the years it names (unit "année") and the sums of
    money it states (unit "€"; "plus de 2 000 €" states none)."""
    folded = fold(text)
    return (
        tuple(
            (
                float(m.group(1).replace(",", ".")) * _SPAN_SCALE.get(m.group(2), 1.0),
                _SPAN_UNIT[m.group(2)],
            )
            for m in _SPAN_RE.finditer(folded)
            if not _is_bound(folded, m)
        )
        + tuple((float(m.group(1)), "année") for m in _YEAR_RE.finditer(folded))
        + tuple(
            (_euros(m.group(1), m.group(2)), "€")
            for m in _EUROS_RE.finditer(folded)
            if not _is_bound(folded, m)
        )
    )


def _is_bound(folded: str, m: re.Match) -> bool:
    """The number matched is a bound ("moins de 25 ans", "plus de 2 000 €"), not a value."""
    return bool(_BOUND_BEFORE_RE.search(folded[max(0, m.start() - 14) : m.start()]))


def _matches(
    patterns: tuple[tuple[re.Pattern[str], str], ...],
    folded: str,
    skip: Callable[[re.Match], bool] | None = None,
) -> Iterator[tuple[str, re.Match]]:
    """Each pattern's matches in turn, with its kind, none overlapping an earlier one (the
    patterns go from the most specific: "entre 1998 et 2000" before "2000"); `skip` sets a
    match aside before it takes its place."""
    taken: list[tuple[int, int]] = []
    for pattern, kind in patterns:
        for m in pattern.finditer(folded):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            if skip is not None and skip(m):
                continue
            taken.append(m.span())
            yield kind, m


def _euro_ranges(folded: str) -> list[tuple[float, float, str]]:
    """The ranges of sums a title states (bounds inclusive: the fiches write "inférieure ou
    égale à 3 000 €" and "supérieure à 3 000 €" as often as "jusqu'à 50 €" and "plus de 50 €",
    and a sum told is rarely the bound itself)."""
    out: list[tuple[float, float, str]] = []
    for kind, m in _matches(_EURO_RANGE_RES, folded):
        a = _euros(m.group(1), m.group(2))
        if kind == "both":
            out.append((a, _euros(m.group(3), m.group(4)), "€"))
        else:
            out.append((0.0, a, "€") if kind == "upto" else (a, math.inf, "€"))
    return out


def _year_ranges(folded: str) -> list[tuple[float, float, str]]:
    """The periods a title states in years; a bound with its day or month ("avant le 9 mars
    2015") holds its own year, a bare one ("avant 2013") does not."""
    out: list[tuple[float, float, str]] = []

    def names_a_text(m: re.Match) -> bool:
        # "la loi de 1948", "le décret du 4 mai 2012" name a text
        return bool(_LAW_RE.search(folded[max(0, m.start() - 30) : m.start()]))

    for kind, m in _matches(_YEAR_RANGE_RES, folded, skip=names_a_text):
        *parts, year = m.groups()
        y = float(year)
        if kind == "both":
            lo, hi = float(parts[0]), y
        elif kind == "below":
            lo, hi = 0.0, y if parts[0] else y - 0.01
        elif kind == "upto":
            lo, hi = 0.0, y
        elif kind == "from":
            lo, hi = y, math.inf
        else:
            lo, hi = y, y
        out.append((lo, hi, "année"))
    return out


@functools.lru_cache(maxsize=16384)
def span_ranges(title: str) -> tuple[tuple[float, float, str], ...]:
    """The ranges of ages or durations a title states (inclusive bounds)."""
    folded = fold(title)
    out: list[tuple[float, float, str]] = []
    for pattern, kind in _RANGE_RES:
        for m in pattern.finditer(folded):
            *nums, unit = m.groups()
            out.append((*range_bounds(kind, float(nums[0]), float(nums[-1])), _SPAN_UNIT[unit]))
        if out:
            break
    return (*out, *_year_ranges(folded), *_euro_ranges(folded), *_child_ranges(folded))


# "mineur" and "majeur" name the two sides of 18 ("Passeport d'un majeur", "… d'un mineur").
_MINOR_RE = re.compile(r"\bmineure?s?\b")
_MAJOR_RE = re.compile(r"\bmajeure?s?\b")


def side_of_18(text: str) -> str | None:
    """ "mineur" or "majeur" when the text names that side of 18 and not the other."""
    folded = fold(text)
    minor, major = bool(_MINOR_RE.search(folded)), bool(_MAJOR_RE.search(folded))
    return "mineur" if minor and not major else "majeur" if major and not minor else None


# The public sector and the private one: labour law's fiches come in pairs ("Don de jours de
# repos à un salarié…" / "… à un agent public…", "Arrêt maladie d'un agent contractuel de
# la fonction publique"), and agents tell the employer rather than the status ("agente de la
# mairie", "contractuel en mairie", "un ministère veut prendre un contractuel"). "non
# salarié" is self-employed, neither.
_EMPLOYERS = (
    r"(?:mairies?|communes?|departements?|conseil (?:departemental|regional)|regions?"
    r"|ministeres?|prefectures?|collectivites?(?: territoriales?)?|hopital|hopitaux"
    r"|rectorat|education nationale)"
)
_STATUSES = r"(?:agente?s?|contractuel(?:le)?s?|titulaires?|stagiaires?|vacataires?)"
_PUBLIC_RE = re.compile(
    r"\bfonctionnaires?\b|fonction publique|secteur public|\bfp[eth]\b"
    r"|\bagente?s? (?:public|publique|publics|territoria\w*|hospitali\w*|titulaires?)\b"
    r"|\bagents? (?:contractuels?|non titulaires?)\b|\bterritoriale?s?\b|\btitularis\w*"
    r"|\b(?:polici\w*|agente?s?|gardes?|employee?s?) municipa\w*"
    # "un contractuel", "une vacataire": the public sector's words for its non-titular staff
    # (the private sector's are "salarié en CDD", "intérimaire"; "contractuel" as an
    # adjective, "une clause contractuelle", tells nothing)
    r"|\b(?:un|une|des|les|le|la|ce|cette|ces) (?:contractuel(?:le)?s?|vacataires?)\b"
    rf"|\b{_STATUSES}\b(?:\W+\w+){{0,4}}?\W+(?:en|a la|au|a l'|de la|de l'|du|dans une?|d'une?)\W*"
    rf"{_EMPLOYERS}\b"
    rf"|\b{_EMPLOYERS}\b(?:\W+\w+){{0,4}}?\W+(?:un|une|des|le|la|ses|son|sa)\s+{_STATUSES}\b"
)
_PRIVATE_RE = re.compile(
    r"(?<!non )\bsalariee?s?\b|\bpatron(?:ne)?s?\b|secteur prive|convention collective"
    r"|\bprud'?hom\w*"
)


_EMPLOYER_RE = re.compile(rf"\b{_EMPLOYERS}\b")


def names_public_employer(text: str) -> bool:
    """Whether the text names a public employer ("à l'hôpital", "la mairie"), even without a
    status that would tell the sector ("aide-soignante à l'hôpital")."""
    return bool(_EMPLOYER_RE.search(fold(text)))


def sector(text: str) -> str | None:
    """ "public" or "privé" when the text tells that sector of employment and not the other
    (a fiche's title, a question)."""
    folded = fold(text)
    public, private = bool(_PUBLIC_RE.search(folded)), bool(_PRIVATE_RE.search(folded))
    return "public" if public and not private else "privé" if private and not public else None


def _family(unit: str) -> str:
    return unit if unit in ("année", "€", "enfants") else "time"


def span_fit(title: str, spans: tuple[Span, ...]) -> bool | None:
    """Whether a range the title states holds an age, a duration, a year or a sum of `spans`
    (each compared with ranges of its own kind); None when the title states none of that
    kind or `spans` is empty."""
    ranges = span_ranges(title) if spans else ()
    if not ranges:
        return None
    # a year meets only a period, a sum only a range of sums, an age or a duration only a
    # range of ages or durations
    fits = []
    for family in ("time", "année", "€", "enfants"):
        rs = [r for r in ranges if _family(r[2]) == family]
        ss = [s for s in spans if _family(s[1]) == family]
        if rs and ss:
            fits.append(any(lo <= v <= hi and unit == u for lo, hi, unit in rs for v, u in ss))
    return any(fits) if fits else None


# "garder" meaning to keep ("est-ce que je garde mes allocations ?", "il peut garder son
# RSA", "elle a gardé le livret de famille", "garder les factures combien de temps ?"): the
# fiches say "conserver", "maintien"; read as typed, it meets the fiches on childcare ("faire
# garder ses enfants", "mode de garde", "garde alternée"). The noun ("la garde", "de garde",
# "garde à vue") and minding a child or an animal ("je garde mon petit-fils") stay.
_KEPT_THING = (
    r"(?!(?:\s+\S+){0,2}?\s+(?:enfants?|fils|filles?|petite?s?-\w+|bebes?|chiens?|chats?"
    r"|animal|animaux|neveux?|nieces?)\b)"
)
_KEEP_RES = (
    # after its subject: "je garde", "elle ne la garde", "on gardera"
    re.compile(
        r"\b(?:je|j'|tu|il|elle|on|nous|vous|ils|elles)\s+(?:(?:ne|n')\s*)?"
        r"(?:(?:le|la|les|l'|lui|leur|en)\s*)?"
        r"(gard(?:e|es|ent|ons|ez|era|erai|erait|eront|erons|erez))\b" + _KEPT_THING
    ),
    # its infinitive after a verb or "pour", "de": "peut garder", "pour le garder"
    re.compile(
        r"\b(?:peut|peux|pouvez|peuvent|pourra|pourrai|pourrait|veut|veux|voudrait|doit|dois"
        r"|devra|faut|va|vais|vont|pour|de|a|d'abord|encore)\s+(?:(?:le|la|les|l')\s*)?"
        r"(garder)\b" + _KEPT_THING
    ),
    # its participle after "avoir": "a gardé", "a garde" typed without accent
    re.compile(r"\b(?:a|ai|as|avons|avez|ont|avait|avais)\s+(gard(?:e|ee|es|ees))\b" + _KEPT_THING),
    # a question opening on it: "garder les factures combien de temps ?"
    re.compile(r"^\s*(garder)\b" + _KEPT_THING),
)


def keep_sense(text: str) -> str:
    """The text with "garder" meaning to keep written "conserver" (see above); else as is."""
    folded = fold(text)
    spans = sorted({m.span(1) for pattern in _KEEP_RES for m in pattern.finditer(folded)})
    if not spans:
        return text
    base = text if len(folded) == len(text) else folded  # a ligature unfolded shifts places
    out, last = [], 0
    for a, b in spans:
        out += [base[last:a], "conserver"]
        last = b
    return "".join(out) + base[last:]


# Another country named: the fiches write of it as "l'étranger", "hors Europe" or "l'Union
# européenne" ("Français expatrié : vivre à l'étranger (hors Europe)", "Vol dans un autre pays
# de l'UE"), never by its name; an agent writes "il part s'installer au Canada". The member
# states of the European Economic Area and Switzerland (the fiches' "Europe", as their lists
# of countries say), then other European countries, then countries elsewhere (those most named
# in France), folded.
_EEA_COUNTRIES = (
    "allemagne, autriche, belgique, bulgarie, chypre, croatie, danemark, espagne, estonie, "
    "finlande, grece, hongrie, irlande, islande, italie, lettonie, liechtenstein, lituanie, "
    "luxembourg, malte, norvege, pays-bas, hollande, pologne, portugal, republique tcheque, "
    "roumanie, slovaquie, slovenie, suede, suisse"
)
_OTHER_EUROPEAN_COUNTRIES = (
    "royaume-uni, angleterre, ecosse, ukraine, russie, serbie, albanie, moldavie, bosnie, "
    "macedoine, montenegro, kosovo, bielorussie, turquie, armenie, andorre, monaco"
)
_FAR_COUNTRIES = (
    "algerie, maroc, tunisie, libye, egypte, senegal, mali, mauritanie, cote d'ivoire, "
    "cameroun, congo, gabon, guinee, benin, togo, burkina faso, niger, nigeria, tchad, "
    "madagascar, comores, ile maurice, djibouti, cap-vert, angola, ghana, kenya, ethiopie, "
    "rwanda, burundi, afrique du sud, canada, quebec, etats-unis, etats unis, amerique, "
    "mexique, bresil, argentine, chili, colombie, perou, venezuela, bolivie, equateur, cuba, "
    "haiti, republique dominicaine, chine, japon, coree, inde, pakistan, bangladesh, "
    "sri lanka, vietnam, thailande, cambodge, laos, philippines, indonesie, malaisie, "
    "singapour, australie, nouvelle-zelande, israel, liban, syrie, irak, iran, jordanie, "
    "arabie saoudite, emirats arabes unis, dubai, qatar, afghanistan"
)


def _country_re(names: str) -> re.Pattern[str]:
    alternatives = sorted((n.strip() for n in names.split(",")), key=len, reverse=True)
    return re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, alternatives)) + r")(?![\w-])")


_EEA_RE = _country_re(_EEA_COUNTRIES)
_OTHER_EUROPE_RE = _country_re(_OTHER_EUROPEAN_COUNTRIES)
_FAR_RE = _country_re(_FAR_COUNTRIES)


def abroad_words(text: str) -> str | None:
    """How the fiches name the place of another country the text names ("étranger hors
    Europe" for Canada, "étranger Union européenne" for Spain), None when it names none."""
    folded = fold(text)
    if _FAR_RE.search(folded):
        return "étranger hors Europe"
    if _EEA_RE.search(folded):
        return "étranger Union européenne"
    if _OTHER_EUROPE_RE.search(folded):
        return "étranger"
    return None
