"""The LLM endpoint misbehaves (down, slow past the timeout, 429, 500, malformed JSON): the
agent gets a polite notice, retries are bounded, and other rooms keep being served.

Real Synapse, real bot (in-process), real chain over the real sample store, real HTTP fake
OpenAI server owned by this module (so it can be stopped and started again).
"""

from __future__ import annotations

import asyncio
import time

import pytest
import pytest_asyncio

from app.wiring import build_chain
from chains.llm import build_chat_model
from chains.settings import ChainSettings
from devtools.openai_server import FakeOpenAIServer
from devtools.synapse import BotEnv, make_bot_env
from tests.reliability.conftest import settle

pytestmark = [pytest.mark.synapse, pytest.mark.asyncio(loop_scope="module")]

TIMEOUT_S = 1.5
RETRIES = 1
QUESTION = "Quel est le montant du Smic ?"


class Llm:
    """The module's fake OpenAI server; `down()` / `up()` stop and restart it on its port."""

    def __init__(self) -> None:
        self.server = FakeOpenAIServer(slow_seconds=TIMEOUT_S * 3).start()
        self.port = self.server.port

    def down(self) -> None:
        self.server.stop()

    def up(self) -> None:
        self.server = FakeOpenAIServer(port=self.port, slow_seconds=TIMEOUT_S * 3).start()


@pytest.fixture(scope="module")
def llm():
    holder = Llm()
    yield holder
    holder.server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(synapse, bot_retriever, llm, tmp_path_factory) -> BotEnv:
    settings = ChainSettings(
        _env_file=None,
        llm_url=llm.server.base_url,
        llm_model="guichet-test",
        llm_timeout=TIMEOUT_S,
        llm_max_retries=RETRIES,
        llm_condense=False,
    )
    answerer = build_chain(bot_retriever, settings, build_chat_model(settings))
    env = await make_bot_env(synapse, tmp_path_factory.mktemp("llm-faults"), answerer)
    yield env
    await env.close()


CHAT = "/v1/chat/completions"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("429", "saturé"),
        ("500", "erreur de son côté"),
        ("malformed", "illisible"),
    ],
)
async def test_llm_error_gives_a_polite_notice_and_bounded_retries(env, dm, llm, mode, expected):
    agent, room = dm
    llm.server.reset()
    t0 = time.monotonic()
    reply = await agent.ask(room, f"{QUESTION} MODE_{mode.upper()}", wait_s=60)
    elapsed = time.monotonic() - t0
    assert reply.msgtype == "m.notice", reply.body
    assert reply.body.startswith("Désolé"), reply.body
    assert expected in reply.body
    assert "Réessayez" in reply.body
    calls = llm.server.count(path=CHAT, mode=mode)
    assert 1 <= calls <= RETRIES + 1, calls
    assert elapsed < 30
    await settle(1)
    assert len(agent.replies_to(reply.reply_to)) == 1


async def test_slow_llm_times_out_while_other_rooms_are_served(env, dm, llm):
    agent, room = dm
    other = await env.agents.new()
    other_room = await other.dm(env.bot_id)
    llm.server.reset()
    t0 = time.monotonic()
    slow = await agent.send(room, f"{QUESTION} MODE_SLOW")
    await asyncio.sleep(0.3)
    fast = await other.ask(other_room, "Comment faire une première demande de passeport ?")
    fast_at = time.monotonic() - t0
    assert fast.msgtype == "m.text", fast.body
    assert agent.replies_to(slow) == [], "the slow answer should still be pending"
    notice = (await agent.wait_reply(slow, wait_s=60))[0]
    slow_at = time.monotonic() - t0
    assert notice.msgtype == "m.notice"
    assert "pas répondu à temps (délai de 1,5 s dépassé)" in notice.body
    assert fast_at < slow_at
    # a timed-out generation is never retried: one request, one deadline
    assert llm.server.count(path=CHAT, mode="slow") == 1
    assert slow_at < TIMEOUT_S + 15


async def test_llm_down_then_back(env, dm, llm):
    agent, room = dm
    llm.down()
    try:
        notice = await agent.ask(room, QUESTION, wait_s=60)
        assert notice.msgtype == "m.notice"
        assert "joindre le service de rédaction" in notice.body
    finally:
        llm.up()
    answer = await agent.ask(room, QUESTION, wait_s=60)
    assert answer.msgtype == "m.text", answer.body
    assert "Smic" in answer.body
    assert llm.server.count(path=CHAT) == 1
