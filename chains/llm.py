"""The chat model factory: any OpenAI-compatible endpoint through langchain-openai.

Works with the Albert API, vLLM, Ollama and llama.cpp's server (all speak
`/v1/chat/completions`). Nothing is downloaded: the chat path never counts tokens, so
tiktoken (imported by langchain-openai) never fetches an encoding.

Timeouts and retries suit a slow server (a small model on a CPU computes one answer for
tens of seconds):

- one deadline per answer (`llm_timeout`, 120 s by default) bounds all its LLM work; the
  chain enforces it and the agent's notice names it;
- a generation that timed out is never retried: the server would compute the same prompt
  again while the agent waits (the openai client's own retries are switched off);
- only failures where no answer was produced are retried, with backoff and within the
  deadline: connection failures, HTTP 429 and 5xx (not 504, a proxy's timeout).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from typing import Any

from langchain_core.language_models import BaseChatModel

from chains.errors import GenerationFailed
from chains.settings import ChainSettings

logger = logging.getLogger(__name__)

# Most local servers (vLLM, Ollama, llama.cpp) ignore the key but the client requires one.
_NO_KEY = "sk-no-key-required"

_BACKOFF_FIRST_S = 0.5
_BACKOFF_MAX_S = 8.0
_RETRY_AFTER_MAX_S = 60.0
# Transport failures that happen before the request reached the server.
_NOT_SENT = ("ConnectTimeout", "PoolTimeout")


def build_chat_model(settings: ChainSettings) -> BaseChatModel | None:
    """The configured chat model, or None when no endpoint is set (extractive generator)."""
    if not settings.uses_llm:
        return None
    # The HTTP library the openai client is built on (httpx2 since openai 3): its clients
    # reject another library's Timeout (openai 3.63 no longer converts an httpx.Timeout),
    # so the timeout and the pool are made with its classes.
    import httpx2
    import openai

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else _NO_KEY
    logger.info(
        "LLM endpoint %s, model %s (deadline %.1fs per answer, %d retries of failed "
        "connections, 429 and 5xx; timeouts never retried)",
        settings.llm_url,
        settings.llm_model,
        settings.llm_timeout,
        settings.llm_max_retries,
    )
    timeout = httpx2.Timeout(
        settings.llm_timeout, connect=min(settings.llm_connect_timeout, settings.llm_timeout)
    )
    return _chat_model_class()(
        model=settings.llm_model,
        base_url=settings.llm_url.rstrip("/"),
        api_key=key,
        timeout=timeout,
        max_retries=0,  # the client's retries would repeat a timed-out generation
        retries=settings.llm_max_retries,
        deadline_s=settings.llm_timeout,
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
        streaming=False,
        stream_usage=False,
        # Our own client: langchain-openai's default one is cached process-wide and bound to
        # the first event loop that used it. Pool sized for many concurrent answers.
        http_async_client=openai.DefaultAsyncHttpxClient(
            timeout=timeout,
            limits=httpx2.Limits(max_connections=200, max_keepalive_connections=50),
        ),
    )


def overall_deadline(settings: ChainSettings) -> float:
    """Seconds after which the LLM work of one answer is abandoned (retries included)."""
    return settings.llm_timeout


# ---------------------------------------------------------------------------------- retries


def _chain_of(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out and len(out) < 8:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def _retry_after(exc: BaseException) -> float | None:
    """The server's Retry-After (seconds), from `retry-after-ms` or `retry-after`."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            return max(0.0, float(raw) * scale)
        except ValueError:
            continue  # an HTTP date: ignored, the backoff applies
    return None


def retry_delay(exc: BaseException, attempt: int) -> float | None:
    """Seconds to wait before retrying after `exc` (attempt 0 = the first retry), or None
    when the call must not be retried: a timed-out generation, a 4xx other than 429, a 504
    (a proxy gave up while the model was computing), anything that is not an HTTP failure."""
    try:
        import openai
    except ImportError:  # pragma: no cover - langchain-openai depends on it
        return None
    backoff = min(_BACKOFF_FIRST_S * 2**attempt, _BACKOFF_MAX_S) * (1 - 0.25 * random.random())
    if isinstance(exc, openai.APITimeoutError):
        names = {type(e).__name__ for e in _chain_of(exc)}
        return backoff if names & set(_NOT_SENT) else None
    if isinstance(exc, openai.APIConnectionError):
        return backoff  # refused, reset or dropped before any response
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        if code == 429 or (code >= 500 and code != 504):
            after = _retry_after(exc)
            if after is not None and after > _RETRY_AFTER_MAX_S:
                return None
            return after if after is not None else backoff
    return None


def _chat_model_class():
    """ChatOpenAI with Guichet's retry policy (built lazily: langchain-openai is imported
    only when an endpoint is configured)."""
    global _CHAT_MODEL_CLASS
    if _CHAT_MODEL_CLASS is not None:
        return _CHAT_MODEL_CLASS
    from langchain_openai import ChatOpenAI
    from tenacity import (
        AsyncRetrying,
        RetryCallState,
        Retrying,
        retry_if_exception,
        stop_after_attempt,
        stop_before_delay,
    )

    class GuichetChatOpenAI(ChatOpenAI):
        """ChatOpenAI that retries only calls which produced no answer (see `retry_delay`),
        at most `retries` times and never past `deadline_s` from the first attempt."""

        retries: int = 0
        deadline_s: float = 120.0

        def _policy(self) -> dict[str, Any]:
            """The tenacity policy: retry what `retry_delay` allows, wait what it says."""

            def wait(state: RetryCallState) -> float:
                return retry_delay(state.outcome.exception(), state.attempt_number - 1) or 0.0

            def log(state: RetryCallState) -> None:
                logger.warning(
                    "LLM call failed (%s), retry %d/%d in %.1fs",
                    classify_llm_error(state.outcome.exception()).kind,
                    state.attempt_number,
                    self.retries,
                    state.upcoming_sleep,
                )

            return {
                "retry": retry_if_exception(lambda exc: retry_delay(exc, 0) is not None),
                "wait": wait,
                # the retry could not finish in time: fail now, with the call's own error
                "stop": stop_after_attempt(self.retries + 1) | stop_before_delay(self.deadline_s),
                "before_sleep": log,
                "reraise": True,
            }

        async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs: Any):
            async for attempt in AsyncRetrying(**self._policy()):
                with attempt:
                    return await super()._agenerate(
                        messages, stop=stop, run_manager=run_manager, **kwargs
                    )
            raise AssertionError("unreachable: tenacity reraises the last error")

        def _generate(self, messages, stop=None, run_manager=None, **kwargs: Any):
            for attempt in Retrying(**self._policy()):
                with attempt:
                    return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
            raise AssertionError("unreachable: tenacity reraises the last error")

    _CHAT_MODEL_CLASS = GuichetChatOpenAI
    return GuichetChatOpenAI


_CHAT_MODEL_CLASS: Any = None


# ---------------------------------------------------------------------------------- errors


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
