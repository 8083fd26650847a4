"""Operations: Prometheus metrics, the health/readiness/metrics HTTP endpoint, logging setup.

Nothing here runs at import time. `guichet run` (bot/cli/matrix.py) builds, from settings:

- `Metrics()`: every metric of the bot, in its own `CollectorRegistry` (never the global one, so
  two bots in one process, or a test, never share counters). The bot reports events to it
  through `MetricsObserver`, which implements the bot's observer seam (`bot.service.Observer`).
- `OpsServer(metrics, checks, host, port)`: a small aiohttp server with `/healthz` (the process
  and its event loop answer), `/readyz` (each readiness check run and reported: homeserver
  reachable, store open, LLM reachable) and `/metrics` (Prometheus text format). Bound to
  127.0.0.1 by default: put a reverse proxy or the orchestrator's probe in front of it.
  `start_bot_ops(metrics, bot_settings, kb=..., ...)` builds it from the settings.
- `setup_logging(level, json=...)`: one stderr handler on the root logger, plain or JSON lines,
  with `RedactSecrets`, a filter that masks access tokens, bearer tokens and API keys wherever
  they would appear in a log line. Message bodies are never logged at INFO: the bot logs them
  only at DEBUG, and `extra` fields named like a body (`body`, `question`, `answer`, `text`)
  are dropped from any record above DEBUG by the formatters here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

# Latency buckets (seconds): an extractive answer takes tens of milliseconds, an LLM one seconds.
STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
ANSWER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0, 120.0)

# Keys of an LLM usage mapping (OpenAI or LangChain `usage_metadata` names) read as tokens.
TOKEN_KEYS = {
    "prompt_tokens": "prompt",
    "input_tokens": "prompt",
    "completion_tokens": "completion",
    "output_tokens": "completion",
}


class Metrics:
    """All of the bot's Prometheus metrics, in one private registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.questions = Counter(
            "guichet_questions",
            "Questions received, by room kind (dm, thread) and mode (question, brouillon).",
            ["room_kind", "mode"],
            registry=r,
        )
        self.answers = Counter(
            "guichet_answers",
            "Answers sent, by status (answered, no_source, error).",
            ["status"],
            registry=r,
        )
        self.answer_seconds = Histogram(
            "guichet_answer_seconds",
            "Time spent computing the answer (the whole chain, waiting for an LLM slot excluded).",
            buckets=ANSWER_BUCKETS,
            registry=r,
        )
        self.reply_seconds = Histogram(
            "guichet_reply_seconds",
            "Time from the question's event timestamp to the reply sent (includes the chain and "
            "the homeserver round trips).",
            buckets=ANSWER_BUCKETS,
            registry=r,
        )
        self.step_seconds = Histogram(
            "guichet_step_seconds",
            "Time spent in each named step of the answer chain (Answer.timings_ms).",
            ["step"],
            buckets=STEP_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "guichet_errors",
            "Errors by kind (the chain's Answer.error, send failures, undecryptable events...).",
            ["kind"],
            registry=r,
        )
        self.llm_tokens = Counter(
            "guichet_llm_tokens",
            "LLM tokens used, by kind (prompt, completion), when the server reports them.",
            ["kind"],
            registry=r,
        )
        self.feedback = Counter(
            "guichet_feedback",
            "Agents' reactions on answers, by value (up, down).",
            ["value"],
            registry=r,
        )
        self.ingest_runs = Counter(
            "guichet_ingest_runs", "Ingest runs, by result (ok, error).", ["result"], registry=r
        )
        self.ingest_fiches = Counter(
            "guichet_ingest_fiches",
            "Fiches seen by ingest runs, by change (new, updated, unchanged, deleted, skipped).",
            ["change"],
            registry=r,
        )
        self.ingest_chunks = Counter(
            "guichet_ingest_chunks",
            "Chunks written or deleted by ingest runs, by operation (added, deleted).",
            ["operation"],
            registry=r,
        )
        self.ingest_seconds = Histogram(
            "guichet_ingest_seconds",
            "Duration of ingest runs.",
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 3600),
            registry=r,
        )
        self.ingest_last_success = Gauge(
            "guichet_ingest_last_success_timestamp_seconds",
            "Unix time of the last successful ingest run.",
            registry=r,
        )
        self.started = Gauge("guichet_start_time_seconds", "Unix time the bot started.", registry=r)
        self.started.set(time.time())

    # ---- recording -------------------------------------------------------------------------

    def record_question(self, room_kind: str, mode: str) -> None:
        self.questions.labels(room_kind=room_kind, mode=mode).inc()

    def record_answer(
        self,
        status: str,
        timings_ms: Mapping[str, float],
        usage: Mapping[str, int] | None = None,
    ) -> None:
        """Count one answer sent: its status, per-step timings and LLM tokens (if known).

        `timings_ms` is the chain's `Answer.timings_ms` (named steps), plus, as the bot adds
        them, `chain_ms` (the whole chain) and `total_ms` (event received → reply sent).
        """
        self.answers.labels(status=status).inc()
        for step, ms in timings_ms.items():
            seconds = max(float(ms), 0.0) / 1000
            if step == "chain_ms":
                self.answer_seconds.observe(seconds)
            elif step == "total_ms":
                self.reply_seconds.observe(seconds)
            else:
                self.step_seconds.labels(step=str(step)).observe(seconds)
        tokens: dict[str, int] = {}
        for key, kind in TOKEN_KEYS.items():
            value = (usage or {}).get(key)
            if isinstance(value, int) and value > 0:
                tokens[kind] = tokens.get(kind, 0) + value
        for kind, n in tokens.items():
            self.llm_tokens.labels(kind=kind).inc(n)

    def record_error(self, kind: str) -> None:
        self.errors.labels(kind=kind).inc()

    def record_feedback(self, value: str) -> None:
        """`value`: "up"/"down" (👍/👎 are accepted and normalised)."""
        self.feedback.labels(value=normalise_feedback(value)).inc()

    def record_ingest(self, summary: Any, *, ok: bool = True) -> None:
        """Count one ingest run (a `knowledge.models.IngestSummary`, read by attribute)."""
        self.ingest_runs.labels(result="ok" if ok else "error").inc()
        if not ok:
            return
        for change, attr in (
            ("new", "fiches_new"),
            ("updated", "fiches_updated"),
            ("unchanged", "fiches_unchanged"),
            ("deleted", "fiches_deleted"),
        ):
            self.ingest_fiches.labels(change=change).inc(int(getattr(summary, attr, 0) or 0))
        self.ingest_fiches.labels(change="skipped").inc(len(getattr(summary, "skipped", []) or []))
        self.ingest_chunks.labels(operation="added").inc(int(summary.chunks_added or 0))
        self.ingest_chunks.labels(operation="deleted").inc(int(summary.chunks_deleted or 0))
        seconds = float(getattr(summary, "seconds", 0.0) or 0.0)
        if seconds > 0:
            self.ingest_seconds.observe(seconds)
        self.ingest_last_success.set(time.time())

    def watch_store(self, stats: Callable[[], Mapping[str, Any]]) -> None:
        """Expose the store's numbers (`kb.stats()`, read at scrape time) as gauges.

        `stats` must be cheap and thread-safe (it is called by the scrape, off the event loop).
        Numeric top-level values become `guichet_store_<key>`; a failing call exports nothing
        but `guichet_store_up 0`.
        """
        self.registry.register(_StoreCollector(stats))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def normalise_feedback(value: str) -> str:
    v = value.strip().lower()
    if v in {"👍", "+1", "up", "positive", "good"} or value.startswith("👍"):
        return "up"
    if v in {"👎", "-1", "down", "negative", "bad"} or value.startswith("👎"):
        return "down"
    return "other"


