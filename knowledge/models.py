"""Data types of the knowledge base, shared by the parser, the chunker, the stores and retrieval.

These are the contract between `knowledge` and the rest of Guichet: change them with care.

Retrieval hands `chains` LangChain `Document`s, one per distinct fiche, whose `metadata` keys are
listed in `DOC_METADATA_KEYS` (see `knowledge.retriever`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

AUDIENCES = ("Particuliers", "Professionnels", "Associations")
SECTION_SEP = " › "


def audience_named(name: str) -> str | None:
    """The audience a name stands for, whatever its case ("particuliers"); None if none."""
    return next((a for a in AUDIENCES if a.lower() == name.lower()), None)


@dataclass(frozen=True, slots=True)
class OnlineService:
    """A `ServiceEnLigne` block (online service, cerfa form, simulator) or an R resource."""

    title: str
    url: str | None = None
    kind: str | None = None  # "Formulaire", "Téléservice", "Simulateur", ...
    cerfa: str | None = None  # e.g. "12100*03" / "13750"


@dataclass(frozen=True, slots=True)
class Link:
    """A reference to a legal text, a related question, a "voir aussi" fiche, ..."""

    title: str
    url: str | None = None
    target_id: str | None = None  # the fiche ID for internal links


@dataclass(frozen=True, slots=True)
class Section:
    """A run of body text under one heading path.

    `path` is the heading path inside the fiche, without the fiche title, e.g.
    ("Demande en France", "Pièces à fournir"). `paragraphs` are flattened plain-text paragraphs
    (lists as "- item" lines, tables as "Col: value ; Col: value" rows).
    """

    path: tuple[str, ...]
    paragraphs: tuple[str, ...]


@dataclass(slots=True)
class Fiche:
    """One service-public.fr publication: F (fiche), N (dossier/theme) or R (resource)."""

    id: str
    kind: str  # "F", "N" or "R" (first letter of the ID)
    type: str  # root @type, e.g. "Fiche d'information", "Question-réponse", "Formulaire"
    title: str
    url: str
    description: str = ""
    audiences: tuple[str, ...] = ()
    theme: str | None = None
    breadcrumb: tuple[str, ...] = ()
    dossier: str | None = None  # DossierPere title
    date: dt.date | None = None  # dc:date ("modified YYYY-MM-DD")
    date_important: dt.date | None = None  # 3.4 dateDerniereModificationImportante
    references: tuple[Link, ...] = ()  # Reference blocks and dc:source URLs
    services: tuple[OnlineService, ...] = ()  # ServiceEnLigne (and, for an R, itself)
    related: tuple[Link, ...] = ()  # QuestionReponse
    see_also: tuple[Link, ...] = ()  # VoirAussi
    sections: tuple[Section, ...] = ()  # Introduction first (path ()), then the body
    schema: str | None = None  # "3.3", "3.4" when known
    content_hash: str = ""  # sha256 of the normalised content, set by the parser
    children: tuple[Link, ...] = ()  # N dossiers/themes: their child fiches (SousDossier/Fiche)
    # Vocabulary the DILA marks up: (short form, long form) of each Abreviation (sigle,
    # acronyme) the fiche defines, e.g. ("CDD", "Contrat à durée déterminée").
    abbreviations: tuple[tuple[str, str], ...] = ()
    # Inline links to other publications (LienInterne): the anchor text says what the
    # target is about ("l'autorité parentale" -> F18605), like anchor text on the web.
    anchors: tuple[Link, ...] = ()
    # The titles of its Situation and Cas blocks: the sections that are alternatives ("En
    # France" / "À l'étranger"), unlike chapters ("Pièces à fournir", "Coût").
    cases: tuple[str, ...] = ()

    def all_urls(self) -> set[str]:
        """The fiche URL and every URL of its online services (what a draft may link to)."""
        urls = {self.url}
        urls.update(s.url for s in self.services if s.url)
        return urls


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrievable unit: part of one section of one fiche, with its context.

    `id` is stable: f"{fiche_id}#{section slug}#{index}". `text` is the body only; `context`
    is the fiche title and section path ("Passeport : renouvellement › Demande en France").
    """

    id: str
    fiche_id: str
    context: str
    text: str
    section: str  # section path joined with SECTION_SEP ("" for the introduction)
    order: int  # position of the chunk inside its fiche
    hash: str  # sha256 of context + text

    @property
    def full_text(self) -> str:
        return f"{self.context}\n{self.text}" if self.context else self.text


@dataclass(slots=True)
class ParseProblem:
    """Why a file was skipped: named in the ingest summary."""

    source: str  # file name (zip member or path)
    reason: str


@dataclass(slots=True)
class IngestSummary:
    files_read: int = 0
    fiches_new: int = 0
    fiches_updated: int = 0
    fiches_unchanged: int = 0
    fiches_deleted: int = 0
    chunks_added: int = 0
    chunks_deleted: int = 0
    chunks_total: int = 0
    skipped: list[ParseProblem] = field(default_factory=list)
    seconds: float = 0.0


# What `knowledge.retriever.HybridRetriever` puts in each returned `Document.metadata`
# (one Document per distinct fiche, best first; `page_content` is the text of its best chunks):
DOC_METADATA_KEYS = {
    "fiche_id": "str: the fiche ID, e.g. 'F1342'",
    "title": "str: the fiche title",
    "url": "str: the canonical service-public link",
    "section": "str: section path of the best chunk ('' for the introduction)",
    "score": "float: fused hybrid score, higher is better (used for ranking)",
    "dense_score": "float: cosine similarity of the best chunk to the query, in [-1, 1]",
    "lexical_score": "float: BM25 score of the best chunk (0 when the lexical index missed it)",
    "date": "str | None: dc:date as YYYY-MM-DD",
    "audiences": "list[str]: e.g. ['Particuliers', 'Professionnels']",
    "kind": "str: 'F', 'N' or 'R'",
    "type": "str: the fiche type",
    "services": "list[dict]: online services/forms {title, url, kind, cerfa}",
    "chunks": "list[dict]: the fiche's best chunks {id, section, text, score}, best first",
    "requests": "list[str]: the requests found in a citizen's message (knowledge.query)",
    "request": "int: the request this fiche answers best (-1: the whole text)",
    "outline": "list[dict]: for the first fiches, every chunk {id, section, text} in order",
}
