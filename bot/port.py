"""The bot's port to Matrix: the few calls `GuichetBot` makes, and what a sync returns.

`bot.matrix.MatrixClient` implements it over matrix-nio; tests/unit/bot/fake_matrix.py has a
recording fake, so the bot's behaviour is tested in milliseconds without a homeserver (next to
the real-Synapse tests). Every failure a call reports is a `bot.errors.MatrixError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(slots=True)
class SyncBatch:
    """One /sync, nio-free: raw event dicts (decrypted when possible)."""

    next_batch: str
    invites: list[tuple[str, str]] = field(default_factory=list)  # (room_id, inviter)
    timeline: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (room_id, event)
    limited_rooms: list[str] = field(default_factory=list)
    room_keys_received: int = 0


class MatrixPort(Protocol):
    """What the bot needs from a Matrix client."""

    @property
    def user_id(self) -> str: ...

    async def start(self) -> None:
        """Log in (or restore the login) and get ready to sync."""

    async def sync(self, since: str | None, timeout_ms: int) -> SyncBatch: ...

    async def after_sync(self) -> None:
        """Key management and to-device messages after each sync (never raises)."""

    def is_dm(self, room_id: str) -> bool: ...

    async def join(self, room_id: str) -> None: ...

    async def leave(self, room_id: str) -> None: ...

    async def send(self, room_id: str, content: dict[str, Any], *, txn_id: str | None) -> str:
        """Send one event (one attempt); returns its event ID."""
        ...

    async def typing(self, room_id: str, on: bool) -> None:
        """Best effort: never raises."""

    async def request_keys(self, room_id: str, source: dict[str, Any]) -> None:
        """Ask the sender's devices for a missing Megolm session (best effort)."""

    def try_decrypt(self, room_id: str, source: dict[str, Any]) -> dict[str, Any] | None: ...
