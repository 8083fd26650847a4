"""The only module that talks to matrix-nio.

- Login by password or access token; the device ID and access token are saved in
  `<data_dir>/credentials.json` (0600) and the Olm/Megolm store in `<data_dir>/nio/`, so a restart
  keeps its device and keeps decrypting. The sync token is kept by the caller (bot.state), next
  to the processed event IDs.
- `sync()` returns a nio-free `SyncBatch` (raw event dicts, decrypted when possible).
- Every nio response goes through `_check`, which turns an `ErrorResponse` (and transport
  errors) into `bot.errors.MatrixError`. A send is one attempt with a transaction ID chosen by
  the caller, so a message retried by the bot (`bot.retry`) or re-sent after a crash is
  deduplicated by the homeserver.
- It implements the bot's port (`bot.port.MatrixPort`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    ForwardedRoomKeyEvent,
    InviteMemberEvent,
    LocalProtocolError,
    LoginResponse,
    MegolmEvent,
    RoomKeyEvent,
    WhoamiResponse,
)
from nio.exceptions import EncryptionError, OlmUnverifiedDeviceError, SendRetryError

from bot.errors import ConfigError, MatrixError
from bot.port import SyncBatch
from bot.settings import BotSettings

logger = logging.getLogger(__name__)

CREDENTIALS_FILE = "credentials.json"
_NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError, OSError)


BACKFILL_MAX_EVENTS = 1000  # per room and sync: the catch-up after a long downtime


def _source(ev: Any) -> dict[str, Any]:
    """The raw event dict of a nio event (an undecryptable one keeps its encrypted type)."""
    source = dict(ev.source) if isinstance(ev.source, dict) else {}
    if isinstance(ev, MegolmEvent):
        source.setdefault("type", "m.room.encrypted")
    return source


def _check(resp: Any, what: str) -> Any:
    """Raise MatrixError for nio's ErrorResponse values; return anything else unchanged."""
    if isinstance(resp, ErrorResponse):
        retry = getattr(resp, "retry_after_ms", None)
        raise MatrixError(what, resp.status_code, resp.message or "", retry)
    return resp


def _secret(value: Any) -> str | None:
    """The secret's text, or None when it is unset or blank (`GUICHET_ACCESS_TOKEN=`)."""
    text = value.get_secret_value().strip() if value is not None else ""
    return text or None


