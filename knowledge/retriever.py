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
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, PrivateAttr

from knowledge.models import AUDIENCES
from knowledge.query import QueryAnalysis, analyse
from knowledge.ranking import (
    RRF_K,
    Candidate,
    LinearRanker,
    default_ranker,
    features,
    guides_down,
    person_fit_first,
)
from knowledge.text import abroad_words, keep_sense

if TYPE_CHECKING:  # the store builds retrievers: it imports this module, not the reverse
    from knowledge.store import ChunkRow, KnowledgeBase

REQUEST_WEIGHT = 0.7  # a request's search counts this much next to the whole text's
FICHE_LIST = 30  # fiches taken from each fiche-level list
SECOND_STAGE_POOL = 30  # first-stage candidates scored by the second stage
E5_QUERY_WORDS = 30  # words of the text read by e5 (its cost grows with the length)
E5_SEARCHES = 1  # searches of one request read by e5: the whole text (its requests add
# ~40 ms each to a message and nothing measurable to its ranking)
OUTLINED_FICHES = 2  # the first fiches come with their whole text ("outline")
OUTLINE_MAX_CHUNKS = 40

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


def abbreviation_pairs(query: str, vocabulary: Any = None) -> list[tuple[str, str]]:
    """The abbreviations the query contains as typed, with the long forms the search adds for
    them: the hand-kept list's, then those the corpus defines (`Vocabulary`). The answer
    chain's relevance gate counts an abbreviation as found in a fiche that spells it out."""
    out = _listed_pairs(query)
    if vocabulary is not None:
        known = {x.lower() for _, x in out}
        out.extend(p for p in vocabulary.pairs(query) if p[1].lower() not in known)
    return out


def _listed_pairs(query: str) -> list[tuple[str, str]]:
    """The hand-kept list's abbreviations in the query, with their long forms (once each,
    none already spelt out)."""
    out: list[tuple[str, str]] = []
    for m in _ABBR_RE.finditer(query):
        long = ABBREVIATIONS[m.group(1).lower()]
        if long.lower() not in query.lower() and all(long != x for _, x in out):
            out.append((m.group(1), long))
    return out


def expand_query(query: str, vocabulary: Any = None) -> str:
    """The query plus the long form of the abbreviations it contains: the hand-kept list
    above (agents' everyday words), then those the corpus defines (`Vocabulary`)."""
    extra = [long for _, long in _listed_pairs(query)]
    if vocabulary is not None:
        extra.extend(x for x in vocabulary.expansions(query) if x not in extra)
        extra.extend(x for x in vocabulary.corrections(query) if x not in extra)
    place = abroad_words(query)
    if place is not None:
        extra.append(place)
    return f"{query} ({' ; '.join(extra)})" if extra else query


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """One query of a batch (`HybridRetriever.search_many`)."""

    query: str
    k: int | None = None
    audience: str | None = None


class _Batcher:
    """Gathers the searches started on one event loop into batches run in a thread.

    A search arriving while no batch runs starts one after a single loop turn (the other
    questions of that sync batch join it); searches arriving while a batch runs wait for
    the next one. Idle, a query is searched alone, as before; in a burst, 50 questions cost
    one embedding call and one Chroma query instead of 50 of each, and one thread hop.
    """

    def __init__(self, run: Callable[[list[SearchRequest]], list[list[Document]]]) -> None:
        self.run = run
        self.pending: list[tuple[SearchRequest, asyncio.Future]] = []
        self.draining = False

    async def submit(self, request: SearchRequest) -> list[Document]:
        future = asyncio.get_running_loop().create_future()
        self.pending.append((request, future))
        if not self.draining:
            self.draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)
            while self.pending:
                batch = self.pending[:MAX_BATCH]
                del self.pending[:MAX_BATCH]
                batch = [(r, f) for r, f in batch if not f.done()]  # drop cancelled searches
                if not batch:
                    continue
                try:
                    results = await asyncio.to_thread(self.run, [r for r, _ in batch])
                except Exception as exc:  # every search of the batch sees the failure
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), docs in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(docs)
        finally:
            self.draining = False


