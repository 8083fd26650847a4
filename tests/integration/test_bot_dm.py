"""The bot in direct messages, on a real Synapse, with the real extractive chain."""

from __future__ import annotations

import pytest
import pytest_asyncio

from devtools.synapse import BotEnv, extractive_answerer, make_bot_env, wait_for

pytestmark = [pytest.mark.synapse, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(synapse, bot_retriever, tmp_path_factory) -> BotEnv:
    env = await make_bot_env(
        synapse,
        tmp_path_factory.mktemp("bot-dm"),
        extractive_answerer(bot_retriever),
        rate_limit_count=6,
        rate_limit_window_s=600,
    )
    yield env
    await env.close()


async def test_encrypted_dm_question_gets_answer_with_sources(env: BotEnv):
    agent, room = await env.new_dm()
    assert agent.client.rooms[room].encrypted
    reply = await agent.ask(
        room, "Comment faire une première demande de passeport pour un majeur ?"
    )
    assert reply.sender == env.bot_id
    assert reply.msgtype == "m.text"
    assert "https://www.service-public." in reply.content["formatted_body"]
    assert "Brouillon à vérifier" in reply.body
    assert reply.thread_root is None  # a DM reply is a plain message


async def test_plain_dm_and_markdown_html_injection_is_inert(env: BotEnv):
    agent = await env.agents.new()
    room = await agent.dm(env.bot_id, encrypted=False)
    assert not agent.client.rooms[room].encrypted
    question = (
        'Passeport <script>alert("x")</script> <img src=x onerror=alert(1)> '
        "[clic](javascript:alert(1)) timbre fiscal ?"
    )
    reply = await agent.ask(room, question, formatted=question)
    html = reply.content["formatted_body"]
    assert "<script" not in html
    assert "<img" not in html
    assert "onerror" not in html.replace("onerror=alert(1)&gt;", "")
    assert "javascript:" not in html.split('href="')[-1] if 'href="' in html else True
    for href in html.split('href="')[1:]:
        assert href.startswith(("https://", "http://"))


async def test_commands_help_unknown_sources_reset_mode(env: BotEnv):
    agent, room = await env.new_dm()
    help_reply = await agent.ask(room, "!aide")
    assert help_reply.msgtype == "m.notice"
    for name in ("!aide", "!reset", "!sources", "!brouillon", "!mode"):
        assert name in help_reply.body
    assert "!stats" not in help_reply.body  # admin only
    unknown = await agent.ask(room, "!inconnue")
    assert "Commande inconnue" in unknown.body
    assert "!sources" in unknown.body

    none_yet = await agent.ask(room, "!sources")
    assert "Aucune source" in none_yet.body
    await agent.ask(room, "Quel est le montant du Smic ?")
    sources = await agent.ask(room, "!sources")
    assert "Sources de la dernière réponse" in sources.body
    assert "https://www.service-public." in sources.body
    assert "F2300" in sources.body
    reset = await agent.ask(room, "!reset")
    assert "oublié" in reset.body
    assert "Aucune source" in (await agent.ask(room, "!sources")).body

    mode = await agent.ask(room, "!mode")
    assert "question" in mode.body
    switched = await agent.ask(room, "!mode brouillon")
    assert "brouillon" in switched.body
    draft = await agent.ask(
        room, "Bonjour, mon fils de 12 ans a besoin d'un passeport, comment faire ?"
    )
    assert "citoyen" in draft.body or "usager" in draft.body or "Madame" in draft.body
    await agent.ask(room, "!mode question")


async def test_brouillon_command_and_marker(env: BotEnv):
    agent, room = await env.new_dm()
    by_cmd = await agent.ask(room, "!brouillon Bonjour, je veux renouveler ma carte d'identité.")
    assert by_cmd.msgtype == "m.text"
    assert "proposition de réponse au citoyen" in by_cmd.body
    by_marker = await agent.ask(room, ">> Bonjour, combien coûte le timbre fiscal du passeport ?")
    assert "proposition de réponse au citoyen" in by_marker.body
    empty = await agent.ask(room, "!brouillon")
    assert empty.msgtype == "m.notice"


async def test_stats_is_admin_only(env: BotEnv):
    agent, room = await env.new_dm()
    refused = await agent.ask(room, "!stats")
    assert "réservée aux administrateurs" in refused.body
    admin_room = await env.admin.dm(env.bot_id)
    stats = await env.admin.ask(admin_room, "!stats")
    assert "answers" in stats.body


async def test_file_gets_a_notice(env: BotEnv):
    agent, room = await env.new_dm()
    reply = await agent.ask(
        room, "scan.pdf", msgtype="m.file", extra={"url": "mxc://localhost/abc"}
    )
    assert reply.msgtype == "m.notice"
    assert "texte" in reply.body


async def test_two_rooms_memories_are_isolated(env: BotEnv):
    agent = await env.agents.new()
    room_a = await agent.dm(env.bot_id)
    room_b = await agent.dm(env.bot_id)
    await agent.ask(room_a, "Quel est le montant du Smic ?")
    await agent.ask(room_b, "Comment renouveler une carte d'identité d'un majeur ?")
    state = env.runner.bot.state
    hist_a = await state.history(room_a, turns=10, idle_s=3600)
    hist_b = await state.history(room_b, turns=10, idle_s=3600)
    assert [t.question for t in hist_a] == ["Quel est le montant du Smic ?"]
    assert [t.question for t in hist_b] == ["Comment renouveler une carte d'identité d'un majeur ?"]
    first_a = (await state.last_sources(room_a))[0]
    first_b = (await state.last_sources(room_b))[0]
    assert first_a.fiche_id == "F2300"
    assert first_b.fiche_id == "F21089"
    src_a = await agent.ask(room_a, "!sources")
    assert src_a.body.index("Smic") < src_a.body.index("2.") if "2." in src_a.body else True
    assert "1. [Smic" in src_a.body


async def test_reactions_are_stored_and_exported(env: BotEnv, tmp_path):
    from app.cli.matrix import feedback_lines

    agent, room = await env.new_dm()
    answer = await agent.ask(room, "Comment acheter un timbre fiscal pour un passeport ?")
    await agent.react(room, answer.event_id, "👍")
    other = await agent.ask(room, "Quel est le montant du Smic ?")
    await agent.react(room, other.event_id, "👎")
    state = env.runner.bot.state

    async def rows():
        return [r for r in await state.feedback_rows() if r["sender"] == agent.user_id]

    got = await wait_for(rows, lambda r: len(r) >= 2)
    assert [r["value"] for r in got] == ["up", "down"]
    assert "timbre" in got[0]["question"]
    assert got[0]["answer"]
    assert got[0]["sources"]
    jsonl = feedback_lines(got, "jsonl")
    assert jsonl.count("\n") == 2
    assert '"value": "up"' in jsonl
    csv_text = feedback_lines(got, "csv")
    assert csv_text.splitlines()[0].startswith("ts,value,")


async def test_rate_limit_gives_one_polite_notice(env: BotEnv):
    agent, room = await env.new_dm()
    ids = [await agent.send(room, f"Question {i} sur le passeport ?") for i in range(8)]
    await agent.wait_until(lambda: all(agent.replies_to(i) for i in ids[:7]), wait_s=40)
    bodies = [agent.replies_to(i)[0] for i in ids[:7]]
    answered = [r for r in bodies if r.msgtype == "m.text"]
    limited = [r for r in bodies if "beaucoup de questions" in r.body]
    assert len(answered) == 6
    assert len(limited) == 1
    await agent.assert_no_reply(ids[7], wait=2.0)  # no second notice within the window
