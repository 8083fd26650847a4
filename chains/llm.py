"""The chat model factory: any OpenAI-compatible endpoint through langchain-openai.

Works with the Albert API, vLLM, Ollama and llama.cpp's server (all speak
`/v1/chat/completions`). Nothing is downloaded: the chat path never counts tokens, so
tiktoken (imported by langchain-openai) never fetches an encoding.
"""

from __future__ import annotations

import asyncio
import json
import logging

from langchain_core.language_models import BaseChatModel

from chains.errors import GenerationFailed
from chains.settings import ChainSettings

logger = logging.getLogger(__name__)

# Most local servers (vLLM, Ollama, llama.cpp) ignore the key but the client requires one.
_NO_KEY = "sk-no-key-required"


def build_chat_model(settings: ChainSettings) -> BaseChatModel | None:
    """The configured chat model, or None when no endpoint is set (extractive generator)."""
    if not settings.uses_llm:
        return None
    import httpx
    from langchain_openai import ChatOpenAI  # imported only when an endpoint is configured

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else _NO_KEY
    logger.info(
        "LLM endpoint %s, model %s (timeout %.1fs, %d retries)",
        settings.llm_url,
        settings.llm_model,
        settings.llm_timeout,
        settings.llm_max_retries,
    )
    return ChatOpenAI(
        model=settings.llm_model,
        base_url=settings.llm_url.rstrip("/"),
        api_key=key,
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
        streaming=False,
        stream_usage=False,
        # Our own client: langchain-openai's default one is cached process-wide and bound to
        # the first event loop that used it. Pool sized for many concurrent answers.
        http_async_client=httpx.AsyncClient(
            timeout=settings.llm_timeout,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        ),
    )


def overall_deadline(settings: ChainSettings) -> float:
    """Seconds after which one generation is abandoned whatever the client does: every
    attempt's timeout plus the client's backoff (at most 8 s between attempts)."""
    attempts = settings.llm_max_retries + 1
    return settings.llm_timeout * attempts + 8.0 * settings.llm_max_retries + 1.0


def classify_llm_error(exc: BaseException) -> GenerationFailed:
    """Map an exception raised by a chat model call to a `GenerationFailed` with a kind."""
    if isinstance(exc, GenerationFailed):
        return exc
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return GenerationFailed("timeout", "deadline exceeded")
    try:
        import openai
    except ImportError:  # pragma: no cover - langchain-openai depends on it
        openai = None
    if openai is not None:
        if isinstance(exc, openai.APITimeoutError):
            return GenerationFailed("timeout", str(exc))
        if isinstance(exc, openai.APIConnectionError):
            return GenerationFailed("connection", str(exc))
        if isinstance(exc, openai.RateLimitError):
            return GenerationFailed("rate_limited", str(exc))
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return GenerationFailed("auth", str(exc))
        if isinstance(exc, openai.APIResponseValidationError):
            return GenerationFailed("malformed_response", str(exc))
        if isinstance(exc, openai.APIStatusError):
            if exc.status_code >= 500:
                return GenerationFailed("server_error", f"HTTP {exc.status_code}")
            return GenerationFailed("bad_request", f"HTTP {exc.status_code}")
    if isinstance(exc, json.JSONDecodeError | ValueError | KeyError | TypeError | AttributeError):
        return GenerationFailed("malformed_response", f"{type(exc).__name__}: {exc}")
    return GenerationFailed("llm_error", f"{type(exc).__name__}: {exc}")
