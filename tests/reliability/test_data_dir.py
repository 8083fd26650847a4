"""The bot's data directory (encryption keys, token, state) is full or read-only: `guichet run`
stops at start with a clear error and a non-zero exit, without touching the keys; once the
disk is fixed it starts again on the same device and keeps decrypting.

A real tmpfs is mounted for the data directory (the suite runs as root here); where mounting
is not allowed the tmpfs cases are skipped and say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from devtools.process import GuichetProcess, bot_env, dm_with_process
from devtools.synapse import unique

pytestmark = [pytest.mark.synapse, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


def _mount(point: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(point)],
        capture_output=True,
        text=True,
    )


@pytest.fixture
def tmpfs(tmp_path: Path):
    point = tmp_path / "tmpfs"
    point.mkdir()
    try:
        done = _mount(point, "size=8m", "mode=0700")
    except FileNotFoundError:
        pytest.skip("no mount command: cannot build a small file system here")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): {done.stderr}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def _remount(point: Path, mode: str) -> None:
    done = subprocess.run(
        ["mount", "-o", f"remount,{mode}", str(point)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def _digest(directory: Path) -> dict[str, str]:
    """Hash of every file under `directory` (keys, credentials, state)."""
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _fill(point: Path) -> Path:
    filler = point / "filler.bin"
    with open(filler, "wb") as fh:
        chunk = b"\0" * 65536
        with contextlib.suppress(OSError):
            while True:
                fh.write(chunk)
                fh.flush()
    # the last partial block too
    with contextlib.suppress(OSError), open(point / "filler2.bin", "wb") as fh:
        while True:
            fh.write(b"\0" * 512)
            fh.flush()
    probe = point / "probe"
    with pytest.raises(OSError, match="No space left") as info:
        probe.write_bytes(b"x" * 8192)
    assert info.value.errno == errno.ENOSPC
    with contextlib.suppress(OSError):
        probe.unlink()
    return filler


async def _expect_refusal(env: dict, run_dir: Path, name: str) -> str:
    bot = GuichetProcess(env, run_dir, name=name).start()
    try:
        code = await asyncio.to_thread(bot.proc.wait, 90)
    finally:
        bot.kill()
    log = bot.log()
    assert code not in (0, None), log
    assert "Traceback" not in log, log
    return log


async def test_full_then_read_only_data_dir_clear_error_keys_kept(
    synapse, agents, tiny_store, tmpfs, processes, tmp_path
):
    data = tmpfs / "bot"
    bot_user = await asyncio.to_thread(synapse.register, unique("guichet"), "pw-bot")
    env = bot_env(synapse, bot_user, data, tiny_store)
    run_dir = tmp_path / "run"
    first = GuichetProcess(env, run_dir, name="first")
    processes.append(first.start())
    agent = await agents.new()
    room = await dm_with_process(agent, bot_user.user_id)
    asked = await agent.ask(room, "Quel est le montant du Smic ?", wait_s=90)
    assert asked.msgtype == "m.text"
    assert first.stop() == 0
    device = json.loads((data / "credentials.json").read_text())["device_id"]
    before = _digest(data)
    assert any(name.startswith("nio/") for name in before), before  # the encryption store

    # 1. disk full
    filler = await asyncio.to_thread(_fill, tmpfs)
    log = await _expect_refusal(env, run_dir, "full")
    assert "disk is full" in log, log
    assert str(data) in log
    assert _digest(data) == before, "the keys or the state changed"
    filler.unlink()
    (tmpfs / "filler2.bin").unlink()

    # 2. read-only file system
    _remount(tmpfs, "ro")
    log = await _expect_refusal(env, run_dir, "readonly")
    assert "read-only" in log, log
    assert _digest(data) == before

    # 3. fixed: the same device comes back and still decrypts the encrypted DM
    _remount(tmpfs, "rw")
    again = GuichetProcess(env, run_dir, name="again")
    processes.append(again.start())
    question = "Comment renouveler une carte d'identité d'un majeur ?"
    reply = await agent.ask(room, question, wait_s=90)
    assert reply.msgtype == "m.text", reply.body
    assert f"device {device}" in again.log()
    assert json.loads((data / "credentials.json").read_text())["device_id"] == device
    assert len(agent.replies_to(asked.reply_to)) == 1  # nothing answered twice either


async def test_data_dir_that_is_a_file_is_refused(synapse, tiny_store, tmp_path):
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("I am a file")
    bot_user = await asyncio.to_thread(synapse.register, unique("guichet"), "pw-bot")
    env = bot_env(synapse, bot_user, not_a_dir, tiny_store)
    log = await _expect_refusal(env, tmp_path / "run", "file")
    assert "data directory" in log
    assert str(not_a_dir) in log
    assert not_a_dir.read_text() == "I am a file"


async def test_refused_start_leaves_no_probe_file(tmpfs):
    from app.wiring import check_data_dir
    from bot.errors import ConfigError

    data = tmpfs / "bot"
    data.mkdir()
    _fill(tmpfs)
    with pytest.raises(ConfigError, match="disk is full"):
        check_data_dir(data)
    assert list(data.iterdir()) == []
