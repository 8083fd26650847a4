"""Helpers to drive a real Synapse as agents and to run the bot, for the tests and benches.

(The `synapse` fixture, a `devtools.homeserver.LocalSynapse` started once per test session, is
in tests/support/synapse.py.)
- `Agent`: a real matrix-nio client with its own encryption store, syncing in the background,
  that creates encrypted DMs and team rooms, sends messages, reacts, and waits for the bot's
  replies (every reply names the event it answers in `org.guichet.reply_to`).
- `BotRunner`: the bot in-process as an asyncio task (real `GuichetBot` over a given answerer),
  restartable on the same data dir; `kill()` cancels it abruptly (in-process "crash").
- `unique(prefix)`: unique localparts, so tests sharing one Synapse never collide.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nio import (
    Event,
    MegolmEvent,
    RoomSendResponse,
    ToDeviceMessage,
    ToDeviceResponse,
)

from devtools.agent import AgentError, MatrixAgent
from devtools.homeserver import LocalSynapse, RegisteredUser

_counter = itertools.count(1)
_RUN = uuid.uuid4().hex[:6]


def unique(prefix: str = "user") -> str:
    return f"{prefix}{_RUN}{next(_counter)}"


@dataclass
class Received:
    room_id: str
    source: dict[str, Any]

    @property
    def content(self) -> dict[str, Any]:
        return self.source.get("content") or {}

    @property
    def body(self) -> str:
        return self.content.get("body", "")

    @property
    def msgtype(self) -> str:
        return self.content.get("msgtype", "")

    @property
    def event_id(self) -> str:
        return self.source.get("event_id", "")

    @property
    def sender(self) -> str:
        return self.source.get("sender", "")

    @property
    def reply_to(self) -> str | None:
        return self.content.get("org.guichet.reply_to")

    @property
    def thread_root(self) -> str | None:
        rel = self.content.get("m.relates_to") or {}
        return rel.get("event_id") if rel.get("rel_type") == "m.thread" else None


class Agent(MatrixAgent):
    """A test user (`devtools.agent.MatrixAgent`: a real nio client, E2E store in a temp dir,
    syncing in the background) that records every event it receives."""

    def __init__(self, hs: LocalSynapse, user: RegisteredUser, store_dir: Path) -> None:
        super().__init__(
            hs.url, user.user_id, store_dir, device_id=user.device_id, sync_timeout_ms=1000
        )
        self.hs = hs
        self.user = user
        self.events: list[Received] = []
        self.undecryptable: list[Received] = []

    async def start(self) -> Agent:
        self.restore(self.user.device_id, self.user.access_token)
        self.client.add_event_callback(self._on_event, Event)
        self.client.add_event_callback(self._on_megolm, MegolmEvent)
        await self.start_syncing()
        return self

    async def _on_event(self, room, event) -> None:
        if isinstance(event, MegolmEvent):
            return
        if isinstance(event.source, dict):
            self.events.append(Received(room.room_id, dict(event.source)))
            self.bump()

    async def _on_megolm(self, room, event) -> None:
        self.undecryptable.append(Received(room.room_id, dict(event.source)))
        self.bump()

    # -- rooms ------------------------------------------------------------------------------

    async def wait_member(self, room_id: str, user_id: str, wait_s: float = 20.0) -> None:
        """Wait until `user_id` has joined and, in an encrypted room, its devices are known."""

        def joined() -> bool:
            room = self.client.rooms.get(room_id)
            return bool(room and user_id in room.users and user_id not in room.invited_users)

        await self.wait_until(joined, wait_s, f"{user_id} to join {room_id}")
        if self.client.rooms[room_id].encrypted:
            await self.wait_devices(user_id, wait_s)

    async def dm(self, bot_user_id: str, *, encrypted: bool = True, wait_s: float = 20.0) -> str:
        room_id = await self.create_room([bot_user_id], encrypted=encrypted, dm=True)
        await self.wait_member(room_id, bot_user_id, wait_s)
        return room_id

    # -- sending ----------------------------------------------------------------------------

    async def send_content(self, room_id: str, content: dict[str, Any], **kw: Any) -> str:
        """As `MatrixAgent.send_content`; a refused send fails the test (AssertionError)."""
        try:
            return await super().send_content(room_id, content, **kw)
        except AgentError as exc:
            raise AssertionError(str(exc)) from exc

    async def send(
        self,
        room_id: str,
        body: str,
        *,
        formatted: str | None = None,
        thread_root: str | None = None,
        reply_to: str | None = None,
        mentions: list[str] | None = None,
        msgtype: str = "m.text",
        extra: dict[str, Any] | None = None,
        event_type: str = "m.room.message",
    ) -> str:
        content: dict[str, Any] = {"msgtype": msgtype, "body": body}
        if formatted is not None:
            content["format"] = "org.matrix.custom.html"
            content["formatted_body"] = formatted
        if thread_root:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": thread_root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": reply_to or thread_root},
            }
        elif reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        if mentions is not None:
            content["m.mentions"] = {"user_ids": mentions}
        if extra:
            content.update(extra)
        return await self.send_content(room_id, content, event_type=event_type)

    async def edit(self, room_id: str, event_id: str, body: str, **kw: Any) -> str:
        """An edit (m.replace) of `event_id`, as clients send it ("* " fallback body)."""
        new_content = {"msgtype": "m.text", "body": body}
        relation = {"rel_type": "m.replace", "event_id": event_id}
        extra = {"m.new_content": new_content, "m.relates_to": relation}
        return await self.send(room_id, f"* {body}", extra=extra, **kw)

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
        return await self.send_content(room_id, content, event_type="m.reaction")

    async def send_withholding_keys(self, room_id: str, body: str) -> tuple[str, Callable]:
        """Send an encrypted message whose Megolm key is NOT delivered yet.

        Returns the event ID and an async `deliver()` that sends the held-back room keys, as
        when to-device messages arrive late: the bot cannot decrypt until then.
        """
        client = self.client
        room = client.rooms[room_id]
        if not room.members_synced:
            await client.joined_members(room_id)
        if client.should_query_keys:
            await client.keys_query()
        client.olm.create_outbound_group_session(room_id)
        missing = client.get_missing_sessions(room_id)
        if missing:
            await client.keys_claim(missing)
        held = list(
            client.olm.share_group_session_parallel(
                room_id, list(room.users), ignore_unverified_devices=True
            )
        )
        client.olm.outbound_group_sessions[room_id].shared = True
        resp = await client.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": body},
            ignore_unverified_devices=True,
        )  # fmt: skip
        if not isinstance(resp, RoomSendResponse):
            raise AssertionError(f"send failed: {resp}")

        assert held, "no room key to hold back"

        async def deliver() -> None:
            for _sharing_with, to_device in held:
                for user_id, devices in to_device["messages"].items():
                    for device_id, payload in devices.items():
                        message = ToDeviceMessage("m.room.encrypted", user_id, device_id, payload)
                        resp = await client.to_device(message)
                        assert isinstance(resp, ToDeviceResponse), resp

        return resp.event_id, deliver

    # -- waiting for the bot ----------------------------------------------------------------

    def replies_to(self, event_id: str, sender: str | None = None) -> list[Received]:
        return [
            e
            for e in self.events
            if e.reply_to == event_id and (sender is None or e.sender == sender)
        ]

    async def wait_reply(
        self, event_id: str, *, count: int = 1, wait_s: float = 30.0
    ) -> list[Received]:
        return await self.wait_until(
            lambda: (r := self.replies_to(event_id)) and len(r) >= count and r,
            wait_s,
            f"{count} replies to {event_id}",
        )

    async def ask(self, room_id: str, body: str, wait_s: float = 30.0, **kw: Any) -> Received:
        event_id = await self.send(room_id, body, **kw)
        return (await self.wait_reply(event_id, wait_s=wait_s))[0]

    async def assert_no_reply(self, event_id: str, wait: float = 3.0) -> None:
        await asyncio.sleep(wait)
        assert self.replies_to(event_id) == [], f"unexpected reply to {event_id}"


class AgentFactory:
    def __init__(self, hs: LocalSynapse, base: Path) -> None:
        self.hs = hs
        self.base = base
        self.agents: list[Agent] = []

    async def new(self, domain: str = "interieur.gouv.fr", name: str = "agent") -> Agent:
        localpart = f"{unique(name)}-{domain}" if domain else unique(name)
        user = await asyncio.to_thread(self.hs.register, localpart, "pw-" + localpart)
        agent = Agent(self.hs, user, self.base / localpart)
        await agent.start()
        self.agents.append(agent)
        return agent

    async def close(self) -> None:
        for agent in self.agents:
            await agent.close()


class BotRunner:
    """The real bot, in-process, on the shared Synapse; restartable on the same data dir."""

    def __init__(self, settings_factory: Callable[[], Any], answerer: Any) -> None:
        self.settings_factory = settings_factory
        self.answerer = answerer
        self.app: Any = None
        self.task: asyncio.Task | None = None

    @property
    def bot(self) -> Any:
        return self.app.bot

    async def start(self, wait_s: float = 30.0) -> BotRunner:
        from app.wiring import build_bot_from_parts

        self.app = await build_bot_from_parts(self.settings_factory(), self.answerer)
        self.task = asyncio.create_task(self.app.run())
        ready = asyncio.ensure_future(self.app.bot.ready.wait())
        done, _ = await asyncio.wait(
            {ready, self.task}, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED
        )
        if self.task in done:
            ready.cancel()
            self.task.result()  # raises the bot's start error
        if ready not in done:
            raise TimeoutError("the bot did not finish its first sync")
        return self

    async def stop(self) -> None:
        if self.task is None:
            return
        self.app.bot.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, 30)
        self.task = None

    async def kill(self) -> None:
        """Abrupt stop: cancel everything mid-flight (no draining), then close the files."""
        if self.task is None:
            return
        for task in list(self.app.bot._tasks):
            task.cancel()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
        self.task = None
        with contextlib.suppress(Exception):
            await self.app.stack.aclose()

    async def restart(self) -> BotRunner:
        await self.stop()
        return await self.start()


def bot_env_settings(hs: LocalSynapse, bot_user: RegisteredUser, data_dir: Path, **overrides: Any):
    """BotSettings for a test bot on `hs` (no .env, no GUICHET_* from the environment)."""
    from bot.settings import BotSettings

    values: dict[str, Any] = {
        "homeserver_url": hs.url,
        "user_id": bot_user.user_id,
        "password": bot_user.password,
        "data_dir": data_dir,
        "allowed_domains": ["interieur.gouv.fr", "developpement-durable.gouv.fr"],
        "identity_servers": ["localhost"],
        "sync_timeout_ms": 5000,
        "rate_limit_count": 1000,
    }
    values.update(overrides)
    old = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("GUICHET_")}
    try:
        return BotSettings(_env_file=None, **values)
    finally:
        os.environ.update(old)


@dataclass
class BotEnv:
    hs: LocalSynapse
    runner: BotRunner
    bot_user: RegisteredUser
    admin: Agent
    agents: AgentFactory
    data_dir: Path

    @property
    def bot_id(self) -> str:
        return self.bot_user.user_id

    async def new_dm(self, **agent: Any) -> tuple[Agent, str]:
        """A new agent (`AgentFactory.new(**agent)`) and its encrypted DM with the bot."""
        new = await self.agents.new(**agent)
        return new, await new.dm(self.bot_id)

    async def close(self) -> None:
        """Stop the bot and every agent's client (the fixtures' teardown)."""
        await self.runner.stop()
        await self.agents.close()


async def make_bot_env(hs: LocalSynapse, base: Path, answerer: Any, **overrides: Any) -> BotEnv:
    bot_user = await asyncio.to_thread(hs.register, unique("guichet"), "pw-bot")
    agents = AgentFactory(hs, base / "agents")
    admin = await agents.new(name="admin")
    data_dir = base / "bot"
    overrides.setdefault("admin_users", [admin.user_id])
    runner = BotRunner(lambda: bot_env_settings(hs, bot_user, data_dir, **overrides), answerer)
    await runner.start()
    return BotEnv(hs, runner, bot_user, admin, agents, data_dir)


def extractive_answerer(retriever: Any) -> Any:
    from app.wiring import build_chain
    from chains.settings import ChainSettings

    return build_chain(retriever, ChainSettings(_env_file=None), llm=None)


async def wait_for(
    probe: Callable[[], Any], accept: Callable[[Any], bool], wait_s: float = 20.0
) -> Any:
    """Poll an async `probe()` until `accept(value)`; returns the last value (or raises)."""
    deadline = time.monotonic() + wait_s
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"still {value!r} after {wait_s}s")
        await asyncio.sleep(0.2)
