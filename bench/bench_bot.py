"""Bot benchmark on a real local Synapse (encrypted DMs), all in one run:

1. overhead: question sent → reply seen by the agent, Guichet (`guichet run`, extractive chain
   over the store given by --store, by default the full 2020 corpus) against a bare matrix-nio
   echo bot on the same Synapse, interleaved; p50/p95 and the p50 ratio (target ≤ 1.5);
2. concurrency: 50 questions sent at once from 50 DMs, the LLM being the OpenAI-compatible test
   server answering in exactly --latency s (1 s): all answered? wall time (target ≤ 3 s); first
   the same burst against a bare nio bot that sleeps --latency s then echoes (one task per
   message): the floor any bot can reach on this Synapse and machine, and Guichet's ratio to it;
   CPU seconds of Synapse, the bot, the LLM server and the agent during each burst;
3. the bot's RSS (process and its children) with the store loaded.

Diagnostics: --keep (logs, with per-answer timings at --bot-log-level INFO), --py-spy PATH
(profiles of the bot and Synapse during the bursts), --synapse-log-level INFO (every request),
--synapse-config JSON (homeserver.yaml overrides), --bot-env GUICHET_X=value.

    /work/venv/bin/python bench/bench_bot.py --store /work/store-full   # ~4 min

Results go to bench/results/bot.json. Both bots and the LLM server run as subprocesses; the agent
driving them runs here (a real nio client with its own E2E store).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = Path("/work/shared/data/questions/dev-related-questions.jsonl")
FALLBACK_QUESTIONS = [
    "Comment faire une première demande de passeport ?",
    "Quel est le montant du Smic ?",
    "Comment renouveler une carte d'identité ?",
    "Comment acheter un timbre fiscal ?",
]


# -- the bare echo bot (subprocess) ----------------------------------------------------------


async def echo_main(args: argparse.Namespace) -> None:
    from nio import AsyncClient, AsyncClientConfig, InviteMemberEvent, RoomMessageText

    client = AsyncClient(
        args.url,
        args.user,
        device_id=args.device,
        store_path=args.store_dir,
        config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
    )
    os.makedirs(args.store_dir, exist_ok=True)
    client.restore_login(args.user, args.device, args.token)

    tasks: set[asyncio.Task] = set()

    async def reply(room_id: str, event) -> None:
        if args.delay:
            await asyncio.sleep(args.delay)  # an ideal LLM: no CPU, every room in parallel
        await client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": event.body, "org.guichet.reply_to": event.event_id},
            ignore_unverified_devices=True,
        )

    async def on_text(room, event) -> None:
        if event.sender == client.user_id:
            return
        if not args.delay:
            await reply(room.room_id, event)
            return
        # nio runs callbacks one after the other: one task per message, or 50 s for 50.
        task = asyncio.create_task(reply(room.room_id, event))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def on_invite(room, event) -> None:
        if event.state_key == client.user_id and event.membership == "invite":
            await client.join(room.room_id)

    client.add_event_callback(on_text, RoomMessageText)
    client.add_event_callback(on_invite, InviteMemberEvent)
    if client.should_upload_keys:
        await client.keys_upload()
    await client.sync_forever(timeout=30000, full_state=True)


# -- helpers ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS/VmHWM of a process and the summed VmRSS of its children (KiB)."""
    out = {"rss_kib": 0, "hwm_kib": 0, "children_rss_kib": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss_kib"] = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                out["hwm_kib"] = int(line.split()[1])
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for child in children:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out["children_rss_kib"] += int(line.split()[1])
    except OSError:
        pass
    return out


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, its reaped children included."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def load_questions(n: int, seed: int = 7) -> list[str]:
    if QUESTIONS.exists():
        lines = [json.loads(x)["question"] for x in QUESTIONS.read_text().splitlines() if x]
        random.Random(seed).shuffle(lines)
        return lines[:n]
    return [FALLBACK_QUESTIONS[i % len(FALLBACK_QUESTIONS)] for i in range(n)]


class Proc:
    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        fh = open(log, "ab")  # noqa: SIM115
        self.p = subprocess.Popen(
            cmd, env=env, stdout=fh, stderr=fh, stdin=subprocess.DEVNULL, start_new_session=True
        )
        fh.close()

    def stop(self) -> None:
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(5)


EXTRA_BOT_ENV: dict[str, str] = {}  # --bot-env K=V


def bot_env(hs, user, data_dir: Path, store: Path, agent_id: str, llm_url: str = "") -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    env.update(
        {
            "GUICHET_HOMESERVER_URL": hs.url,
            "GUICHET_USER_ID": user.user_id,
            "GUICHET_PASSWORD": user.password,
            "GUICHET_DATA_DIR": str(data_dir),
            "GUICHET_STORE_DIR": str(store),
            "GUICHET_ALLOWED_USERS": agent_id,
            "GUICHET_RATE_LIMIT_COUNT": "100000",
            "GUICHET_MAX_CONCURRENT_LLM": "64",
            "GUICHET_LLM_URL": llm_url,
            "GUICHET_LLM_MODEL": "guichet-test",
            "GUICHET_LLM_API_KEY": "bench",
            **EXTRA_BOT_ENV,
        }
    )
    return env


async def timed_ask(agent, room: str, text: str, wait_s: float = 60.0) -> float:
    t0 = time.perf_counter()
    event_id = await agent.send(room, text)
    await agent.wait_reply(event_id, wait_s=wait_s)
    return (time.perf_counter() - t0) * 1000


async def burst(
    agent, rooms: list[str], questions: list[str], pids: dict, args, base: Path, label: str
) -> dict:
    """Send one question in each room at once; wait for every reply; what it cost."""
    cpu0 = {name: cpu_s(pid) for name, pid in pids.items() if pid}
    spies = []
    if args.py_spy:  # sampled profiles of the burst (collapsed stacks, in the kept dir)
        for name in ("bot", "synapse"):
            out = str(base / f"profile-{label}-{name}.txt")
            cmd = [args.py_spy, "record", "-p", str(pids[name]), "-d", "8", "-r", "200",
                   "--gil", "--format", "raw", "-o", out, "--nonblocking"]  # fmt: skip
            spies.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL))  # noqa: ASYNC220
        await asyncio.sleep(1.0)
    t0 = time.perf_counter()
    ids = await asyncio.gather(*(agent.send(r, q) for r, q in zip(rooms, questions, strict=True)))
    sent_ms = (time.perf_counter() - t0) * 1000
    with contextlib.suppress(TimeoutError):
        await agent.wait_until(lambda: all(agent.replies_to(i) for i in ids), wait_s=60)
    wall = time.perf_counter() - t0
    cpu = {name: round(cpu_s(pids[name]) - c0, 2) for name, c0 in cpu0.items()}
    for spy in spies:
        spy.wait(30)
    ts = {e.event_id: e.source.get("origin_server_ts", 0) for e in agent.events}
    server_ms = sorted(
        ts[i] and max(r.source.get("origin_server_ts", 0) for r in agent.replies_to(i)) - ts[i]
        for i in ids
        if agent.replies_to(i) and i in ts
    )
    first_q = min((ts[i] for i in ids if i in ts), default=0)
    last_r = max(
        (r.source.get("origin_server_ts", 0) for i in ids for r in agent.replies_to(i)),
        default=0,
    )
    answered = sum(1 for i in ids if agent.replies_to(i))
    texts = sum(1 for i in ids if any(r.msgtype == "m.text" for r in agent.replies_to(i)))
    duplicates = sum(1 for i in ids if len(agent.replies_to(i)) > 1)
    return {
        "questions": args.rooms,
        "rooms": args.rooms,
        "llm_latency_s": args.latency,
        "answered": answered,
        "answered_as_text": texts,
        "duplicates": duplicates,
        "send_all_ms": round(sent_ms, 1),
        "wall_s": round(wall, 2),
        "target_wall_s": 3.0,
        "cpu_s_during_burst": cpu,
        "server_first_question_to_last_reply_s": round((last_r - first_q) / 1000, 2),
        "server_question_to_reply_p50_ms": server_ms[len(server_ms) // 2] if server_ms else None,
        "server_question_to_reply_max_ms": server_ms[-1] if server_ms else None,
    }


# -- the benchmark ----------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict:
    from devtools.homeserver import LocalSynapse
    from devtools.net import free_port
    from devtools.synapse import Agent

    store = Path(args.store)
    if not (store / "catalog.sqlite3").exists():
        raise SystemExit(f"no knowledge base at {store}: run `guichet ingest` (or pass --store)")
    base = Path(tempfile.mkdtemp(prefix="bench-bot-"))
    # Synapse's SQLite on tmpfs: its own fsyncs are not what is measured here.
    hs_dir = Path(tempfile.mkdtemp(prefix="bench-synapse-", dir=args.synapse_tmp))
    hs = LocalSynapse(
        hs_dir,
        encrypt_by_default="all",
        log_level=args.synapse_log_level,
        extra_config=json.loads(args.synapse_config),
    )
    procs: list[Proc] = []
    agent = None
    results: dict = {
        "store": str(store),
        "machine": f"{os.cpu_count()} cores",
    }
    try:
        await asyncio.to_thread(hs.start)
        agent_user = hs.register("bench-agent", "pw-agent")
        bot_user = hs.register("guichet", "pw-guichet")
        echo_user = hs.register("echo", "pw-echo")
        slow_user = hs.register("echo-slow", "pw-echo-slow")
        agent = Agent(hs, agent_user, base / "agent-store")
        await agent.start()

        echo = Proc(
            "echo",
            [sys.executable, __file__, "echo", "--url", hs.url, "--user", echo_user.user_id,
             "--token", echo_user.access_token, "--device", echo_user.device_id,
             "--store-dir", str(base / "echo-store")],
            dict(os.environ),
            base / "echo.log",
        )  # fmt: skip
        procs.append(echo)
        t_start = time.perf_counter()
        bot = Proc(
            "guichet",
            [sys.executable, "-m", "app", "run", "--log-level", args.bot_log_level],
            bot_env(hs, bot_user, base / "bot", store, agent_user.user_id),
            base / "bot.log",
        )
        procs.append(bot)
        echo_room = await agent.dm(echo_user.user_id)
        bot_room = await agent.dm(bot_user.user_id, wait_s=300)
        results["bot_ready_s"] = round(time.perf_counter() - t_start, 1)

        questions = load_questions(args.n + args.warmup)
        if args.skip_overhead:
            questions = questions[: args.warmup + 1]
        for q in questions[: args.warmup]:
            await timed_ask(agent, echo_room, q)
            await timed_ask(agent, bot_room, q)
        echo_ms, bot_ms = [], []
        for q in questions[args.warmup :]:
            echo_ms.append(await timed_ask(agent, echo_room, q))
            bot_ms.append(await timed_ask(agent, bot_room, q))
        results["overhead"] = {
            "n": len(bot_ms),
            "what": "agent send -> reply seen, encrypted DM, same Synapse, interleaved",
            "echo_p50_ms": round(statistics.median(echo_ms), 1),
            "echo_p95_ms": round(percentile(echo_ms, 0.95), 1),
            "guichet_p50_ms": round(statistics.median(bot_ms), 1),
            "guichet_p95_ms": round(percentile(bot_ms, 0.95), 1),
            "ratio_p50": round(statistics.median(bot_ms) / statistics.median(echo_ms), 2),
            "target_ratio_p50": 1.5,
        }
        results["rss_extractive"] = rss_kib(bot.p.pid)
        print(json.dumps(results["overhead"]), flush=True)

        bot.stop()
        echo.stop()
        # -- the same burst against a bare nio bot that waits 1 s then echoes ------------------
        # (first, so that the agent's growing number of rooms weighs on Guichet, not on it)
        conc_q = load_questions(args.rooms, seed=11)
        slow = Proc(
            "echo-slow",
            [sys.executable, __file__, "echo", "--url", hs.url, "--user", slow_user.user_id,
             "--token", slow_user.access_token, "--device", slow_user.device_id,
             "--store-dir", str(base / "echo-slow-store"), "--delay", str(args.latency)],
            dict(os.environ),
            base / "echo-slow.log",
        )  # fmt: skip
        procs.append(slow)
        slow_rooms = [await agent.dm(slow_user.user_id) for _ in range(args.rooms)]
        await asyncio.gather(*(timed_ask(agent, room, "bonjour") for room in slow_rooms))
        pids = {"synapse": hs.pid, "bot": slow.p.pid, "agent": os.getpid()}
        results["concurrency_bare_bot"] = await burst(
            agent, slow_rooms, conc_q, pids, args, base, "echo-slow"
        )
        results["concurrency_bare_bot"]["what"] = (
            f"bare matrix-nio bot: sleeps {args.latency} s (an ideal LLM) then echoes"
        )
        slow.stop()
        print(json.dumps(results["concurrency_bare_bot"]), flush=True)

        # -- concurrency with a 1 s LLM ------------------------------------------------------
        port = free_port()
        llm = Proc(
            "llm",
            [sys.executable, "-m", "devtools.openai_server", "--port", str(port),
             "--latency", str(args.latency)],
            dict(os.environ, PYTHONPATH=str(ROOT)),
            base / "llm.log",
        )  # fmt: skip
        procs.append(llm)
        bot = Proc(
            "guichet-llm",
            [sys.executable, "-m", "app", "run", "--log-level", args.bot_log_level],
            bot_env(
                hs, bot_user, base / "bot", store, agent_user.user_id,
                llm_url=f"http://127.0.0.1:{port}/v1",
            ),
            base / "bot-llm.log",
        )  # fmt: skip
        procs.append(bot)
        await timed_ask(agent, bot_room, questions[0], wait_s=300)  # ready, LLM reached
        rooms = [await agent.dm(bot_user.user_id) for _ in range(args.rooms)]
        for room in rooms:  # one warm-up message each, so every room's Megolm session exists
            await timed_ask(agent, room, "!aide")
        pids = {"synapse": hs.pid, "bot": bot.p.pid, "llm_server": llm.p.pid, "agent": os.getpid()}
        results["concurrency"] = await burst(agent, rooms, conc_q, pids, args, base, "guichet")
        results["rss_llm"] = rss_kib(bot.p.pid)
        results["concurrency"]["wall_ratio_vs_bare_bot"] = round(
            results["concurrency"]["wall_s"] / results["concurrency_bare_bot"]["wall_s"], 2
        )
        print(json.dumps(results["concurrency"]), flush=True)

        return results
    finally:
        if agent is not None:
            await agent.close()
        for proc in reversed(procs):
            proc.stop()
        hs.stop()
        if args.keep:
            shutil.copy(hs.log_path, base / "synapse.log")
        shutil.rmtree(hs_dir, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"kept {base}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd")
    echo = sub.add_parser("echo", help="(internal) run the bare echo bot")
    for name in ("--url", "--user", "--token", "--device", "--store-dir"):
        echo.add_argument(name, required=True)
    echo.add_argument("--delay", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument("--store", default="/work/store-full")
    parser.add_argument("--n", type=int, default=40, help="timed questions per bot")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "bot.json"))
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    parser.add_argument("--bot-log-level", default="WARNING")
    parser.add_argument(
        "--synapse-log-level", default="WARNING", help="INFO logs every request (with --keep)"
    )
    parser.add_argument(
        "--synapse-config", default="{}", help="JSON of homeserver.yaml keys to override"
    )
    parser.add_argument(
        "--bot-env", action="append", default=[], help="extra GUICHET_X=value for the bot"
    )
    parser.add_argument("--py-spy", help="path of py-spy: profile the bot and Synapse (--keep)")
    parser.add_argument("--skip-overhead", action="store_true", help="only the concurrency part")
    parser.add_argument("--synapse-tmp", default="/dev/shm" if Path("/dev/shm").is_dir() else None)
    args = parser.parse_args()
    if args.cmd == "echo":
        asyncio.run(echo_main(args))
        return
    EXTRA_BOT_ENV.update(kv.split("=", 1) for kv in args.bot_env)
    results = asyncio.run(run(args))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
