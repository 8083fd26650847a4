"""GuichetBot's behaviour over a recording fake of its Matrix port: milliseconds, no homeserver.

The same behaviours run against a real Synapse in tests/integration/test_bot_*.py; here each
one is checked on what the bot sends (content, relations, transaction IDs) and how it retries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.errors import MatrixError
from bot.service import GuichetBot
from bot.settings import BotSettings
from bot.state import State
from bot.texts import NOTICES
from chains.models import Answer, AnswerRequest, Source
from tests.unit.bot.fake_matrix import BOT, RecordingMatrix, encrypted, text

DM = "!dm:test"
TEAM = "!team:test"
AGENT = "@agent:test"


class FakeAnswerer:
    """The chain's boundary: records each request, answers with one cited fiche."""

    def __init__(self) -> None:
        self.requests: list[AnswerRequest] = []

    async def answer(self, request: AnswerRequest) -> Answer:
        self.requests.append(request)
        source = Source(
            n=1,
            fiche_id="F1342",
            title="Passeport",
            url="https://www.service-public.fr/particuliers/vosdroits/F1342",
        )
        return Answer(status="answered", text="Voici la démarche [1].", sources=[source])


class Harness:
    def __init__(self, bot: GuichetBot, matrix: RecordingMatrix, answerer: FakeAnswerer) -> None:
        self.bot = bot
        self.matrix = matrix
        self.answerer = answerer
        self.sleeps: list[float] = []

    @staticmethod
    def now_ms() -> int:
        return int(time.time() * 1000)

    async def settle(self) -> list:
        """Wait until every pushed event is handled (its tasks done); returns what was sent."""
        async with asyncio.timeout(2):
            while not (self.matrix.idle and not self.bot._tasks):  # noqa: ASYNC110
                await asyncio.sleep(0.002)  # the bot's SQLite writes run in a thread
        return self.matrix.sent


@pytest.fixture
def make_bot(tmp_path: Path) -> Callable[..., AsyncIterator[Harness]]:
    """A running bot over the fake (DM: !dm:test); settings overridable per test."""

    async def make(**overrides: object) -> AsyncIterator[Harness]:
        values = {
            "user_id": BOT,
            "data_dir": tmp_path / "bot",
            "allowed_homeservers": ["test"],
            "typing_delay_s": 60.0,
            "undecryptable_notice_delay_s": 0.2,
            **overrides,
        }
        settings = BotSettings(_env_file=None, **values)
        state = await State.open(tmp_path / "state.sqlite3")
        matrix = RecordingMatrix(dms={DM})
        answerer = FakeAnswerer()
        sleeps: list[float] = []

        async def no_wait(seconds: float) -> None:
            sleeps.append(seconds)

        bot = GuichetBot(settings, matrix, state, answerer, sleep=no_wait)
        harness = Harness(bot, matrix, answerer)
        harness.sleeps = sleeps
        task = asyncio.create_task(bot.run())
        try:
            async with asyncio.timeout(2):
                await bot.ready.wait()
            yield harness
        finally:
            bot.stop()
            await asyncio.wait_for(task, 5)
            await state.close()

    return make


@pytest.fixture
async def h(make_bot) -> AsyncIterator[Harness]:
    async for harness in make_bot():
        yield harness


async def test_dm_question_is_answered_in_the_room_naming_the_question(h: Harness):
    question = text("Comment renouveler un passeport ?", ts=h.now_ms())
    h.matrix.push((DM, question))
    [reply] = await h.settle()
    assert reply.room_id == DM
    assert reply.content["msgtype"] == "m.text"
    assert "m.relates_to" not in reply.content  # a DM answer is a plain message
    assert reply.content["m.mentions"] == {}
    assert reply.content["org.guichet.reply_to"] == question["event_id"]
    assert "service-public.fr/particuliers/vosdroits/F1342" in reply.content["formatted_body"]
    assert (reply.txn_id or "").startswith("guichet-")
    assert h.answerer.requests[0].question == "Comment renouveler un passeport ?"
    assert h.bot.state.is_processed(question["event_id"])


async def test_team_room_answers_only_a_mention_in_a_thread(h: Harness):
    plain = text("Réunion à 14 h au guichet de la mairie", ts=h.now_ms())
    mention = text(
        "Guichet : pièces pour une carte d'identité ?",
        ts=h.now_ms(),
        **{"m.mentions": {"user_ids": [BOT]}},
    )
    h.matrix.push((TEAM, plain), (TEAM, mention))
    [reply] = await h.settle()  # the plain message got nothing
    assert reply.content["org.guichet.reply_to"] == mention["event_id"]
    assert reply.content["m.relates_to"] == {
        "rel_type": "m.thread",
        "event_id": mention["event_id"],
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": mention["event_id"]},
    }
    assert reply.content["m.mentions"] == {"user_ids": [AGENT]}
    assert h.answerer.requests[0].question == "pièces pour une carte d'identité ?"


