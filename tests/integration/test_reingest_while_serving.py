"""Questions answered during a re-ingest: none fails (issue 5).

As in production: the bot (the real GuichetBot on the shared Synapse, answering with the real
chain from a real store: USE embeddings, BM25, Chroma embedded or as a `chroma run` server)
keeps answering an agent's encrypted DM while `guichet ingest --prune` runs **in another
process** on the same store, adding ~150 fiches. Every question asked while the ingest runs
must get an answer from its fiche (a text reply with the service-public.fr link, never the
error notice). Then a question only a newly ingested fiche answers must be answered from it
without restarting the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import time
import uuid

import pytest

from devtools.synapse import extractive_answerer, make_bot_env
from knowledge.paths import sample_corpus_dir
from tests.support.kb import make_settings

pytestmark = [pytest.mark.synapse, pytest.mark.slow]

# In the store before the re-ingest: passport / identity card fiches for minors.
INITIAL = ("F14930.xml", "F1342.xml", "F21090.xml")
QUESTIONS = (
    ("Comment faire un passeport pour un enfant mineur ?", "F14930"),
    ("Carte d'identité d'un mineur : première demande, quelles pièces ?", "F1342"),
    ("Renouvellement de la carte d'identité d'un mineur", "F21090"),
)
NEW_QUESTION = ("Un étudiant a-t-il droit au RSA ?", "F1971")  # only after the re-ingest


def fiche_url(fiche_id: str) -> str:
    return f"https://www.service-public.fr/particuliers/vosdroits/{fiche_id}"


@pytest.fixture(params=["embedded", "chroma_server"])
def store_settings(request, tmp_path):
    """Settings of a fresh store, and the env that gives `guichet ingest` the same store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    store_dir = tmp_path / "store"
    env["GUICHET_EMBEDDINGS_BACKEND"] = "use"
    if request.param == "embedded":
        return request.param, make_settings(store_dir), env
    url = request.getfixturevalue("chroma_server_url")
    collection = f"reingest-{uuid.uuid4().hex[:8]}"
    env.update({"GUICHET_CHROMA_URL": url, "GUICHET_CHROMA_COLLECTION": collection})
    return (
        request.param,
        make_settings(store_dir, chroma_url=url, chroma_collection=collection),
        env,
    )


async def test_questions_answered_while_guichet_ingest_rewrites_the_store(
    synapse, tmp_path, store_settings
):
    from knowledge.ingest import ingest
    from knowledge.store import KnowledgeBase

    mode, settings, ingest_env = store_settings
    particuliers = sample_corpus_dir() / "vdd-2020" / "particuliers"
    initial = tmp_path / "initial"
    initial.mkdir()
    for name in INITIAL:
        shutil.copy(particuliers / name, initial / name)
    kb = await asyncio.to_thread(KnowledgeBase.open, settings, create=True)
    try:
        await asyncio.to_thread(ingest, kb, [str(initial)], progress=False)
        assert kb.stats()["fiches"] == len(INITIAL)

        env = await make_bot_env(synapse, tmp_path / "env", extractive_answerer(kb.retriever()))
        try:
            agent, room = await env.new_dm()
            first = await agent.ask(room, QUESTIONS[0][0], wait_s=60)  # warm: models loaded
            assert fiche_url(QUESTIONS[0][1]) in first.body

            # The re-ingest, in its own process, as cron would run it.
            started = time.monotonic()
            log_path = tmp_path / "ingest.log"
            with log_path.open("wb") as log:
                proc = await asyncio.create_subprocess_exec(
                    *(sys.executable, "-m", "app", "ingest", "--prune", "--no-progress"),
                    *("--store", str(settings.store_dir), str(particuliers)),
                    stdout=log,
                    stderr=log,
                    env=ingest_env,
                )
                during: list[tuple[str, object, float]] = []  # (fiche, reply, seconds)
                while proc.returncode is None:
                    question, fiche = QUESTIONS[len(during) % len(QUESTIONS)]
                    t0 = time.monotonic()
                    reply = await agent.ask(room, question, wait_s=90)
                    during.append((fiche, reply, time.monotonic() - t0))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(proc.wait(), 0.2)
                    assert time.monotonic() - started < 900, "ingest took over 15 minutes"
            ingest_s = time.monotonic() - started
            assert proc.returncode == 0, log_path.read_text()[-3000:]

            # Questions really overlapped the ingest, and every one was answered from its fiche.
            assert len(during) >= 3, f"{len(during)} questions during a {ingest_s:.0f} s ingest"
            for fiche, reply, _ in during:
                assert reply.msgtype == "m.text", f"not an answer: {reply.body[:300]}"
                assert fiche_url(fiche) in reply.body, reply.body[:500]
            assert env.runner.bot.counters["answer_errors"] == 0
            stats = await asyncio.to_thread(kb.stats)
            assert stats["fiches"] > 100
            slowest = max(s for *_, s in during)
            print(  # noqa: T201 - shown with -s
                f"[{mode}] re-ingest {ingest_s:.1f} s, {len(during)} questions answered "
                f"meanwhile (slowest {slowest:.1f} s), store now {stats['fiches']} fiches"
            )

            # The bot sees the new fiches without a restart (embedded Chroma too: the reader
            # reopens its client when another process publishes a new store generation).
            new = await agent.ask(room, NEW_QUESTION[0], wait_s=60)
            assert fiche_url(NEW_QUESTION[1]) in new.body, new.body[:400]
        finally:
            await env.close()
    finally:
        await asyncio.to_thread(kb.close)
