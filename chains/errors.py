"""Errors of the `chains` package: one base class, caught at the chain boundary."""

from __future__ import annotations


class ChainError(Exception):
    """Base class of every error raised inside `chains`."""


class GenerationFailed(ChainError):
    """The LLM call failed after its bounded retries.

    `kind` is one of: "timeout", "rate_limited", "server_error", "connection",
    "malformed_response", "auth", "bad_request", "llm_error".
    """

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail
