"""A terminal chat client: talk to the bot in an encrypted DM, as an agent would from Tchap.

Used by `guichet chat` and by `guichet demo`. It is a real Matrix client (matrix-nio with
end-to-end encryption, its own store directory): it logs in (password the first time, then the
saved device and token), finds or opens an encrypted DM with the bot, sends each line read from
stdin, and prints the bot's replies (plain-text body; notices dimmed). `/quit` (or end of input)
exits.

Standard input may be a terminal or a pipe: each line is sent only once the reply to the
previous one has arrived (or `reply_timeout_s` has passed), so
`printf 'passeport mineur\\n/quit\\n' | guichet chat` is a scripted conversation. The exit code
is 0 when every question got a reply, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from nio import (
    AsyncClient,
    InviteMemberEvent,
    JoinError,
    MegolmEvent,
    RoomMessageNotice,
    RoomMessageText,
    RoomPreset,
    TypingNoticeEvent,
)
from nio.rooms import MatrixRoom

from bot.routing import strip_reply_fallback
from devtools.agent import AgentError, AgentTimeout, MatrixAgent

logger = logging.getLogger(__name__)

SESSION_FILE = "session.json"
QUIT = "/quit"
LOCAL_HELP = (
    "Tapez une question et Entrée. Commandes du bot : !aide, !sources, !reset, "
    "!brouillon <texte>. Quitter : /quit (ou Ctrl-D)."
)


# The chat client could not log in, open the DM or talk to the bot (named in the message).
ChatError = AgentError


@dataclass(slots=True)
class ChatConfig:
    homeserver_url: str
    user_id: str
    bot_user_id: str
    store_dir: Path
    password: str | None = None
    device_name: str = "guichet chat"
    reply_timeout_s: float = 120.0
    quiet_s: float = 1.0
    join_timeout_s: float = 60.0


class Printer:
    """Writes the conversation to a stream: ANSI dim/bold on a terminal, plain text otherwise."""

    def __init__(self, stream: TextIO, *, color: bool | None = None) -> None:
        self.stream = stream
        self.color = stream.isatty() if color is None else color
        self._status = False

    def _style(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def line(self, text: str = "") -> None:
        self.clear_status()
        self.stream.write(text + "\n")
        self.stream.flush()

    def status(self, text: str) -> None:
        """A transient dimmed line (e.g. "Guichet rédige…"), on a terminal only."""
        if not self.color:
            return
        self.stream.write("\r\033[K" + self._style(text, "2"))
        self.stream.flush()
        self._status = True

    def clear_status(self) -> None:
        if self._status:
            self.stream.write("\r\033[K")
            self._status = False

    def info(self, text: str) -> None:
        self.line(self._style(text, "2"))

    def error(self, text: str) -> None:
        self.line(self._style(text, "31"))

    def you(self, text: str) -> None:
        self.line(self._style("vous> ", "1") + text)

    def bot_message(self, name: str, body: str, *, notice: bool) -> None:
        head = self._style(f"{name}> ", "1;36")
        lines = terminal_text(body, color=self.color).splitlines() or [""]
        if notice:
            self.line(head + self._style(lines[0], "2"))
            for extra in lines[1:]:
                self.line(self._style("  " + extra, "2"))
        else:
            self.line(head + lines[0])
            for extra in lines[1:]:
                self.line(("  " + extra).rstrip())
        self.line()


_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
_EMPH = re.compile(r"(?<![\w/*])[*_]([^*_\n]+)[*_](?![\w/*])")


def terminal_text(body: str, *, color: bool) -> str:
    """The bot's Markdown plain-text body, for a terminal: links as `title <url>`, emphasis
    as ANSI bold/italic on a terminal and plain text otherwise (URLs are left untouched)."""

    def link(m: re.Match[str]) -> str:
        title, url = m.group(1), m.group(2)
        return url if title.strip() == url else f"{title} <{url}>"

    text = _LINK.sub(link, body)
    bold, emph = (r"\033[1m\1\033[22m", r"\033[3m\1\033[23m") if color else (r"\1", r"\1")
    text = _BOLD.sub(bold, text)
    return _EMPH.sub(emph, text)


class ChatClient:
    """One agent's Matrix client (`devtools.agent.MatrixAgent`), in one encrypted DM with the
    bot: the session (device, token, DM) saved in its store directory, the bot's replies
    printed."""

    def __init__(self, config: ChatConfig, printer: Printer) -> None:
        self.config = config
        self.printer = printer
        self.agent: MatrixAgent | None = None
        self.room_id: str | None = None
        self._bot_messages = 0
        self._bot_typing = False
        self._last_bot_event = 0.0
        self._seen: set[str] = set()

    @property
    def client(self) -> AsyncClient:
        assert self.agent is not None
        return self.agent.client

    # ---- session -----------------------------------------------------------------------------

    @property
    def session_path(self) -> Path:
        return self.config.store_dir / SESSION_FILE

    def _load_session(self) -> dict[str, Any]:
        if not self.session_path.exists():
            return {}
        try:
            data = json.loads(self.session_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ChatError(f"{self.session_path} is unreadable ({exc}): delete it") from exc
        same = data.get("user_id") == self.config.user_id and data.get(
            "homeserver_url"
        ) == self.config.homeserver_url.rstrip("/")
        return data if same else {}

    def _save_session(self, **changes: Any) -> None:
        data = self._load_session()
        data.update(changes)
        data["user_id"] = self.config.user_id
        data["homeserver_url"] = self.config.homeserver_url.rstrip("/")
        tmp = self.session_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(self.session_path)

    async def login(self) -> None:
        cfg = self.config
        cfg.store_dir.mkdir(parents=True, exist_ok=True)
        session = self._load_session()
        agent = MatrixAgent(
            cfg.homeserver_url, cfg.user_id, cfg.store_dir, device_id=session.get("device_id")
        )
        self.agent = agent
        if session.get("access_token") and session.get("device_id"):
            agent.restore(session["device_id"], session["access_token"])
            logger.info("chat: restored device %s", session["device_id"])
        else:
            if not cfg.password:
                raise ChatError(
                    f"no saved session in {cfg.store_dir} and no password for {cfg.user_id}"
                )
            response = await agent.login(cfg.password, cfg.device_name)
            self._save_session(device_id=response.device_id, access_token=response.access_token)
            logger.info("chat: logged in, new device %s", response.device_id)
        client = agent.client
        client.add_event_callback(self._on_message, (RoomMessageText, RoomMessageNotice))
        client.add_event_callback(self._on_undecryptable, MegolmEvent)
        client.add_event_callback(self._on_invite, InviteMemberEvent)
        client.add_ephemeral_callback(self._on_typing, TypingNoticeEvent)

    async def start(self) -> None:
        """Log in, start syncing, and open (or find) the encrypted DM with the bot."""
        await self.login()
        assert self.agent is not None
        await self.agent.start_syncing()
        self.room_id = self._find_dm() or await self._create_dm()
        self._save_session(dm_room_id=self.room_id)
        await self.agent.wait_until(
            self._bot_joined, self.config.join_timeout_s, "the bot to join the DM"
        )
        try:
            await self.agent.wait_devices(self.config.bot_user_id, 30)
        except AgentTimeout as exc:
            raise ChatError(
                f"{self.config.bot_user_id} has no device with encryption keys: is the bot running?"
            ) from exc

    async def close(self) -> None:
        if self.agent is not None:
            await self.agent.close()

    # ---- the DM ------------------------------------------------------------------------------

    def _room(self) -> MatrixRoom | None:
        return self.client.rooms.get(self.room_id or "")

    def _bot_joined(self) -> bool:
        room = self._room()
        return room is not None and self.config.bot_user_id in room.users

    def _is_dm(self, room: MatrixRoom) -> bool:
        bot, me = self.config.bot_user_id, self.config.user_id
        members = set(room.users) | set(room.invited_users)
        return room.encrypted and members == {bot, me}

    def _find_dm(self) -> str | None:
        saved = self._load_session().get("dm_room_id")
        rooms = self.client.rooms
        if saved in rooms and self._is_dm(rooms[saved]):
            return saved
        for room_id, room in rooms.items():
            if self._is_dm(room):
                return room_id
        return None

    async def _create_dm(self) -> str:
        assert self.agent is not None
        room_id = await self.agent.create_room(
            [self.config.bot_user_id], dm=True, preset=RoomPreset.trusted_private_chat
        )
        self.printer.info(f"Nouvelle conversation chiffrée ouverte avec {self.config.bot_user_id}.")
        return room_id

    # ---- events ------------------------------------------------------------------------------

    def _bump(self) -> None:
        self._last_bot_event = time.monotonic()
        assert self.agent is not None
        self.agent.bump()

    def _relevant(self, room: MatrixRoom, event: Any) -> bool:
        if room.room_id != self.room_id or event.sender != self.config.bot_user_id:
            return False
        assert self.agent is not None
        if not self.agent.first_sync_done.is_set() or event.event_id in self._seen:
            return False  # history from before we started: not shown
        self._seen.add(event.event_id)
        return True

    async def _on_message(self, room: MatrixRoom, event: RoomMessageText) -> None:
        if not self._relevant(room, event):
            return
        content = event.source.get("content", {})
        if content.get("m.relates_to", {}).get("rel_type") == "m.replace":
            return  # an edit of a message already shown
        notice = isinstance(event, RoomMessageNotice)
        name = room.user_name(event.sender) or event.sender
        self.printer.bot_message(name, strip_reply_fallback(event.body), notice=notice)
        self._bot_messages += 1
        self._bump()

    async def _on_undecryptable(self, room: MatrixRoom, event: MegolmEvent) -> None:
        if not self._relevant(room, event):
            return
        self.printer.error(
            "(un message du bot n'a pas pu être déchiffré : clés de session manquantes ; "
            "une nouvelle demande de clés est envoyée)"
        )
        with contextlib.suppress(Exception):
            await self.client.request_room_key(event)
        self._bot_messages += 1
        self._bump()

    async def _on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.sender == self.config.bot_user_id and event.state_key == self.config.user_id:
            response = await self.client.join(room.room_id)
            if isinstance(response, JoinError):
                logger.warning("chat: cannot join %s: %s", room.room_id, response.message)

    async def _on_typing(self, room: MatrixRoom, event: TypingNoticeEvent) -> None:
        if room.room_id != self.room_id:
            return
        typing = self.config.bot_user_id in event.users
        if typing != self._bot_typing:
            self._bot_typing = typing
            if typing:
                name = room.user_name(self.config.bot_user_id) or self.config.bot_user_id
                self.printer.status(f"… {name} rédige une réponse")
            else:
                self.printer.clear_status()
                self.printer.stream.flush()
            self._bump()

    # ---- talking -----------------------------------------------------------------------------

    async def send(self, text: str) -> str:
        assert self.agent is not None
        assert self.room_id is not None
        content = {"msgtype": "m.text", "body": text}
        return await self.agent.send_content(self.room_id, content, claim_sessions=True)

    async def ask(self, text: str) -> bool:
        """Send `text`, wait for the bot's reply (all its parts). False on timeout."""
        assert self.agent is not None
        before = self._bot_messages
        self._last_bot_event = time.monotonic()
        await self.send(text)
        deadline = time.monotonic() + self.config.reply_timeout_s
        while True:
            now = time.monotonic()
            done = (
                self._bot_messages > before
                and not self._bot_typing
                and now - self._last_bot_event >= self.config.quiet_s
            )
            if done:
                return True
            if now >= deadline:
                return False
            wait = deadline - now
            if self._bot_messages > before and not self._bot_typing:
                wait = min(wait, self.config.quiet_s - (now - self._last_bot_event))
            await self.agent.wait_changed(wait)


