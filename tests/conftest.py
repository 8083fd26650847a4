"""Fixtures shared by the whole suite live in tests/support/, one module per real service
(the servers themselves are in devtools/, which the benches use too):

- tests.support.kb: a real store built once from the bundled sample corpus
- tests.support.chroma_server: a real `chroma run` server on 127.0.0.1
- tests.support.openai_server: a real HTTP server speaking the OpenAI chat/embeddings protocol
- tests.support.synapse: a real Synapse homeserver (SQLite, 127.0.0.1)

Servers are started lazily (session scope), so a run that needs none starts none.

Every test starts without the developer's `GUICHET_*` settings (`clean_guichet_env`), so a
setting exported in a shell never changes what a test sees. Kept: `GUICHET_TEST_*` (the suite's
own knobs, set by CI or a developer: an external Chroma, LLM or llama.cpp server, the image
steps) and `GUICHET_MODEL_CACHE` (where the test model is cached).
"""

import os
from collections.abc import Iterator

import pytest

KEPT_PREFIXES = ("GUICHET_TEST_", "GUICHET_MODEL_CACHE")

pytest_plugins = [
    "tests.support.kb",
    "tests.support.chroma_server",
    "tests.support.openai_server",
    "tests.support.synapse",
]


def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("GUICHET_") and not name.startswith(KEPT_PREFIXES):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True, scope="session")
def clean_guichet_env_session() -> Iterator[None]:
    """The session's fixtures (sample store, servers) see no outside GUICHET_* setting either."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _clean(monkeypatch)
        yield


@pytest.fixture(autouse=True)
def clean_guichet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GUICHET_* setting from outside the test (GUICHET_TEST_* and the model cache kept)."""
    _clean(monkeypatch)
