"""Fixtures of the chain unit tests: real fiche text behind a small in-memory retriever."""

from __future__ import annotations

import pytest

from chains.settings import ChainSettings
from tests.unit.chains.memory import MemoryRetriever, load_fiches


@pytest.fixture(scope="session")
def fiches() -> list[dict]:
    return load_fiches()


@pytest.fixture
def memory_retriever(fiches) -> MemoryRetriever:
    return MemoryRetriever(fiches=fiches, calls=[])


@pytest.fixture
def settings(monkeypatch) -> ChainSettings:
    for key in ("GUICHET_LLM_URL", "GUICHET_LLM_API_KEY", "GUICHET_LLM_MODEL"):
        monkeypatch.delenv(key, raising=False)
    return ChainSettings(_env_file=None)
