"""Typed chat events, converted from raw Matrix events (nio's `event.source` dicts).

Only `bot.matrix` sees nio objects; everything downstream (routing, service, tests on recorded
events) works on these plain dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TEXT_TYPES = ("m.text", "m.notice", "m.emote")
NON_TEXT_KINDS = {
    "m.image": "image",
    "m.file": "fichier",
    "m.audio": "audio",
    "m.video": "vidéo",
    "m.location": "position",
}


@dataclass(frozen=True, slots=True)
class Base:
    room_id: str
    event_id: str
    sender: str
    ts: int  # origin_server_ts, ms


@dataclass(frozen=True, slots=True)
class TextMessage(Base):
    body: str
    msgtype: str = "m.text"
    formatted_body: str | None = None
    reply_to: str | None = None  # m.in_reply_to (not the thread fallback)
    thread_root: str | None = None  # m.thread relation
    mentions: tuple[str, ...] = ()  # m.mentions.user_ids
    is_edit: bool = False
    guichet_reply_to: str | None = None  # set on the bot's own replies: the event answered


@dataclass(frozen=True, slots=True)
class OtherMessage(Base):
    """A file, an image, a sticker, a poll... anything the bot cannot read."""

    kind: str
    thread_root: str | None = None
    reply_to: str | None = None


@dataclass(frozen=True, slots=True)
class Reaction(Base):
    target: str
    key: str


@dataclass(frozen=True, slots=True)
class Undecryptable(Base):
    session_id: str
    sender_key: str = ""
    source: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class Membership(Base):
    """Someone's membership changed (the bot's own join is what matters)."""

    target: str
    membership: str


@dataclass(frozen=True, slots=True)
class Ignored(Base):
    """Something that never gets an answer (redaction, state, edit of unknown type...)."""

    reason: str


ChatEvent = TextMessage | OtherMessage | Reaction | Undecryptable | Membership | Ignored


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def from_source(room_id: str, source: dict[str, Any]) -> ChatEvent:
    """Convert one raw (decrypted) timeline event. Never raises on odd or missing fields."""
    if not isinstance(source, dict):
        source = {}
    etype = _str(source.get("type"))
    event_id = _str(source.get("event_id"))
    sender = _str(source.get("sender"))
    ts = source.get("origin_server_ts")
    ts = int(ts) if isinstance(ts, int | float) else 0
    content = source.get("content")
    if not isinstance(content, dict):
        content = {}
    base = {"room_id": room_id, "event_id": event_id, "sender": sender, "ts": ts}
    unsigned = source.get("unsigned") if isinstance(source.get("unsigned"), dict) else {}

    if not event_id or not sender:
        return Ignored(**base, reason="missing fields")
    if unsigned.get("redacted_because") is not None:
        return Ignored(**base, reason="redacted")
    if etype == "m.room.encrypted":
        return Undecryptable(
            **base,
            session_id=_str(content.get("session_id")),
            sender_key=_str(content.get("sender_key")),
            source=source,
        )
    if etype == "m.room.redaction":
        return Ignored(**base, reason="redaction")
    if etype == "m.room.member":
        return Membership(
            **base,
            target=_str(source.get("state_key")),
            membership=_str(content.get("membership")),
        )
    relates = content.get("m.relates_to")
    relates = relates if isinstance(relates, dict) else {}
    rel_type = _str(relates.get("rel_type"))
    if etype == "m.reaction":
        if rel_type == "m.annotation" and relates.get("event_id"):
            return Reaction(**base, target=_str(relates["event_id"]), key=_str(relates.get("key")))
        return Ignored(**base, reason="malformed reaction")
    thread_root = _str(relates.get("event_id")) if rel_type == "m.thread" else ""
    in_reply = relates.get("m.in_reply_to")
    reply_to = _str(in_reply.get("event_id")) if isinstance(in_reply, dict) else ""
    if thread_root and relates.get("is_falling_back"):
        reply_to = ""  # the thread fallback is not a real reply
    if etype == "m.sticker":
        return OtherMessage(**base, kind="autocollant", thread_root=thread_root or None)
    if etype.startswith(("m.poll", "org.matrix.msc3381.poll")):
        return OtherMessage(**base, kind="sondage", thread_root=thread_root or None)
    if etype != "m.room.message":
        return Ignored(**base, reason=f"type {etype or '?'}")
    msgtype = _str(content.get("msgtype"))
    if rel_type == "m.replace":
        return TextMessage(**base, body=_str(content.get("body")), msgtype=msgtype, is_edit=True)
    if msgtype in NON_TEXT_KINDS or (msgtype and msgtype not in TEXT_TYPES):
        return OtherMessage(
            **base,
            kind=NON_TEXT_KINDS.get(msgtype, msgtype),
            thread_root=thread_root or None,
            reply_to=reply_to or None,
        )
    body = _str(content.get("body"))
    if not msgtype and not body:
        return Ignored(**base, reason="empty message")
    formatted = None
    if content.get("format") == "org.matrix.custom.html":
        formatted = _str(content.get("formatted_body")) or None
    mentions = content.get("m.mentions")
    user_ids: tuple[str, ...] = ()
    if isinstance(mentions, dict) and isinstance(mentions.get("user_ids"), list):
        user_ids = tuple(u for u in mentions["user_ids"] if isinstance(u, str))
    return TextMessage(
        **base,
        body=body,
        msgtype=msgtype or "m.text",
        formatted_body=formatted,
        reply_to=reply_to or None,
        thread_root=thread_root or None,
        mentions=user_ids,
        # A notice that leaves the event pending (undecryptable) does not count as its reply.
        guichet_reply_to=None
        if content.get("org.guichet.pending")
        else _str(content.get("org.guichet.reply_to")) or None,
    )
