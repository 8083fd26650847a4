"""Settings of the answer chain (env prefix `GUICHET_`, `.env` file).

Read once by the entry point (CLI, `app.wiring`) and passed in; never read at import time.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ChainSettings(BaseSettings):
    """How answers are generated: the LLM endpoint (or the extractive default), retrieval
    depth, the relevance gate and the conversation memory used for condensing."""

    model_config = SettingsConfigDict(
        env_prefix="GUICHET_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    # --- Generator -------------------------------------------------------------------------
    llm_url: str = Field(
        default="",
        description=(
            "Base URL of an OpenAI-compatible chat-completions endpoint, e.g. "
            "https://albert.api.etalab.gouv.fr/v1, http://127.0.0.1:8000/v1 (vLLM), "
            "http://127.0.0.1:11434/v1 (Ollama), http://127.0.0.1:8080/v1 (llama.cpp). "
            "Empty: the embedded extractive generator (no model, no network)."
        ),
    )
    llm_api_key: SecretStr | None = Field(
        default=None,
        description="API key sent as a Bearer token to the endpoint (never logged).",
    )
    llm_model: str = Field(
        default="openweight-medium",
        description=(
            "Model name sent to the endpoint (as listed by its /v1/models). The Albert API "
            "serves openweight-small, openweight-medium and openweight-large."
        ),
    )
    llm_timeout: float = Field(
        default=120.0,
        gt=0,
        le=600,
        description=(
            "Per-answer deadline in seconds: the LLM work of one answer (rewriting a "
            "follow-up, then generating the draft, retries included) is abandoned after it, "
            "and the agent's notice gives this delay. A generation that times out is never "
            "retried (the server would compute the same prompt again)."
        ),
    )
    llm_connect_timeout: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description=(
            "Seconds to open a connection to the endpoint (a connection that cannot be "
            "opened is retried, see llm_max_retries)."
        ),
    )
    llm_max_tokens: int = Field(
        default=900, ge=16, le=8192, description="Upper bound on generated tokens per answer."
    )
    llm_temperature: float = Field(
        default=0.1, ge=0.0, le=2.0, description="Sampling temperature (low: factual drafts)."
    )
    llm_max_retries: int = Field(
        default=2,
        ge=0,
        le=5,
        description=(
            "Retries of one LLM call that produced no answer: connection failures, HTTP 429 "
            "and 5xx (not 504), with exponential backoff (the endpoint's Retry-After is "
            "honoured), within the deadline. Timeouts are never retried. Bounded to 5."
        ),
    )
    llm_condense: bool = Field(
        default=True,
        description=(
            "Use the LLM to rewrite a follow-up into a standalone question (when an LLM is "
            "configured). False, or no LLM: the deterministic rewrite."
        ),
    )

    # --- Retrieval and context -------------------------------------------------------------
    retrieval_k: int = Field(
        default=5, ge=1, le=20, description="Distinct fiches retrieved per question."
    )
    query_max_chars: int = Field(
        default=3000,
        ge=50,
        le=20_000,
        description=(
            "Characters of the (standalone) question sent to the retriever (which splits a "
            "long message into its requests)."
        ),
    )
    context_chunks_per_source: int = Field(
        default=3, ge=1, le=10, description="Best chunks of each fiche put in the prompt."
    )
    context_max_chars: int = Field(
        default=9000,
        ge=500,
        le=100_000,
        description="Upper bound on the characters of fiche text put in the prompt.",
    )

    # --- Relevance gate --------------------------------------------------------------------
    gate_min_dense: float = Field(
        default=0.35,
        ge=-1.0,
        le=1.0,
        description=(
            "A fiche passes the gate when its best chunk's cosine similarity to the question "
            "reaches this value AND it shares enough terms with the question (below). "
            "Calibrated on the full 2020 corpus with USE embeddings: out-of-scope questions "
            "mostly score 0.16-0.40, in-scope ones above 0.35."
        ),
    )
    gate_strong_dense: float = Field(
        default=0.55,
        ge=-1.0,
        le=1.0,
        description="Cosine similarity above which a fiche passes whatever the term overlap.",
    )
    gate_min_overlap: float = Field(
        default=0.34,
        ge=0.0,
        le=1.0,
        description=(
            "Share of the question's content terms (stemmed, French) found in the fiche's "
            "title, section and best chunks, needed together with gate_min_dense."
        ),
    )
    gate_suggestion_min_dense: float = Field(
        default=0.25,
        ge=-1.0,
        le=1.0,
        description="Cosine similarity a fiche needs to be offered as 'peut-être utile'.",
    )
    gate_suggestions: int = Field(
        default=3, ge=0, le=10, description="Closest fiches offered as 'peut-être utile'."
    )

    # --- Conversation ----------------------------------------------------------------------
    history_turns: int = Field(
        default=3, ge=0, le=20, description="Past turns used to condense a follow-up question."
    )

    # --- Extractive generator --------------------------------------------------------------
    extractive_max_sentences: int = Field(
        default=7, ge=1, le=30, description="Sentences quoted by the extractive generator."
    )
    extractive_max_sources: int = Field(
        default=3, ge=1, le=10, description="Fiches quoted by the extractive generator."
    )

    @property
    def uses_llm(self) -> bool:
        return bool(self.llm_url.strip())
