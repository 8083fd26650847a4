"""`guichet run` as a real process, SIGKILLed while it answers: after a restart the question
is answered exactly once (real Synapse, real sample store, the OpenAI test server as LLM)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from devtools.synapse import AgentFactory, unique

pytestmark = [pytest.mark.synapse, pytest.mark.slow, pytest.mark.asyncio(loop_scope="function")]


def start_bot(hs, bot_user, data_dir, store_dir, llm_url, agent_id, log):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    env.update(
        GUICHET_HOMESERVER_URL=hs.url,
        GUICHET_USER_ID=bot_user.user_id,
        GUICHET_PASSWORD=bot_user.password,
        GUICHET_DATA_DIR=str(data_dir),
        GUICHET_STORE_DIR=str(store_dir),
        GUICHET_ALLOWED_USERS=agent_id,
        GUICHET_LLM_URL=llm_url,
        GUICHET_LLM_MODEL="guichet-test",
        GUICHET_LLM_API_KEY="test",
        GUICHET_LLM_TIMEOUT="30",
    )
    fh = open(log, "ab")  # noqa: SIM115
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "app", "run", "--log-level", "INFO"],
            env=env, stdout=fh, stderr=fh, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    finally:
        fh.close()


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


async def test_sigkill_while_answering_then_exactly_one_answer(
    synapse, sample_kb, openai_server, tmp_path
):
    bot_user = await asyncio.to_thread(synapse.register, unique("guichet"), "pw-bot")
    agents = AgentFactory(synapse, tmp_path / "agents")
    agent = await agents.new()
    data_dir = tmp_path / "bot"
    store_dir = sample_kb.settings.store_dir
    log = tmp_path / "bot.log"
    proc = start_bot(
        synapse, bot_user, data_dir, store_dir, openai_server.base_url, agent.user_id, log
    )
    try:
        room = await agent.dm(bot_user.user_id, wait_s=120)
        ready = await agent.ask(room, "Quel est le montant du Smic ?", wait_s=120)
        assert ready.msgtype == "m.text"

        openai_server.latency = 20.0  # the LLM hangs: the bot is mid-answer
        calls_before = openai_server.count(path="/v1/chat/completions")
        asked = await agent.send(room, "Comment faire une première demande de passeport ?")
        deadline = time.monotonic() + 30
        while openai_server.count(path="/v1/chat/completions") == calls_before:
            assert time.monotonic() < deadline, "the bot never called the LLM"
            await asyncio.sleep(0.1)
        kill(proc)
        assert agent.replies_to(asked) == []

        openai_server.latency = 0.0
        proc = start_bot(
            synapse, bot_user, data_dir, store_dir, openai_server.base_url, agent.user_id, log
        )
        replies = await agent.wait_reply(asked, wait_s=120)
        assert replies[0].msgtype == "m.text"
        # Kill again right after, restart: the answered question is not answered twice.
        kill(proc)
        proc = start_bot(
            synapse, bot_user, data_dir, store_dir, openai_server.base_url, agent.user_id, log
        )
        after = await agent.ask(room, "Comment acheter un timbre fiscal ?", wait_s=120)
        assert after.msgtype == "m.text"
        await asyncio.sleep(1.0)
        assert len(agent.replies_to(asked)) == 1
        assert len(agent.replies_to(ready.reply_to)) == 1
    finally:
        kill(proc)
        await agents.close()
