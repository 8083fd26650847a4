"""Record real Matrix events from a local Synapse, for the routing tests.

    python -m devtools.record_events [--out tests/unit/bot/data/recorded_events.json]

Starts a throw-away Synapse (`devtools.homeserver.LocalSynapse`, as the test suite does),
registers a bot and an agent, and has the agent (a real nio client with end-to-end encryption,
`devtools.synapse.Agent`) send each kind of event the bot must route, in an encrypted DM and in
an encrypted team room: questions, a command, a citizen's message after `>>`, an image, a
sticker, a poll, an edit, a redaction, a notice, a reaction, a pill mention, a reply to one of
the bot's answers, a thread follow-up, a message whose room key is withheld... The bot's side is
a second nio client logged in as the bot: it records each event as its sync delivers it
(decrypted when it can), and sends the bot's own answers the way `bot.content` builds them.

The output names each event; it also names the bot, the agent, the rooms and when the bot
joined them. IDs and timestamps are the homeserver's. Rerun it after a matrix-nio or Synapse
upgrade, or to add a case (tests/unit/bot/test_routing_recorded.py reads the file).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from nio import BadEvent, Event, InviteMemberEvent, MegolmEvent, UnknownBadEvent

from devtools.agent import MatrixAgent
from devtools.homeserver import LocalSynapse, RegisteredUser
from devtools.synapse import Agent

DEFAULT_OUT = Path("tests/unit/bot/data/recorded_events.json")
BOT_NAME = "Guichet"


class Recorder(MatrixAgent):
    """The bot's account: joins when invited and keeps every timeline event it receives."""

    def __init__(self, hs: LocalSynapse, user: RegisteredUser, store_dir: Path) -> None:
        super().__init__(hs.url, user.user_id, store_dir, device_id=user.device_id)
        self.user = user
        self.seen: dict[str, dict[str, Any]] = {}
        self.room_of: dict[str, str] = {}

    async def start(self) -> None:
        self.restore(self.user.device_id, self.user.access_token)
        self.client.add_event_callback(
            self._on_event, (Event, MegolmEvent, BadEvent, UnknownBadEvent)
        )
        self.client.add_event_callback(self._on_invite, InviteMemberEvent)
        await self.start_syncing()

    async def _on_event(self, room: Any, event: Any) -> None:
        if isinstance(event.source, dict) and event.event_id:
            source = dict(event.source)
            if isinstance(event, MegolmEvent):  # undecryptable: keep it as the bot sees it
                source.setdefault("type", "m.room.encrypted")
            self.seen[event.event_id] = source
            self.room_of[event.event_id] = room.room_id
            self.bump()

    async def _on_invite(self, room: Any, event: Any) -> None:
        if event.state_key == self.user_id and event.membership == "invite":
            await self.client.join(room.room_id)

    async def event(self, event_id: str) -> dict[str, Any]:
        return await self.wait_until(lambda: self.seen.get(event_id), 30, f"event {event_id}")

    async def answer(self, room_id: str, question_id: str, thread_root: str | None) -> str:
        """An answer as the bot sends it (bot.content.reply_content, without the HTML)."""
        content: dict[str, Any] = {
            "msgtype": "m.text",
            "body": "Voici la démarche [1].",
            "org.guichet.reply_to": question_id,
        }
        if thread_root:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": thread_root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": question_id},
            }
        return await self.send_content(room_id, content, claim_sessions=True)


def _encrypted_file(url: str) -> dict[str, Any]:
    """An attachment's `file` as Element sends it in an encrypted room (never uploaded here)."""
    return {
        "url": url,
        "key": {"kty": "oct", "alg": "A256CTR", "ext": True, "key_ops": ["encrypt", "decrypt"],
                "k": "qcHVMSgYg-71CauWBezXI5qkaRb0LuIy-Wx5kIaHMIA"},
        "iv": "X85+XgHN+HEAAAAAAAAAAA",
        "hashes": {"sha256": "Yc9VuyVjrXzyhXKlS4gUMTrl6RWKxrQ72FrxOcTjdTU"},
        "v": "v2",
    }  # fmt: skip


def _pill(user_id: str, name: str) -> str:
    return f'<a href="https://matrix.to/#/{user_id}">{name}</a>'


