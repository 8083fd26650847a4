"""The second stage: one score per candidate fiche from every signal, by a fitted linear model.

The first stage (`knowledge.retriever`) gives each candidate fiche its rank in six lists:
chunks by vector (Chroma), chunks by BM25, the fiche's title field, card field and body (its
whole text) by BM25 (`knowledge.fiche_index`), and the fiche's card by vector. This module
turns those ranks, the multilingual-e5-small similarity of the question to the fiche's title
and description, the BM25 of the question's word pairs in the fiche's whole text (the phrase
"congé parental" rather than its two words anywhere), and what the fiche is (a dossier N, a
form or online service R, a "Recherche guidée" menu) into features, and scores them with the
weights in `ranker.json`, fitted by `bench/fit_ranker.py` on development questions with
cross-validation (the script, its data and the resulting coefficients are in the
repository: anyone can refit and compare).

For a message with several requests every feature is the best over the requests' searches,
plus the share of searches that ranked the fiche in their top 10; the word pairs are read
from the whole text as typed (a request's pairs are the whole text's too, and the words the
query expansion adds would pair with their neighbours into pairs nobody wrote).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from knowledge.text import names_public_employer, sector, side_of_18, span_fit, stated_spans

RRF_K = 5.0
LISTS = ("chunk_dense", "chunk_lex", "title_lex", "card_lex", "card_dense", "body_lex")
# What the publication is (a dossier, a form, a menu...) and whether the question asked for it.
KIND_FEATURES = (
    "is_dossier",
    "is_resource",
    "is_guided",
    "is_question_fiche",
    "form_asked_resource",
    "overview_asked_dossier",
)
FEATURES = (
    *(f"rrf_{name}" for name in LISTS),
    "cos_chunk_dense",
    "cos_card_dense",
    "e5",
    "e5_gap",
    "title_coverage",
    "title_precision",
    "first_stage_gap",
    "agreement",
    "body_pairs",
    *KIND_FEATURES,
)
WEIGHTS_FILE = Path(__file__).with_name("ranker.json")
# The second embedder's features: a store or a configuration without e5 (`e5_second_stage`
# off) is scored by weights fitted without them, kept beside the others in ranker.json.
E5_FEATURES = ("e5", "e5_gap")
WITHOUT_E5 = "without_e5"


@dataclass(slots=True)
class Candidate:
    """What the first stage knows of one fiche for one question (best over its searches)."""

    fiche_id: str
    ranks: dict[str, int] = field(default_factory=dict)  # list name -> best rank (1-based)
    cos_chunk_dense: float = 0.0
    cos_card_dense: float = 0.0
    first_stage: float = 0.0  # RRF over the six lists (summed over searches, weighted)
    top10: int = 0  # searches that ranked it in their first-stage top 10
    e5: float = 0.0
    title_coverage: float = 0.0  # share of the question's words found in the title
    title_precision: float = 0.0  # share of the title's words found in the question
    body_pairs: float = 0.0  # BM25 of the question's word pairs in the fiche's whole text
    best_search: int = 0  # which search (0 = the whole text, then each request) found it best
    best_search_score: float = 0.0


def features(
    cands: list[Candidate],
    *,
    n_searches: int,
    types: dict[str, str],
    wants_form: bool,
    wants_overview: bool,
) -> np.ndarray:
    """The feature matrix (one row per candidate, columns as `FEATURES`)."""
    if not cands:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    e5_max = max(c.e5 for c in cands)
    fs_max = max(c.first_stage for c in cands) or 1.0
    rows = []
    for c in cands:
        kind = c.fiche_id[:1]  # F, N or R
        ftype = types.get(c.fiche_id, "").lower()
        is_r = float(kind == "R")
        is_n = float(kind == "N")
        rows.append(
            [
                *(1.0 / (RRF_K + c.ranks[name]) if name in c.ranks else 0.0 for name in LISTS),
                c.cos_chunk_dense,
                c.cos_card_dense,
                c.e5,
                c.e5 - e5_max,
                c.title_coverage,
                c.title_precision,
                c.first_stage / fs_max,
                c.top10 / max(n_searches, 1),
                c.body_pairs,
                is_n,
                is_r,
                float("recherche guid" in ftype),
                float("question" in ftype),
                is_r * float(wants_form),
                is_n * float(wants_overview),
            ]
        )
    return np.asarray(rows, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class LinearRanker:
    """score = (x - mean) / scale · weights (standardised features, fitted weights)."""

    weights: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    names: tuple[str, ...] = FEATURES

    def score(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        return ((x - self.mean) / self.scale) @ self.weights

    @classmethod
    def from_file(cls, path: Path = WEIGHTS_FILE, variant: str = "") -> LinearRanker:
        """The model of `path`, or its `variant` (WITHOUT_E5: the weights fitted without the
        e5 features, zero on them)."""
        data = json.loads(path.read_text("utf-8"))
        if variant:
            if variant not in data:
                raise ValueError(f"{path}: no '{variant}' weights: refit with bench/fit_ranker.py")
            data = {"features": data["features"], **data[variant]}
        names = tuple(data["features"])
        if names != FEATURES:
            raise ValueError(
                f"{path}: fitted on features {names}, this code computes {FEATURES}: "
                "refit with bench/fit_ranker.py"
            )
        return cls(
            np.asarray(data["weights"], dtype=np.float32),
            np.asarray(data["mean"], dtype=np.float32),
            np.asarray(data["scale"], dtype=np.float32),
            names,
        )


@lru_cache(maxsize=2)
def default_ranker(e5: bool = True) -> LinearRanker:
    """The fitted model shipped with the code (`knowledge/ranker.json`); without `e5` (no
    e5 similarity for this search: the second embedder is off or the store holds no e5
    vectors), the one fitted without it: weights that count on e5 rank otherwise."""
    return LinearRanker.from_file(WEIGHTS_FILE, "" if e5 else WITHOUT_E5)


PERSON_FIT_WINDOW = 3  # how far down a fiche for the question's person is looked for


# The fiches of the "Comment faire si" kind ("Je déménage", "Je me sépare", "Créer une
# société", "Devenir micro-entrepreneur") guide through a life event and link to the fiches
# that answer; none of our sets' 2,573 items nor of the 1,818 related questions expects one.
# Unless the question asks for an overview, they leave the first GUIDE_WINDOW places to the
# fiches that answer.
GUIDE_WINDOW = 5


def guides_down(
    order: list[int], ids: list[str], types: dict[str, str], wants_overview: bool
) -> list[int]:
    """The order with the guides among its first GUIDE_WINDOW fiches moved just after them
    (see GUIDE_WINDOW)."""
    if wants_overview:
        return order
    head = order[:GUIDE_WINDOW]
    guides = [t for t in head if types.get(ids[t], "").lower().startswith("fiche comment faire")]
    if not guides:
        return order
    rest = [t for t in order if t not in guides]
    return [*rest[:GUIDE_WINDOW], *guides, *rest[GUIDE_WINDOW:]]


# A question that tells no sector moves a public sector's first fiche down only when the
# second stage scored it less than this above the fiche that takes its place: far above, the
# matter is the public sector's own ("Qu'est-ce que le transfert primes/points ?")
DEFAULT_SECTOR_MARGIN = 2.5


def person_fit_first(
    order: list[int],
    ids: list[str],
    fiche_index,
    question: str,
    scores: Sequence[float] | None = None,
) -> list[int]:
    """The order, with the first fiche moved down when its title is for another person than
    the question's and one of the next PERSON_FIT_WINDOW - 1 fiches' is not: a title's age
    range that excludes the age the question states ("RSA pour un jeune de 23 ans": not "RSA
    demandeur de 25 ans et plus" first), a title for the other side of 18 ("passeport
    mineur": not "Renouvellement du passeport d'un majeur" first), or for the other sector
    of employment ("agente de la mairie veut donner des jours": not "Don de jours de repos à
    un salarié…" first). A question that tells no sector and names no public employer is
    read as the private sector's, the fiches' default reader: a title for the public sector
    is the variant ("congé proche aidant : indemnisé ?": "Congé de proche aidant", not
    "… dans la fonction publique" first), unless the second stage (`scores`, by pool index)
    put it DEFAULT_SECTOR_MARGIN above the other. Only ages in years count, and only stated
    ones ("moins de 25 ans", "-26 ans" are bounds, no age)."""
    ages = tuple(span for span in stated_spans(question) if span[1] == "ans")
    side = side_of_18(question)
    told = sector(question)
    default = None if told or names_public_employer(question) else "privé"
    if not order:
        return order

    def misfits(t: int, employed: str | None) -> bool:
        pos = fiche_index.position.get(ids[t])
        if pos is None:
            return False
        title = fiche_index.titles[pos]
        if ages and span_fit(title, ages) is False:
            return True
        if employed and sector(title) not in (None, employed):
            return True
        titled = side_of_18(title) if side else None
        return titled is not None and titled != side

    first = order[0]
    for j in range(1, min(len(order), PERSON_FIT_WINDOW)):
        near = scores is None or scores[first] - scores[order[j]] < DEFAULT_SECTOR_MARGIN
        employed = told or (default if near else None)
        if misfits(first, employed) and not misfits(order[j], employed):
            return [order[j], *order[:j], *order[j + 1 :]]
    return order