async def test_reply_to_an_answer_continues_in_its_thread(h: Harness):
    first = text("Guichet : passeport pour un mineur ?", ts=h.now_ms())
    h.matrix.push((TEAM, first))
    [answer] = await h.settle()
    follow_up = text(
        "> <@guichet:test> Voici la démarche\n\net s'il a 17 ans ?",
        ts=h.now_ms(),
        **{"m.relates_to": {"m.in_reply_to": {"event_id": answer.event_id}}},
    )
    h.matrix.push((TEAM, follow_up))
    second = (await h.settle())[1]
    assert second.content["m.relates_to"]["event_id"] == first["event_id"]  # the same thread
    assert second.content["org.guichet.reply_to"] == follow_up["event_id"]
    assert h.answerer.requests[1].question == "et s'il a 17 ans ?"
    assert [t.question for t in h.answerer.requests[1].history] == ["passeport pour un mineur ?"]


async def test_rate_limit_one_notice_then_silence(make_bot):
    async for h in make_bot(rate_limit_count=2, rate_limit_window_s=600):
        for i in range(4):
            h.matrix.push((DM, text(f"question {i}", ts=h.now_ms())))
            await h.settle()
        sent = h.matrix.sent
        assert len(sent) == 3  # two answers, one notice, nothing for the fourth
        assert len(h.answerer.requests) == 2
        notice = sent[2]
        assert notice.content["msgtype"] == "m.notice"
        assert "attendez environ" in notice.body


async def test_a_429_is_retried_after_its_delay_with_the_same_transaction(make_bot):
    async for h in make_bot():
        h.matrix.fail_sends = [
            MatrixError("send", "M_LIMIT_EXCEEDED", "Too Many Requests", retry_after_ms=2500),
            MatrixError("send", "network", "ClientConnectorError"),
        ]
        h.matrix.push((DM, text("renouveler un passeport", ts=h.now_ms())))
        [reply] = await h.settle()
        assert h.matrix.send_attempts == 3
        assert h.sleeps == [2.5, 1.0]  # retry_after_ms honoured, then the backoff goes on
        assert (reply.txn_id or "").endswith("-0")


async def test_forbidden_is_not_retried_and_the_event_is_retried_later(make_bot):
    async for h in make_bot(send_retries=5):
        h.matrix.fail_sends = [MatrixError("send", "M_FORBIDDEN", "not in room")]
        h.matrix.push((DM, text("renouveler un passeport", ts=h.now_ms())))
        [reply] = await h.settle()
        # The send gave up at once; the event's own retry (5 s later) answered it.
        assert h.matrix.send_attempts == 2
        assert h.sleeps == [5.0]
        assert reply.content["msgtype"] == "m.text"


async def test_undecryptable_dm_message_gets_one_notice_then_its_answer(h: Harness):
    first = encrypted(ts=h.now_ms(), session_id="s1")
    second = encrypted(ts=h.now_ms(), session_id="s1")
    h.matrix.push((DM, first))
    await h.settle()
    h.matrix.push((DM, second))
    [notice] = await h.settle()  # one notice per Megolm session
    assert notice.content["msgtype"] == "m.notice"
    assert notice.body == NOTICES["undecryptable"]
    assert notice.content["org.guichet.pending"] is True
    assert h.matrix.key_requests == [first["event_id"], second["event_id"]]
    assert not h.bot.state.is_processed(first["event_id"])

    h.matrix.decryptable[first["event_id"]] = text(
        "renouveler un passeport", ts=first["origin_server_ts"], event_id=first["event_id"]
    )
    h.matrix.push(room_keys_received=1)  # the keys arrive: the kept event is decrypted
    answer = (await h.settle())[1]
    assert answer.content["org.guichet.reply_to"] == first["event_id"]
    assert answer.content["msgtype"] == "m.text"


async def test_keys_arriving_within_the_grace_period_mean_no_notice(h: Harness):
    """A new DM's first message often comes a sync before its keys: answer, do not alarm."""
    event = encrypted(ts=h.now_ms(), session_id="s1")
    h.matrix.push((DM, event))
    h.matrix.decryptable[event["event_id"]] = text(
        "renouveler un passeport", ts=event["origin_server_ts"], event_id=event["event_id"]
    )
    h.matrix.push(room_keys_received=1)
    [answer] = await h.settle()
    assert answer.content["msgtype"] == "m.text"
    assert answer.content["org.guichet.reply_to"] == event["event_id"]
    assert not await h.bot.state.is_undecryptable(event["event_id"])


async def test_undecryptable_in_a_team_room_gets_no_notice(h: Harness):
    h.matrix.push((TEAM, encrypted(ts=h.now_ms())))
    assert await h.settle() == []
    assert len(h.matrix.key_requests) == 1
