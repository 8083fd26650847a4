"""`guichet demo`: the whole product on one machine, in one command, for a newcomer.

It starts (all on 127.0.0.1, everything in one data directory, `.guichet/demo/` by default):

1. a local Synapse (`devtools.homeserver.LocalSynapse`, pip's matrix-synapse, SQLite);
2. registers the bot (`@guichet:localhost`) and a demo agent (`@agent-demo:localhost`), whose
   passwords are kept in `demo.json` (mode 0600) so a second run reuses them;
3. ingests the bundled sample corpus (`knowledge/sample/`) with `guichet ingest` if the store is
   empty;
4. starts the bot as a subprocess (`guichet run`, its own process group, logs in `bot.log`);
5. opens the terminal chat (`devtools.chat`) as the demo agent, in an encrypted DM with the bot,
   through the real homeserver.

Ctrl-C, `/quit`, end of input, SIGTERM or SIGHUP stop everything it started (the bot first,
then Synapse); nothing is left running. A second run reuses the data directory: same users, same
store, same DM, and the bot resumes from its saved session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from devtools.chat import ChatConfig, run_chat
from devtools.errors import DevToolError
from devtools.homeserver import HomeserverError, LocalSynapse
from devtools.net import free_port

logger = logging.getLogger(__name__)

BOT_LOCALPART = "guichet"
AGENT_LOCALPART = "agent-demo"
CREDENTIALS_FILE = "demo.json"
INGESTED_MARKER = "sample-ingested.json"
EXAMPLE_QUESTIONS = (
    "Comment faire un passeport pour un enfant mineur ?",
    "Quel justificatif de domicile pour une carte d'identité ?",
    "Un étudiant a-t-il droit au RSA ?",
    "!brouillon Bonjour, mon fils de 15 ans part en voyage scolaire, que faut-il pour son "
    "passeport ?",
    "!sources  (les sources de la dernière réponse, avec extraits)     !aide  (l'aide)",
)


class DemoError(DevToolError):
    """The demo could not start one of its parts (named in the message, with its log)."""


@dataclass(frozen=True, slots=True)
class DemoPaths:
    root: Path

    @property
    def synapse(self) -> Path:
        return self.root / "synapse"

    @property
    def store(self) -> Path:
        return self.root / "store"

    @property
    def bot(self) -> Path:
        return self.root / "bot"

    @property
    def chat(self) -> Path:
        return self.root / "chat"

    @property
    def credentials(self) -> Path:
        return self.root / CREDENTIALS_FILE

    @property
    def bot_log(self) -> Path:
        return self.root / "bot.log"

    @property
    def ingest_log(self) -> Path:
        return self.root / "ingest.log"

    @property
    def bot_pid(self) -> Path:
        return self.root / "bot.pid"


@dataclass(frozen=True, slots=True)
class DemoCredentials:
    homeserver_url: str
    bot_user_id: str
    bot_password: str
    agent_user_id: str
    agent_password: str

    @classmethod
    def load(cls, path: Path) -> DemoCredentials:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**{k: data[k] for k in cls.__slots__})  # type: ignore[attr-defined]
        except FileNotFoundError:
            raise DemoError(f"{path} does not exist: run `guichet demo` first") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DemoError(f"{path} is unreadable ({exc!r}): remove the demo directory") from exc

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({k: getattr(self, k) for k in self.__slots__}, indent=2),  # type: ignore[attr-defined]
            encoding="utf-8",
        )
        os.chmod(tmp, 0o600)
        tmp.replace(path)


def chat_config(paths: DemoPaths, creds: DemoCredentials, *, reply_timeout_s: float) -> ChatConfig:
    return ChatConfig(
        homeserver_url=creds.homeserver_url,
        user_id=creds.agent_user_id,
        bot_user_id=creds.bot_user_id,
        store_dir=paths.chat,
        password=creds.agent_password,
        reply_timeout_s=reply_timeout_s,
    )


class Demo:
    """The processes of one demo run; `stop()` ends every one of them (idempotent)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        out: TextIO | None = None,
        reply_timeout_s: float = 120.0,
        bot_start_timeout_s: float = 120.0,
    ) -> None:
        self.paths = DemoPaths(Path(data_dir).resolve())
        self.out = out if out is not None else sys.stdout
        self.reply_timeout_s = reply_timeout_s
        self.bot_start_timeout_s = bot_start_timeout_s
        self.synapse = LocalSynapse(self.paths.synapse)
        self.bot: subprocess.Popen | None = None
        self.creds: DemoCredentials | None = None
        self.sample_fiches = 0
        self.ops_port = free_port()  # the bot's /healthz /readyz /metrics

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # ---- the parts ---------------------------------------------------------------------------

    def start_homeserver(self) -> None:
        import importlib.util

        if importlib.util.find_spec("synapse") is None:
            raise DemoError(
                "the demo's local homeserver needs matrix-synapse, which is not installed: "
                "pip install 'guichet[demo]' (or `make demo`, which installs it)"
            )
        self.paths.root.mkdir(parents=True, exist_ok=True)
        first = not self.synapse.config_path.exists()
        self.say("Démarrage de Synapse" + (" (première fois : configuration)…" if first else "…"))
        try:
            self.synapse.start()
        except HomeserverError as exc:
            raise DemoError(
                f"{exc}\nIf another `guichet demo` is running on {self.paths.root}, join it with "
                f"`guichet chat --demo-dir {self.paths.root}`, or stop it first."
            ) from exc

    def ensure_users(self) -> DemoCredentials:
        url = self.synapse.url
        path = self.paths.credentials
        if path.exists():
            creds = DemoCredentials.load(path)
            if creds.homeserver_url != url:  # the port is kept by LocalSynapse; be safe anyway
                creds = DemoCredentials(url, *[getattr(creds, k) for k in creds.__slots__[1:]])
                creds.save(path)
            self.creds = creds
            return creds
        bot_password = secrets.token_urlsafe(18)
        agent_password = secrets.token_urlsafe(12)
        try:
            bot = self.synapse.register(BOT_LOCALPART, bot_password, displayname="Guichet")
            agent = self.synapse.register(
                AGENT_LOCALPART, agent_password, admin=False, displayname="Agent démo"
            )
        except HomeserverError as exc:
            raise DemoError(
                f"{exc}\n{path} is missing but the users exist: remove {self.paths.root} "
                "to start the demo from scratch"
            ) from exc
        creds = DemoCredentials(url, bot.user_id, bot_password, agent.user_id, agent_password)
        creds.save(path)
        self.creds = creds
        return creds

    def _store_ready(self) -> bool:
        marker = self.paths.root / INGESTED_MARKER
        return marker.exists() and self.paths.store.is_dir() and any(self.paths.store.iterdir())

    def ensure_store(self) -> None:
        from knowledge.paths import sample_corpus_dir

        sample = sample_corpus_dir()
        self.sample_fiches = len(list(sample.rglob("*.xml"))) if sample.is_dir() else 0
        if self._store_ready():
            return
        if not self.sample_fiches:
            raise DemoError(f"the sample corpus {sample} has no XML fiche: is the package intact?")
        self.say(f"Indexation du corpus d'exemple ({self.sample_fiches} fiches)…")
        started = time.monotonic()
        with open(self.paths.ingest_log, "ab") as log:
            proc = subprocess.run(
                [sys.executable, "-m", "app", "ingest", "--no-progress", str(sample)],
                env=self.child_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                check=False,
            )
        if proc.returncode != 0:
            raise DemoError(
                f"`guichet ingest {sample}` failed (exit {proc.returncode}):\n"
                + tail(self.paths.ingest_log)
            )
        (self.paths.root / INGESTED_MARKER).write_text(
            json.dumps({"corpus": str(sample), "seconds": round(time.monotonic() - started, 1)}),
            encoding="utf-8",
        )

    def child_env(self) -> dict[str, str]:
        """The environment of `guichet run` / `guichet ingest`: pointed at the demo's parts.

        Everything else (e.g. GUICHET_LLM_URL for a real LLM) comes from the user's environment
        or `.env`, as for `guichet run`.
        """
        env = dict(os.environ)
        env.update(
            {
                "GUICHET_STORE_DIR": str(self.paths.store),
                "GUICHET_DATA_DIR": str(self.paths.bot),
                "GUICHET_OPS_HOST": "127.0.0.1",
                "GUICHET_OPS_PORT": str(self.ops_port),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.creds is not None:
            env.update(
                {
                    "GUICHET_HOMESERVER_URL": self.creds.homeserver_url,
                    "GUICHET_USER_ID": self.creds.bot_user_id,
                    "GUICHET_PASSWORD": self.creds.bot_password,
                    "GUICHET_ALLOWED_USERS": self.creds.agent_user_id,
                    "GUICHET_ADMIN_USERS": self.creds.agent_user_id,
                }
            )
            env.pop("GUICHET_ACCESS_TOKEN", None)
        return env

    def start_bot(self) -> None:
        self.paths.bot.mkdir(parents=True, exist_ok=True)
        self.say("Démarrage du bot…")
        with open(self.paths.bot_log, "ab") as log:
            log.write(f"\n==== guichet run (demo) {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
            log.flush()
            self.bot = subprocess.Popen(
                [sys.executable, "-m", "app", "run"],
                env=self.child_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # Ctrl-C reaches the demo only; it stops the bot itself
            )
        self.paths.bot_pid.write_text(str(self.bot.pid), encoding="utf-8")

    async def watch_bot(self) -> None:
        """Returns (raising DemoError) only if the bot process exits."""
        assert self.bot is not None
        while self.bot.poll() is None:  # noqa: ASYNC110 - a child process has no awaitable exit
            await asyncio.sleep(0.5)
        raise DemoError(
            f"the bot stopped (exit {self.bot.returncode}); end of {self.paths.bot_log}:\n"
            + tail(self.paths.bot_log)
        )

    def banner(self) -> str:
        assert self.creds is not None
        p, c = self.paths, self.creds
        llm = os.environ.get("GUICHET_LLM_URL") or _dotenv_value("GUICHET_LLM_URL")
        generator = f"LLM {llm}" if llm else "extractif (aucun LLM configuré : GUICHET_LLM_URL)"
        agent_local = c.agent_user_id.split(":")[0].lstrip("@")
        lines = [
            "",
            "──────────────── Guichet : démo locale ────────────────",
            f"  Synapse   {c.homeserver_url}   (journal {p.synapse / 'homeserver.log'})",
            f"  Bot       {c.bot_user_id}, pid {self.bot.pid if self.bot else '?'}"
            f"   (journal {p.bot_log})",
            f"  Corpus    échantillon de {self.sample_fiches} fiches service-public.fr → {p.store}",
            f"  Réponses  {generator}",
            f"  Métriques http://127.0.0.1:{self.ops_port}/metrics   (et /healthz, /readyz)",
            f"  Vous      {c.agent_user_id}, dans un DM chiffré de bout en bout avec le bot",
            "",
            "  Exemples :",
            *[f"    {q}" for q in EXAMPLE_QUESTIONS],
            "",
            "  Avec Element (web ou desktop) : serveur d'accueil " + c.homeserver_url + ",",
            f"  identifiant {agent_local}, mot de passe {c.agent_password} (voir {p.credentials}).",
            "  Ctrl-C ou /quit arrête tout (Synapse et le bot).",
            "───────────────────────────────────────────────────────",
        ]
        return "\n".join(lines)

    async def wait_bot_up(self) -> None:
        """Until the bot's /healthz answers (it has opened the store and logged in)."""
        import httpx

        url = f"http://127.0.0.1:{self.ops_port}/healthz"
        deadline = time.monotonic() + self.bot_start_timeout_s
        async with httpx.AsyncClient(timeout=2.0) as http:
            while True:
                assert self.bot is not None
                if self.bot.poll() is not None:
                    await self.watch_bot()  # raises DemoError with the bot's log
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(url)).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise DemoError(
                        f"the bot did not start within {self.bot_start_timeout_s:g} s; end of "
                        f"{self.paths.bot_log}:\n" + tail(self.paths.bot_log)
                    )
                await asyncio.sleep(0.3)

    async def chat(self, *, stdin: TextIO | None = None) -> int:
        assert self.creds is not None
        await self.wait_bot_up()
        config = chat_config(self.paths, self.creds, reply_timeout_s=self.reply_timeout_s)
        config.join_timeout_s = self.bot_start_timeout_s
        chat = asyncio.create_task(
            run_chat(config, stdin=stdin, stdout=self.out, banner=self.banner())
        )
        watcher = asyncio.create_task(self.watch_bot())
        try:
            done, _ = await asyncio.wait({chat, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if watcher in done:
                chat.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await chat
                watcher.result()  # raises DemoError with the bot's log
            return chat.result()
        finally:
            for task in (chat, watcher):
                task.cancel()
            await asyncio.gather(chat, watcher, return_exceptions=True)

    # ---- stopping ----------------------------------------------------------------------------

    def stop_bot(self, timeout: float = 20.0) -> None:
        proc, self.bot = self.bot, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("the bot did not stop within %.0f s: killing it", timeout)
        # Whatever happened, nothing of its process group may survive.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        with contextlib.suppress(FileNotFoundError):
            self.paths.bot_pid.unlink()

    def stop(self) -> None:
        try:
            self.stop_bot()
        finally:
            self.synapse.stop()


def tail(path: Path, lines: int = 25) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    return f"({path} is unreadable)"


def _dotenv_value(name: str) -> str | None:
    """A value from ./.env (what pydantic-settings would read), for the banner only."""
    path = Path(".env")
    with contextlib.suppress(OSError):
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() == name:
                return value.strip().strip("'\"") or None
    return None


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP behave like Ctrl-C (KeyboardInterrupt), so cleanup always runs."""
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        previous[sig] = signal.signal(sig, signal.default_int_handler)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_demo(
    data_dir: Path,
    *,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    reply_timeout_s: float = 120.0,
) -> int:
    """The `guichet demo` command. Returns the exit code; never leaves a process behind."""
    demo = Demo(data_dir, out=out, reply_timeout_s=reply_timeout_s)
    started = time.monotonic()
    with _signals_interrupt():
        try:
            demo.start_homeserver()
            demo.ensure_users()
            demo.ensure_store()
            demo.start_bot()
            logger.info("demo parts started in %.1f s", time.monotonic() - started)
            return asyncio.run(demo.chat(stdin=stdin))
        except KeyboardInterrupt:
            demo.say("\nArrêt demandé.")
            return 130
        finally:
            # A second Ctrl-C must not cut the cleanup short and leave processes behind.
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                demo.say("Arrêt du bot et de Synapse…")
                demo.stop()
            finally:
                signal.signal(signal.SIGINT, previous)
