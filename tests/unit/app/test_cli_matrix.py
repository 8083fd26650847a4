"""`guichet run` refuses an unusable data dir clearly; `guichet feedback export` formats."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import pytest

from app.cli.matrix import feedback_lines
from app.wiring import check_data_dir
from bot.errors import ConfigError

ROWS = [
    {
        "ts": 1.0, "value": "up", "reaction": "👍", "sender": "@a:x", "room_id": "!r",
        "answer_event_id": "$a", "status": "answered", "mode": "question",
        "question": "Passeport ?", "answer": "Réponse, avec virgule\net ligne",
        "sources": [{"n": 1, "title": "Passeport", "url": "https://www.service-public.fr/x"}],
    }
]  # fmt: skip


def test_disk_full_is_a_clear_error(tmp_path, monkeypatch):
    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(ConfigError, match="disk is full"):
        check_data_dir(tmp_path / "bot")


def test_read_only_is_a_clear_error(tmp_path, monkeypatch):
    real_open = os.open

    def ro(path, flags, mode=0o777):
        if str(path).endswith(".write-probe"):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", ro)
    with pytest.raises(ConfigError, match="read-only"):
        check_data_dir(tmp_path / "bot")


def test_guichet_run_exits_with_a_message_not_a_traceback(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    env.update(GUICHET_DATA_DIR=str(blocker / "bot"), GUICHET_USER_ID="@bot:localhost")
    proc = subprocess.run(
        [sys.executable, "-m", "app", "run"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "data directory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_feedback_export_formats():
    line = json.loads(feedback_lines(ROWS, "jsonl"))
    assert line["sources"][0]["url"] == "https://www.service-public.fr/x"
    text = feedback_lines(ROWS, "csv")
    assert text.splitlines()[0].split(",")[:2] == ["ts", "value"]
    assert "[1] Passeport <https://www.service-public.fr/x>" in text


def test_feedback_export_without_state(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "app", "feedback", "export", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "no bot state" in proc.stderr


def test_guichet_run_warns_about_an_unknown_guichet_variable(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    env.update(
        GUICHET_DATA_DIR=str(blocker / "bot"),
        GUICHET_USER_ID="@bot:localhost",
        GUICHET_ALLOWED_DOMAIN="interieur.gouv.fr",  # a typo: ALLOWED_DOMAINS
    )
    proc = subprocess.run(
        [sys.executable, "-m", "app", "run"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "GUICHET_ALLOWED_DOMAIN is set but no setting has that name" in proc.stderr
    assert "did you mean GUICHET_ALLOWED_DOMAINS?" in proc.stderr
    assert proc.returncode == 2  # then it stops on the unusable data directory, as before
