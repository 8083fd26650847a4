"""The bot over an OpenAI-compatible LLM (the real test server): failures become polite
notices, and a slow or failing answer never blocks another room."""

from __future__ import annotations

import asyncio
import time

import pytest
import pytest_asyncio

from devtools.synapse import BotEnv, make_bot_env

pytestmark = [pytest.mark.synapse, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(synapse, bot_retriever, openai_server_session, tmp_path_factory) -> BotEnv:
    from app.wiring import build_chain
    from chains.settings import ChainSettings

    openai_server_session.reset()
    settings = ChainSettings(
        _env_file=None,
        llm_url=openai_server_session.base_url,
        llm_model="guichet-test",
        llm_api_key="test-key",
        llm_timeout=1.5,
        llm_max_retries=1,
    )
    answerer = build_chain(bot_retriever, settings)
    env = await make_bot_env(synapse, tmp_path_factory.mktemp("bot-llm"), answerer)
    yield env
    await env.close()


async def test_llm_answer(env: BotEnv):
    agent, room = await env.new_dm()
    reply = await agent.ask(room, "Comment faire une première demande de passeport ?")
    assert reply.msgtype == "m.text"
    assert "[1]" in reply.body
    assert "https://www.service-public." in reply.content["formatted_body"]


@pytest.mark.parametrize("mode", ["MODE_500", "MODE_429", "MODE_MALFORMED"])
async def test_llm_failure_gives_a_polite_notice(env: BotEnv, mode: str):
    agent, room = await env.new_dm()
    reply = await agent.ask(room, f"Passeport majeur première demande {mode}", wait_s=60)
    assert reply.msgtype == "m.notice"
    assert "Réessayez" in reply.body
    # ...and the bot keeps serving.
    after = await agent.ask(room, "Quel est le montant du Smic ?", wait_s=60)
    assert after.msgtype == "m.text"


async def test_a_slow_answer_does_not_block_another_room(env: BotEnv):
    slow_agent = await env.agents.new()
    fast_agent = await env.agents.new()
    slow_room = await slow_agent.dm(env.bot_id)
    fast_room = await fast_agent.dm(env.bot_id)
    slow_id = await slow_agent.send(slow_room, "Passeport majeur MODE_SLOW")
    await asyncio.sleep(0.3)
    t0 = time.monotonic()
    fast = await fast_agent.ask(fast_room, "Quel est le montant du Smic ?", wait_s=60)
    fast_s = time.monotonic() - t0
    assert fast.msgtype == "m.text"
    slow = (await slow_agent.wait_reply(slow_id, wait_s=60))[0]
    assert slow.msgtype == "m.notice"  # timed out → polite notice
    assert fast.source["origin_server_ts"] < slow.source["origin_server_ts"]
    assert fast_s < 3.0
