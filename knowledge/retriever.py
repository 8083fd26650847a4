"""Hybrid retrieval (dense Chroma + French BM25) as a LangChain `BaseRetriever`.

Both indexes return their best chunks; each is turned into a ranking of distinct fiches
(a fiche ranks where its best chunk ranks) and the two rankings are fused with weighted
reciprocal-rank fusion: `score = w_dense / (rrf_k + rank_dense) + w_lex / (rrf_k + rank_lex)`
(a fiche missing from one list gets nothing from it). The top-k fiches come back as one
`Document` each, `page_content` = its best chunks, `metadata` = `DOC_METADATA_KEYS`.

Abbreviations agents type (CNI, APL, K-bis, auto-entrepreneur...) are expanded before
searching (see `ABBREVIATIONS`): neither index knows them otherwise.

`mode="dense"` / `mode="lexical"` give the single-index baselines used by the bench.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from knowledge.models import AUDIENCES
from knowledge.store import ChunkRow, KnowledgeBase

# Abbreviations and everyday words of agents and citizens -> the fiches' wording.
# Appended to the query (the original words stay).
ABBREVIATIONS: dict[str, str] = {
    "cni": "carte nationale d'identité",
    "apl": "aide personnalisée au logement",
    "als": "allocation de logement sociale",
    "alf": "allocation de logement familiale",
    "rsa": "revenu de solidarité active",
    "aah": "allocation aux adultes handicapés",
    "aspa": "allocation de solidarité aux personnes âgées",
    "ass": "allocation de solidarité spécifique",
    "are": "allocation d'aide au retour à l'emploi chômage",
    "caf": "caisse d'allocations familiales",
    "cpam": "caisse primaire d'assurance maladie",
    "kbis": "extrait Kbis immatriculation",
    "k-bis": "extrait Kbis immatriculation",
    "auto-entrepreneur": "micro-entrepreneur micro-entreprise",
    "autoentrepreneur": "micro-entrepreneur micro-entreprise",
    "auto-entreprise": "micro-entreprise micro-entrepreneur",
    "smic": "salaire minimum",
    "pacs": "pacte civil de solidarité",
    "cdd": "contrat à durée déterminée",
    "cdi": "contrat à durée indéterminée",
    "rib": "relevé d'identité bancaire",
    "tva": "taxe sur la valeur ajoutée",
    "urssaf": "cotisations sociales Urssaf",
    "pole": "Pôle emploi",
    "mdph": "maison départementale des personnes handicapées",
    "cmu": "complémentaire santé solidaire",
    "css": "complémentaire santé solidaire",
    "ame": "aide médicale de l'État",
    "paje": "prestation d'accueil du jeune enfant",
    "vtc": "voiture de transport avec chauffeur",
    "ci": "carte d'identité",
    "ij": "indemnités journalières",
    "pv": "procès-verbal",
    "sarl": "société à responsabilité limitée",
    "sas": "société par actions simplifiée",
    "eurl": "entreprise unipersonnelle à responsabilité limitée",
    "asso": "association",
    "ag": "assemblée générale",
    "immat": "immatriculation",
    "permis": "permis de conduire",
    "titre de sejour": "titre de séjour étranger",
    "ehpad": "établissement d'hébergement pour personnes âgées dépendantes",
    "cesu": "chèque emploi service universel",
    "dpae": "déclaration préalable à l'embauche",
    "siret": "numéro Siret Siren",
    "apa": "allocation personnalisée d'autonomie",
    "cerfa": "formulaire",
}
_ABBR_RE = re.compile(
    r"(?<![\w-])("
    + "|".join(re.escape(k) for k in sorted(ABBREVIATIONS, key=len, reverse=True))
    + r")(?![\w-])",
    re.IGNORECASE,
)


def expand_query(query: str) -> str:
    """The query plus the long form of the abbreviations it contains."""
    extra = []
    for m in _ABBR_RE.finditer(query):
        long = ABBREVIATIONS[m.group(1).lower()]
        if long.lower() not in query.lower() and long not in extra:
            extra.append(long)
    return f"{query} ({' ; '.join(extra)})" if extra else query


class HybridRetriever(BaseRetriever):
    """Top-k distinct fiches for a query (`invoke(q, k=..., audience=...)` works too)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kb: KnowledgeBase = Field(exclude=True)
    k: int = 5
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid"
    candidates: int | None = None
    dense_weight: float | None = None
    lexical_weight: float | None = None
    rrf_k: float | None = None
    chunks_per_fiche: int | None = None
    expand_abbreviations: bool = True

    # --- LangChain entry points ----------------------------------------------------------

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return self.search(query, **kwargs)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        # CPU-bound (embedding + BM25 + HNSW): keep it off the event loop.
        return await asyncio.to_thread(self.search, query, **kwargs)

    # --- the search itself -------------------------------------------------------------

    def search(
        self, query: str, *, k: int | None = None, audience: str | None = None, **_: Any
    ) -> list[Document]:
        started = time.perf_counter()
        k = int(k or self.k)
        if audience is not None and audience not in AUDIENCES:
            raise ValueError(f"unknown audience {audience!r}; expected one of {AUDIENCES}")
        s = self.kb.settings
        n = self.candidates or s.retrieval_candidates
        wd = s.fusion_dense_weight if self.dense_weight is None else self.dense_weight
        wl = s.fusion_lexical_weight if self.lexical_weight is None else self.lexical_weight
        rk = s.fusion_rrf_k if self.rrf_k is None else self.rrf_k
        per_fiche = self.chunks_per_fiche or s.chunks_per_fiche
        query = query.strip()
        if not query:
            return []
        q = expand_query(query) if self.expand_abbreviations else query

        dense: list[tuple[str, float]] = []
        lexical: list[tuple[str, float]] = []
        if self.mode in ("hybrid", "dense"):
            vector = self.kb.embeddings.embed_query_array(q)
            dense = self.kb.dense_search(vector, n, audience=audience)
        if self.mode in ("hybrid", "lexical"):
            lexical = self.kb.lexical_search(q, n, audience=audience)

        rows = self.kb.catalog.chunks([c for c, _ in dense] + [c for c, _ in lexical])
        # Chunks the catalog does not know (an ingest is under way elsewhere) are ignored.
        dense = [(c, sc) for c, sc in dense if c in rows]
        lexical = [(c, sc) for c, sc in lexical if c in rows]

        fiche_score: dict[str, float] = {}
        chunk_score: dict[str, float] = {}
        dense_best: dict[str, float] = {}
        lex_best: dict[str, float] = {}
        chunk_dense: dict[str, float] = {}
        chunk_lex: dict[str, float] = {}
        for hits, weight, best, per_chunk in (
            (dense, wd, dense_best, chunk_dense),
            (lexical, wl, lex_best, chunk_lex),
        ):
            rank = 0
            for pos, (cid, sc) in enumerate(hits):
                fid = rows[cid].fiche_id
                per_chunk[cid] = sc
                chunk_score[cid] = chunk_score.get(cid, 0.0) + weight / (rk + pos + 1)
                if fid not in best:
                    rank += 1
                    best[fid] = sc
                    fiche_score[fid] = fiche_score.get(fid, 0.0) + weight / (rk + rank)

        ranked = sorted(fiche_score.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        fiches = self.kb.catalog.fiches(f for f, _ in ranked)
        by_fiche: dict[str, list[ChunkRow]] = {}
        for cid in sorted(chunk_score, key=lambda c: -chunk_score[c]):
            by_fiche.setdefault(rows[cid].fiche_id, []).append(rows[cid])

        docs = []
        elapsed_ms = (time.perf_counter() - started) * 1000
        for fid, score in ranked:
            fiche = fiches.get(fid)
            if fiche is None:  # deleted between the two catalog reads
                continue
            best = by_fiche.get(fid, [])[:per_fiche]
            meta = fiche.metadata
            docs.append(
                Document(
                    id=fid,
                    page_content=_page_content(best),
                    metadata={
                        "fiche_id": fid,
                        "title": meta.get("title", ""),
                        "url": meta.get("url", ""),
                        "section": best[0].section if best else "",
                        "score": round(score, 6),
                        "dense_score": round(dense_best.get(fid, 0.0), 6),
                        "lexical_score": round(lex_best.get(fid, 0.0), 6),
                        "date": meta.get("date"),
                        "audiences": list(fiche.audiences),
                        "kind": meta.get("kind", fid[:1]),
                        "type": meta.get("type", ""),
                        "services": meta.get("services", []),
                        "chunks": [
                            {
                                "id": c.id,
                                "section": c.section,
                                "text": c.text,
                                "score": round(chunk_score[c.id], 6),
                                "dense_score": round(chunk_dense.get(c.id, 0.0), 6),
                                "lexical_score": round(chunk_lex.get(c.id, 0.0), 6),
                            }
                            for c in best
                        ],
                        "retrieval_ms": round(elapsed_ms, 2),
                    },
                )
            )
        return docs


def _page_content(chunks: Sequence[ChunkRow]) -> str:
    parts = []
    for c in chunks:
        parts.append(f"{c.context}\n{c.text}" if c.context else c.text)
    return "\n\n".join(parts)
