"""A real Chroma server (`chroma run`) on 127.0.0.1, started once per session when needed.

`chroma_server_url` yields its base URL. With GUICHET_TEST_CHROMA_URL set, that server is
used instead and nothing is started.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devtools.chroma_server import ChromaProcess, wait_for_heartbeat
from devtools.net import free_port


@pytest.fixture(scope="session")
def chroma_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("GUICHET_TEST_CHROMA_URL")
    if external:
        wait_for_heartbeat(external.rstrip("/"), timeout=10.0)
        yield external.rstrip("/")
        return
    server = ChromaProcess(tmp_path_factory.mktemp("chroma-server") / "db", free_port())
    try:
        try:
            server.start(timeout=60.0)
        except RuntimeError as exc:
            pytest.fail(f"{exc}\n--- chroma log ---\n{server.log_path.read_text(errors='replace')}")
        yield server.url
    finally:
        server.stop(graceful=True)
