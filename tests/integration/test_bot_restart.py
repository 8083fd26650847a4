"""Exactly once, nothing lost: restarts, crashes mid-answer, catch-up, undecryptable events."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from chains.models import Answer, AnswerRequest
from devtools.synapse import BotEnv, bot_env_settings, extractive_answerer, make_bot_env

pytestmark = [pytest.mark.synapse, pytest.mark.asyncio(loop_scope="module")]


class GatedAnswerer:
    """The real chain, except that while `hold` is set, calls block (a hung LLM)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.hold = False
        self.entered = asyncio.Event()
        self.calls: list[str] = []

    async def answer(self, request: AnswerRequest) -> Answer:
        self.calls.append(request.question)
        if self.hold:
            self.entered.set()
            await asyncio.Event().wait()  # until cancelled by the crash
        return await self.inner.answer(request)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(synapse, bot_retriever, tmp_path_factory) -> BotEnv:
    answerer = GatedAnswerer(extractive_answerer(bot_retriever))
    env = await make_bot_env(synapse, tmp_path_factory.mktemp("bot-restart"), answerer)
    yield env
    await env.close()


def _set_settings(env: BotEnv, **overrides) -> None:
    env.runner.settings_factory = lambda: bot_env_settings(
        env.hs, env.bot_user, env.data_dir, **overrides
    )


async def test_restart_does_not_answer_twice(env: BotEnv):
    agent, room = await env.new_dm()
    asked = await agent.send(room, "Quel est le montant du Smic ?")
    await agent.wait_reply(asked)
    await env.runner.restart()
    second = await agent.ask(room, "Comment renouveler une carte d'identité d'un majeur ?")
    assert second.msgtype == "m.text"
    assert len(agent.replies_to(asked)) == 1


async def test_question_sent_while_down_is_answered_once(env: BotEnv):
    agent, room = await env.new_dm()
    await env.runner.stop()
    asked = await agent.send(room, "Comment acheter un timbre fiscal pour un passeport ?")
    await env.runner.start()
    replies = await agent.wait_reply(asked)
    assert replies[0].msgtype == "m.text"
    await env.runner.restart()
    await agent.assert_no_reply("nothing", wait=0)
    await asyncio.sleep(2.0)
    assert len(agent.replies_to(asked)) == 1


async def test_too_old_question_gets_one_notice(env: BotEnv):
    agent, room = await env.new_dm()
    await env.runner.stop()
    asked = await agent.send(room, "Question posée pendant la panne ?")
    await asyncio.sleep(2.5)
    _set_settings(env, catchup_max_age_s=1.0)
    try:
        await env.runner.start()
        reply = (await agent.wait_reply(asked))[0]
        assert reply.msgtype == "m.notice"
        assert "trop longtemps" in reply.body
    finally:
        _set_settings(env)
        await env.runner.restart()
    await asyncio.sleep(1.0)
    assert len(agent.replies_to(asked)) == 1


async def test_crash_while_answering_gives_exactly_one_answer_after_restart(env: BotEnv):
    agent, room = await env.new_dm()
    answerer: GatedAnswerer = env.runner.answerer
    answerer.hold = True
    answerer.entered.clear()
    asked = await agent.send(room, "Passeport d'un mineur : quelles pièces fournir ?")
    await asyncio.wait_for(answerer.entered.wait(), 20)
    await env.runner.kill()  # mid-answer: nothing sent, nothing marked
    answerer.hold = False
    assert agent.replies_to(asked) == []
    await env.runner.start()
    replies = await agent.wait_reply(asked)
    assert replies[0].msgtype == "m.text"
    await asyncio.sleep(2.0)
    assert len(agent.replies_to(asked)) == 1


async def test_crash_between_send_and_mark_does_not_duplicate(env: BotEnv):
    agent, room = await env.new_dm()
    state = env.runner.bot.state
    original = state.record_answer
    reached = asyncio.Event()

    async def hang(*args, **kwargs):
        reached.set()
        await asyncio.Event().wait()

    state.record_answer = hang
    asked = await agent.send(room, "Quel est le montant du Smic ?")
    await asyncio.wait_for(reached.wait(), 20)
    await agent.wait_reply(asked)  # the answer went out...
    await env.runner.kill()  # ...but the bot died before marking it processed
    state.record_answer = original
    await env.runner.start()
    await asyncio.sleep(3.0)
    assert len(agent.replies_to(asked)) == 1
    assert env.runner.bot.state.is_processed(asked)


async def test_undecryptable_message_notice_then_answer_when_keys_arrive(env: BotEnv):
    agent, room = await env.new_dm()
    asked, deliver = await agent.send_withholding_keys(room, "Quel est le montant du Smic ?")
    notice = (await agent.wait_reply(asked))[0]
    assert notice.msgtype == "m.notice"
    assert "déchiffrer" in notice.body
    await deliver()
    replies = await agent.wait_reply(asked, count=2)
    assert replies[1].msgtype == "m.text"
    assert "Smic" in replies[1].body
    await asyncio.sleep(1.0)
    assert len(agent.replies_to(asked)) == 2


async def test_synapse_restart_while_running(env: BotEnv):
    agent, room = await env.new_dm()
    await asyncio.to_thread(env.hs.restart)
    reply = await agent.ask(room, "Quel est le montant du Smic ?", wait_s=60)
    assert reply.msgtype == "m.text"


async def test_message_typed_into_a_new_dm_before_the_bot_joins_is_answered(env: BotEnv):
    """An agent opens a DM and types at once: the question predates the bot's join (here the
    bot is down), but not the invite, so it is for the bot."""
    agent = await env.agents.new()
    await env.runner.stop()
    room = await agent.create_room([env.bot_id], encrypted=True, dm=True)
    await agent.wait_devices(env.bot_id)  # Element encrypts for invited members too
    early = await agent.send(room, "Comment faire une première demande de passeport ?")
    await env.runner.start()
    replies = await agent.wait_reply(early, wait_s=45)
    assert len(replies) == 1
    assert replies[0].msgtype == "m.text", replies[0].body
    assert "https://www.service-public." in replies[0].content["formatted_body"]


async def test_question_buried_under_more_than_one_sync_of_chatter_is_answered(env: BotEnv):
    """While the bot is down, a team room gets a mention then 120 other messages: the sync
    after the restart is limited to 100 events, the bot fetches the older ones and answers."""
    erin = await env.agents.new(name="erin")
    fred = await env.agents.new(name="fred")
    room = await erin.create_room([env.bot_id, fred.user_id], name="Equipe bavarde")
    await fred.join(room)
    await erin.wait_member(room, env.bot_id)
    await erin.wait_member(room, fred.user_id)
    await env.runner.stop()
    pill = f'<a href="https://matrix.to/#/{env.bot_id}">Guichet</a> : montant du Smic ?'
    asked = await erin.send(room, "Guichet : montant du Smic ?", formatted=pill)
    chatter = [await fred.send(room, f"Message d'équipe n° {i}") for i in range(120)]
    await env.runner.start()
    replies = await erin.wait_reply(asked, wait_s=45)
    assert len(replies) == 1
    assert replies[0].msgtype == "m.text"
    assert replies[0].thread_root == asked
    await env.runner.restart()  # and not a second time after another restart
    after = await fred.send(room, "On se retrouve à 14 h ?")
    await asyncio.sleep(2.0)
    assert len(erin.replies_to(asked)) == 1
    # Still a team room after two restarts: chatter without a mention is never answered.
    assert [e for e in [*chatter, after] if erin.replies_to(e)] == []
