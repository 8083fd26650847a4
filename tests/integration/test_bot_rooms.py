"""The bot in team rooms, and access control, on a real Synapse."""

from __future__ import annotations

import pytest
import pytest_asyncio

from devtools.synapse import BotEnv

pytestmark = [pytest.mark.synapse, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def team(env: BotEnv):
    """An encrypted team room: two agents (two allowed domains) and the bot."""
    alice = await env.agents.new(domain="interieur.gouv.fr", name="alice")
    bob = await env.agents.new(domain="developpement-durable.gouv.fr", name="bob")
    room = await alice.create_room([env.bot_id, bob.user_id], name="Equipe")
    await bob.join(room)
    await alice.wait_member(room, env.bot_id)
    await alice.wait_member(room, bob.user_id)
    await bob.wait_member(room, env.bot_id)
    return alice, bob, room


async def test_team_room_message_without_mention_is_ignored(env: BotEnv, team):
    alice, _bob, room = team
    event_id = await alice.send(room, "Quelqu'un sait comment renouveler un passeport ?")
    await alice.assert_no_reply(event_id, wait=3.0)


async def test_mention_gets_an_answer_in_a_thread_and_follow_up_continues(env: BotEnv, team):
    alice, bob, room = team
    pill = f'<a href="https://matrix.to/#/{env.bot_id}">Guichet</a> : premier passeport majeur ?'
    asked = await alice.send(
        room, "Guichet : premier passeport majeur ?", formatted=pill, mentions=[env.bot_id]
    )
    reply = (await alice.wait_reply(asked))[0]
    assert reply.thread_root == asked
    assert reply.msgtype == "m.text"
    # A follow-up in that thread, without mention, by another agent: same conversation.
    follow = await bob.send(room, "Et pour un mineur ?", thread_root=asked)
    follow_reply = (await bob.wait_reply(follow))[0]
    assert follow_reply.thread_root == asked
    history = await env.runner.bot.state.history(f"{room}|{asked}", turns=5, idle_s=3600)
    assert [t.question for t in history] == ["premier passeport majeur ?", "Et pour un mineur ?"]
    # A message in some other thread of the room stays ignored.
    other_root = await alice.send(room, "Réunion demain ?")
    other = await bob.send(room, "Oui à 10 h", thread_root=other_root)
    await bob.assert_no_reply(other, wait=2.0)


async def test_display_name_in_body_is_a_mention(env: BotEnv, team):
    alice, _bob, room = team
    asked = await alice.send(room, "guichet, quel est le montant du Smic ?")
    reply = (await alice.wait_reply(asked))[0]
    assert reply.thread_root == asked
    assert "Smic" in reply.body


async def test_reply_to_an_answer_is_a_question(env: BotEnv, team):
    alice, bob, room = team
    asked = await alice.send(room, "Guichet timbre fiscal passeport ?", mentions=[env.bot_id])
    answer = (await alice.wait_reply(asked))[0]
    # A rich reply to the answer (outside the thread), with the legacy fallback quote.
    body = f"> <{env.bot_id}> {answer.body.splitlines()[0]}\n\nEt en ligne ?"
    follow = await bob.send(room, body, reply_to=answer.event_id)
    follow_reply = (await bob.wait_reply(follow))[0]
    assert follow_reply.thread_root == asked  # continues in the answer's thread
    history = await env.runner.bot.state.history(f"{room}|{asked}", turns=5, idle_s=3600)
    assert history[-1].question == "Et en ligne ?"


async def test_command_in_team_room_without_mention(env: BotEnv, team):
    alice, _bob, room = team
    asked = await alice.send(room, "!aide")
    reply = (await alice.wait_reply(asked))[0]
    assert reply.msgtype == "m.notice"
    assert reply.thread_root == asked
    assert "!sources" in reply.body


async def test_notices_and_edits_are_never_answered(env: BotEnv, team):
    alice, _bob, room = team
    notice = await alice.send(room, "Guichet : notice d'un autre bot", msgtype="m.notice")
    original = await alice.send(room, "bonjour")
    edit = await alice.edit(room, original, "Guichet passeport ?")
    await alice.assert_no_reply(notice, wait=2.0)
    assert alice.replies_to(edit) == []


async def test_message_from_outside_the_allowlist_is_ignored(env: BotEnv, team):
    alice, _bob, room = team
    outsider = await env.agents.new(domain="gmail.com", name="eve")
    await alice.client.room_invite(room, outsider.user_id)
    await outsider.wait_until(lambda: True)
    await outsider.join(room)
    await outsider.wait_member(room, env.bot_id)
    asked = await outsider.send(room, "Guichet : passeport ?", mentions=[env.bot_id])
    await outsider.assert_no_reply(asked, wait=3.0)


async def test_invite_from_outside_the_allowlist_is_declined(env: BotEnv):
    for domain, name in (("gmail.com", "mallory"), ("gouv.fr.evil.com", "lookalike")):
        outsider = await env.agents.new(domain=domain, name=name)
        room = await outsider.create_room([env.bot_id], dm=True)

        def bot_left(room=room, outsider=outsider) -> bool:
            r = outsider.client.rooms.get(room)
            return bool(r) and env.bot_id not in r.users

        def bot_invited(room=room, outsider=outsider) -> bool:
            r = outsider.client.rooms.get(room)
            return bool(r) and env.bot_id in r.invited_users

        await outsider.wait_until(lambda: not bot_invited(), wait_s=20)
        assert bot_left()
        assert room not in env.runner.bot.matrix.joined_room_ids()


async def test_team_room_history_from_before_the_invite_is_not_answered(env: BotEnv):
    """Invited into a room with a past, the bot answers what comes after the invite only."""
    carol = await env.agents.new(name="carol")
    dave = await env.agents.new(name="dave")
    # Unencrypted: the old message is readable by the bot, only the rule keeps it out.
    room = await carol.create_room([dave.user_id], name="Equipe ancienne", encrypted=False)
    await dave.join(room)
    pill = f'<a href="https://matrix.to/#/{env.bot_id}">Guichet</a> : montant du Smic ?'
    old = await carol.send(
        room, "Guichet : montant du Smic ?", formatted=pill, mentions=[env.bot_id]
    )
    await carol.client.room_invite(room, env.bot_id)
    await carol.wait_member(room, env.bot_id)
    new = await carol.send(
        room, "Guichet : montant du Smic ?", formatted=pill, mentions=[env.bot_id]
    )
    await carol.wait_reply(new)
    await carol.assert_no_reply(old, wait=2.0)
