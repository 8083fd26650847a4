"""Fixtures of the reliability suite (issue 6): the bot as a real `guichet run` process,
a tiny real store built by `guichet ingest`, Chroma servers this suite starts and stops
itself, and small HTTP servers that count hits.

Shared services come from tests/support (session Synapse, fake OpenAI server class, agents);
nothing here duplicates them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

import knowledge
from devtools.chroma_server import ChromaProcess
from devtools.net import free_port
from devtools.synapse import AgentFactory

SAMPLE = Path(knowledge.__file__).resolve().parent / "sample" / "vdd-2020" / "particuliers"
# Seven real fiches: enough for passeport / carte d'identité / Smic questions.
TINY_FICHES = ("F1342", "F21089", "F2300", "F12567", "F34757", "F14929", "F18723")


def _bin(name: str) -> str:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"the `{name}` command is not installed")
    return found


def clean_env(**guichet: Any) -> dict[str, str]:
    """The environment without any GUICHET_* from outside, plus the given GUICHET_* values."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    env["ANONYMIZED_TELEMETRY"] = "False"
    for key, value in guichet.items():
        if value is None:
            continue
        env[f"GUICHET_{key.upper()}"] = ",".join(value) if isinstance(value, list) else str(value)
    return env


def run_cli(args: list[str], *, cwd: Path, timeout: float = 180, **guichet: Any):
    """Run `guichet ARGS` to completion (isolated env and working dir)."""
    return subprocess.run(
        [_bin("guichet"), *args],
        cwd=cwd,
        env=clean_env(**guichet),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ingest_cli(store: Path, inputs: list[Path], *, cwd: Path, **guichet: Any):
    guichet.setdefault("ingest_workers", 1)
    return run_cli(
        ["ingest", "--no-progress", "--json", "--store", str(store), *map(str, inputs)],
        cwd=cwd,
        **guichet,
    )


def copy_fiches(dest: Path, ids: tuple[str, ...] = TINY_FICHES) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for fid in ids:
        shutil.copy(SAMPLE / f"{fid}.xml", dest / f"{fid}.xml")
    return dest


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real embedded store (USE embeddings) of TINY_FICHES, built by `guichet ingest`.

    Only `guichet run` subprocesses open it (one at a time): never this test process.
    """
    base = tmp_path_factory.mktemp("tiny-store")
    inputs = copy_fiches(base / "in")
    store = base / "store"
    proc = ingest_cli(store, [inputs], cwd=base)
    assert proc.returncode == 0, proc.stderr
    return store


# ------------------------------------------------------------------ the bot as a process


class GuichetProcess:
    """`guichet run` as a child process; its log goes to a file."""

    def __init__(self, env: dict[str, str], cwd: Path, name: str = "bot") -> None:
        self.env = env
        self.cwd = cwd
        self.log_path = cwd / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.peak_rss_kb = 0

    def start(self) -> GuichetProcess:
        self.cwd.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 (kept open by the child)
        self.proc = subprocess.Popen(
            [_bin("guichet"), "run"],
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _status(self, field: str) -> int:
        try:
            text = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def rss_kb(self) -> int:
        return self._status("VmRSS")

    def hwm_kb(self) -> int:
        """Peak resident set size of the bot process so far (VmHWM)."""
        value = self._status("VmHWM")
        self.peak_rss_kb = max(self.peak_rss_kb, value)
        return self.peak_rss_kb

    def kill(self) -> None:
        """SIGKILL: no cleanup, no draining (a crash, an OOM kill)."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)

    def stop(self, timeout: float = 40) -> int | None:
        if self.proc is None:
            return None
        if self.alive():
            self.hwm_kb()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        return self.proc.returncode

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def bot_env(hs: Any, bot_user: Any, data_dir: Path, store: Path, **extra: Any) -> dict[str, str]:
    values: dict[str, Any] = {
        "homeserver_url": hs.url,
        "user_id": bot_user.user_id,
        "password": bot_user.password,
        "data_dir": data_dir,
        "store_dir": store,
        "allowed_domains": ["interieur.gouv.fr", "developpement-durable.gouv.fr"],
        "identity_servers": ["localhost"],
        "sync_timeout_ms": 3000,
        "rate_limit_count": 1000,
        "ops_port": 0,
        "log_level": "INFO",
    }
    values.update(extra)
    return clean_env(**values)


@pytest.fixture
def processes() -> Iterator[list[GuichetProcess]]:
    """Every `guichet run` a test starts; all stopped at the end."""
    started: list[GuichetProcess] = []
    yield started
    for p in started:
        with contextlib.suppress(Exception):
            p.stop(timeout=15)


# ------------------------------------------------------------------ Chroma we own


@pytest.fixture(scope="module")
def own_chroma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaProcess]:
    base = tmp_path_factory.mktemp("own-chroma")
    server = ChromaProcess(base / "db", free_port()).start()
    try:
        yield server
    finally:
        server.stop()


# ------------------------------------------------------------------ a server that counts hits


class HitCounter:
    """A tiny HTTP server on 127.0.0.1 recording every request it gets."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append((self.command, self.path, time.time()))
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(b"<html><title>piege</title></html>")

            do_HEAD = do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> HitCounter:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


async def dm_with_process(agent: Any, bot_user_id: str, wait_s: float = 150.0) -> str:
    """An encrypted DM with a bot that may still be starting (a `guichet run` loads its
    embedding model first: slow on a busy machine)."""
    room = await agent.create_room([bot_user_id], dm=True)
    await agent.wait_member(room, bot_user_id, wait_s=wait_s)
    return room


async def settle(seconds: float) -> None:
    """Leave time for a duplicate to show up before asserting there is none."""
    await asyncio.sleep(seconds)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def dm(env):
    """An agent and its encrypted DM with the bot of the module's `env` fixture."""
    return await env.new_dm()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def agents(synapse, tmp_path_factory, request) -> AsyncIterator[AgentFactory]:
    """Agents on the session's Synapse, for the tests that run the bot as a process."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    factory = AgentFactory(synapse, tmp_path_factory.mktemp(f"{name}-agents"))
    yield factory
    await factory.close()
