"""The composition root, the one place concrete pieces are built and wired together:
settings → KnowledgeBase → retriever → chain → bot, the metrics and the ops endpoint.

`run_bot` is `guichet run`. Nothing in `bot/`, `chains/`, `knowledge/` or `ops/` builds another
package's pieces; tests build the same objects with their own retriever or chat model through
`build_bot_from_parts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.matrix import MatrixClient
from bot.service import Answerer, ChainAnswerer, GuichetBot, Observer
from bot.settings import BotSettings
from bot.state import State
from ops.health import OpsServer, start_ops_server
from ops.metrics import Metrics, MetricsObserver

logger = logging.getLogger(__name__)

STATE_FILE = "state.sqlite3"


def check_data_dir(path: Path) -> None:
    """Fail early and clearly when the data directory cannot hold the keys and the state."""
    probe = path / ".write-probe"
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
        probe.unlink()
    except OSError as exc:
        with contextlib.suppress(OSError):
            probe.unlink()  # created before the write failed (disk full): leave nothing
        why = {
            errno.ENOSPC: "the disk is full",
            errno.EROFS: "the file system is read-only",
            errno.EACCES: "permission denied",
            errno.EPERM: "permission denied",
            errno.EDQUOT: "the disk quota is exceeded",
        }.get(exc.errno or 0, str(exc))
        raise ConfigError(
            f"the bot's data directory {path} is not writable: {why}. It holds the encryption "
            "keys and the state: free some space or fix its permissions, then start again "
            "(nothing was changed)."
        ) from exc


@dataclass
class BotApp:
    """A built bot and what must be closed after it stopped."""

    bot: GuichetBot
    stack: AsyncExitStack
    kb: Any = None  # the KnowledgeBase, when build_bot opened it (for the ops endpoint)

    async def run(self) -> None:
        """Warm the knowledge base (embedding models, indexes), then log in and sync: the
        first sync, and so `/readyz`, wait for the models, and the first question does not
        pay their load."""
        try:
            if self.kb is not None:
                started = time.perf_counter()
                await asyncio.to_thread(self.kb.warmup)
                logger.info("knowledge base warm in %.1f s", time.perf_counter() - started)
            await self.bot.run()
        finally:
            await self.stack.aclose()


async def build_bot_from_parts(
    settings: BotSettings,
    answerer: Answerer,
    *,
    observer: Observer | None = None,
    stack: AsyncExitStack | None = None,
) -> BotApp:
    """A bot over any `Answerer` (the real chain, or a test double at the LLM boundary)."""
    check_data_dir(Path(settings.data_dir))
    stack = stack or AsyncExitStack()
    state = await State.open(Path(settings.data_dir) / STATE_FILE)
    stack.push_async_callback(state.close)
    matrix = MatrixClient(settings)
    stack.push_async_callback(matrix.close)
    bot = GuichetBot(settings, matrix, state, answerer, observer=observer)
    return BotApp(bot=bot, stack=stack)


def build_chain(retriever: Any, chain_settings: Any, llm: Any = "auto") -> ChainAnswerer:
    from chains.answer import build_answer_chain
    from chains.llm import build_chat_model

    model = build_chat_model(chain_settings) if llm == "auto" else llm
    return ChainAnswerer(build_answer_chain(retriever, model, chain_settings))


async def build_bot(
    settings: BotSettings | None = None,
    *,
    knowledge_settings: Any = None,
    chain_settings: Any = None,
    observer: Observer | None = None,
) -> BotApp:
    """Everything from settings (env, .env): the knowledge base, the chain, the bot."""
    from chains.settings import ChainSettings
    from knowledge.settings import KnowledgeSettings
    from knowledge.store import KnowledgeBase

    settings = settings or BotSettings()
    check_data_dir(Path(settings.data_dir))
    knowledge_settings = knowledge_settings or KnowledgeSettings()
    chain_settings = chain_settings or ChainSettings()
    stack = AsyncExitStack()
    try:
        kb = await asyncio.to_thread(KnowledgeBase.open, knowledge_settings)
        stack.callback(kb.close)
        answerer = build_chain(kb.retriever(), chain_settings)
        app = await build_bot_from_parts(settings, answerer, observer=observer, stack=stack)
        app.kb = kb
        return app
    except BaseException:
        await stack.aclose()
        raise


async def start_bot_ops(
    metrics: Metrics,
    settings: Any,
    *,
    kb: Any = None,
    knowledge_settings: Any = None,
    chain_settings: Any = None,
    bot: Any = None,
) -> OpsServer | None:
    """The endpoint of `guichet run`, from its settings (None when `ops_port` is 0).

    `settings` is a `BotSettings`; `bot` the `GuichetBot` (its `ready` event feeds the `bot`
    check); `kb` the open `KnowledgeBase` (its `stats()` feeds the
    `store` check and the `guichet_store_*` gauges); the chain and knowledge settings name the
    LLM and embeddings servers to check.
    """
    if not settings.ops_port:
        logger.info("ops endpoint disabled (ops_port = 0)")
        return None
    openai_embeddings = (
        knowledge_settings is not None
        and getattr(knowledge_settings, "embeddings_backend", "use") == "openai"
    )
    return await start_ops_server(
        metrics,
        host=settings.ops_host,
        port=settings.ops_port,
        homeserver_url=settings.homeserver_url,
        bot_synced=bot.ready.is_set if bot is not None else None,
        store_stats=kb.stats if kb is not None else None,
        llm_url=getattr(chain_settings, "llm_url", None),
        llm_api_key=getattr(chain_settings, "llm_api_key", None),
        embeddings_url=knowledge_settings.embeddings_url if openai_embeddings else None,
        embeddings_api_key=knowledge_settings.embeddings_api_key if openai_embeddings else None,
    )


async def run_bot(settings=None, knowledge_settings=None, chain_settings=None) -> None:
    """`guichet run`: build everything, serve the ops endpoint, sync until SIGINT/SIGTERM."""
    metrics = Metrics()
    app = await build_bot(
        settings,
        knowledge_settings=knowledge_settings,
        chain_settings=chain_settings,
        observer=MetricsObserver(metrics),
    )
    try:
        ops = await start_bot_ops(
            metrics,
            app.bot.settings,
            kb=app.kb,
            knowledge_settings=knowledge_settings,
            chain_settings=chain_settings,
            bot=app.bot,
        )
    except BaseException:
        await app.stack.aclose()
        raise
    if ops is not None:
        app.stack.push_async_callback(ops.stop)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, app.bot.stop)
    await app.run()
