"""The store misbehaves: the Chroma server goes down and comes back; an ingest is killed
mid-way and rerun. The bot (configured with a chroma_url, like `guichet run` with
GUICHET_CHROMA_URL) keeps its process: notices while the store is away, answers again after,
always from a consistent store.

A `chroma run` owned by this module (not the session one): it is killed and restarted here.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import pytest_asyncio

from devtools.process import (
    SAMPLE,
    TINY_FICHES,
    clean_env,
    command_path,
    copy_fiches,
    ingest_cli,
)
from devtools.synapse import BotEnv, extractive_answerer, make_bot_env
from knowledge.store import KnowledgeBase
from tests.reliability.conftest import settle
from tests.support.kb import make_settings

pytestmark = [
    pytest.mark.synapse,
    pytest.mark.chroma_server,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="module"),
]

QUESTION = "Quel est le montant du Smic ?"


def _popen(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    with open(cwd / "ingest.log", "wb") as log:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)


def _fiche_count(store: Path) -> int:
    with sqlite3.connect(f"file:{store / 'catalog.sqlite3'}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT COUNT(*) FROM fiches").fetchone()[0]


@pytest.fixture(scope="module")
def served_store(own_chroma, tmp_path_factory) -> Path:
    """A store whose vectors live on our own Chroma server, built by `guichet ingest`."""
    base = tmp_path_factory.mktemp("served-store")
    store = base / "store"
    proc = ingest_cli(store, [copy_fiches(base / "in")], cwd=base, chroma_url=own_chroma.url)
    assert proc.returncode == 0, proc.stderr
    return store


@pytest.fixture(scope="module")
def served_kb(served_store, own_chroma):
    kb = KnowledgeBase.open(make_settings(served_store, chroma_url=own_chroma.url))
    kb.warmup()
    yield kb
    kb.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(synapse, served_kb, tmp_path_factory) -> BotEnv:
    answerer = extractive_answerer(served_kb.retriever())
    env = await make_bot_env(synapse, tmp_path_factory.mktemp("store-faults"), answerer)
    yield env
    await env.close()


async def test_chroma_down_gives_notices_then_answers_again_without_restart(env, own_chroma):
    agent, room = await env.new_dm()
    before = await agent.ask(room, QUESTION, wait_s=60)
    assert before.msgtype == "m.text"
    task = env.runner.task

    own_chroma.stop()
    try:
        for _ in range(2):  # every question while it is down gets its notice
            notice = await agent.ask(room, QUESTION, wait_s=60)
            assert notice.msgtype == "m.notice", notice.body
            assert notice.body.startswith("Désolé"), notice.body
    finally:
        own_chroma.start()
    after = await agent.ask(room, QUESTION, wait_s=60)
    assert after.msgtype == "m.text", after.body
    assert "Smic" in after.body
    assert env.runner.task is task  # the same bot, never restarted
    assert not task.done()


async def test_ingest_killed_midway_bot_keeps_answering_and_rerun_completes(
    env, own_chroma, served_store, served_kb, tmp_path
):
    agent, room = await env.new_dm()
    more = sorted(p.stem for p in SAMPLE.glob("F*.xml") if p.stem not in TINY_FICHES)[:24]
    inputs = copy_fiches(tmp_path / "more", tuple(more))
    first = _fiche_count(served_store)
    assert first == len(TINY_FICHES)
    cmd = [command_path("guichet"), "ingest", "--no-progress", "--json", "--store",
           str(served_store), str(inputs)]  # fmt: skip
    env_vars = clean_env(chroma_url=own_chroma.url, ingest_workers=1, ingest_batch_chunks=16)
    ingest = _popen(cmd, tmp_path, env_vars)
    try:
        deadline = time.monotonic() + 120
        while _fiche_count(served_store) == first:
            assert ingest.poll() is None, "the ingest ended before it could be killed"
            assert time.monotonic() < deadline, "the ingest committed nothing in 120 s"
            await asyncio.sleep(0.05)
        during = await agent.ask(room, QUESTION, wait_s=60)  # answered while it runs
        ingest.send_signal(signal.SIGKILL)
        ingest.wait(timeout=30)
    finally:
        if ingest.poll() is None:
            ingest.kill()
            ingest.wait()
    partial = _fiche_count(served_store)
    assert first < partial < first + len(more), partial
    assert during.msgtype == "m.text", during.body

    after_kill = await agent.ask(room, "Comment renouveler une carte d'identité d'un majeur ?")
    assert after_kill.msgtype == "m.text", after_kill.body
    assert "service-public.fr" in after_kill.content["formatted_body"]

    rerun = await asyncio.to_thread(
        ingest_cli,
        served_store,
        [inputs],
        cwd=tmp_path,
        chroma_url=own_chroma.url,
        ingest_batch_chunks=256,
    )
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert _fiche_count(served_store) == first + len(more)
    stats = served_kb.stats()
    assert stats["fiches"] == first + len(more), stats
    assert served_kb.collection.count() == stats["chunks"]  # no orphan, no missing vector
    final = await agent.ask(room, QUESTION)
    assert final.msgtype == "m.text"
    await settle(1)
    for asked in (during, after_kill, final):
        assert len(agent.replies_to(asked.reply_to)) == 1
    assert summary  # the rerun's JSON summary is kept for the report
