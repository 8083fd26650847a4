"""`guichet chat` against a real Synapse and a real encrypted nio responder.

The responder stands in for the bot (the bot itself is exercised by test_demo.py): it joins the
DM it is invited to, and answers each message with typing, a notice, then a text reply, all
end-to-end encrypted. `guichet chat` runs as a subprocess with lines piped on stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

import pytest
from nio import AsyncClient, AsyncClientConfig, InviteMemberEvent, RoomMessageText

from devtools.homeserver import LocalSynapse

pytestmark = [pytest.mark.synapse, pytest.mark.slow]

SILENT = "ne réponds pas"


@pytest.fixture(scope="module")
def homeserver(tmp_path_factory):
    hs = LocalSynapse(tmp_path_factory.mktemp("chat-synapse"))
    hs.start()
    yield hs
    hs.stop()


@pytest.fixture(scope="module")
def users(homeserver):
    return {
        "bot": homeserver.register("responder", "pw-responder"),
        "agent": homeserver.register("agent-chat", "pw-agent"),
    }


@pytest.fixture(scope="module")
def responder_store(tmp_path_factory):
    """One encryption store for the responder's one device, across the tests of this module."""
    return tmp_path_factory.mktemp("responder-store")


@pytest.fixture
async def responder(homeserver, users, responder_store):
    bot = users["bot"]
    store = responder_store
    client = AsyncClient(
        homeserver.url,
        bot.user_id,
        device_id=bot.device_id,
        store_path=str(store),
        config=AsyncClientConfig(encryption_enabled=True),
    )
    client.restore_login(bot.user_id, bot.device_id, bot.access_token)
    if client.should_upload_keys:
        await client.keys_upload()
    received: list[str] = []

    async def on_invite(room, event):
        if event.state_key == bot.user_id:
            await client.join(room.room_id)

    async def on_message(room, event):
        if event.sender == bot.user_id:
            return
        received.append(event.body)
        if event.body == SILENT:
            return
        await client.room_typing(room.room_id, True)
        await asyncio.sleep(0.3)
        for msgtype, body in (
            ("m.notice", "Je cherche dans les fiches…"),
            (
                "m.text",
                f"Réponse à « {event.body} » [1]\n\nSources :\n1. Passeport "
                "https://www.service-public.fr/particuliers/vosdroits/F1342",
            ),
        ):
            await client.room_send(
                room.room_id,
                "m.room.message",
                {"msgtype": msgtype, "body": body},
                ignore_unverified_devices=True,
            )
        await client.room_typing(room.room_id, False)

    await client.sync(timeout=0, full_state=True)  # skip what happened before this test
    client.add_event_callback(on_invite, InviteMemberEvent)
    client.add_event_callback(on_message, RoomMessageText)
    task = asyncio.create_task(client.sync_forever(timeout=3000))
    yield received
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await client.close()


async def guichet_chat(homeserver, users, store: Path, stdin: str, *extra: str, password=None):
    env = dict(os.environ)
    env["GUICHET_CHAT_PASSWORD"] = password or users["agent"].password
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        "chat",
        "--homeserver",
        homeserver.url,
        "--user",
        users["agent"].user_id,
        "--bot",
        users["bot"].user_id,
        "--store-dir",
        str(store),
        *extra,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 180)
    return proc.returncode, out.decode(), err.decode()


async def test_piped_questions_each_wait_for_their_reply(homeserver, users, responder, tmp_path):
    store = tmp_path / "agent-store"
    code, out, err = await guichet_chat(
        homeserver, users, store, "passeport mineur\n\ncarte grise\n/quit\nnot sent\n"
    )
    assert code == 0, out + err
    assert responder == ["passeport mineur", "carte grise"]  # /quit stopped before "not sent"
    assert "Nouvelle conversation chiffrée" in out
    # Each question is followed by its own reply before the next one is sent.
    first_q = out.index("vous> passeport mineur")
    first_a = out.index("Réponse à « passeport mineur »")
    second_q = out.index("vous> carte grise")
    assert first_q < first_a < second_q < out.index("Réponse à « carte grise »")
    assert "https://www.service-public.fr/particuliers/vosdroits/F1342" in out
    assert "Je cherche dans les fiches…" in out  # the notice, shown (dimmed only on a tty)
    assert "\033[" not in out  # no escape codes when stdout is not a terminal
    assert "Au revoir." in out

    # Second run: saved device and token, same DM, no new room, no password needed.
    code, out2, err2 = await guichet_chat(
        homeserver, users, store, "encore une\n", password="wrong"
    )
    assert code == 0, out2 + err2
    assert "Nouvelle conversation" not in out2
    assert "Réponse à « encore une »" in out2
    assert "Réponse à « carte grise »" not in out2  # history is not replayed


async def test_no_reply_times_out_and_exit_code_says_so(homeserver, users, responder, tmp_path):
    code, out, err = await guichet_chat(
        homeserver, users, tmp_path / "s", f"{SILENT}\nsuite\n", "--reply-timeout", "3"
    )
    assert code == 1, out + err
    assert "(pas de réponse du bot après 3 s)" in out
    assert "Réponse à « suite »" in out  # the next line is still sent and answered


async def test_wrong_password_is_a_clear_error(homeserver, users, tmp_path):
    code, out, err = await guichet_chat(
        homeserver, users, tmp_path / "s", "x\n", password="not-the-password"
    )
    assert code == 1
    assert f"guichet chat: login as {users['agent'].user_id}" in err
    assert "not-the-password" not in out + err
