"""A remote reranker, when one is configured: `POST {GUICHET_RERANK_URL}/rerank`.

The protocol most servers speak (the Albert API / OpenGateLLM, vLLM, llama.cpp's server,
Jina, Cohere): `{"model", "query", "documents": [str], "top_n"}` ->
`{"results": [{"index": i, "relevance_score": s}, ...]}`. Hugging Face TEI's shape
(`{"query", "texts"}` -> `[{"index", "score"}]`) is read too.

The reranker reorders the local ranking's first `rerank_candidates` fiches (each described
by its title, description and best passage); its order is fused with the local one by
reciprocal rank so that a weak reranker cannot throw a clear local winner far down. Any
failure (timeout, HTTP error, malformed answer, missing indexes) is logged and the local
ranking is kept: a reranker never turns a search into an error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx

log = logging.getLogger(__name__)

LOCAL_WEIGHT = 1.0
REMOTE_WEIGHT = 1.5
RRF_K = 5.0


class RerankError(Exception):
    """The reranker's answer could not be used (the local ranking is kept)."""


class RemoteReranker:
    def __init__(
        self, base_url: str, *, model: str, api_key: str | None = None, timeout: float = 5.0
    ) -> None:
        self.url = base_url.rstrip("/") + "/rerank"
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout, headers=headers)

    def close(self) -> None:
        self._client.close()

    def scores(self, query: str, documents: Sequence[str]) -> list[float]:
        """One relevance score per document (raises RerankError)."""
        body = {
            "model": self.model,
            "query": query,
            "documents": list(documents),
            "texts": list(documents),  # TEI's name for the same list
            "top_n": len(documents),
        }
        try:
            response = self._client.post(self.url, json=body)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RerankError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc
        results = data.get("results", data.get("data")) if isinstance(data, dict) else data
        if not isinstance(results, list):
            raise RerankError("no 'results' list in the answer")
        out = [float("-inf")] * len(documents)
        for item in results:
            try:
                i = int(item["index"])
                score = float(item.get("relevance_score", item.get("score")))
            except (KeyError, TypeError, ValueError) as exc:
                raise RerankError(f"malformed result {str(item)[:100]}") from exc
            if not 0 <= i < len(documents):
                raise RerankError(f"index {i} out of range")
            out[i] = score
        if all(s == float("-inf") for s in out):
            raise RerankError("no document scored")
        return out

    def rerank(self, query: str, ids: Sequence[str], documents: Sequence[str]) -> list[str]:
        """`ids` (the local order) reordered; the local order itself when the call fails."""
        if len(ids) < 2:
            return list(ids)
        try:
            scores = self.scores(query, documents)
        except RerankError as exc:
            log.warning("reranker %s failed, local ranking kept: %s", self.url, exc)
            return list(ids)
        remote_rank = {
            ids[i]: r for r, i in enumerate(sorted(range(len(ids)), key=lambda i: -scores[i]), 1)
        }
        fused = {
            fid: LOCAL_WEIGHT / (RRF_K + local) + REMOTE_WEIGHT / (RRF_K + remote_rank[fid])
            for local, fid in enumerate(ids, 1)
        }
        return sorted(ids, key=lambda f: -fused[f])
