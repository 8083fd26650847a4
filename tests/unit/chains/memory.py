"""A small in-memory `BaseRetriever` over real fiche text (data/fiches.json), returning
Documents shaped exactly like `knowledge.retriever.HybridRetriever`'s (DOC_METADATA_KEYS).

Scoring is plain stem overlap; `dense_score` carries the overlap share (there are no
embeddings here), `lexical_score` the number of matched stems.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import Field

from chains.models import Source, UsedChunk
from chains.prompts import SourceContext
from chains.text import stem_set

DATA = Path(__file__).parent / "data" / "fiches.json"


def load_fiches() -> list[dict]:
    return json.loads(DATA.read_text(encoding="utf-8"))


class MemoryRetriever(BaseRetriever):
    fiches: list[dict]
    k: int = 5
    calls: list[dict] = Field(default_factory=list)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager, **kwargs: Any
    ) -> list[Document]:
        # Like the real store: the CPU-bound search runs off the event loop.
        return await asyncio.to_thread(self._search, query, **kwargs)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return self._search(query, **kwargs)

    def _search(self, query: str, **kwargs: Any) -> list[Document]:
        self.calls.append({"query": query, **kwargs})
        audience = kwargs.get("audience")
        q = stem_set(query)
        scored = []
        for f in self.fiches:
            if audience and audience not in f["audiences"]:
                continue
            title_stems = stem_set(f["title"])
            chunks = []
            for i, c in enumerate(f["chunks"]):
                cs = stem_set(c["section"] + " " + c["text"])
                score = len(q & cs) + 2 * len(q & title_stems)
                chunks.append(
                    {
                        "id": f"{f['fiche_id']}#{i}",
                        "section": c["section"],
                        "text": c["text"],
                        "score": float(score),
                    }
                )
            chunks.sort(key=lambda c: -c["score"])
            best = chunks[0] if chunks else None
            if best is None or best["score"] <= 0:
                continue
            share = len(q & (title_stems | stem_set(best["text"]))) / max(1, len(q))
            scored.append((best["score"], f, chunks[:3], share))
        scored.sort(key=lambda t: -t[0])
        docs = []
        for score, f, chunks, share in scored[: self.k]:
            docs.append(
                Document(
                    page_content="\n".join(c["text"] for c in chunks),
                    metadata={
                        "fiche_id": f["fiche_id"],
                        "title": f["title"],
                        "url": f["url"],
                        "section": chunks[0]["section"],
                        "score": score,
                        "dense_score": share,
                        "lexical_score": float(score),
                        "date": f["date"],
                        "audiences": f["audiences"],
                        "kind": f["kind"],
                        "type": f["type"],
                        "services": f["services"],
                        "chunks": chunks,
                    },
                )
            )
        return docs


def source_context(fiche: dict, n: int, n_chunks: int = 2) -> SourceContext:
    """A `SourceContext` of one of the recorded fiches, as the chain builds it."""
    chunks = [
        UsedChunk(
            id=f"{fiche['fiche_id']}#{i}",
            fiche_id=fiche["fiche_id"],
            section=c["section"],
            text=c["text"],
            score=1.0,
        )
        for i, c in enumerate(fiche["chunks"][:n_chunks])
    ]
    src = Source(
        n=n,
        fiche_id=fiche["fiche_id"],
        title=fiche["title"],
        url=fiche["url"],
        date=fiche["date"],
        services=fiche["services"],
    )
    return SourceContext(source=src, chunks=chunks)
