"""The environment checked against every settings class (app.settings), and frozen settings."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.settings import known_variables, unknown_variables, warn_unknown_variables
from bot.settings import BotSettings

ENV_EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "env.example"


def test_a_typo_is_reported_with_the_closest_name(caplog: pytest.LogCaptureFixture):
    environ = {"GUICHET_LLM_URLL": "http://x", "GUICHET_PASSWORD": "pw", "HOME": "/root"}
    with caplog.at_level(logging.WARNING, logger="app.settings"):
        assert warn_unknown_variables(environ) == ["GUICHET_LLM_URLL"]
    assert "GUICHET_LLM_URLL" in caplog.text
    assert "did you mean GUICHET_LLM_URL?" in caplog.text
    assert "http://x" not in caplog.text  # the name only, never the value


def test_test_variables_and_tool_variables_are_not_typos():
    environ = {
        "GUICHET_TEST_CHROMA_URL": "http://127.0.0.1:1",
        "GUICHET_TEST_LLAMACPP_URL": "http://127.0.0.1:2",
        "GUICHET_CHAT_PASSWORD": "pw",
        "GUICHET_MODEL_CACHE": "/tmp/m",
    }
    assert unknown_variables(environ) == []


def test_a_dotenv_typo_is_reported_too():
    assert unknown_variables({}, ["GUICHET_DATADIR", "GUICHET_DATA_DIR"]) == ["GUICHET_DATADIR"]


def test_every_variable_of_env_example_is_known():
    documented = set(re.findall(r"^#? ?(GUICHET_[A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.M))
    assert len(documented) > 50
    assert documented <= known_variables()


def test_bot_settings_are_read_only(tmp_path: Path):
    settings = BotSettings(_env_file=None, data_dir=tmp_path)
    with pytest.raises(ValidationError, match="frozen"):
        settings.user_id = "@someone:else"  # type: ignore[misc]
