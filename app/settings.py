"""Every settings class of Guichet, and the check of the environment against them.

`SETTINGS` names the one settings model of each package (deploy/gen_env_example.py documents
them in deploy/env.example, in this order). `unknown_variables()` lists the `GUICHET_*`
variables (environment and `.env`) that no settings class and no tool reads: a typo there is
otherwise silently ignored, so `guichet run` warns about each one at start.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic_settings import BaseSettings

logger = logging.getLogger(__name__)

PREFIX = "GUICHET_"

# (import path, class name, section title): the one settings model of each package.
SETTINGS = (
    ("knowledge.settings", "KnowledgeSettings", "Knowledge base: corpus, store, embeddings"),
    ("chains.settings", "ChainSettings", "Answer chain: LLM, retrieval, relevance gate"),
    ("bot.settings", "BotSettings", "Bot: Matrix/Tchap connection, behaviour, operations"),
)

# Variables read outside the settings classes (so not typos).
OTHER_VARIABLES = {
    "GUICHET_INGEST_INTERVAL_S": "deploy/compose.yaml's ingest loop",
    "GUICHET_CHAT_PASSWORD": "guichet chat --password",
    "GUICHET_MODEL_CACHE": "devtools.llamacpp (the test model's cache)",
    "GUICHET_BENCH_DATA": "bench/ (the full corpus)",
}
# GUICHET_TEST_*: the test suite's and CI's own variables (tests/, .ci/).
OTHER_PREFIXES = ("GUICHET_TEST_",)


def settings_classes() -> list[type[BaseSettings]]:
    return [getattr(importlib.import_module(module), name) for module, name, _ in SETTINGS]


def env_name(cls: type[BaseSettings], field: str) -> str:
    """The environment variable of one field (its alias, or prefix + name), upper case."""
    info = cls.model_fields[field]
    alias = info.validation_alias or info.alias
    if isinstance(alias, str):
        return alias.upper()
    prefix = cls.model_config.get("env_prefix", "")
    return f"{prefix}{field}".upper()


def known_variables() -> set[str]:
    """Every GUICHET_* variable some settings class or tool reads."""
    names = {env_name(cls, f) for cls in settings_classes() for f in cls.model_fields}
    return names | set(OTHER_VARIABLES)


def unknown_variables(
    environ: Mapping[str, str] | None = None, dotenv: Iterable[str] = ()
) -> list[str]:
    """The GUICHET_* names of `environ` (default os.environ) and `dotenv` nobody reads."""
    environ = os.environ if environ is None else environ
    known = known_variables()
    names = {n.upper() for n in (*environ, *dotenv) if n.upper().startswith(PREFIX)}
    return sorted(n for n in names if n not in known and not n.startswith(OTHER_PREFIXES))


def dotenv_names(path: Path = Path(".env")) -> list[str]:
    """The variable names of a `.env` file (none when there is no such file)."""
    if not path.is_file():
        return []
    from dotenv import dotenv_values

    return list(dotenv_values(path))


def warn_unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """Log a warning for each unknown GUICHET_* variable (with the closest known name)."""
    unknown = unknown_variables(environ, dotenv_names())
    known = sorted(known_variables())
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        logger.warning("%s is set but no setting has that name: it is ignored%s", name, hint)
    return unknown
