"""Fixtures of the fake OpenAI-compatible server (`devtools.openai_server`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.openai_server import FakeOpenAIServer


@pytest.fixture(scope="session")
def openai_server_session() -> Iterator[FakeOpenAIServer]:
    """One fake OpenAI server for the whole session (started on first use)."""
    server = FakeOpenAIServer(slow_seconds=3.0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def openai_server(openai_server_session: FakeOpenAIServer) -> FakeOpenAIServer:
    """The session's fake OpenAI server, with mode, latency and request counts reset.

    `openai_server.base_url` ("http://127.0.0.1:PORT/v1"), `.set_mode("429")`,
    `.count(path="/v1/chat/completions", mode="429")`, `.latency = 1.0`.
    """
    openai_server_session.reset()
    openai_server_session.latency = 0.0
    return openai_server_session