async def record(hs: LocalSynapse, base: Path) -> dict[str, Any]:
    bot_user = await asyncio.to_thread(hs.register, "guichet", "pw-guichet", displayname=BOT_NAME)
    agent_user = await asyncio.to_thread(hs.register, "agent-interieur.gouv.fr", "pw-agent")
    bot = Recorder(hs, bot_user, base / "bot")
    agent = Agent(hs, agent_user, base / "agent")
    await bot.start()
    await agent.start()
    names: dict[str, str] = {}
    try:
        bot_id = bot_user.user_id
        dm = await agent.dm(bot_id)
        team = await agent.create_room([bot_id], name="Équipe France services")
        await agent.wait_member(team, bot_id)

        async def send(name: str, room: str, body: str, **kw: Any) -> str:
            names[name] = await agent.send(room, body, **kw)
            return names[name]

        # -- the DM: every message is for the bot
        question = await send("dm_text", dm, "Comment renouveler un passeport ?", mentions=[])
        names["dm_answer"] = await bot.answer(dm, question, None)
        await send("dm_command", dm, "!sources", mentions=[])
        await send(
            "dm_brouillon_marker",
            dm,
            ">> Bonjour, je n'ai toujours pas reçu ma carte grise.",
            formatted="<blockquote>\n<blockquote>\n<p>Bonjour, je n'ai toujours pas reçu ma "
            "carte grise.</p>\n</blockquote>\n</blockquote>\n",
            mentions=[],
        )
        await send(
            "dm_image",
            dm,
            "capture.png",
            msgtype="m.image",
            extra={
                "file": _encrypted_file("mxc://localhost/capture"),
                "info": {"mimetype": "image/png"},
            },
        )
        names["dm_sticker"] = await agent.send_content(
            dm,
            {"body": "👍", "file": _encrypted_file("mxc://localhost/sticker"), "info": {}},
            event_type="m.sticker",
        )
        names["dm_poll"] = await agent.send_content(
            dm,
            {
                "org.matrix.msc3381.poll.start": {
                    "question": {"org.matrix.msc1767.text": "Réunion mardi ?"},
                    "kind": "org.matrix.msc3381.poll.disclosed",
                    "answers": [{"id": "oui", "org.matrix.msc1767.text": "Oui"}],
                },
                "org.matrix.msc1767.text": "Réunion mardi ?",
            },
            event_type="org.matrix.msc3381.poll.start",
        )
        names["dm_edit"] = await agent.edit(dm, question, "Comment renouveler un passeport ?")
        await send(
            "dm_notice_other_bot", dm, "Rappel automatique : réunion à 14 h", msgtype="m.notice"
        )
        typo = await agent.send(dm, "passeport pour mon fis")
        redaction = await agent.client.room_redact(dm, typo, reason="faute de frappe")
        names["dm_redaction"] = redaction.event_id
        names["dm_reaction"] = await agent.react(dm, names["dm_answer"], "👍")
        names["dm_own"] = await bot.send_content(
            dm, {"msgtype": "m.text", "body": "Bonjour, je suis Guichet."}
        )
        withheld, _deliver = await agent.send_withholding_keys(dm, "Et pour un mineur ?")
        names["dm_encrypted"] = withheld

        # -- the team room: only what is addressed to the bot
        await send("team_plain", team, "Quelqu'un a les horaires de la mairie ?", mentions=[])
        await send("team_common_word", team, "Le guichet de la mairie ferme à 16 h.", mentions=[])
        pill = await send(
            "team_pill",
            team,
            f"{BOT_NAME} : quelles pièces pour une carte d'identité ?",
            formatted=f"{_pill(bot_id, BOT_NAME)} : quelles pièces pour une carte d'identité ?",
            mentions=[bot_id],
        )
        names["team_answer"] = await bot.answer(team, pill, pill)
        await send(
            "team_name_addressed", team, f"{BOT_NAME}, combien coûte un passeport ?", mentions=[]
        )
        await send("team_command", team, "!aide", mentions=[])
        await send(
            "team_thread_followup",
            team,
            "et pour un enfant de 12 ans ?",
            thread_root=pill,
            reply_to=names["team_answer"],
            mentions=[],
        )
        await send(
            "team_reply_to_answer",
            team,
            f"> <{bot_id}> Voici la démarche [1].\n\nmerci, et le délai ?",
            reply_to=names["team_answer"],
            mentions=[bot_id],
        )
        await send(
            "team_reply_to_human",
            team,
            f"> <{agent.user_id}> Quelqu'un a les horaires de la mairie ?\n\n9 h - 17 h",
            reply_to=names["team_plain"],
            mentions=[agent.user_id],
        )
        events = {}
        for name, event_id in names.items():
            try:
                events[name] = await bot.event(event_id)
            except TimeoutError as exc:
                raise RuntimeError(f"{name} ({event_id}) never reached the bot") from exc
        joined = {}
        for room_id in (dm, team):
            member = [
                e
                for event_id, e in bot.seen.items()
                if bot.room_of[event_id] == room_id
                and e.get("type") == "m.room.member"
                and e.get("state_key") == bot_id
                and e.get("content", {}).get("membership") == "join"
            ]
            joined[room_id] = min((e["origin_server_ts"] for e in member), default=None)
        return {
            "_comment": "Recorded by `python -m devtools.record_events` from a local Synapse: "
            "the events as the bot's nio client received them (decrypted when it could). "
            "Do not edit by hand: rerun the script.",
            "bot_user_id": bot_id,
            "bot_display_name": BOT_NAME,
            "agent_user_id": agent.user_id,
            "rooms": {"dm": dm, "team": team},
            "bot_joined_ts": {"dm": joined[dm], "team": joined[team]},
            "events": {
                name: {"room": "dm" if name.startswith("dm_") else "team", "event": event}
                for name, event in events.items()
            },
        }
    finally:
        await agent.close()
        await bot.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON file written")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="guichet-record-") as tmp:
        base = Path(tmp)
        hs = LocalSynapse(base / "synapse", encrypt_by_default="invite")
        hs.start()
        try:
            data = asyncio.run(record(hs, base))
        finally:
            hs.stop()
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    args.out.write_text(text, encoding="utf-8")
    sys.stdout.write(f"{len(data['events'])} events written to {args.out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
