"""The ops HTTP endpoint and its readiness checks.

`OpsServer(metrics, checks, host, port)`: a small aiohttp server with `/healthz` (the process
and its event loop answer), `/readyz` (each readiness check run and reported: homeserver
reachable, store open, LLM reachable) and `/metrics` (Prometheus text format). Bound to
127.0.0.1 by default: put a reverse proxy or the orchestrator's probe in front of it.
`start_ops_server(metrics, ...)` builds the checks from what the bot uses and starts it (the
composition root, `app.wiring`, calls it from the settings).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from ops.errors import OpsError
from ops.logs import redact
from ops.metrics import Metrics

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    detail: str = ""


Check = Callable[[], Awaitable[CheckResult]]


def homeserver_check(homeserver_url: str, *, timeout: float = 3.0) -> Check:
    """Ready when the homeserver answers `GET /_matrix/client/versions`."""
    url = homeserver_url.rstrip("/") + "/_matrix/client/versions"

    async def check() -> CheckResult:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(url)
        if response.status_code != 200:
            return CheckResult(False, f"HTTP {response.status_code} from {url}")
        return CheckResult(True, homeserver_url)

    return check


def llm_check(
    llm_url: str | None, api_key: Any = None, *, timeout: float = 3.0, required: bool = True
) -> Check:
    """Ready when the OpenAI-compatible server answers `GET {llm_url}/models` (bearer token).

    An empty `llm_url` means the embedded extractive generator: always ready. `api_key` may be
    a `SecretStr`; it only ever goes into the Authorization header.
    """

    async def check() -> CheckResult:
        if not llm_url:
            return CheckResult(True, "no LLM configured (extractive generator)")
        headers = {}
        secret = api_key.get_secret_value() if hasattr(api_key, "get_secret_value") else api_key
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        url = llm_url.rstrip("/") + "/models"
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(url, headers=headers)
        if response.status_code != 200:
            return CheckResult(not required, f"HTTP {response.status_code} from {url}")
        return CheckResult(True, llm_url)

    return check


def store_check(stats: Callable[[], Mapping[str, Any]], *, timeout: float = 5.0) -> Check:
    """Ready when the store answers `stats()` (run in a thread: it may touch the disk)."""

    async def check() -> CheckResult:
        result = await asyncio.wait_for(asyncio.to_thread(stats), timeout)
        chunks = result.get("chunks") if isinstance(result, Mapping) else None
        return CheckResult(True, f"{chunks} chunks" if chunks is not None else "open")

    return check


def flag_check(flag: Callable[[], bool], detail_ok: str, detail_ko: str) -> Check:
    """Ready when `flag()` is true (e.g. the bot finished its first sync)."""

    async def check() -> CheckResult:
        return CheckResult(True, detail_ok) if flag() else CheckResult(False, detail_ko)

    return check


async def run_checks(checks: Mapping[str, Check], *, per_check_s: float = 5.0) -> dict[str, dict]:
    """Run every check concurrently; an exception or a timeout is a failed check, named."""

    async def one(check: Check) -> CheckResult:
        try:
            return await asyncio.wait_for(check(), per_check_s)
        except TimeoutError:
            return CheckResult(False, f"timed out after {per_check_s:g} s")
        except Exception as exc:
            return CheckResult(False, f"{type(exc).__name__}: {redact(str(exc))}")

    names = list(checks)
    results = await asyncio.gather(*(one(checks[n]) for n in names))
    return {n: {"ok": r.ok, "detail": r.detail} for n, r in zip(names, results, strict=True)}


# ---- the HTTP endpoint -----------------------------------------------------------------------


class OpsServer:
    """`/healthz`, `/readyz`, `/metrics` on `host:port` (port 0 picks a free one)."""

    def __init__(
        self,
        metrics: Metrics,
        checks: Mapping[str, Check] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 9464,
        check_timeout: float = 5.0,
    ) -> None:
        self.metrics = metrics
        self.checks = dict(checks or {})
        self.host = host
        self.port = port
        self.check_timeout = check_timeout
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise OpsError(
                f"cannot serve the ops endpoint on {self.host}:{self.port}: "
                f"{exc.strerror or exc}. Set GUICHET_OPS_PORT to a free port (0 turns it off)."
            ) from exc
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        if sockets:
            self.port = sockets[0].getsockname()[1]
        logger.info(
            "ops endpoint on http://%s:%d (/healthz /readyz /metrics)", self.host, self.port
        )

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> OpsServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        results = await run_checks(self.checks, per_check_s=self.check_timeout)
        ready = all(r["ok"] for r in results.values())
        return web.json_response(
            {"status": "ready" if ready else "not ready", "checks": results},
            status=200 if ready else 503,
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        body = await asyncio.to_thread(self.metrics.render)  # the store collector may hit disk
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


def synced_check(is_synced: Callable[[], bool]) -> Check:
    """Ready once the bot has logged in and handled its first sync (caught up)."""

    async def check() -> CheckResult:
        if is_synced():
            return CheckResult(True, "first sync handled")
        return CheckResult(False, "not synced yet: logging in or catching up")

    return check


async def start_ops_server(
    metrics: Metrics,
    *,
    host: str,
    port: int,
    homeserver_url: str,
    bot_synced: Callable[[], bool] | None = None,
    store_stats: Callable[[], Mapping[str, Any]] | None = None,
    llm_url: str | None = None,
    llm_api_key: Any = None,
    embeddings_url: str | None = None,
    embeddings_api_key: Any = None,
) -> OpsServer:
    """Build the readiness checks from what the bot uses, and start the endpoint.

    Checks: `homeserver` always; `bot` when `bot_synced` is given (the bot's first sync is
    handled); `store` when `store_stats` is given (it is also exported as `guichet_store_*`
    gauges); `llm` (OK without an LLM: extractive); `embeddings` when an OpenAI-compatible
    embeddings server is configured.
    """
    checks: dict[str, Check] = {"homeserver": homeserver_check(homeserver_url)}
    if bot_synced is not None:
        checks["bot"] = synced_check(bot_synced)
    if store_stats is not None:
        checks["store"] = store_check(store_stats)
        metrics.watch_store(store_stats)
    checks["llm"] = llm_check(llm_url, llm_api_key)
    if embeddings_url:
        checks["embeddings"] = llm_check(embeddings_url, embeddings_api_key)
    server = OpsServer(metrics, checks, host=host, port=port)
    await server.start()
    return server
