"""A recording fake of the bot's Matrix port (`bot.port.MatrixPort`): no homeserver, no nio.

A test pushes sync batches (`push(...)`, events built by `text(...)` and `encrypted(...)`),
waits until the bot is `idle` again, and the fake records what it was asked: `sent` (room,
content, txn_id), `typing_calls`, `joined`, `left`, `key_requests`. `fail_sends` makes the
next sends fail with the given `MatrixError`s; `decryptable` maps an event ID to the event a
later `try_decrypt` returns.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

from bot.errors import MatrixError
from bot.port import SyncBatch

BOT = "@guichet:test"
_ids = itertools.count(1)


@dataclass
class Sent:
    room_id: str
    content: dict[str, Any]
    txn_id: str | None
    event_id: str

    @property
    def body(self) -> str:
        return self.content.get("body", "")


@dataclass
class RecordingMatrix:
    user_id: str = BOT
    dms: set[str] = field(default_factory=set)
    sent: list[Sent] = field(default_factory=list)
    typing_calls: list[tuple[str, bool]] = field(default_factory=list)
    joined: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    key_requests: list[str] = field(default_factory=list)
    send_attempts: int = 0
    fail_sends: list[MatrixError] = field(default_factory=list)
    decryptable: dict[str, dict[str, Any]] = field(default_factory=dict)
    syncs: int = 0

    def __post_init__(self) -> None:
        self._batches: asyncio.Queue[SyncBatch] = asyncio.Queue()
        self._token = itertools.count(1)
        self._changed = asyncio.Event()
        self.waiting = False

    # ---- driving it ---------------------------------------------------------------------------

    def push(self, *timeline: tuple[str, dict[str, Any]], **extra: Any) -> None:
        """Queue one sync batch: (room_id, event) pairs, plus SyncBatch fields (invites...)."""
        batch = SyncBatch(next_batch=f"s{next(self._token)}", timeline=list(timeline), **extra)
        self._batches.put_nowait(batch)

    @property
    def idle(self) -> bool:
        """The bot has dispatched every pushed batch and waits for the next sync."""
        return self.waiting and self._batches.empty()

    # ---- the port -----------------------------------------------------------------------------

    async def start(self) -> None:
        pass

    async def sync(self, since: str | None, timeout_ms: int) -> SyncBatch:
        self.syncs += 1
        if timeout_ms == 0 and self._batches.empty():
            return SyncBatch(next_batch=since or "s0")
        self.waiting = True
        try:
            return await self._batches.get()
        finally:
            self.waiting = False

    async def after_sync(self) -> None:
        pass

    def is_dm(self, room_id: str) -> bool:
        return room_id in self.dms

    async def join(self, room_id: str) -> None:
        self.joined.append(room_id)

    async def leave(self, room_id: str) -> None:
        self.left.append(room_id)

    async def send(self, room_id: str, content: dict[str, Any], *, txn_id: str | None) -> str:
        self.send_attempts += 1
        if self.fail_sends:
            raise self.fail_sends.pop(0)
        event_id = f"$sent{next(_ids)}"
        self.sent.append(Sent(room_id, content, txn_id, event_id))
        self._changed.set()
        return event_id

    async def typing(self, room_id: str, on: bool) -> None:
        self.typing_calls.append((room_id, on))

    async def request_keys(self, room_id: str, source: dict[str, Any]) -> None:
        self.key_requests.append(source.get("event_id", ""))

    def try_decrypt(self, room_id: str, source: dict[str, Any]) -> dict[str, Any] | None:
        return self.decryptable.get(source.get("event_id", ""))


# ---- events as a client sends them ---------------------------------------------------------------


def text(
    body: str,
    *,
    sender: str = "@agent:test",
    ts: int,
    event_id: str | None = None,
    **content: Any,
) -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "event_id": event_id or f"$ev{next(_ids)}",
        "sender": sender,
        "origin_server_ts": ts,
        "content": {"msgtype": "m.text", "body": body, **content},
    }


def encrypted(*, sender: str = "@agent:test", ts: int, session_id: str = "sess1") -> dict:
    return {
        "type": "m.room.encrypted",
        "event_id": f"$enc{next(_ids)}",
        "sender": sender,
        "origin_server_ts": ts,
        "content": {"algorithm": "m.megolm.v1.aes-sha2", "session_id": session_id},
    }
