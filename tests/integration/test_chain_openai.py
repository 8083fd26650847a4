"""The full chain through langchain-openai against a real HTTP server on 127.0.0.1.

`openai_server` (devtools/openai_server.py) speaks the chat-completions protocol and
fails on demand. When GUICHET_TEST_LLM_URL points at a real OpenAI-compatible server
(GUICHET_TEST_LLM_MODEL, GUICHET_TEST_LLM_API_KEY optional), the `llm`-marked tests run the
normal paths against it as well.
"""

from __future__ import annotations

import os
import time

import pytest

from chains.answer import build_answer_chain
from chains.llm import build_chat_model
from chains.models import AnswerRequest, Turn
from chains.postcheck import allowed_urls, normalise_url, urls_in
from chains.settings import ChainSettings
from devtools.openai_server import FOREIGN_URL, INVENTED_AMOUNT
from tests.unit.chains.memory import MemoryRetriever, load_fiches

CHAT = "/v1/chat/completions"
QUESTION = "Combien coûte un passeport pour un majeur ?"


@pytest.fixture
def retriever(request):
    """The real sample store when tests/support/kb.py provides it, else real fiche text
    behind an in-memory retriever."""
    try:
        return request.getfixturevalue("sample_retriever")
    except pytest.FixtureLookupError:
        return MemoryRetriever(fiches=load_fiches(), calls=[])


def _settings(base_url: str, **kw) -> ChainSettings:
    values = {"llm_url": base_url, "llm_model": "guichet-test", "llm_timeout": 5.0}
    values.update(kw)
    return ChainSettings(_env_file=None, **values)


def _chain(retriever, settings: ChainSettings):
    return build_answer_chain(retriever, build_chat_model(settings), settings)


def _assert_traceable(answer):
    allowed = allowed_urls(answer.sources)
    for url in urls_in(answer.text):
        assert normalise_url(url) in allowed, url


@pytest.fixture
def no_tiktoken(monkeypatch):
    """Fail loudly if anything on the chat path asks tiktoken for an encoding."""
    import tiktoken

    def boom(*a, **k):
        raise AssertionError("tiktoken used on the chat path (it downloads encodings)")

    monkeypatch.setattr(tiktoken, "get_encoding", boom)
    monkeypatch.setattr(tiktoken, "encoding_for_model", boom)


async def test_normal_answer(openai_server, retriever, no_tiktoken):
    answer = await _chain(retriever, _settings(openai_server.base_url)).ainvoke(
        AnswerRequest(question=QUESTION)
    )
    assert answer.status == "answered", answer.text
    assert answer.generator == "openai"
    assert answer.sources
    assert answer.sources[0].cited
    assert "[1]" in answer.text
    assert f"« {answer.sources[0].title} »" in answer.text
    assert answer.sources[0].url in answer.text
    _assert_traceable(answer)
    assert answer.checks["urls_removed"] == 0
    assert answer.checks["citations_dropped"] == 0
    assert openai_server.count(path=CHAT) == 1
    assert answer.timings_ms["Generate"] > 0


async def test_brouillon_answer(openai_server, retriever):
    answer = await _chain(retriever, _settings(openai_server.base_url)).ainvoke(
        AnswerRequest(
            question="Bonjour, je suis majeur, combien coûte un passeport ? Cordialement.",
            mode="brouillon",
        )
    )
    assert answer.status == "answered"
    assert answer.text.startswith("Bonjour,")
    assert answer.text.endswith("Cordialement,")
    assert answer.mode == "brouillon"


async def test_followup_condensed_by_the_llm(openai_server, retriever):
    history = [Turn(question=QUESTION, answer="86 € [1]")]
    answer = await _chain(retriever, _settings(openai_server.base_url)).ainvoke(
        AnswerRequest(question="et pour un mineur ?", history=history)
    )
    assert answer.standalone_question == f"{QUESTION} (et pour un mineur ?)"
    assert openai_server.count(path=CHAT) == 2  # condense + answer
    assert answer.status == "answered"


async def test_slow_server_times_out_and_is_not_asked_again(openai_server, retriever):
    openai_server.set_mode("slow")
    s = _settings(openai_server.base_url, llm_timeout=0.5, llm_max_retries=2)
    t0 = time.perf_counter()
    answer = await _chain(retriever, s).ainvoke(AnswerRequest(question=QUESTION))
    elapsed = time.perf_counter() - t0
    assert answer.status == "error"
    assert answer.error == "timeout"
    assert "pas répondu à temps (délai de 0,5 s dépassé)" in answer.text
    # never retried: the server would compute the same prompt again
    assert openai_server.count(path=CHAT, mode="slow") == 1
    assert elapsed < 0.5 + 2.0  # the slow server would take 5 s, a retry 10 s


async def test_rate_limited_retries_are_bounded(openai_server, retriever):
    openai_server.set_mode("429")
    s = _settings(openai_server.base_url, llm_max_retries=2)
    answer = await _chain(retriever, s).ainvoke(AnswerRequest(question=QUESTION))
    assert answer.status == "error"
    assert answer.error == "rate_limited"
    assert "saturé" in answer.text
    assert openai_server.count(path=CHAT, mode="429") == 3


