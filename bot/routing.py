"""Which events the bot answers, and where: a pure policy, tested on recorded events.

- DM (two members): every text message is a question (or a command).
- Team room: only when the bot is mentioned (pill, m.mentions, display name or user ID), when a
  message replies to one of its answers, on a command, or inside a thread where it answered;
  the answer goes in a thread on the asking message, and the thread is one conversation.
- Never its own messages, notices (m.notice: other bots), edits, redactions, reactions, or events
  from before it joined; files, images and other non-text events get a short notice.
- Questions that arrived while the bot was down: answered when younger than the catch-up age,
  otherwise one notice (or nothing, by settings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import unquote

from bot.events import ChatEvent, OtherMessage, TextMessage
from chains.models import Mode


@dataclass(frozen=True, slots=True)
class RoomInfo:
    room_id: str
    is_dm: bool
    joined_ts: int | None = None  # when the bot joined (ms), when known


@dataclass(frozen=True, slots=True)
class Policy:
    bot_user_id: str
    display_name: str = "Guichet"
    command_prefix: str = "!"
    brouillon_marker: str = ">>"
    catchup_max_age_ms: int = 3_600_000
    catchup_old: Literal["notice", "none"] = "notice"


class Known(Protocol):
    """What routing needs to know of the bot's past (answered by the state store)."""

    def is_bot_answer(self, event_id: str) -> bool: ...

    def is_bot_thread(self, room_id: str, root: str) -> bool: ...

    def thread_of_answer(self, room_id: str, answer_event_id: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Target:
    """Where to send a reply, and which conversation it belongs to."""

    room_id: str
    event_id: str  # the event being answered
    conversation: str  # memory key: the room for a DM, room|root for a thread
    thread_root: str | None  # reply in this thread (None: plain message in the room)


@dataclass(frozen=True, slots=True)
class Ignore:
    reason: str


@dataclass(frozen=True, slots=True)
class Question:
    target: Target
    text: str
    mode: Mode | None  # None: the conversation's current mode


@dataclass(frozen=True, slots=True)
class Command:
    target: Target
    name: str
    args: str


@dataclass(frozen=True, slots=True)
class Notice:
    target: Target
    kind: Literal["non_text", "too_old", "empty"]
    detail: str = ""


Decision = Ignore | Question | Command | Notice

_REPLY_FALLBACK = re.compile(r"\A(?:> ?[^\n]*\n)+\n", re.MULTILINE)
_MXREPLY = re.compile(r"<mx-reply>.*?</mx-reply>", re.DOTALL | re.IGNORECASE)


def strip_reply_fallback(body: str) -> str:
    """Drop the legacy '> <@user> quoted text' fallback a rich reply starts with."""
    if body.startswith("> <"):
        return _REPLY_FALLBACK.sub("", body, count=1)
    return body


def _pill_pattern(user_id: str) -> re.Pattern[str]:
    return re.compile(r"matrix\.to/#/" + re.escape(user_id) + r"(?![\w.:-])", re.IGNORECASE)


def is_mention(event: TextMessage, policy: Policy) -> bool:
    if policy.bot_user_id in event.mentions:
        return True
    if event.formatted_body:
        html = unquote(_MXREPLY.sub("", event.formatted_body))
        if _pill_pattern(policy.bot_user_id).search(html):
            return True
    body = strip_reply_fallback(event.body)
    if policy.bot_user_id.lower() in body.lower():
        return True
    # The display name alone counts only when the message is addressed to it ("Guichet : ...",
    # "@Guichet ..."): "guichet" is also a common French word ("le guichet de la mairie").
    name = policy.display_name.strip()
    pattern = rf"^\s*@?{re.escape(name)}(?:\s*[:,]|\s+\S)"
    return bool(name) and re.match(pattern, body, re.IGNORECASE) is not None


def strip_mention(text: str, policy: Policy) -> str:
    """The question without the leading/trailing mention of the bot ('Guichet : ...')."""
    names = [re.escape(policy.bot_user_id)]
    local = policy.bot_user_id.lstrip("@").split(":")[0]
    names.append(re.escape("@" + local))
    if policy.display_name.strip():
        names.append(re.escape(policy.display_name.strip()))
    alt = "|".join(names)
    text = re.sub(rf"^\s*(?:{alt})\s*[:,\-–]?\s*", "", text, flags=re.IGNORECASE)
    text = re.sub(rf"[\s,]*(?:{alt})\s*$", "", text, flags=re.IGNORECASE)
    return text.strip()


def _question_or_command(event: TextMessage, text: str, target: Target, policy: Policy) -> Decision:
    stripped = text.strip()
    prefix = policy.command_prefix
    if prefix and stripped.startswith(prefix) and len(stripped) > len(prefix):
        head, _, args = stripped[len(prefix) :].partition(" ")
        if head and re.fullmatch(r"[\wÀ-ÿ-]+", head):
            return Command(target=target, name=head.lower(), args=args.strip())
    marker = policy.brouillon_marker
    if marker and stripped.startswith(marker):
        draft = stripped[len(marker) :].strip()
        if draft:
            return Question(target=target, text=draft, mode="brouillon")
        return Notice(target=target, kind="empty")
    if not stripped:
        return Notice(target=target, kind="empty")
    return Question(target=target, text=stripped, mode=None)


def route(
    event: ChatEvent, room: RoomInfo, policy: Policy, known: Known, *, now_ms: int
) -> Decision:
    """Decide what to do with one event. Pure: no I/O beyond the `known` lookups."""
    if not isinstance(event, TextMessage | OtherMessage):
        return Ignore(f"not a message ({type(event).__name__})")
    if event.sender == policy.bot_user_id:
        return Ignore("own message")
    if room.joined_ts is not None and event.ts and event.ts < room.joined_ts:
        return Ignore("before the bot joined")
    if isinstance(event, TextMessage):
        if event.is_edit:
            return Ignore("edit")
        if event.msgtype != "m.text":
            return Ignore(f"{event.msgtype} (bots' notices and emotes are not questions)")

    in_bot_thread = bool(event.thread_root) and known.is_bot_thread(room.room_id, event.thread_root)
    replies_to_bot = bool(event.reply_to) and known.is_bot_answer(event.reply_to)

    if room.is_dm:
        root = event.thread_root
        conversation = f"{room.room_id}|{root}" if root else room.room_id
        target = Target(room.room_id, event.event_id, conversation, root)
        addressed = True
    else:
        if event.thread_root:
            root = event.thread_root
        elif replies_to_bot:
            # A reply to an answer: continue in the answer's thread when it has one.
            root = known.thread_of_answer(room.room_id, event.reply_to) or event.event_id
        else:
            root = event.event_id
        target = Target(room.room_id, event.event_id, f"{room.room_id}|{root}", root)
        addressed = in_bot_thread or replies_to_bot
        if isinstance(event, TextMessage) and not addressed:
            text = strip_reply_fallback(event.body).strip()
            addressed = is_mention(event, policy) or (
                bool(policy.command_prefix) and text.startswith(policy.command_prefix)
            )
        if not addressed:
            return Ignore("team room message not addressed to the bot")

    age = now_ms - event.ts if event.ts else 0
    if age > policy.catchup_max_age_ms:
        if policy.catchup_old == "none":
            return Ignore("too old")
        return Notice(target=target, kind="too_old")

    if isinstance(event, OtherMessage):
        return Notice(target=target, kind="non_text", detail=event.kind)

    text = strip_reply_fallback(event.body)
    if not room.is_dm:
        text = strip_mention(text, policy)
    return _question_or_command(event, text, target, policy)