class _StoreCollector:
    def __init__(self, stats: Callable[[], Mapping[str, Any]]) -> None:
        self._stats = stats

    def describe(self) -> list:
        return []  # computed at scrape time; nothing to check at registration

    def collect(self) -> Iterable[GaugeMetricFamily]:
        up = GaugeMetricFamily("guichet_store_up", "1 when the knowledge store answered stats().")
        try:
            stats = self._stats()
        except Exception:
            logger.warning("store stats failed at scrape time", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        for key, value in sorted(stats.items()):
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            name = "guichet_store_" + re.sub(r"[^a-zA-Z0-9_]", "_", str(key))
            family = GaugeMetricFamily(name, f"Knowledge store: {key} (from kb.stats()).")
            family.add_metric([], float(value))
            yield family


def write_ingest_textfile(summary: Any, path: str, *, ok: bool = True) -> None:
    """Write one ingest run's metrics as a Prometheus textfile (node_exporter's collector).

    For the scheduled `guichet ingest` job, which runs in its own process: point node_exporter's
    `--collector.textfile.directory` at the directory of `path`.
    """
    from prometheus_client import write_to_textfile

    metrics = Metrics()
    metrics.record_ingest(summary, ok=ok)
    write_to_textfile(path, metrics.registry)


# ---- the observer: how the bot reports to the metrics ----------------------------------------


class MetricsObserver:
    """`bot.service.Observer` (the bot's metrics seam), implemented with `Metrics`.

    Every method is cheap and synchronous and never raises (a metrics bug must never cost an
    answer): failures are logged at WARNING.
    """

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def _safe(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            logger.warning("metrics update failed", exc_info=True)

    def question_received(self, room_kind: str, mode: str) -> None:
        self._safe(self.metrics.record_question, room_kind, mode)

    def answer_sent(
        self, status: str, timings: dict[str, float], tokens: Mapping[str, int] | None = None
    ) -> None:
        """`tokens`: the chain's `Answer.tokens` (input_tokens, output_tokens when reported)."""
        self._safe(self.metrics.record_answer, status, timings, tokens)

    def error(self, kind: str) -> None:
        self._safe(self.metrics.record_error, kind)

    def feedback(self, value: str) -> None:
        self._safe(self.metrics.record_feedback, value)


# ---- readiness checks ------------------------------------------------------------------------


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
        from bot.errors import ConfigError

        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise ConfigError(
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


def secrets_of(*settings_objects: Any) -> list[Any]:
    """Every SecretStr value of the given settings objects (for `setup_logging(secrets=...)`)."""
    from pydantic import SecretStr

    found = []
    for obj in settings_objects:
        for name in type(obj).model_fields if obj is not None else ():
            value = getattr(obj, name, None)
            if isinstance(value, SecretStr):
                found.append(value)
    return found


# ---- logging ---------------------------------------------------------------------------------

_SECRET_PATTERNS = [
    # Synapse access/refresh tokens (syt_..., syr_...) and legacy MDA... tokens.
    re.compile(r"\bsy[tr]_[A-Za-z0-9_\-]{8,}"),
    # Authorization headers.
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=\-]{6,}"),
    # key=value / "key": "value" pairs with a secret-looking key.
    re.compile(
        r"(?i)(\b(?:access_token|refresh_token|api[_-]?key|password|secret|token|"
        r"registration_shared_secret)\b[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}]+"
    ),
    # OpenAI-style keys.
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
]
REDACTED = "***"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known secret values and anything that looks like a token in `text`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    for pattern in _SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


class RedactSecrets(logging.Filter):
    """Masks secrets in a record's message, arguments and exception text.

    `secrets` are exact values to mask (e.g. the configured access token and API key, given by
    the composition root); token-shaped strings are masked whatever they are.
    """

    def __init__(self, secrets: Iterable[Any] = ()) -> None:
        super().__init__()
        values = []
        for s in secrets:
            v = s.get_secret_value() if hasattr(s, "get_secret_value") else s
            if v:
                values.append(str(v))
        self.secrets = tuple(values)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg = redact(message, self.secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        for key in list(vars(record)):
            if key not in _STANDARD_ATTRS and isinstance(getattr(record, key), str):
                setattr(record, key, redact(getattr(record, key), self.secrets))
        return True


# Fields that carry message content: dropped from every record above DEBUG.
BODY_FIELDS = frozenset({"body", "question", "answer", "text", "content", "formatted_body"})

_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "taskName"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    extras = {}
    for key, value in vars(record).items():
        if key in _STANDARD_ATTRS or key.startswith("_"):
            continue
        if key in BODY_FIELDS and record.levelno > logging.DEBUG:
            continue
        extras[key] = value
    return extras


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the record's extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(_extras(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exc"] = record.exc_text
        return json.dumps(data, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """`time level logger: message key=value ...` (extras appended, bodies dropped above DEBUG)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = _extras(record)
        if extras:
            tail = " ".join(f"{k}={v}" for k, v in extras.items())
            first, sep, rest = line.partition("\n")
            line = f"{first} [{tail}]{sep}{rest}"
        return line


NOISY_LOGGERS = ("nio", "httpx", "httpcore", "chromadb", "aiohttp.access", "peewee", "urllib3")


def setup_logging(
    level: str | int = "INFO",
    json: bool = False,
    *,
    secrets: Iterable[Any] = (),
    stream: Any = None,
) -> logging.Handler:
    """Configure the root logger once: one handler on `stream` (stderr), redacting secrets.

    Calling it again replaces the handler it installed before (idempotent). Chatty libraries
    (nio, httpx, chromadb, ...) are kept at WARNING unless `level` is DEBUG. Returns the handler.
    """
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else int(level)
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}: use DEBUG, INFO, WARNING or ERROR")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_guichet", False):
            root.removeHandler(handler)
            handler.close()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler._guichet = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if json else PlainFormatter())
    handler.addFilter(RedactSecrets(secrets))
    root.addHandler(handler)
    root.setLevel(numeric)
    library_level = logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(library_level)
    logging.captureWarnings(True)
    return handler