MAX_BATCH = 64


@dataclass(slots=True)
class _Fused:
    """One query's fusion: the top fiches and the scores shown in each Document."""

    top: list[tuple[str, float]]
    chunk_score: dict[str, float]
    dense_best: dict[str, float]
    lex_best: dict[str, float]
    chunk_dense: dict[str, float]
    chunk_lex: dict[str, float]


class HybridRetriever(BaseRetriever):
    """Top-k distinct fiches for a query (`invoke(q, k=..., audience=...)` works too).

    `search_many` runs several queries at once (one embedding call, one Chroma query);
    `ainvoke` batches the searches that run concurrently on an event loop through it.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kb: Any = Field(exclude=True)  # the KnowledgeBase searched
    k: int = 5
    mode: Literal["hybrid", "rrf", "dense", "lexical"] = "hybrid"
    candidates: int | None = None
    dense_weight: float | None = None
    lexical_weight: float | None = None
    rrf_k: float | None = None
    chunks_per_fiche: int | None = None
    expand_abbreviations: bool = True
    ranker: LinearRanker | None = None  # None: the fitted weights shipped in ranker.json
    # Switches for measuring each mechanism's share (bench/fit_ranker.py); all on in use.
    analyse_messages: bool = True  # split messages into requests, set greetings aside
    corpus_vocabulary: bool = True  # expand abbreviations the corpus defines
    fiche_level: bool = True  # the title / card lists of the fiche index
    second_stage: bool = True  # the fitted model (off: first-stage RRF order)
    _batchers: weakref.WeakKeyDictionary = PrivateAttr(default_factory=weakref.WeakKeyDictionary)

    # --- LangChain entry points ----------------------------------------------------------

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return self.search(query, **kwargs)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        # CPU-bound (embedding + BM25 + HNSW): off the event loop, batched with the others.
        request = self._request(query, kwargs.get("k"), kwargs.get("audience"))
        loop = asyncio.get_running_loop()
        batcher = self._batchers.get(loop)
        if batcher is None:
            batcher = self._batchers[loop] = _Batcher(self.search_many)
        return await batcher.submit(request)

    # --- the search itself -------------------------------------------------------------

    @staticmethod
    def _request(query: str, k: int | None, audience: str | None) -> SearchRequest:
        if audience is not None and audience not in AUDIENCES:
            raise ValueError(f"unknown audience {audience!r}; expected one of {AUDIENCES}")
        return SearchRequest(query, None if k is None else int(k), audience)

    def search(
        self, query: str, *, k: int | None = None, audience: str | None = None, **_: Any
    ) -> list[Document]:
        return self.search_many([self._request(query, k, audience)])[0]

    def search_many(self, requests: Sequence[SearchRequest]) -> list[list[Document]]:
        """The top-k fiches of each request, in order (what `search` does, for many)."""
        if self.mode == "hybrid":
            return self._search_staged(requests)
        return self._search_plain(requests)

    def _search_plain(self, requests: Sequence[SearchRequest]) -> list[list[Document]]:
        """The single-index baselines and their plain RRF (`mode` dense, lexical, rrf)."""
        started = time.perf_counter()
        s = self.kb.settings
        n = self.candidates or s.retrieval_candidates
        wd = s.fusion_dense_weight if self.dense_weight is None else self.dense_weight
        wl = s.fusion_lexical_weight if self.lexical_weight is None else self.lexical_weight
        rk = s.fusion_rrf_k if self.rrf_k is None else self.rrf_k
        per_fiche = self.chunks_per_fiche or s.chunks_per_fiche
        queries = [r.query.strip() for r in requests]
        live = [i for i, q in enumerate(queries) if q]

        dense: dict[int, list[tuple[str, float]]] = {i: [] for i in live}
        lexical: dict[int, list[tuple[str, float]]] = {i: [] for i in live}
        if live and self.mode in ("rrf", "dense"):
            vectors = self.kb.embeddings.embed_queries_array([queries[i] for i in live])
            hits = self.kb.dense_search_many(
                vectors, n, audiences=[requests[i].audience for i in live]
            )
            dense.update(zip(live, hits, strict=True))
        if self.mode in ("rrf", "lexical"):
            for i in live:
                lexical[i] = self.kb.lexical_search(queries[i], n, audience=requests[i].audience)

        rows = self.kb.catalog.chunks(
            {c for i in live for hits in (dense[i], lexical[i]) for c, _ in hits}
        )
        ranked = {
            i: _fuse(dense[i], lexical[i], rows, wd, wl, rk, requests[i].k or self.k) for i in live
        }
        fiches = self.kb.catalog.fiches({f for fused in ranked.values() for f, _ in fused.top})
        elapsed_ms = (time.perf_counter() - started) * 1000
        out: list[list[Document]] = []
        for i in range(len(requests)):
            fused = ranked.get(i)
            out.append(
                []
                if fused is None
                else _documents(fused, rows, fiches, per_fiche, elapsed_ms, None, self.kb)
            )
        return out

    def _search_staged(self, requests: Sequence[SearchRequest]) -> list[list[Document]]:
        """Guichet's retrieval: analysis, six first-stage lists, the fitted second stage."""
        started = time.perf_counter()
        staged = self.candidates_many(requests)
        per_fiche = self.chunks_per_fiche or self.kb.settings.chunks_per_fiche
        elapsed_ms = (time.perf_counter() - started) * 1000
        fiches = self.kb.catalog.fiches(
            {f for st in staged if st is not None for f, _ in st.fused.top}
        )
        out: list[list[Document]] = []
        for st in staged:
            out.append(
                []
                if st is None
                else _documents(st.fused, st.rows, fiches, per_fiche, elapsed_ms, st, self.kb)
            )
        return out

    def candidates_many(self, requests: Sequence[SearchRequest]) -> list[_Staged | None]:
        """Both stages for each request: the scored candidates, best first (None: empty).

        `bench/fit_ranker.py` reads the candidates' features from here to fit the weights.
        """
        s = self.kb.settings
        n = self.candidates or s.retrieval_candidates
        index = self.kb.lexical()
        fiche_index = getattr(index, "fiches", None)
        vocabulary = (
            fiche_index.vocabulary if fiche_index is not None and self.corpus_vocabulary else None
        )
        analyses = [
            (analyse(r.query) if self.analyse_messages else QueryAnalysis(r.query, r.query))
            if r.query.strip()
            else None
            for r in requests
        ]
        searches: list[tuple[int, str]] = []  # (request index, expanded query)
        search_texts: list[str] = []  # the same queries as typed
        for i, a in enumerate(analyses):
            if a is None:
                continue
            for q in a.queries:
                # "je garde mes allocations" is no childcare: the fiches say "conserver"
                q = keep_sense(q)
                # the embedders read the accents an agent left out ("decede"); BM25 folds them
                q = vocabulary.accented(q) if vocabulary is not None else q
                searches.append(
                    (i, expand_query(q, vocabulary) if self.expand_abbreviations else q)
                )
                search_texts.append(q)
        if not searches:
            return [None] * len(requests)
        # each search's position among its request's searches (0 = the whole text)
        n_searches: dict[int, int] = {}
        search_rank: list[int] = []
        for i, _ in searches:
            search_rank.append(n_searches.get(i, 0))
            n_searches[i] = search_rank[-1] + 1
        audiences = [requests[i].audience for i, _ in searches]

        e5 = self.kb.e5 if fiche_index is not None and fiche_index.e5_vectors is not None else None
        qv = None
        if e5 is not None and self.second_stage:
            # e5 reads the text as typed (no expansion), its first words only: its cost grows
            # with the length (~25 ms for a short question on 2 cores). First, before Chroma
            # and BLAS leave threads spinning.
            # A message's first searches only (the whole text, its first requests).
            first = [j for j, (i, _) in enumerate(searches) if search_rank[j] < E5_SEARCHES]
            vecs = e5.embed_queries([_head(search_texts[j], E5_QUERY_WORDS) for j in first])
            qv = dict(zip(first, vecs, strict=True))
        vectors = self.kb.embeddings.embed_queries_array([q for _, q in searches])
        dense_hits = self.kb.dense_search_many(vectors, n, audiences=audiences)
        lex_hits = [
            self.kb.lexical_search(q, n, audience=a)
            for (_, q), a in zip(searches, audiences, strict=True)
        ]
        rows = self.kb.catalog.chunks({c for hits in (*dense_hits, *lex_hits) for c, _ in hits})
        auds = self.kb.fiche_audiences() if any(audiences) else {}

        all_sims = (
            fiche_index.card_similarity(vectors)
            if fiche_index is not None and self.fiche_level
            else None
        )
        card_sims: dict[int, np.ndarray | None] = {}
        per_request: dict[int, dict[str, Candidate]] = {}
        chunk_scores: dict[int, dict[str, float]] = {}
        for j, (i, q) in enumerate(searches):
            search_no = search_rank[j]
            weight = 1.0 if search_no == 0 else REQUEST_WEIGHT
            lists: dict[str, list[tuple[str, float]]] = {}
            cs = chunk_scores.setdefault(i, {})
            for name, hits in (("chunk_dense", dense_hits[j]), ("chunk_lex", lex_hits[j])):
                ranked: list[tuple[str, float]] = []
                seen: set[str] = set()
                for pos, (cid, sc) in enumerate(c for c in hits if c[0] in rows):
                    cs[cid] = cs.get(cid, 0.0) + weight / (RRF_K + pos + 1)
                    fid = rows[cid].fiche_id
                    if fid not in seen:
                        seen.add(fid)
                        ranked.append((fid, sc))
                lists[name] = ranked
            if fiche_index is not None and self.fiche_level:
                mask = fiche_index.mask(audiences[j], auds)
                lists["title_lex"] = fiche_index.bm25("title", q, FICHE_LIST, mask)
                lists["card_lex"] = fiche_index.bm25("card", q, FICHE_LIST, mask)
                lists["body_lex"] = fiche_index.bm25("body", q, FICHE_LIST, mask)
                sims = all_sims[j] if all_sims is not None else None
                card_sims[j] = sims
                if sims is not None:
                    if mask is not None:
                        sims = np.where(mask, sims, -1.0)
                    top = (
                        np.argpartition(-sims, FICHE_LIST)[:FICHE_LIST]
                        if len(sims) > FICHE_LIST
                        else np.arange(len(sims))
                    )
                    top = top[np.argsort(-sims[top])]
                    lists["card_dense"] = [
                        (fiche_index.ids[t], float(sims[t])) for t in top if mask is None or mask[t]
                    ]
            cands = per_request.setdefault(i, {})
            first: dict[str, float] = {}
            for name, ranked in lists.items():
                for rank, (fid, sc) in enumerate(ranked, 1):
                    c = cands.get(fid)
                    if c is None:
                        c = cands[fid] = Candidate(fid)
                    if rank < c.ranks.get(name, 10**9):
                        c.ranks[name] = rank
                    if name == "chunk_dense":
                        c.cos_chunk_dense = max(c.cos_chunk_dense, sc)
                    elif name == "card_dense":
                        c.cos_card_dense = max(c.cos_card_dense, sc)
                    first[fid] = first.get(fid, 0.0) + 1.0 / (RRF_K + rank)
            for rank, (fid, sc) in enumerate(sorted(first.items(), key=lambda kv: -kv[1]), 1):
                c = cands[fid]
                c.first_stage += weight * sc
                if rank <= 10:
                    c.top10 += 1
                if sc > c.best_search_score:
                    c.best_search_score = sc
                    c.best_search = search_no

        # Second stage over each request's best first-stage candidates.
        pools: dict[int, list[Candidate]] = {}
        for i, cands in per_request.items():
            pool = sorted(cands.values(), key=lambda c: (-c.first_stage, c.fiche_id))
            pools[i] = pool[:SECOND_STAGE_POOL]
        if fiche_index is not None:
            analyzer = fiche_index.title_index.analyzer
            # The word pairs of the whole text as typed (the expansions' added words would
            # make pairs no text holds, and a request's pairs are the whole text's too).
            for j, (i, _) in enumerate(searches):
                if search_rank[j] == 0:
                    pool = pools[i]
                    pairs = fiche_index.pair_scores([c.fiche_id for c in pool], search_texts[j])
                    for c, p in zip(pool, pairs, strict=True):
                        c.body_pairs = p
            for i, q in searches:
                terms = set(analyzer.query(q))
                if not terms:
                    continue
                for c in pools[i]:
                    title = fiche_index.title_terms(c.fiche_id)
                    if title:
                        shared = len(terms & title)
                        c.title_coverage = max(c.title_coverage, shared / len(terms))
                        c.title_precision = max(c.title_precision, shared / len(title))
        for j, (i, _) in enumerate(searches):  # every candidate's card similarity
            sims = card_sims.get(j)
            if sims is None:
                continue
            for c in pools[i]:
                pos = fiche_index.position.get(c.fiche_id)
                if pos is not None:
                    c.cos_card_dense = max(c.cos_card_dense, float(sims[pos]))
        if qv is not None:
            has_e5 = fiche_index.has_e5
            for j, (i, _) in enumerate(searches):
                if j not in qv:
                    continue
                for c in pools[i]:
                    pos = fiche_index.position.get(c.fiche_id)
                    if pos is not None and has_e5[pos]:
                        c.e5 = max(c.e5, float(fiche_index.e5_vectors[pos] @ qv[j]))
            # Forms and services (R) have no e5 vector: the pool's median stands for theirs,
            # so that e5 neither lifts nor sinks them (their kind is a feature of its own).
            for pool in pools.values():
                known = [
                    c.e5
                    for c in pool
                    if (pos := fiche_index.position.get(c.fiche_id)) is not None and has_e5[pos]
                ]
                if known:
                    median = float(np.median(known))
                    for c in pool:
                        pos = fiche_index.position.get(c.fiche_id)
                        if pos is None or not has_e5[pos]:
                            c.e5 = median
        types = fiche_index.type_of if fiche_index is not None else {}
        ranker = self.ranker or default_ranker(e5=qv is not None)
        out: list[_Staged | None] = []
        for i, a in enumerate(analyses):
            if a is None or i not in pools:
                out.append(None)
                continue
            pool = pools[i]
            x = features(
                pool,
                n_searches=n_searches[i],
                types=types,
                wants_form=a.wants_form,
                wants_overview=a.wants_overview,
            )
            scores = (
                ranker.score(x)
                if self.second_stage
                else np.asarray([c.first_stage for c in pool], dtype=np.float32)
            )
            order = sorted(range(len(pool)), key=lambda t: (-scores[t], pool[t].fiche_id))
            if fiche_index is not None:
                ids = [c.fiche_id for c in pool]
                order = guides_down(order, ids, types, a.wants_overview)
                order = person_fit_first(order, ids, fiche_index, a.main, scores)
            if self.kb.reranker is not None:
                order = self._rerank(a.main, pool, order, chunk_scores.get(i, {}), rows)
            k = requests[i].k or self.k
            top = [(pool[t].fiche_id, float(scores[t])) for t in order[:k]]
            best_search = {pool[t].fiche_id: pool[t].best_search for t in order[:k]}
            fused = _Fused(top, chunk_scores.get(i, {}), {}, {}, {}, {})
            for c in pool:
                # a fiche found only by its title or card has no chunk similarity: its card's
                # (same model) stands for it
                fused.dense_best[c.fiche_id] = (
                    c.cos_chunk_dense if "chunk_dense" in c.ranks else c.cos_card_dense
                )
            corrections = _read_as(a.main, vocabulary) if vocabulary is not None else ()
            spelled = (
                tuple(abbreviation_pairs(a.main, vocabulary)) if self.expand_abbreviations else ()
            )
            out.append(
                _Staged(
                    a,
                    fused,
                    rows,
                    [pool[t] for t in order],
                    x[order],
                    best_search,
                    corrections,
                    spelled,
                )
            )
        return out

    def _rerank(
        self,
        query: str,
        pool: list[Candidate],
        order: list[int],
        chunk_score: dict[str, float],
        rows: dict[str, ChunkRow],
    ) -> list[int]:
        """The configured remote reranker's order of the first candidates (see
        `knowledge.rerank`; on failure the local order is returned unchanged)."""
        n = self.kb.settings.rerank_candidates
        head, tail = order[:n], order[n:]
        ids = [pool[t].fiche_id for t in head]
        meta = self.kb.catalog.fiches(ids)
        best: dict[str, str] = {}
        for cid in sorted(chunk_score, key=lambda c: -chunk_score[c]):
            if cid in rows:
                best.setdefault(rows[cid].fiche_id, rows[cid].text)
        texts = []
        for fid in ids:
            md = meta[fid].metadata if fid in meta else {}
            parts = [md.get("title", ""), md.get("description", ""), best.get(fid, "")[:600]]
            texts.append("\n".join(p for p in parts if p))
        position = {pool[t].fiche_id: t for t in head}
        reranked = self.kb.reranker.rerank(query, ids, texts)
        return [position[f] for f in reranked] + tail


