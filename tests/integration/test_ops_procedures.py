"""The operations procedures of deploy/README.md, run for real against Synapse and the bot.

- Rotating the bot's access token: stop, move `credentials.json` and `nio/` aside (keep
  `state.sqlite3`), start (new device from the password), delete the old device with the
  Synapse admin API: the old token no longer works, the bot answers in the same encrypted DM,
  and an old question is not answered twice (state kept).
- The facts the procedure rests on: a re-login on the same device keeps the old token valid.
"""

from __future__ import annotations

import asyncio
import json
import shutil

import httpx
import pytest

from devtools.synapse import extractive_answerer, make_bot_env, unique

pytestmark = [pytest.mark.synapse, pytest.mark.slow]


def whoami(hs, token: str) -> httpx.Response:
    return httpx.get(
        f"{hs.url}/_matrix/client/v3/account/whoami",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_relogin_on_the_same_device_keeps_the_old_token(synapse):
    user = synapse.register(unique("rot"), "pw-rot")
    response = httpx.post(
        f"{synapse.url}/_matrix/client/v3/login",
        json={
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user.user_id},
            "password": "pw-rot",
            "device_id": user.device_id,
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["device_id"] == user.device_id
    assert whoami(synapse, user.access_token).status_code == 200  # still valid: no rotation


async def test_token_rotation_procedure(synapse, bot_retriever, tmp_path):
    env = await make_bot_env(synapse, tmp_path, extractive_answerer(bot_retriever))
    try:
        agent, room = await env.new_dm()
        question = "Comment faire un passeport pour un enfant mineur ?"
        first_event = await agent.send(room, question)
        before = (await agent.wait_reply(first_event, wait_s=60))[0]
        assert before.msgtype == "m.text"
        creds_path = env.data_dir / "credentials.json"
        old = json.loads(creds_path.read_text())

        # 1-2. Stop the bot, move the credentials and the encryption store aside.
        await env.runner.stop()
        aside = tmp_path / "aside"
        aside.mkdir()
        shutil.move(str(creds_path), aside / "credentials.json")
        shutil.move(str(env.data_dir / "nio"), aside / "nio")
        assert (env.data_dir / "state.sqlite3").exists()

        # 3. Start: a new device, logged in with the password from the settings.
        await env.runner.start()
        new = json.loads(creds_path.read_text())
        assert new["device_id"] != old["device_id"]
        assert new["access_token"] != old["access_token"]

        # 4. Delete the old device with the admin API: this revokes the old token.
        admin = await asyncio.to_thread(synapse.register, unique("hsadmin"), "pw", admin=True)
        async with httpx.AsyncClient(base_url=synapse.url, timeout=10) as http:
            deleted = await http.delete(
                f"/_synapse/admin/v2/users/{env.bot_id}/devices/{old['device_id']}",
                headers={"Authorization": f"Bearer {admin.access_token}"},
            )
            assert deleted.status_code == 200, deleted.text
            for token, status in ((old["access_token"], 401), (new["access_token"], 200)):
                response = await http.get(
                    "/_matrix/client/v3/account/whoami",
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert response.status_code == status

        # The bot answers in the same encrypted DM, with its new device...
        after = await agent.ask(room, "Un étudiant a-t-il droit au RSA ?", wait_s=60)
        assert after.msgtype == "m.text"
        assert "service-public.fr" in after.body
        # ...and the state was kept: the old question was not answered again.
        assert len(agent.replies_to(first_event)) == 1
    finally:
        await env.close()
