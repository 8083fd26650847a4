"""The routing policy on hand-written events (data/events.json: Tchap IDs, odd pills, redacted
events), no network. test_routing_recorded.py runs it on events recorded from a real Synapse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.events import Ignored, OtherMessage, Reaction, TextMessage, Undecryptable, from_source
from bot.routing import Command, Ignore, Notice, Policy, Question, RoomInfo, route

EVENTS = json.loads((Path(__file__).parent / "data" / "events.json").read_text(encoding="utf-8"))
BOT = "@guichet:agent.tchap.gouv.fr"
NOW = 1796000000000 + 5_000
POLICY = Policy(bot_user_id=BOT, display_name="Guichet")
DM = RoomInfo("!dm:x", is_dm=True, joined_ts=1795000000000)
TEAM = RoomInfo("!team:x", is_dm=False, joined_ts=1795000000000)


class Known:
    def __init__(self) -> None:
        self.answers = {"$answer1": "$root1"}

    def is_bot_answer(self, event_id: str) -> bool:
        return event_id in self.answers

    def is_bot_thread(self, room_id: str, root: str) -> bool:
        return root in self.answers.values()

    def thread_of_answer(self, room_id: str, answer_event_id: str) -> str | None:
        return self.answers.get(answer_event_id)


def decide(name: str, room: RoomInfo = DM, policy: Policy = POLICY, now: int = NOW):
    event = from_source(room.room_id, EVENTS[name])
    return route(event, room, policy, Known(), now_ms=now)


def test_dm_text_is_a_question_answered_in_the_room():
    d = decide("dm_text")
    assert isinstance(d, Question)
    assert d.text == "Comment renouveler un passeport ?"
    assert d.mode is None
    assert d.target.thread_root is None
    assert d.target.conversation == DM.room_id


def test_dm_command():
    d = decide("dm_command")
    assert isinstance(d, Command)
    assert (d.name, d.args) == ("sources", "")


def test_brouillon_marker_is_a_draft_request():
    d = decide("dm_brouillon_marker")
    assert isinstance(d, Question)
    assert d.mode == "brouillon"
    assert d.text == "Bonjour, je n'ai toujours pas reçu ma carte grise."


@pytest.mark.parametrize(("name", "kind"), [("dm_image", "image"), ("dm_sticker", "autocollant"),
                                            ("dm_poll", "sondage")])  # fmt: skip
def test_non_text_in_dm_gets_a_notice(name, kind):
    d = decide(name)
    assert isinstance(d, Notice)
    assert d.kind == "non_text"
    assert d.detail == kind


@pytest.mark.parametrize(
    "name",
    ["dm_edit", "dm_redaction", "dm_redacted", "dm_notice_other_bot", "dm_own",
     "dm_missing_fields", "dm_reaction", "encrypted"],
)  # fmt: skip
def test_never_answered(name):
    assert isinstance(decide(name), Ignore)


def test_event_types():
    assert isinstance(from_source("!r", EVENTS["dm_reaction"]), Reaction)
    assert from_source("!r", EVENTS["dm_reaction"]).key == "👍️"
    assert isinstance(from_source("!r", EVENTS["encrypted"]), Undecryptable)
    assert from_source("!r", EVENTS["encrypted"]).session_id == "sess1"
    assert isinstance(from_source("!r", EVENTS["dm_missing_fields"]), Ignored)
    assert isinstance(from_source("!r", EVENTS["dm_image"]), OtherMessage)
    own = from_source("!r", EVENTS["dm_own"])
    assert isinstance(own, TextMessage)
    assert own.guichet_reply_to == "$dm1"
    assert isinstance(from_source("!r", "not a dict"), Ignored)  # type: ignore[arg-type]


def test_events_from_before_the_join_are_ignored():
    late_join = RoomInfo("!dm:x", is_dm=True, joined_ts=1796000000001)
    assert decide("dm_text", room=late_join) == Ignore("before the bot joined")


def test_catch_up_age():
    old_now = 1796000000000 + 2 * 3_600_000
    d = decide("dm_text", now=old_now)
    assert isinstance(d, Notice)
    assert d.kind == "too_old"
    silent = Policy(bot_user_id=BOT, catchup_old="none")
    assert isinstance(decide("dm_text", policy=silent, now=old_now), Ignore)


def test_team_message_without_mention_is_ignored():
    assert isinstance(decide("team_plain", room=TEAM), Ignore)
    assert isinstance(decide("team_other_pill", room=TEAM), Ignore)
    assert isinstance(decide("team_name_in_word", room=TEAM), Ignore)
    assert isinstance(decide("team_common_word", room=TEAM), Ignore)
    assert isinstance(decide("team_reply_to_human", room=TEAM), Ignore)
    assert isinstance(decide("team_other_thread", room=TEAM), Ignore)
    assert isinstance(decide("team_file_unaddressed", room=TEAM), Ignore)


def test_team_pill_mention_opens_a_thread_on_the_message():
    d = decide("team_pill", room=TEAM)
    assert isinstance(d, Question)
    assert d.text == "quel est le montant du Smic ?"
    assert d.target.thread_root == "$t2"
    assert d.target.conversation == "!team:x|$t2"


def test_display_name_addressing_the_bot():
    d = decide("team_name_addressed", room=TEAM)
    assert isinstance(d, Question)
    assert d.text == "combien coûte un passeport ?"


def test_url_encoded_pill_without_m_mentions():
    d = decide("team_pill_encoded_no_mentions", room=TEAM)
    assert isinstance(d, Question)


def test_team_command_without_mention():
    d = decide("team_command", room=TEAM)
    assert isinstance(d, Command)
    assert d.name == "brouillon"
    assert d.args == "Bonjour, ma demande de RSA est bloquée"
    assert d.target.thread_root == "$t6"


def test_reply_to_an_answer_continues_its_thread():
    d = decide("team_reply_to_answer", room=TEAM)
    assert isinstance(d, Question)
    assert d.text == "Et en net ?"  # reply fallback stripped
    assert d.target.thread_root == "$root1"


def test_follow_up_in_a_bot_thread_needs_no_mention():
    d = decide("team_thread_followup", room=TEAM)
    assert isinstance(d, Question)
    assert d.target.conversation == "!team:x|$root1"
    assert d.target.thread_root == "$root1"