def _head(text: str, words: int) -> str:
    return " ".join(text.split()[:words])


@dataclass(slots=True)
class _Staged:
    """One request's result: its analysis, the top fiches, and every scored candidate."""

    analysis: QueryAnalysis
    fused: _Fused
    rows: dict[str, ChunkRow]
    candidates: list[Candidate]
    features: np.ndarray
    best_search: dict[str, int]
    # the corpus words its typos were read as, and the words typed without their accents as
    # the fiches spell them (`_read_as`)
    corrections: tuple[str, ...] = ()
    # the abbreviations it contains with the long forms searched (`abbreviation_pairs`)
    spelled: tuple[tuple[str, str], ...] = ()


_LETTERS_RE = re.compile(r"[^\W\d_]+")


def _read_as(text: str, vocabulary: Any) -> tuple[str, ...]:
    """The corpus words the typos of `text` were read as, then its words typed without accents
    as the fiches spell them ("activite" -> "activité"): the answer chain reads the question
    with them, whose words and the fiches' would otherwise not meet (the French stemmer cuts
    "activité" to "activ", "activite" to "activit")."""
    out = list(vocabulary.corrections(text))
    typed = set(_LETTERS_RE.findall(text))
    out += [w for w in _LETTERS_RE.findall(vocabulary.accented(text)) if w not in typed]
    return tuple(dict.fromkeys(out))


