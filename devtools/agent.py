"""One agent's Matrix client: a real matrix-nio client with end-to-end encryption and its own
store directory, syncing in the background. The terminal chat (`devtools.chat`) and the tests'
and benches' agents (`devtools.synapse.Agent`) are both built on it.

- `restore(device_id, token)` or `await login(password)`, then `await start_syncing()`: the
  first sync (full state, history) is done when it returns; the loop goes on in a task, a failed
  round is logged and retried with backoff, never fatal (nio's `sync_forever` dies on the first
  exception, e.g. a key query raced by ours). Key upload/query/claim run under one lock.
- `wait_until(predicate)` wakes up on every sync and every event a subclass `bump()`s.
- Rooms: `create_room`, `join`, `wait_devices`; sending: `send_content` (optionally claiming the
  Olm sessions the room's devices lack first, so the first message is readable by them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinError,
    LoginResponse,
    RoomCreateError,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
)

from devtools.errors import DevToolError

logger = logging.getLogger(__name__)

ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


class AgentError(DevToolError):
    """The client could not log in, sync, open a room or send (named in the message)."""


class AgentTimeout(AgentError, TimeoutError):
    """What `wait_until` waited for did not happen in time."""


class MatrixAgent:
    """A Matrix user's client with its E2E store in `store_dir`, syncing in the background."""

    def __init__(
        self,
        homeserver_url: str,
        user_id: str,
        store_dir: Path,
        *,
        device_id: str | None = None,
        sync_timeout_ms: int = 10000,
    ) -> None:
        self.homeserver_url = homeserver_url
        self.user_id = user_id
        self.store_dir = store_dir
        self.sync_timeout_ms = sync_timeout_ms
        store_dir.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(
            homeserver_url,
            user_id,
            device_id=device_id,
            store_path=str(store_dir),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True),
        )
        self.first_sync_done = asyncio.Event()
        self.last_sync_error = ""
        self._changed = asyncio.Event()
        self._keys_lock = asyncio.Lock()
        self._sync_task: asyncio.Task | None = None

    # ---- login and sync ------------------------------------------------------------------------

    def restore(self, device_id: str, access_token: str) -> None:
        self.client.restore_login(self.user_id, device_id, access_token)

    async def login(self, password: str, device_name: str) -> LoginResponse:
        response = await self.client.login(password, device_name=device_name)
        if not isinstance(response, LoginResponse):
            raise AgentError(f"login as {self.user_id} on {self.homeserver_url} failed: {response}")
        return response

    async def start_syncing(self, first_sync_s: float = 30.0) -> None:
        """Upload our keys if needed, start the sync loop, return after the first sync."""
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        self._sync_task = asyncio.create_task(self._sync_loop(), name="agent-sync")
        await self.wait_until(self.first_sync_done.is_set, first_sync_s, "the first sync")

    async def close(self) -> None:
        if self._sync_task is not None:
            self._sync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._sync_task
            self._sync_task = None
        await self.client.close()

    def bump(self) -> None:
        """Something changed: wake up `wait_until` and `wait_changed`."""
        self._changed.set()

    async def wait_changed(self, timeout_s: float) -> None:
        """Until the next sync or `bump()`, or `timeout_s`."""
        self._changed.clear()
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
        # lands as the event fires, and the caller then goes on as if it had not been cancelled
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(timeout_s, 0.01)):
                await self._changed.wait()

    async def _sync_loop(self) -> None:
        client = self.client
        backoff = 1.0
        while True:
            try:
                first = not self.first_sync_done.is_set()
                timeout = 0 if first else self.sync_timeout_ms
                response = await client.sync(timeout=timeout, full_state=first)
                if not isinstance(response, SyncResponse):
                    raise AgentError(f"sync failed: {response}")
                self.first_sync_done.set()
                self.bump()
                async with self._keys_lock:
                    await self._maintain_keys()
                await client.send_to_device_messages()
                backoff = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_sync_error = str(exc)
                logger.warning("agent: sync failed, retry in %.0f s", backoff, exc_info=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _maintain_keys(self) -> None:
        client = self.client
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())

    async def wait_until(
        self, predicate: Callable[[], Any], wait_s: float = 20.0, what: str = "a condition"
    ) -> Any:
        """The first true value of `predicate()`; `AgentTimeout` after `wait_s`."""
        deadline = time.monotonic() + wait_s
        while True:
            value = predicate()
            if value:
                return value
            if self._sync_task is not None and self._sync_task.done():
                exc = self._sync_task.exception()
                raise AgentError(f"syncing with {self.homeserver_url} stopped: {exc!r}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                error = self.last_sync_error
                last = f" (last sync error: {error})" if error else ""
                raise AgentTimeout(f"timed out after {wait_s:g} s waiting for {what}{last}")
            await self.wait_changed(min(remaining, 0.5))

    # ---- rooms ---------------------------------------------------------------------------------

    async def create_room(
        self,
        invite: list[str],
        *,
        encrypted: bool = True,
        dm: bool = False,
        name: str = "",
        preset: RoomPreset | None = None,
    ) -> str:
        """A new room (encrypted unless told otherwise), once our client has it with its
        invitees: like Element, which knows whom it invited, our first message is then
        encrypted for them too (nio shares room keys with the members its sync has shown)."""
        if preset is None:
            # A homeserver that encrypts private rooms by default (like Tchap) leaves a
            # public-chat preset as the only way to get a room without encryption.
            preset = RoomPreset.private_chat if encrypted else RoomPreset.public_chat
        response = await self.client.room_create(
            name=name or None,
            invite=invite,
            is_direct=dm,
            initial_state=[ENCRYPTION_STATE] if encrypted else [],
            preset=preset,
        )
        if isinstance(response, RoomCreateError):
            raise AgentError(f"cannot create a room with {invite}: {response.message}")
        room_id = response.room_id

        def ready() -> bool:
            room = self.client.rooms.get(room_id)
            return room is not None and all(user in room.users for user in invite)

        await self.wait_until(ready, 30, "the new room and its invitees")
        return room_id

    async def join(self, room_id: str) -> None:
        response = await self.client.join(room_id)
        if isinstance(response, JoinError):
            raise AgentError(f"cannot join {room_id}: {response.message}")
        await self.wait_until(lambda: room_id in self.client.rooms, 20, f"joining {room_id}")

    async def wait_devices(self, user_id: str, wait_s: float = 20.0) -> None:
        """Wait until the device keys of `user_id` are known, so our messages are encrypted for
        them (as Element fetches those of the members it invites into an encrypted room)."""
        client = self.client
        deadline = time.monotonic() + wait_s

        def known() -> bool:  # active_user_devices() is a generator: always truthy
            return any(True for _ in client.device_store.active_user_devices(user_id))

        while not known():
            if time.monotonic() > deadline:
                raise AgentTimeout(f"no device keys for {user_id} after {wait_s:g} s")
            async with self._keys_lock:
                if client.olm is not None:
                    client.olm.users_for_key_query.add(user_id)
                if client.should_query_keys:
                    with contextlib.suppress(Exception):
                        await client.keys_query()
            if not known():
                await asyncio.sleep(0.25)

    async def ensure_olm_sessions(self, room_id: str) -> None:
        """Claim one-time keys for the room's devices we have no Olm session with yet.

        nio's `share_group_session` silently skips such devices (their claim would only happen
        after the next sync), so without this the first message could be unreadable to them.
        """
        client = self.client
        async with self._keys_lock:
            if client.should_query_keys:
                await client.keys_query()
            missing = client.get_missing_sessions(room_id)
            if missing:
                await client.keys_claim(missing)

    async def send_content(
        self,
        room_id: str,
        content: dict[str, Any],
        *,
        event_type: str = "m.room.message",
        claim_sessions: bool = False,
    ) -> str:
        """Send one event (encrypted in an encrypted room); returns its event ID."""
        if claim_sessions:
            await self.ensure_olm_sessions(room_id)
        response = await self.client.room_send(
            room_id, event_type, content, ignore_unverified_devices=True
        )
        if not isinstance(response, RoomSendResponse):
            raise AgentError(f"sending to {room_id} failed: {response}")
        return response.event_id