def _stdin_lines(stream: TextIO) -> asyncio.Queue[str | None]:
    """Lines of `stream` (a terminal, a pipe or a file) fed by a daemon thread; None at EOF."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        try:
            for line in stream:
                loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\r\n"))
        except (OSError, ValueError):
            pass
        finally:
            with contextlib.suppress(RuntimeError):  # the loop may be closed already
                loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="chat-stdin", daemon=True).start()
    return queue


async def run_chat(
    config: ChatConfig,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    banner: str | None = None,
) -> int:
    """The whole chat session. Returns 0 if every question got a reply, 1 otherwise."""
    stdin = stdin if stdin is not None else sys.stdin
    printer = Printer(stdout if stdout is not None else sys.stdout)
    interactive = stdin.isatty()
    chat = ChatClient(config, printer)
    unanswered = 0
    try:
        printer.info(f"Connexion à {config.homeserver_url} en tant que {config.user_id}…")
        await chat.start()
        printer.info(f"Conversation chiffrée avec {config.bot_user_id} prête ({chat.room_id}).")
        if banner:
            printer.line(banner)
        printer.info(LOCAL_HELP)
        lines = _stdin_lines(stdin)
        while True:
            if interactive:
                printer.stream.write(printer._style("vous> ", "1"))
                printer.stream.flush()
            line = await lines.get()
            if line is None or line.strip() == QUIT:
                break
            text = line.strip()
            if not text:
                continue
            if text in {"/aide", "/help"}:
                printer.info(LOCAL_HELP)
                continue
            if not interactive:
                printer.you(text)
            if not await chat.ask(text):
                unanswered += 1
                printer.error(f"(pas de réponse du bot après {config.reply_timeout_s:g} s)")
        printer.info("Au revoir.")
    finally:
        await chat.close()
    return 1 if unanswered else 0
