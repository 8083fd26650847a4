"""Login by access token and the device trust policy, on a real Synapse with the real chain.

- GUICHET_ACCESS_TOKEN alone (no password, no user ID): whoami, credentials.json (0600) with the
  token's device, the token never logged; a restart with no secret at all reuses the file and
  keeps decrypting; a wrong token or a token of another user is a clear ConfigError; a saved
  token that was logged out stops the bot with an error naming credentials.json.
- A credentials.json of another user or homeserver is refused before any request.
- GUICHET_TRUST: the default leaves the agents' devices unverified (and still answers);
  trust_all marks them verified in the bot's nio device store; a bad value is a settings error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import stat

import httpx
import pytest
from pydantic import ValidationError

from bot.errors import ConfigError, MatrixError
from bot.matrix import CREDENTIALS_FILE, MatrixClient
from bot.settings import BotSettings
from devtools.synapse import (
    AgentFactory,
    BotEnv,
    BotRunner,
    bot_env_settings,
    extractive_answerer,
    unique,
)

pytestmark = [pytest.mark.synapse]
module_loop = pytest.mark.asyncio(loop_scope="module")  # the tests on the shared `env` bot

QUESTION = "Quel est le montant du Smic ?"
SECOND_QUESTION = "Comment renouveler une carte d'identité d'un majeur ?"


async def _register(hs, name: str = "guichet"):
    return await asyncio.to_thread(hs.register, unique(name), "pw-" + name)


async def _start(client: MatrixClient) -> None:
    """`client.start()` within 20 s; closed again if it unexpectedly succeeds."""
    try:
        await asyncio.wait_for(client.start(), 20)
    finally:
        await client.close()


# -- login by access token --------------------------------------------------------------------


async def test_token_login_answers_saves_credentials_and_restart_reuses_them(
    synapse, bot_retriever, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    bot_user = await _register(synapse)
    token = bot_user.access_token
    data_dir = tmp_path / "bot"
    agents = AgentFactory(synapse, tmp_path / "agents")
    # Only the token: no password, no GUICHET_USER_ID (whoami tells who the token belongs to).
    runner = BotRunner(
        lambda: bot_env_settings(
            synapse, bot_user, data_dir, user_id="", password=None, access_token=token
        ),
        extractive_answerer(bot_retriever),
    )
    try:
        await runner.start()
        assert runner.bot.matrix.user_id == bot_user.user_id
        assert runner.bot.matrix.device_id == bot_user.device_id  # the token's device, no new one
        agent = await agents.new()
        room = await agent.dm(bot_user.user_id)
        assert agent.client.rooms[room].encrypted
        first = await agent.ask(room, QUESTION)
        assert first.sender == bot_user.user_id
        assert first.msgtype == "m.text"
        assert "Smic" in first.body
        assert agent.undecryptable == []  # the bot's encrypted reply was decrypted by the agent

        creds_path = data_dir / CREDENTIALS_FILE
        assert stat.S_IMODE(creds_path.stat().st_mode) == 0o600
        creds = json.loads(creds_path.read_text(encoding="utf-8"))
        assert creds == {
            "homeserver": synapse.url,
            "user_id": bot_user.user_id,
            "device_id": bot_user.device_id,
            "access_token": token,
        }
        assert "logged in by token as " + bot_user.user_id in caplog.text

        # Restart with no secret at all: credentials.json and the nio store are enough.
        runner.settings_factory = lambda: bot_env_settings(
            synapse, bot_user, data_dir, user_id="", password=None, access_token=None
        )
        await runner.restart()
        assert runner.bot.matrix.device_id == bot_user.device_id
        assert "restored login of " + bot_user.user_id in caplog.text
        second = await agent.ask(room, SECOND_QUESTION)
        assert second.msgtype == "m.text"
        assert "identité" in second.body
        assert agent.undecryptable == []
        assert len(agent.replies_to(first.reply_to)) == 1  # the first question not re-answered
        assert await runner.bot.state.pending_undecryptable() == []
    finally:
        await runner.stop()
        await agents.close()
    records = [r.getMessage() for r in caplog.records]
    assert len(records) > 20  # DEBUG really was captured (nio's and the bot's records)
    assert not [m for m in records if token in m], "the access token was logged"
    assert token not in caplog.text


async def test_invalid_token_is_a_clear_config_error(synapse, tmp_path):
    bot_user = await _register(synapse)
    bogus = "syt_bm90X2FfdG9rZW4_notAValidToken_0abcde"
    settings = bot_env_settings(
        synapse, bot_user, tmp_path, user_id="", password=None, access_token=bogus
    )
    with pytest.raises(ConfigError) as err:
        await _start(MatrixClient(settings))  # an error, not a hang
    message = str(err.value)
    assert "GUICHET_ACCESS_TOKEN" in message
    assert "M_UNKNOWN_TOKEN" in message
    assert synapse.url in message
    assert bogus not in message
    assert not (tmp_path / CREDENTIALS_FILE).exists()  # nothing saved from a refused login


async def test_blank_token_and_no_password_is_a_clear_config_error(synapse, tmp_path):
    bot_user = await _register(synapse)
    settings = bot_env_settings(synapse, bot_user, tmp_path, password=None, access_token="  ")
    with pytest.raises(ConfigError, match="GUICHET_PASSWORD or GUICHET_ACCESS_TOKEN"):
        await _start(MatrixClient(settings))
    no_user = bot_env_settings(synapse, bot_user, tmp_path, user_id="", access_token=None)
    with pytest.raises(ConfigError, match="GUICHET_USER_ID is not set"):
        await _start(MatrixClient(no_user))


async def test_token_of_another_user_than_user_id_is_refused(synapse, tmp_path):
    bot_user = await _register(synapse)
    other = await _register(synapse, "other")
    settings = bot_env_settings(
        synapse, bot_user, tmp_path, password=None, access_token=other.access_token
    )
    with pytest.raises(ConfigError) as err:
        await _start(MatrixClient(settings))
    assert other.user_id in str(err.value)
    assert bot_user.user_id in str(err.value)
    assert other.access_token not in str(err.value)
    assert not (tmp_path / CREDENTIALS_FILE).exists()


@pytest.mark.parametrize("who", ["user", "homeserver"])
async def test_credentials_of_another_user_or_homeserver_are_refused(
    synapse, bot_retriever, tmp_path, who
):
    owner = await _register(synapse, "owner")
    bot_user = await _register(synapse)
    data_dir = tmp_path / "bot"
    data_dir.mkdir()
    saved = {
        "homeserver": synapse.url if who == "user" else "https://matrix.other.example",
        "user_id": owner.user_id if who == "user" else bot_user.user_id,
        "device_id": owner.device_id,
        "access_token": owner.access_token,
    }
    creds_path = data_dir / CREDENTIALS_FILE
    creds_path.write_text(json.dumps(saved), encoding="utf-8")
    before = creds_path.read_bytes()
    runner = BotRunner(
        lambda: bot_env_settings(synapse, bot_user, data_dir), extractive_answerer(bot_retriever)
    )
    with pytest.raises(ConfigError) as err:
        await runner.start(wait_s=20)
    message = str(err.value)
    assert str(creds_path) in message
    assert f"belongs to {saved['user_id']} on {saved['homeserver']}" in message
    assert bot_user.user_id in message
    assert synapse.url in message
    assert "use another data_dir" in message
    assert owner.access_token not in message
    assert creds_path.read_bytes() == before  # the other bot's login is left untouched


# -- trust policy -----------------------------------------------------------------------------


def _set_trust(env: BotEnv, trust: str | None) -> None:
    extra = {} if trust is None else {"trust": trust}
    env.runner.settings_factory = lambda: bot_env_settings(
        env.hs, env.bot_user, env.data_dir, **extra
    )


def _bot_device(env: BotEnv, user_id: str, device_id: str):
    store = env.runner.bot.matrix.client.device_store
    return store[user_id][device_id]


@module_loop
async def test_default_trust_answers_and_leaves_agent_device_unverified(env: BotEnv):
    assert env.runner.bot.settings.trust == "ignore_unverified"
    agent, room = await env.new_dm()
    reply = await agent.ask(room, QUESTION)
    assert reply.msgtype == "m.text"
    assert "Smic" in reply.body
    device = _bot_device(env, agent.user_id, agent.client.device_id)  # known: keys were shared
    assert not device.verified
    assert not device.blacklisted


@module_loop
async def test_trust_all_marks_agent_device_verified(env: BotEnv):
    _set_trust(env, "trust_all")
    try:
        await env.runner.restart()
        assert env.runner.bot.settings.trust == "trust_all"
        agent, room = await env.new_dm()
        reply = await agent.ask(room, QUESTION)
        assert reply.msgtype == "m.text"
        assert _bot_device(env, agent.user_id, agent.client.device_id).verified
    finally:
        _set_trust(env, None)
        await env.runner.restart()
    # The verification was saved in the bot's nio store: still verified after a restart.
    assert _bot_device(env, agent.user_id, agent.client.device_id).verified


@pytest.mark.parametrize("value", ["ignore_unverified", "trust_all"])
def test_trust_setting_values_from_env(monkeypatch, tmp_path, value):
    monkeypatch.chdir(tmp_path)  # no .env of the developer
    monkeypatch.setenv("GUICHET_TRUST", value)
    assert BotSettings().trust == value
    monkeypatch.delenv("GUICHET_TRUST")
    assert BotSettings().trust == "ignore_unverified"  # the default


@pytest.mark.parametrize("value", ["trust-all", "TRUST_ALL", "verified", ""])
def test_bad_trust_value_is_a_clear_settings_error(monkeypatch, tmp_path, value):
    from typer.testing import CliRunner

    from app.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GUICHET_TRUST", value)
    with pytest.raises(ValidationError) as err:
        BotSettings()
    message = str(err.value)
    assert "trust" in message
    assert "'ignore_unverified' or 'trust_all'" in message
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 2
    assert "invalid settings" in result.output
    assert "trust" in result.output


async def test_saved_token_logged_out_is_a_clear_error(synapse, bot_retriever, tmp_path):
    bot_user = await _register(synapse)
    data_dir = tmp_path / "bot"
    runner = BotRunner(
        lambda: bot_env_settings(
            synapse, bot_user, data_dir, password=None, access_token=bot_user.access_token
        ),
        extractive_answerer(bot_retriever),
    )
    await runner.start()
    await runner.stop()
    runner.settings_factory = lambda: bot_env_settings(
        synapse, bot_user, data_dir, password=None, access_token=None
    )
    async with httpx.AsyncClient(base_url=synapse.url, timeout=10) as http:
        out = await http.post(
            "/_matrix/client/v3/logout",
            headers={"Authorization": f"Bearer {bot_user.access_token}"},
        )
        assert out.status_code == 200, out.text
    with pytest.raises(MatrixError) as err:
        await runner.start(wait_s=20)  # an error, not a bot that syncs in vain
    assert err.value.status_code == "M_UNKNOWN_TOKEN"
    message = str(err.value)
    assert str(data_dir / CREDENTIALS_FILE) in message
    assert "no longer valid" in message
    assert "GUICHET_PASSWORD" in message
    assert bot_user.access_token not in message
