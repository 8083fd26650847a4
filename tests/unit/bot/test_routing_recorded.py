"""The routing policy on events recorded from a real Synapse (data/recorded_events.json,
written by `python -m devtools.record_events`): what a real nio client receives, not what we
think it receives. The hand-written cases (Tchap IDs, odd pills) are in test_routing.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.events import Reaction, TextMessage, Undecryptable, from_source
from bot.routing import Command, Ignore, Notice, Policy, Question, RoomInfo, route

DATA = json.loads(
    (Path(__file__).parent / "data" / "recorded_events.json").read_text(encoding="utf-8")
)
EVENTS = DATA["events"]
BOT = DATA["bot_user_id"]
POLICY = Policy(bot_user_id=BOT, display_name=DATA["bot_display_name"])


class Known:
    """The bot's past as its state store would answer: its two recorded answers."""

    def __init__(self) -> None:
        team_answer = EVENTS["team_answer"]["event"]
        self.threads = {  # answer event → its thread root (None in the DM)
            EVENTS["dm_answer"]["event"]["event_id"]: None,
            team_answer["event_id"]: team_answer["content"]["m.relates_to"]["event_id"],
        }

    def is_bot_answer(self, event_id: str) -> bool:
        return event_id in self.threads

    def is_bot_thread(self, room_id: str, root: str) -> bool:
        return root in self.threads.values()

    def thread_of_answer(self, room_id: str, answer_event_id: str) -> str | None:
        return self.threads.get(answer_event_id)


def decide(name: str):
    recorded = EVENTS[name]
    kind = recorded["room"]
    room = RoomInfo(DATA["rooms"][kind], is_dm=kind == "dm", joined_ts=DATA["bot_joined_ts"][kind])
    event = from_source(room.room_id, recorded["event"])
    return route(event, room, POLICY, Known(), now_ms=event.ts + 5_000)


def event_id(name: str) -> str:
    return EVENTS[name]["event"]["event_id"]


def test_the_recording_is_real_and_complete():
    for name, recorded in EVENTS.items():
        joined = DATA["bot_joined_ts"][recorded["room"]]
        assert joined <= recorded["event"]["origin_server_ts"], name  # sent after the join
        assert recorded["event"]["event_id"].startswith("$"), name
        assert recorded["event"]["origin_server_ts"] > 1_700_000_000_000, name


@pytest.mark.parametrize(
    ("name", "text", "mode"),
    [
        ("dm_text", "Comment renouveler un passeport ?", None),
        ("dm_brouillon_marker", "Bonjour, je n'ai toujours pas reçu ma carte grise.", "brouillon"),
    ],
)
def test_dm_messages_are_questions_in_the_room(name, text, mode):
    d = decide(name)
    assert isinstance(d, Question)
    assert (d.text, d.mode) == (text, mode)
    assert d.target.thread_root is None
    assert d.target.conversation == DATA["rooms"]["dm"]


def test_dm_command():
    d = decide("dm_command")
    assert isinstance(d, Command)
    assert (d.name, d.args) == ("sources", "")


@pytest.mark.parametrize(("name", "kind"), [("dm_image", "image"), ("dm_sticker", "autocollant"),
                                            ("dm_poll", "sondage")])  # fmt: skip
def test_what_the_bot_cannot_read_gets_a_notice(name, kind):
    d = decide(name)
    assert isinstance(d, Notice)
    assert (d.kind, d.detail) == ("non_text", kind)


@pytest.mark.parametrize(
    "name", ["dm_edit", "dm_redaction", "dm_notice_other_bot", "dm_own", "dm_answer"]
)
def test_never_answered(name):
    assert isinstance(decide(name), Ignore)


def test_reaction_on_an_answer_is_feedback_not_a_message():
    recorded = EVENTS["dm_reaction"]
    event = from_source(DATA["rooms"]["dm"], recorded["event"])
    assert isinstance(event, Reaction)
    assert (event.target, event.key) == (event_id("dm_answer"), "👍")
    assert isinstance(decide("dm_reaction"), Ignore)


def test_a_message_whose_key_is_withheld_is_undecryptable():
    event = from_source(DATA["rooms"]["dm"], EVENTS["dm_encrypted"]["event"])
    assert isinstance(event, Undecryptable)
    assert event.session_id


def test_the_bots_own_answer_names_the_question():
    event = from_source(DATA["rooms"]["dm"], EVENTS["dm_answer"]["event"])
    assert isinstance(event, TextMessage)
    assert event.guichet_reply_to == event_id("dm_text")


@pytest.mark.parametrize(
    "name", ["team_plain", "team_common_word", "team_reply_to_human", "team_answer"]
)
def test_team_room_messages_not_for_the_bot_are_ignored(name):
    assert isinstance(decide(name), Ignore)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("team_pill", "quelles pièces pour une carte d'identité ?"),
        ("team_name_addressed", "combien coûte un passeport ?"),
    ],
)
def test_a_mention_is_a_question_in_a_new_thread(name, text):
    d = decide(name)
    assert isinstance(d, Question)
    assert d.text == text
    assert d.target.thread_root == event_id(name)


def test_team_command_without_mention():
    d = decide("team_command")
    assert isinstance(d, Command)
    assert d.name == "aide"


def test_thread_follow_up_and_reply_to_an_answer_continue_the_answers_thread():
    root = event_id("team_pill")
    follow_up = decide("team_thread_followup")
    assert isinstance(follow_up, Question)
    assert follow_up.text == "et pour un enfant de 12 ans ?"
    assert follow_up.target.thread_root == root
    reply = decide("team_reply_to_answer")
    assert isinstance(reply, Question)
    assert reply.text == "merci, et le délai ?"  # the reply fallback is not the question
    assert reply.target.thread_root == root
    assert reply.target.conversation == follow_up.target.conversation