async def test_server_error(openai_server, retriever):
    s = _settings(openai_server.base_url, llm_model="guichet-test:500", llm_max_retries=1)
    answer = await _chain(retriever, s).ainvoke(AnswerRequest(question=QUESTION))
    assert answer.status == "error"
    assert answer.error == "server_error"
    assert openai_server.count(path=CHAT, mode="500") == 2


@pytest.mark.parametrize("mode", ["malformed", "empty"])
async def test_malformed_or_empty_response(openai_server, retriever, mode):
    s = _settings(openai_server.base_url, llm_max_retries=0)
    answer = await _chain(retriever, s).ainvoke(
        AnswerRequest(question=f"{QUESTION} MODE_{mode.upper()}")
    )
    assert answer.status == "error"
    assert answer.error == "malformed_response"
    assert answer.text.startswith("Désolé")


async def test_connection_refused(retriever, unused_tcp_port):
    s = _settings(f"http://127.0.0.1:{unused_tcp_port}/v1", llm_max_retries=1)
    answer = await _chain(retriever, s).ainvoke(AnswerRequest(question=QUESTION))
    assert answer.status == "error"
    assert answer.error == "connection"


async def test_invented_amount_is_flagged(openai_server, retriever):
    openai_server.set_mode("amount")
    answer = await _chain(retriever, _settings(openai_server.base_url)).ainvoke(
        AnswerRequest(question=QUESTION)
    )
    assert answer.status == "answered"
    assert answer.flagged == [INVENTED_AMOUNT]
    assert f"{INVENTED_AMOUNT} (à vérifier)" in answer.text
    assert answer.checks["figures_flagged"] == 1


async def test_foreign_url_is_removed(openai_server, retriever):
    openai_server.set_mode("foreign_url")
    answer = await _chain(retriever, _settings(openai_server.base_url)).ainvoke(
        AnswerRequest(question=QUESTION)
    )
    assert answer.status == "answered"
    assert FOREIGN_URL not in answer.text
    assert "example.com" not in answer.text
    assert answer.checks["urls_removed"] == 1
    _assert_traceable(answer)


async def test_unknown_citation_is_dropped(openai_server, retriever):
    openai_server.set_mode("bad_citation")
    answer = await _chain(retriever, _settings(openai_server.base_url)).ainvoke(
        AnswerRequest(question=QUESTION)
    )
    assert "[9]" not in answer.text
    assert answer.checks["citations_dropped"] == 1


async def test_out_of_scope_never_reaches_the_llm(openai_server, retriever):
    answer = await _chain(retriever, _settings(openai_server.base_url)).ainvoke(
        AnswerRequest(question="Quelle est la meilleure recette de tarte aux pommes ?")
    )
    assert answer.status == "no_source"
    assert openai_server.count(path=CHAT) == 0


def test_models_and_embeddings_endpoints(openai_server):
    import httpx

    models = httpx.get(f"{openai_server.base_url}/models").json()
    assert models["data"][0]["id"] == "guichet-test"
    body = {"model": "guichet-test-embed", "input": ["passeport", "passeport", "carte vitale"]}
    data = httpx.post(f"{openai_server.base_url}/embeddings", json=body).json()["data"]
    assert len(data) == 3
    assert data[0]["embedding"] == data[1]["embedding"]
    assert data[0]["embedding"] != data[2]["embedding"]
    assert abs(sum(v * v for v in data[0]["embedding"]) - 1) < 1e-6


# ---------------------------------------------------------------------- a real endpoint

REAL_URL = os.environ.get("GUICHET_TEST_LLM_URL", "")


@pytest.mark.llm
@pytest.mark.skipif(not REAL_URL, reason="GUICHET_TEST_LLM_URL is not set")
@pytest.mark.parametrize("mode", ["question", "brouillon"])
async def test_real_endpoint(retriever, mode):
    s = ChainSettings(
        _env_file=None,
        llm_url=REAL_URL,
        llm_model=os.environ.get("GUICHET_TEST_LLM_MODEL", "openweight-medium"),
        llm_api_key=os.environ.get("GUICHET_TEST_LLM_API_KEY") or None,
        llm_timeout=60,
    )
    q = QUESTION if mode == "question" else "Bonjour, combien coûte un passeport ? Merci"
    answer = await _chain(retriever, s).ainvoke(AnswerRequest(question=q, mode=mode))
    assert answer.status == "answered", answer.text
    assert any(s.cited for s in answer.sources), answer.text
    _assert_traceable(answer)


async def test_embeddings_through_the_openai_client(openai_server):
    import openai

    client = openai.AsyncOpenAI(base_url=openai_server.base_url, api_key="sk-test")
    try:
        resp = await client.embeddings.create(model="guichet-test-embed", input=["passeport"])
    finally:
        await client.close()
    vec = resp.data[0].embedding
    assert len(vec) == openai_server.embedding_dim
    assert abs(sum(v * v for v in vec) - 1) < 1e-4
    assert openai_server.count(path="/v1/embeddings") == 1


async def test_streaming_through_langchain(openai_server):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=openai_server.base_url, api_key="sk-test", model="guichet-test")
    parts = [chunk.content async for chunk in llm.astream("bonjour")]
    assert len(parts) > 2
    assert "".join(parts) == "Je ne trouve pas d'information dans les fiches fournies."
