"""Fixtures of a real Synapse: the homeserver and the retriever the test bots answer from.

The helpers that drive it (agents, the bot runner) are in `devtools.synapse`, which the
benches use too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devtools.homeserver import LocalSynapse


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSynapse]:
    """One real Synapse for the whole session (SQLite, 127.0.0.1, a free port)."""
    hs = LocalSynapse(tmp_path_factory.mktemp("synapse"), encrypt_by_default="invite")
    hs.start()
    try:
        yield hs
    finally:
        hs.stop()


@pytest.fixture(scope="session")
def bot_retriever(request: pytest.FixtureRequest) -> Any:
    """The retriever the test bots answer from: the real sample store (tests.support.kb)."""
    return request.getfixturevalue("sample_retriever")
