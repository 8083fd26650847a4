"""The demo's pieces that need no server: credentials file, child environment, banner, CLI."""

from __future__ import annotations

import json
import os
import stat

import pytest
from typer.testing import CliRunner

from app.cli import app
from devtools.demo import Demo, DemoCredentials, DemoError, DemoPaths

CREDS = DemoCredentials(
    homeserver_url="http://127.0.0.1:5555",
    bot_user_id="@guichet:localhost",
    bot_password="bot-secret-pw",
    agent_user_id="@agent-demo:localhost",
    agent_password="agent-pw",
)


def test_credentials_round_trip_private_file(tmp_path):
    path = tmp_path / "demo.json"
    CREDS.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert DemoCredentials.load(path) == CREDS


def test_missing_or_broken_credentials_name_the_file_and_what_to_do(tmp_path):
    with pytest.raises(DemoError, match=r"demo\.json does not exist: run `guichet demo` first"):
        DemoCredentials.load(tmp_path / "demo.json")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"homeserver_url": "x"}))
    with pytest.raises(DemoError, match=r"broken\.json is unreadable .*remove the demo directory"):
        DemoCredentials.load(broken)


def test_child_env_points_the_bot_at_the_demo(tmp_path, monkeypatch):
    monkeypatch.setenv("GUICHET_ACCESS_TOKEN", "someone-elses-token")
    monkeypatch.setenv("GUICHET_LLM_URL", "http://127.0.0.1:9/v1")  # kept: the user's choice
    demo = Demo(tmp_path / "d")
    demo.creds = CREDS
    env = demo.child_env()
    paths = DemoPaths((tmp_path / "d").resolve())
    assert env["GUICHET_HOMESERVER_URL"] == CREDS.homeserver_url
    assert env["GUICHET_USER_ID"] == CREDS.bot_user_id
    assert env["GUICHET_PASSWORD"] == CREDS.bot_password
    assert env["GUICHET_ALLOWED_USERS"] == CREDS.agent_user_id
    assert env["GUICHET_DATA_DIR"] == str(paths.bot)
    assert env["GUICHET_STORE_DIR"] == str(paths.store)
    assert env["GUICHET_OPS_HOST"] == "127.0.0.1"
    assert int(env["GUICHET_OPS_PORT"]) == demo.ops_port > 0
    assert "GUICHET_ACCESS_TOKEN" not in env
    assert env["GUICHET_LLM_URL"] == "http://127.0.0.1:9/v1"
    assert os.environ["GUICHET_ACCESS_TOKEN"] == "someone-elses-token"  # ours untouched


def test_banner_says_what_runs_where(tmp_path, monkeypatch):
    monkeypatch.delenv("GUICHET_LLM_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    demo = Demo(tmp_path / "d")
    demo.creds = CREDS
    demo.sample_fiches = 288
    banner = demo.banner()
    assert "Synapse   http://127.0.0.1:5555" in banner
    assert "288 fiches" in banner
    assert "extractif" in banner
    assert f"http://127.0.0.1:{demo.ops_port}/metrics" in banner
    assert "serveur d'accueil http://127.0.0.1:5555" in banner
    assert "identifiant agent-demo, mot de passe agent-pw" in banner
    assert "bot-secret-pw" not in banner
    assert "Comment faire un passeport pour un enfant mineur ?" in banner


def test_chat_cli_errors_are_clear(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["chat", "--demo-dir", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "does not exist: run `guichet demo` first" in result.output
    result = runner.invoke(app, ["chat", "--homeserver", "http://127.0.0.1:1"])
    assert result.exit_code == 2
    assert "--homeserver needs --user and --bot too" in result.output


def test_missing_synapse_is_named_with_the_install_command(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "synapse" else real(name, *a)
    )
    with pytest.raises(DemoError, match=r"pip install 'guichet\[demo\]'"):
        Demo(tmp_path / "d").start_homeserver()
    assert not (tmp_path / "d").exists()  # nothing created
