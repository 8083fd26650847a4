"""The one error base of the `bot` package, and its few specific kinds."""

from __future__ import annotations


class BotError(Exception):
    """Base of every error raised by the bot package."""


class ConfigError(BotError):
    """The settings or the data directory are not usable (named in the message)."""


class MatrixError(BotError):
    """The homeserver answered a request with an error (nio's ErrorResponse, turned into this)."""

    def __init__(
        self,
        what: str,
        status_code: str | None = None,
        message: str = "",
        retry_after_ms: int | None = None,
    ) -> None:
        self.what = what
        self.status_code = status_code
        self.message = message
        self.retry_after_ms = retry_after_ms
        super().__init__(f"{what} failed: {status_code or '?'} {message}".strip())


class StateError(BotError):
    """The bot's SQLite state could not be read or written."""
