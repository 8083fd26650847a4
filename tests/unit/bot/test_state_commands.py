"""SQLite state (exactly-once, memory, feedback) and the declarative commands."""

from __future__ import annotations

import pytest

from bot.commands import REGISTRY, Ask, CommandContext, Reply
from bot.state import AnswerRecord, State, feedback_value
from chains.models import Source


@pytest.fixture
async def state(tmp_path):
    st = await State.open(tmp_path / "state.sqlite3")
    yield st
    await st.close()


def record(event_id="$a1", question_event_id="$q1", conversation="!r", root=None, **kw):
    values = dict(
        event_id=event_id, room_id="!r", conversation=conversation, thread_root=root,
        question_event_id=question_event_id, sender="@u:x", question="Q ?", answer="R.",
        sources=[Source(n=1, fiche_id="F1", title="T", url="https://www.service-public.fr/x",
                        excerpt="extrait").model_dump()],
        status="answered", mode="question",
    )  # fmt: skip
    values.update(kw)
    return AnswerRecord(**values)


async def test_processed_and_token_survive_reopen(tmp_path):
    st = await State.open(tmp_path / "s.db")
    await st.mark_processed("$e1", "!r", "answered", sync_token="s42")
    await st.record_answer(record(root="$root"), remember=True)
    await st.close()
    st = await State.open(tmp_path / "s.db")
    try:
        assert st.is_processed("$e1")
        assert st.is_processed("$q1")
        assert not st.is_processed("$e2")
        assert await st.sync_token() == "s42"
        assert st.is_bot_answer("$a1")
        assert st.is_bot_thread("!r", "$root")
        assert st.thread_of_answer("!r", "$a1") == "$root"
    finally:
        await st.close()


async def test_memory_turns_idle_expiry_and_reset(state: State):
    for i in range(5):
        await state.record_answer(
            record(event_id=f"$a{i}", question_event_id=f"$q{i}", question=f"Q{i}"), remember=True
        )
    await state.record_answer(record(event_id="$other", conversation="!o"), remember=True)
    history = await state.history("!r", turns=3, idle_s=3600)
    assert [t.question for t in history] == ["Q2", "Q3", "Q4"]
    assert await state.history("!r", turns=3, idle_s=0) == []
    assert await state.reset("!r") == 5
    assert await state.history("!r", turns=3, idle_s=3600) == []
    assert len(await state.history("!o", turns=3, idle_s=3600)) == 1


@pytest.mark.parametrize(
    ("key", "expected"),
    [("👍", "up"), ("👍️", "up"), ("👍🏽", "up"), ("👎", "down"), ("+1", "up"), (":-1:", "down"),
     ("🎉", None), ("down", None)],
)  # fmt: skip
def test_reaction_keys_read_as_feedback(key, expected):
    assert feedback_value(key) == expected


async def test_feedback_only_on_our_answers(state: State):
    await state.record_answer(record(), remember=False)
    assert await state.record_feedback("$r1", "$a1", "!r", "@u:x", "👍") == "up"
    assert await state.record_feedback("$r2", "$unknown", "!r", "@u:x", "👍") is None
    assert await state.record_feedback("$r3", "$a1", "!r", "@u:x", "🎉") is None
    rows = await state.feedback_rows()
    assert len(rows) == 1
    assert rows[0]["question"] == "Q ?"
    assert rows[0]["sources"][0]["fiche_id"] == "F1"
    assert feedback_value("👎🏽") == "down"


async def test_undecryptable_queue(state: State):
    assert await state.add_undecryptable("$e", "!r", "s1", "@u:x", {"type": "m.room.encrypted"})
    assert not await state.add_undecryptable("$e", "!r", "s1", "@u:x", {})
    assert not await state.session_notified("!r", "s1")
    await state.set_notified("$e")
    assert await state.session_notified("!r", "s1")
    assert [e for e, _, _ in await state.pending_undecryptable()] == ["$e"]
    await state.drop_undecryptable("$e")
    assert await state.pending_undecryptable() == []


def ctx(state, args="", admin=False, conversation="!r"):
    return CommandContext(
        conversation=conversation, room_id="!r", sender="@u:x", args=args, is_admin=admin,
        prefix="!", brouillon_marker=">>", state=state,
    )  # fmt: skip


async def test_help_is_generated_from_declarations(state: State):
    reply = await REGISTRY.run("aide", ctx(state))
    assert isinstance(reply, Reply)
    for spec in REGISTRY.specs.values():
        assert (f"`!{spec.name}" in reply.text) != spec.admin
    admin_help = await REGISTRY.run("help", ctx(state, admin=True))
    assert "`!stats`" in admin_help.text
    assert "`>>`" in reply.text


async def test_unknown_command_gets_help_and_admin_only(state: State):
    unknown = await REGISTRY.run("nimporte", ctx(state))
    assert "Commande inconnue" in unknown.text
    assert "`!aide`" in unknown.text
    refused = await REGISTRY.run("stats", ctx(state))
    assert "réservée" in refused.text
    allowed = await REGISTRY.run("stats", ctx(state, admin=True))
    assert "answers" in allowed.text


async def test_brouillon_mode_sources_reset(state: State):
    assert await REGISTRY.run("brouillon", ctx(state, args="Bonjour")) == Ask(
        "Bonjour", "brouillon"
    )
    assert isinstance(await REGISTRY.run("brouillon", ctx(state)), Reply)
    await REGISTRY.run("mode", ctx(state, args="brouillon"))
    assert await state.mode("!r") == "brouillon"
    assert "inconnu" in (await REGISTRY.run("mode", ctx(state, args="xyz"))).text
    assert "Aucune source" in (await REGISTRY.run("sources", ctx(state))).text
    await state.record_answer(record(), remember=True)
    listing = (await REGISTRY.run("sources", ctx(state))).text
    assert "https://www.service-public.fr/x" in listing
    assert "extrait" in listing
    await REGISTRY.run("reset", ctx(state))
    assert await state.history("!r", turns=5, idle_s=3600) == []


def test_duplicate_command_names_are_refused():
    from bot.commands import CommandRegistry

    reg = CommandRegistry()

    @reg.command("a", help="x")
    async def a(ctx):
        return Reply("a")

    with pytest.raises(ValueError, match="declared twice"):

        @reg.command("b", aliases=("a",), help="y")
        async def b(ctx):
            return Reply("b")

    assert reg.lookup("a").name == "a"
