"""Prometheus metrics of the bot and of ingest runs.

`Metrics()` holds every metric of the bot in its own `CollectorRegistry` (never the global one,
so two bots in one process, or a test, never share counters). The bot reports events to it
through `MetricsObserver`, which implements the bot's observer seam (`bot.service.Observer`).
`write_ingest_textfile` writes one ingest run's metrics for node_exporter's textfile collector.
Nothing here runs at import time.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

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
        """`value`: "up" or "down", as the bot read the reaction (`bot.state.feedback_value`);
        anything else is counted as "other"."""
        self.feedback.labels(value=value if value in ("up", "down") else "other").inc()

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
