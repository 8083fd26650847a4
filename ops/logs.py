"""Logging setup: one stderr handler, plain text or JSON lines, secrets redacted.

`setup_logging(level, json=...)` installs one handler on the root logger, with
`RedactSecrets`, a filter that masks access tokens, bearer tokens and API keys wherever they
would appear in a log line. Message bodies are never logged at INFO: the bot logs them only at
DEBUG, and `extra` fields named like a body (`body`, `question`, `answer`, `text`) are dropped
from any record above DEBUG by the formatters here.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Any

from pythonjsonlogger import json as jsonlogger


def secrets_of(*settings_objects: Any) -> list[Any]:
    """Every SecretStr value of the given settings objects (for `setup_logging(secrets=...)`)."""
    from pydantic import SecretStr

    found = []
    for obj in settings_objects:
        for name in type(obj).model_fields if obj is not None else ():
            value = getattr(obj, name, None)
            if isinstance(value, SecretStr):
                found.append(value)
    return found


_SECRET_PATTERNS = [
    # Synapse access/refresh tokens (syt_..., syr_...) and legacy MDA... tokens.
    re.compile(r"\bsy[tr]_[A-Za-z0-9_\-]{8,}"),
    # Authorization headers.
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=\-]{6,}"),
    # key=value / "key": "value" pairs with a secret-looking key.
    re.compile(
        r"(?i)(\b(?:access_token|refresh_token|api[_-]?key|password|secret|token|"
        r"registration_shared_secret)\b[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}]+"
    ),
    # OpenAI-style keys.
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
]
REDACTED = "***"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known secret values and anything that looks like a token in `text`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    for pattern in _SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


class RedactSecrets(logging.Filter):
    """Masks secrets in a record's message, arguments and exception text.

    `secrets` are exact values to mask (e.g. the configured access token and API key, given by
    the composition root); token-shaped strings are masked whatever they are.
    """

    def __init__(self, secrets: Iterable[Any] = ()) -> None:
        super().__init__()
        values = []
        for s in secrets:
            v = s.get_secret_value() if hasattr(s, "get_secret_value") else s
            if v:
                values.append(str(v))
        self.secrets = tuple(values)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg = redact(message, self.secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        for key in list(vars(record)):
            if key not in _STANDARD_ATTRS and isinstance(getattr(record, key), str):
                setattr(record, key, redact(getattr(record, key), self.secrets))
        return True


# Fields that carry message content: dropped from every record above DEBUG.
BODY_FIELDS = frozenset({"body", "question", "answer", "text", "content", "formatted_body"})

_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "taskName"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    extras = {}
    for key, value in vars(record).items():
        if key in _STANDARD_ATTRS or key.startswith("_"):
            continue
        if key in BODY_FIELDS and record.levelno > logging.DEBUG:
            continue
        extras[key] = value
    return extras


class JsonFormatter(jsonlogger.JsonFormatter):
    """One JSON object per line (python-json-logger): ts, level, logger, message, the record's
    extras (message bodies dropped above DEBUG), exc (as `RedactSecrets` left it)."""

    def __init__(self) -> None:
        super().__init__(
            "{levelname}{name}{message}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger", "exc_info": "exc"},
            timestamp="ts",
            json_ensure_ascii=False,
        )

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict):
        super().add_fields(log_data, record, message_dict)
        if record.exc_text and "exc" in log_data:
            log_data["exc"] = record.exc_text  # redacted by RedactSecrets (exc_info is not)
        for key in list(log_data):
            if key.startswith("_") or (key in BODY_FIELDS and record.levelno > logging.DEBUG):
                del log_data[key]


class PlainFormatter(logging.Formatter):
    """`time level logger: message key=value ...` (extras appended, bodies dropped above DEBUG)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = _extras(record)
        if extras:
            tail = " ".join(f"{k}={v}" for k, v in extras.items())
            first, sep, rest = line.partition("\n")
            line = f"{first} [{tail}]{sep}{rest}"
        return line


NOISY_LOGGERS = ("nio", "httpx", "httpcore", "chromadb", "aiohttp.access", "peewee", "urllib3")


def setup_logging(
    level: str | int = "INFO",
    json: bool = False,
    *,
    secrets: Iterable[Any] = (),
    stream: Any = None,
) -> logging.Handler:
    """Configure the root logger once: one handler on `stream` (stderr), redacting secrets.

    Calling it again replaces the handler it installed before (idempotent). Chatty libraries
    (nio, httpx, chromadb, ...) are kept at WARNING unless `level` is DEBUG. Returns the handler.
    """
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else int(level)
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}: use DEBUG, INFO, WARNING or ERROR")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_guichet", False):
            root.removeHandler(handler)
            handler.close()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler._guichet = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if json else PlainFormatter())
    handler.addFilter(RedactSecrets(secrets))
    root.addHandler(handler)
    root.setLevel(numeric)
    library_level = logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(library_level)
    logging.captureWarnings(True)
    return handler
