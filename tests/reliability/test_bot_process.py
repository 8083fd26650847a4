"""`guichet run` as a real process: SIGKILLed mid-answer, and its homeserver restarted under it.

Issue 6, faults: no lost question, no duplicated answer.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from devtools.openai_server import FakeOpenAIServer
from devtools.process import GuichetProcess, bot_env, dm_with_process
from devtools.synapse import unique
from tests.reliability.conftest import settle

pytestmark = [pytest.mark.synapse, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

LLM_LATENCY = 3.0  # seconds per chat answer: the window in which the bot is killed
QUESTION = "Quel est le montant du Smic ?"


@pytest.fixture(scope="module")
def slow_llm():
    with FakeOpenAIServer(latency=LLM_LATENCY) as server:
        yield server


@pytest.fixture(scope="module")
def shared():
    """The restarted bot of the first test, reused by the second (one start saved)."""
    state: dict = {"procs": []}
    yield state
    for proc in state["procs"]:
        proc.stop(timeout=15)


async def _start_bot(synapse, tmp_path, tiny_store, llm, processes, agent):
    bot_user = await asyncio.to_thread(synapse.register, unique("guichet"), "pw-bot")
    env = bot_env(
        synapse,
        bot_user,
        tmp_path / "data",
        tiny_store,
        llm_url=llm.base_url,
        llm_model="guichet-test",
        llm_timeout=20,
        llm_condense="false",  # one LLM call per answer, so the calls can be counted
    )
    bot = GuichetProcess(env, tmp_path / "run")
    processes.append(bot.start())
    room = await dm_with_process(agent, bot_user.user_id)  # joined: logged in and syncing
    return bot, bot_user, room, env


async def test_sigkill_while_answering_then_restart_answers_exactly_once(
    synapse, agents, tiny_store, slow_llm, processes, shared, tmp_path
):
    agent = await agents.new()
    bot, _, room, env = await _start_bot(synapse, tmp_path, tiny_store, slow_llm, processes, agent)
    warm = await agent.ask(room, "Comment renouveler une carte d'identité d'un majeur ?", wait_s=90)
    assert warm.msgtype == "m.text", warm.body
    slow_llm.reset()

    asked = await agent.send(room, QUESTION)
    deadline = time.monotonic() + 30
    while slow_llm.count(path="/v1/chat/completions") == 0:
        assert time.monotonic() < deadline, "the bot never called the LLM"
        await asyncio.sleep(0.05)
    bot.kill()  # SIGKILL while the LLM is still working on the answer
    assert bot.proc.returncode == -9
    await settle(LLM_LATENCY + 1)
    assert agent.replies_to(asked) == [], "an answer left before the kill"

    restarted = GuichetProcess(env, tmp_path / "run", name="bot-restarted")
    shared["procs"].append(restarted.start())
    replies = await agent.wait_reply(asked, wait_s=90)
    assert replies[0].msgtype == "m.text"
    assert "Smic" in replies[0].body
    await settle(4)
    assert len(agent.replies_to(asked)) == 1, [r.body[:80] for r in agent.replies_to(asked)]
    assert len(agent.replies_to(warm.reply_to)) == 1  # the earlier answer was not repeated
    # one LLM call cut by the kill, one after the restart: nothing more
    assert slow_llm.count(path="/v1/chat/completions") == 2
    assert "restored login" in restarted.log()  # same device: keys and token kept
    shared.update(bot=restarted, agent=agent, room=room)


async def test_synapse_restart_while_bot_runs_reconnects_and_answers(
    synapse, agents, tiny_store, slow_llm, processes, shared, tmp_path
):
    slow_llm.latency = 0.0
    try:
        if shared.get("bot") is not None and shared["bot"].alive():
            bot, agent, room = shared["bot"], shared["agent"], shared["room"]
        else:  # run on its own
            agent = await agents.new()
            bot, _, room, _ = await _start_bot(
                synapse, tmp_path, tiny_store, slow_llm, processes, agent
            )
        first = await agent.ask(room, QUESTION, wait_s=90)
        assert first.msgtype == "m.text"

        await asyncio.to_thread(synapse.stop)
        await asyncio.sleep(4)  # the bot's syncs fail meanwhile
        assert bot.alive()
        await asyncio.to_thread(synapse.start)
        # sent as soon as the homeserver is back, before the bot has reconnected
        asked = await agent.send(room, "Passeport d'un majeur : première demande, où aller ?")
        replies = await agent.wait_reply(asked, wait_s=90)
        assert replies[0].msgtype == "m.text"
        assert bot.alive(), "the bot had to be restarted"
        assert "sync failed" in bot.log()  # it saw the outage and recovered by itself
        await settle(3)
        assert len(agent.replies_to(asked)) == 1
        assert len(agent.replies_to(first.reply_to)) == 1
    finally:
        slow_llm.latency = LLM_LATENCY