class MatrixClient:
    """A logged-in nio client for the bot, built from settings; `await start()` before use."""

    def __init__(self, settings: BotSettings) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir)
        self.client: AsyncClient | None = None
        self._filter_id: str | None = None
        self._state_loaded = False

    # -- login -------------------------------------------------------------------------------

    @property
    def user_id(self) -> str:
        assert self.client is not None
        return self.client.user_id

    @property
    def device_id(self) -> str:
        assert self.client is not None
        return self.client.device_id

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / CREDENTIALS_FILE

    def _load_credentials(self) -> dict[str, str] | None:
        path = self.credentials_path
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        if data.get("homeserver") != self.settings.homeserver_url or (
            self.settings.user_id and data.get("user_id") != self.settings.user_id
        ):
            raise ConfigError(
                f"{path} belongs to {data.get('user_id')} on {data.get('homeserver')}, not to "
                f"{self.settings.user_id} on {self.settings.homeserver_url}: use another data_dir"
            )
        return data

    def _save_credentials(self, user_id: str, device_id: str, access_token: str) -> None:
        path = self.credentials_path
        tmp = path.with_suffix(".tmp")
        payload = {
            "homeserver": self.settings.homeserver_url,
            "user_id": user_id,
            "device_id": device_id,
            "access_token": access_token,
        }
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    async def start(self) -> None:
        """Log in (or restore the saved login), load the encryption store, upload keys."""
        store = self.data_dir / "nio"
        store.mkdir(parents=True, exist_ok=True)
        config = AsyncClientConfig(
            store_sync_tokens=False,
            encryption_enabled=True,
            max_limit_exceeded=0,  # 429s: retried by the bot (bot.retry), after retry_after_ms
            max_timeouts=0,
            request_timeout=60,
        )
        saved = self._load_credentials()
        token = _secret(self.settings.access_token)
        password = self.settings.password.get_secret_value() if self.settings.password else None
        user_id = (saved or {}).get("user_id") or self.settings.user_id
        if not user_id and token is None:
            raise ConfigError("GUICHET_USER_ID is not set (the bot's Matrix ID)")
        client = AsyncClient(
            self.settings.homeserver_url,
            user_id,
            device_id=(saved or {}).get("device_id"),
            store_path=str(store),
            config=config,
        )
        self.client = client
        try:
            if saved:
                client.restore_login(saved["user_id"], saved["device_id"], saved["access_token"])
                logger.info("restored login of %s, device %s", saved["user_id"], saved["device_id"])
            elif token is not None:
                who = await self._whoami(client, token)
                client.restore_login(who.user_id, who.device_id, token)
                self._save_credentials(who.user_id, who.device_id, token)
                logger.info("logged in by token as %s, device %s", who.user_id, who.device_id)
            elif password:
                resp = await self._call(
                    "login", client.login(password, device_name=self.settings.device_name)
                )
                assert isinstance(resp, LoginResponse)
                self._save_credentials(resp.user_id, resp.device_id, resp.access_token)
                logger.info("logged in as %s, new device %s", resp.user_id, resp.device_id)
            else:
                raise ConfigError(
                    "set GUICHET_PASSWORD or GUICHET_ACCESS_TOKEN for the first login"
                )
            if client.should_upload_keys:
                await self._call("keys upload", client.keys_upload())
            self._filter_id = await self._upload_filter()
        except BaseException:
            await client.close()
            raise

    async def _whoami(self, client: AsyncClient, token: str) -> WhoamiResponse:
        """The owner and device of GUICHET_ACCESS_TOKEN, or a ConfigError saying what is wrong."""
        client.access_token = token
        try:
            who = await self._call("whoami", client.whoami())
        except MatrixError as exc:
            if exc.status_code in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "401"):
                raise ConfigError(
                    f"GUICHET_ACCESS_TOKEN was refused by {self.settings.homeserver_url} "
                    f"({exc.status_code}: {exc.message}): it is wrong, expired or logged out; "
                    "set a valid token or GUICHET_PASSWORD"
                ) from exc
            raise
        if not isinstance(who, WhoamiResponse) or not who.device_id:
            raise ConfigError(
                "GUICHET_ACCESS_TOKEN has no device (an appservice token?): "
                "use a user's token or log in with GUICHET_PASSWORD"
            )
        if self.settings.user_id and who.user_id != self.settings.user_id:
            raise ConfigError(
                f"GUICHET_ACCESS_TOKEN belongs to {who.user_id}, not to GUICHET_USER_ID "
                f"{self.settings.user_id}: fix one of them"
            )
        return who

    async def _upload_filter(self) -> str | None:
        assert self.client is not None
        try:
            resp = await self._call(
                "upload filter",
                self.client.upload_filter(
                    presence={"types": []},
                    account_data={"types": []},
                    room={
                        "timeline": {"limit": 100},
                        "ephemeral": {"types": []},
                        "account_data": {"types": []},
                    },
                ),
            )
        except MatrixError as exc:
            logger.warning("cannot upload a sync filter, syncing unfiltered: %s", exc)
            return None
        return resp.filter_id

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()

    # -- calls -------------------------------------------------------------------------------

    async def _call(self, what: str, awaitable: Any) -> Any:
        try:
            resp = await awaitable
        except _NETWORK_ERRORS as exc:
            raise MatrixError(what, "network", f"{type(exc).__name__}: {exc}") from exc
        unknown_token = isinstance(resp, ErrorResponse) and resp.status_code == "M_UNKNOWN_TOKEN"
        if unknown_token and what != "whoami":  # whoami checks the settings' token: _whoami
            resp.message = (
                f"{resp.message or ''} (the login saved in {self.credentials_path} is no "
                "longer valid: logged out or device deleted; stop the bot, move "
                "credentials.json and nio/ aside and log in again with GUICHET_PASSWORD or a "
                "new GUICHET_ACCESS_TOKEN (deploy/README.md: Rotating the bot's access token))"
            ).strip()
        return _check(resp, what)

    # -- sync --------------------------------------------------------------------------------

    async def sync(self, since: str | None, timeout_ms: int) -> SyncBatch:
        """One /sync. Encrypted events come back decrypted when the keys are known."""
        assert self.client is not None
        # nio keeps no room state across restarts: the first sync of a process asks for the
        # full state of every room (members: a team room must not pass for a DM), together
        # with the timeline since the saved token.
        resp = await self._call(
            "sync",
            self.client.sync(
                timeout=timeout_ms,
                since=since,
                sync_filter=self._filter_id,
                full_state=None if self._state_loaded else True,
            ),
        )
        self._state_loaded = True
        batch = SyncBatch(next_batch=resp.next_batch)
        for event in resp.to_device_events:
            logger.debug("to-device %s from %s", type(event).__name__, event.sender)
            if isinstance(event, RoomKeyEvent | ForwardedRoomKeyEvent):
                batch.room_keys_received += 1
        for room_id, info in resp.rooms.invite.items():
            inviter = ""
            for ev in info.invite_state:
                if isinstance(ev, InviteMemberEvent) and ev.state_key == self.user_id:
                    inviter = ev.sender
            batch.invites.append((room_id, inviter))
        for room_id, info in resp.rooms.join.items():
            if info.timeline.limited and since is not None and info.timeline.prev_batch:
                # More happened in this room than one sync returns (the bot was down):
                # fetch the older events back to where the last sync stopped, nothing lost.
                older, complete = await self._backfill(room_id, info.timeline.prev_batch, since)
                batch.timeline.extend((room_id, source) for source in older)
                if not complete:
                    batch.limited_rooms.append(room_id)
            elif info.timeline.limited:
                batch.limited_rooms.append(room_id)
            for ev in info.timeline.events:
                batch.timeline.append((room_id, _source(ev)))
        return batch

    async def _backfill(
        self, room_id: str, start: str, since: str
    ) -> tuple[list[dict[str, Any]], bool]:
        """The events between the last sync (`since`) and a limited timeline's `start`,
        oldest first (decrypted when possible), and whether that is all of them."""
        assert self.client is not None
        newest_first: list[dict[str, Any]] = []
        complete = False
        while len(newest_first) < BACKFILL_MAX_EVENTS:
            try:
                resp = await self._call(
                    "backfill", self.client.room_messages(room_id, start, end=since, limit=100)
                )
            except MatrixError as exc:
                logger.warning("could not fetch the older events of %s: %s", room_id, exc)
                break
            newest_first.extend(_source(ev) for ev in resp.chunk)
            if not resp.chunk or not resp.end or resp.end == start:
                complete = True
                break
            start = resp.end
        if complete:
            logger.info("fetched the %d older events of %s", len(newest_first), room_id)
        else:
            logger.warning(
                "fetched %d older events of %s, older ones skipped", len(newest_first), room_id
            )
        return newest_first[::-1], complete

    async def after_sync(self) -> None:
        """The housekeeping nio's sync_forever does: to-device messages and key management."""
        client = self.client
        assert client is not None
        steps: list[tuple[str, Any]] = []
        if client.outgoing_to_device_messages:
            steps.append(("to-device", client.send_to_device_messages))
        if client.should_upload_keys:
            steps.append(("keys upload", client.keys_upload))
        if client.should_query_keys:
            steps.append(("keys query", client.keys_query))
        if client.should_claim_keys:
            users = client.get_users_for_key_claiming()
            steps.append(("keys claim", lambda: client.keys_claim(users)))
        for what, step in steps:
            try:
                result = await step()
                for item in result if isinstance(result, list) else [result]:
                    _check(item, what)
            except (MatrixError, LocalProtocolError, *_NETWORK_ERRORS) as exc:
                logger.warning("%s failed (will retry after the next sync): %s", what, exc)

    # -- rooms -------------------------------------------------------------------------------

    def is_dm(self, room_id: str) -> bool:
        """Two members (joined or invited) at most: every message there is for the bot."""
        assert self.client is not None
        room = self.client.rooms.get(room_id)
        return room is not None and room.member_count <= 2

    def joined_room_ids(self) -> list[str]:
        assert self.client is not None
        return list(self.client.rooms)

    async def join(self, room_id: str) -> None:
        assert self.client is not None
        await self._call("join", self.client.join(room_id))

    async def leave(self, room_id: str) -> None:
        assert self.client is not None
        await self._call("leave", self.client.room_leave(room_id))

    # -- sending -----------------------------------------------------------------------------

    async def send(self, room_id: str, content: dict[str, Any], *, txn_id: str | None) -> str:
        """Send one event, encrypted if the room is (one attempt). Returns its ID.

        A device or session not ready yet (nio's local errors) is a `MatrixError` with status
        "local", retried like the homeserver's errors by the caller."""
        assert self.client is not None
        try:
            if self.settings.trust == "trust_all":
                self._trust_room_devices(room_id)
            resp = await self._call(
                "send",
                self.client.room_send(
                    room_id, "m.room.message", content, tx_id=txn_id, ignore_unverified_devices=True
                ),
            )
        except (SendRetryError, LocalProtocolError, OlmUnverifiedDeviceError) as exc:
            raise MatrixError("send", "local", str(exc)) from exc
        return resp.event_id

    def _trust_room_devices(self, room_id: str) -> None:
        assert self.client is not None
        room = self.client.rooms.get(room_id)
        if room is None:
            return
        for user_id in room.users:
            for device in self.client.device_store.active_user_devices(user_id):
                if not device.verified:
                    self.client.verify_device(device)

    async def typing(self, room_id: str, on: bool) -> None:
        """Best effort: a failed typing notification is logged, never raised."""
        assert self.client is not None
        try:
            await self._call(
                "typing", self.client.room_typing(room_id, typing_state=on, timeout=30000)
            )
        except MatrixError as exc:
            logger.debug("typing in %s failed: %s", room_id, exc)

    # -- undecryptable events ----------------------------------------------------------------

    def _megolm(self, room_id: str, source: dict[str, Any]) -> MegolmEvent | None:
        event = MegolmEvent.from_dict(source)
        if not isinstance(event, MegolmEvent):
            return None
        event.room_id = room_id
        return event

    def try_decrypt(self, room_id: str, source: dict[str, Any]) -> dict[str, Any] | None:
        """The decrypted event dict, or None while the keys are still missing."""
        assert self.client is not None
        event = self._megolm(room_id, source)
        if event is None:
            return None
        try:
            decrypted = self.client.decrypt_event(event)
        except (EncryptionError, LocalProtocolError):
            return None
        if isinstance(decrypted, MegolmEvent) or not isinstance(decrypted.source, dict):
            return None
        return dict(decrypted.source)

    async def request_keys(self, room_id: str, source: dict[str, Any]) -> None:
        """Ask the sender's devices for a missing Megolm session (best effort)."""
        assert self.client is not None
        event = self._megolm(room_id, source)
        if event is None:
            return
        with contextlib.suppress(LocalProtocolError):
            try:
                await self._call("room key request", self.client.request_room_key(event))
            except MatrixError as exc:
                logger.warning("room key request for %s failed: %s", event.event_id, exc)