def _fuse(
    dense: list[tuple[str, float]],
    lexical: list[tuple[str, float]],
    rows: dict[str, ChunkRow],
    wd: float,
    wl: float,
    rk: float,
    k: int,
) -> _Fused:
    """Weighted RRF over distinct fiches; chunks the catalog does not know (an ingest is
    under way elsewhere) are ignored."""
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
        for pos, (cid, sc) in enumerate(c for c in hits if c[0] in rows):
            fid = rows[cid].fiche_id
            per_chunk[cid] = sc
            chunk_score[cid] = chunk_score.get(cid, 0.0) + weight / (rk + pos + 1)
            if fid not in best:
                rank += 1
                best[fid] = sc
                fiche_score[fid] = fiche_score.get(fid, 0.0) + weight / (rk + rank)
    top = sorted(fiche_score.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return _Fused(top, chunk_score, dense_best, lex_best, chunk_dense, chunk_lex)


def _documents(
    fused: _Fused,
    rows: dict[str, ChunkRow],
    fiches: dict[str, Any],
    per_fiche: int,
    elapsed_ms: float,
    staged: _Staged | None,
    kb: KnowledgeBase,
) -> list[Document]:
    """One Document per top fiche: its best chunks, its metadata and the scores."""
    chunk_score = fused.chunk_score
    by_fiche: dict[str, list[ChunkRow]] = {}
    for cid in sorted(chunk_score, key=lambda c: -chunk_score[c]):
        if cid in rows:
            by_fiche.setdefault(rows[cid].fiche_id, []).append(rows[cid])
    # A fiche found only by its title or card has no matching chunk: its first chunks stand in.
    missing = [fid for fid, _ in fused.top if fid not in by_fiche]
    whole = [fid for fid, _ in fused.top[:OUTLINED_FICHES]] if staged is not None else []
    in_order = kb.catalog.chunks_of([*missing, *whole]) if missing or whole else {}
    for fid in missing:
        by_fiche[fid] = in_order.get(fid, [])
    requests = list(staged.analysis.requests) if staged is not None else []
    corrections = list(staged.corrections) if staged is not None else []
    spelled = [list(p) for p in staged.spelled] if staged is not None else []
    docs = []
    for fid, score in fused.top:
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
                    "dense_score": round(fused.dense_best.get(fid, 0.0), 6),
                    "lexical_score": round(fused.lex_best.get(fid, 0.0), 6),
                    "date": meta.get("date"),
                    "audiences": list(fiche.audiences),
                    "kind": meta.get("kind", fid[:1]),
                    "type": meta.get("type", ""),
                    "services": meta.get("services", []),
                    # the abbreviations the DILA marks up in the fiche, with their long forms
                    "abbreviations": meta.get("abbreviations", []),
                    # the titles of its sections that are cases (Situation, Cas)
                    "cases": meta.get("cases", []),
                    "chunks": [
                        {
                            "id": c.id,
                            "section": c.section,
                            "text": c.text,
                            "score": round(chunk_score.get(c.id, 0.0), 6),
                            "dense_score": round(fused.chunk_dense.get(c.id, 0.0), 6),
                            "lexical_score": round(fused.chunk_lex.get(c.id, 0.0), 6),
                        }
                        for c in best
                    ],
                    "retrieval_ms": round(elapsed_ms, 2),
                    # The requests found in the question (a citizen's message may hold
                    # several) and the one this fiche answers best (-1: the whole text).
                    "requests": requests,
                    # the corpus words the typos of the question were read as
                    "corrections": corrections,
                    # the abbreviations of the question with the long forms searched for them
                    "spelled": spelled,
                    "request": (staged.best_search.get(fid, 0) - 1) if staged else -1,
                    # The first fiches' whole text, chunk by chunk in reading order: what
                    # the extractive generator composes from (the fiche's structure).
                    "outline": [
                        {"id": c.id, "section": c.section, "text": c.text}
                        for c in in_order.get(fid, [])[:OUTLINE_MAX_CHUNKS]
                    ]
                    if fid in whole
                    else [],
                },
            )
        )
    return docs


def _page_content(chunks: Sequence[ChunkRow]) -> str:
    parts = []
    for c in chunks:
        parts.append(f"{c.context}\n{c.text}" if c.context else c.text)
    return "\n\n".join(parts)
