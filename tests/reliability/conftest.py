"""Fixtures of the reliability suite (issue 6): the bot as a real `guichet run` process,
a tiny real store built by `guichet ingest`, Chroma servers this suite starts and stops
itself, and small HTTP servers that count hits.

Shared services come from tests/support (session Synapse, fake OpenAI server class, agents);
`guichet` as a child process comes from devtools.process, which the benches use too.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import pytest_asyncio

from devtools.chroma_server import ChromaProcess
from devtools.net import free_port
from devtools.process import GuichetProcess, copy_fiches, ingest_cli
from devtools.synapse import AgentFactory


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real embedded store (USE embeddings) of TINY_FICHES, built by `guichet ingest`.

    Only `guichet run` subprocesses open it (one at a time): never this test process.
    """
    base = tmp_path_factory.mktemp("tiny-store")
    inputs = copy_fiches(base / "in")
    store = base / "store"
    proc = ingest_cli(store, [inputs], cwd=base)
    assert proc.returncode == 0, proc.stderr
    return store


# ------------------------------------------------------------------ the bot as a process


@pytest.fixture
def processes() -> Iterator[list[GuichetProcess]]:
    """Every `guichet run` a test starts; all stopped at the end."""
    started: list[GuichetProcess] = []
    yield started
    for p in started:
        with contextlib.suppress(Exception):
            p.stop(timeout=15)


# ------------------------------------------------------------------ Chroma we own


@pytest.fixture(scope="module")
def own_chroma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaProcess]:
    base = tmp_path_factory.mktemp("own-chroma")
    server = ChromaProcess(base / "db", free_port()).start()
    try:
        yield server
    finally:
        server.stop()


# ------------------------------------------------------------------ a server that counts hits


class HitCounter:
    """A tiny HTTP server on 127.0.0.1 recording every request it gets."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append((self.command, self.path, time.time()))
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(b"<html><title>piege</title></html>")

            do_HEAD = do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> HitCounter:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


async def settle(seconds: float) -> None:
    """Leave time for a duplicate to show up before asserting there is none."""
    await asyncio.sleep(seconds)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def dm(env):
    """An agent and its encrypted DM with the bot of the module's `env` fixture."""
    return await env.new_dm()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def agents(synapse, tmp_path_factory, request) -> AsyncIterator[AgentFactory]:
    """Agents on the session's Synapse, for the tests that run the bot as a process."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    factory = AgentFactory(synapse, tmp_path_factory.mktemp(f"{name}-agents"))
    yield factory
    await factory.close()
