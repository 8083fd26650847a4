"""The bot's one retry policy (tenacity): exponential backoff that honours the homeserver's
`M_LIMIT_EXCEEDED` `retry_after_ms`.

Three loops use it with their own bounds: a send (`send_retries` more attempts, 0.5 s doubling
to 10 s; never after M_FORBIDDEN or M_UNKNOWN_TOKEN), an event's handling when the homeserver
is away (3 attempts, 5 s then 10 s), and the sync loop (until stopped, 0.5 s doubling to 15 s;
never after M_UNKNOWN_TOKEN). `sleep` is the caller's (a test passes one that does not wait,
the sync loop one that wakes up on stop).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_never,
    wait_exponential,
)

from bot.errors import MatrixError

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
FATAL_SEND = frozenset({"M_FORBIDDEN", "M_UNKNOWN_TOKEN"})


class wait_backoff(wait_exponential):
    """`initial` doubling up to `maximum`; at least the `retry_after_ms` of a 429."""

    def __init__(self, initial: float, maximum: float) -> None:
        super().__init__(multiplier=initial, max=maximum)

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = super().__call__(retry_state)
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, MatrixError) and exc.status_code == "M_LIMIT_EXCEEDED":
            wait = max(wait, (exc.retry_after_ms or 1000) / 1000)
        return wait


def policy(
    *,
    attempts: int | None,
    initial: float,
    maximum: float,
    never: frozenset[str] = frozenset(),
    sleep: Sleep = asyncio.sleep,
    what: str = "",
) -> AsyncRetrying:
    """Retry `MatrixError`s (except those whose status is in `never`); `attempts` None: until
    the caller stops. The last error is re-raised."""

    def retryable(exc: BaseException) -> bool:
        return isinstance(exc, MatrixError) and exc.status_code not in never

    def log(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        of = f"/{attempts - 1}" if attempts else ""
        logger.warning(
            "%s failed (%s), retry %d%s in %.1fs", what, exc, state.attempt_number, of, wait
        )

    return AsyncRetrying(
        stop=stop_after_attempt(attempts) if attempts else stop_never,
        wait=wait_backoff(initial, maximum),
        retry=retry_if_exception(retryable),
        sleep=sleep,
        before_sleep=log,
        reraise=True,
    )
