"""The load scenario of issue 6, shared by the reduced test (test_load.py) and the full runs
(bench/bench_reliability.py): `guichet run` as a real process on a real Synapse, agents in
encrypted DMs, an OpenAI-compatible test server at a fixed latency.

Latency of one question = the reply's origin_server_ts minus the question's (both stamped by
the same Synapse), so the agents' own sync delay does not count. The bot's RSS is sampled
from /proc every 0.2 s; the peak is the kernel's VmHWM.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from devtools.openai_server import FakeOpenAIServer
from devtools.process import GuichetProcess, bot_env, dm_with_process
from devtools.synapse import AgentFactory, unique

QUESTIONS = (
    "Quel est le montant du Smic ?",
    "Comment faire une première demande de passeport pour un majeur ?",
    "Comment renouveler une carte d'identité d'un majeur ?",
    "Carte d'identité d'un mineur : quelles pièces fournir ?",
    "Où en est ma demande de passeport ?",
    "Peut-on voyager avec un ancien passeport ?",
    "Dossier de passeport refusé : quels recours ?",
    "Le Smic horaire brut a-t-il augmenté ?",
)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


@dataclass
class LoadResult:
    users: int
    questions: int
    spread_s: float
    llm_latency_s: float
    sequential: bool
    answered_once: int = 0
    missing: int = 0
    duplicated: int = 0
    errors: int = 0  # replies that were notices (error/rate limit) instead of answers
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    max_ms: float = 0.0
    mean_ms: float = 0.0
    wall_s: float = 0.0
    rss_start_mb: float = 0.0  # after the warm-up questions
    rss_end_mb: float = 0.0
    rss_peak_mb: float = 0.0  # VmHWM of the bot process
    rss_samples_mb: list[float] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("rss_samples_mb")
        return data


async def run_load(
    hs: Any,
    store: Path,
    work: Path,
    *,
    users: int,
    questions: int,
    spread_s: float,
    llm_latency_s: float,
    sequential: bool = False,
    reply_wait_s: float = 120.0,
    bot_settings: dict[str, Any] | None = None,
) -> LoadResult:
    """Start a bot process and `users` agents, send `questions`, collect the figures."""
    result = LoadResult(users, questions, spread_s, llm_latency_s, sequential)
    llm = FakeOpenAIServer(latency=llm_latency_s).start()
    agents = AgentFactory(hs, work / "agents")
    bot: GuichetProcess | None = None
    sampler: asyncio.Task | None = None
    try:
        bot_user = await asyncio.to_thread(hs.register, unique("guichet"), "pw-bot")
        settings = {
            "llm_url": llm.base_url,
            "llm_model": "guichet-test",
            "llm_condense": "false",
            "llm_timeout": 60,
            "rate_limit_count": 100000,
            "log_level": "WARNING",
            **(bot_settings or {}),
        }
        bot = GuichetProcess(bot_env(hs, bot_user, work / "data", store, **settings), work)
        bot.start()
        people = list(await asyncio.gather(*(agents.new() for _ in range(users))))
        rooms = list(await asyncio.gather(*(dm_with_process(a, bot_user.user_id) for a in people)))
        # warm-up: one answer in each room (keys shared, model loaded), all at once
        pairs = list(zip(people, rooms, strict=True))
        await asyncio.gather(*(a.ask(r, QUESTIONS[0], wait_s=reply_wait_s) for a, r in pairs))
        result.rss_start_mb = bot.rss_kb() / 1024

        async def sample() -> None:
            while True:
                result.rss_samples_mb.append(bot.rss_kb() / 1024)
                await asyncio.sleep(0.2)

        sampler = asyncio.create_task(sample())
        sent: list[tuple[Any, str]] = []
        t0 = time.monotonic()
        if sequential:
            agent, room = people[0], rooms[0]
            for i in range(questions):
                event_id = await agent.send(room, f"{QUESTIONS[i % len(QUESTIONS)]} (n°{i})")
                sent.append((agent, event_id))
                await agent.wait_reply(event_id, wait_s=reply_wait_s)
        else:
            gap = spread_s / max(1, questions)

            async def one(i: int) -> None:
                await asyncio.sleep(i * gap)
                agent, room = people[i % users], rooms[i % users]
                event_id = await agent.send(room, f"{QUESTIONS[i % len(QUESTIONS)]} (n°{i})")
                sent.append((agent, event_id))

            await asyncio.gather(*(one(i) for i in range(questions)))
            deadline = time.monotonic() + reply_wait_s
            while time.monotonic() < deadline:
                if all(agent.replies_to(e) for agent, e in sent):
                    break
                await asyncio.sleep(0.2)
        result.wall_s = time.monotonic() - t0
        await asyncio.sleep(3.0)  # leave time for a duplicate to show up
        latencies = []
        for agent, event_id in sent:
            replies = agent.replies_to(event_id)
            if not replies:
                result.missing += 1
                continue
            if len(replies) > 1:
                result.duplicated += 1
            else:
                result.answered_once += 1
            if replies[0].msgtype != "m.text":
                result.errors += 1
            asked = next(e for e in agent.events if e.event_id == event_id)
            latencies.append(
                replies[0].source["origin_server_ts"] - asked.source["origin_server_ts"]
            )
        if latencies:
            result.p50_ms = percentile(latencies, 50)
            result.p95_ms = percentile(latencies, 95)
            result.max_ms = max(latencies)
            result.mean_ms = round(statistics.fmean(latencies), 1)
        result.rss_end_mb = bot.rss_kb() / 1024
        result.rss_peak_mb = bot.hwm_kb() / 1024
        return result
    finally:
        if sampler is not None:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        if bot is not None:
            bot.stop(timeout=20)
        await agents.close()
        llm.stop()
