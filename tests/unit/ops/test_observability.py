"""Metrics recording, secret redaction and log formatting (no network)."""

from __future__ import annotations

import io
import json
import logging

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from knowledge.models import IngestSummary, ParseProblem
from ops.logs import redact, setup_logging
from ops.metrics import Metrics, MetricsObserver, write_ingest_textfile


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_questions_by_room_kind_and_mode_answers_by_status_and_step_latencies():
    m = Metrics()
    m.record_question("dm", "question")
    m.record_question("thread", "brouillon")
    m.record_question("dm", "question")
    timings = {"Retrieve": 30.0, "Generate": 380.0, "chain_ms": 420.0, "total_ms": 510.0}
    m.record_answer("answered", timings)
    m.record_answer("no_source", {"Retrieve": 20.0, "chain_ms": 60.0})
    m.record_error("llm_timeout")

    assert value(m, "guichet_questions_total", room_kind="dm", mode="question") == 2
    assert value(m, "guichet_questions_total", room_kind="thread", mode="brouillon") == 1
    assert value(m, "guichet_questions_total", room_kind="thread", mode="question") is None
    assert value(m, "guichet_answers_total", status="answered") == 1
    assert value(m, "guichet_answers_total", status="no_source") == 1
    assert value(m, "guichet_errors_total", kind="llm_timeout") == 1
    assert value(m, "guichet_step_seconds_count", step="Retrieve") == 2
    assert value(m, "guichet_step_seconds_sum", step="Generate") == pytest.approx(0.38)
    assert value(m, "guichet_step_seconds_count", step="chain_ms") is None  # not a step
    # 0.42 s falls in the 0.5 bucket, not in the 0.25 one
    assert value(m, "guichet_answer_seconds_bucket", le="0.25") == 1  # the 60 ms one
    assert value(m, "guichet_answer_seconds_bucket", le="0.5") == 2
    assert value(m, "guichet_reply_seconds_count") == 1
    assert value(m, "guichet_reply_seconds_sum") == pytest.approx(0.51)


def test_tokens_counted_when_usage_known():
    m = Metrics()
    m.record_answer("answered", {}, {"prompt_tokens": 120, "completion_tokens": 30})
    m.record_answer("answered", {}, {"input_tokens": 10, "output_tokens": 5})
    m.record_answer("answered", {})  # extractive: no tokens, nothing counted
    assert value(m, "guichet_llm_tokens_total", kind="prompt") == 130
    assert value(m, "guichet_llm_tokens_total", kind="completion") == 35


def test_own_registry_not_the_global_one():
    a, b = Metrics(), Metrics()
    a.record_feedback("up")
    assert value(a, "guichet_feedback_total", value="up") == 1
    assert value(b, "guichet_feedback_total", value="up") is None
    assert REGISTRY.get_sample_value("guichet_feedback_total", {"value": "up"}) is None


@pytest.mark.parametrize(("raw", "expected"), [("up", "up"), ("down", "down"), ("🎉", "other")])
def test_feedback_counted_by_value(raw, expected):
    m = Metrics()
    m.record_feedback(raw)
    assert value(m, "guichet_feedback_total", value=expected) == 1


def test_ingest_stats_and_textfile(tmp_path):
    summary = IngestSummary(
        files_read=10,
        fiches_new=7,
        fiches_updated=1,
        fiches_unchanged=1,
        fiches_deleted=2,
        chunks_added=50,
        chunks_deleted=12,
        chunks_total=300,
        skipped=[ParseProblem("bad.xml", "not XML")],
        seconds=12.5,
    )
    m = Metrics()
    m.record_ingest(summary)
    assert value(m, "guichet_ingest_runs_total", result="ok") == 1
    assert value(m, "guichet_ingest_fiches_total", change="new") == 7
    assert value(m, "guichet_ingest_fiches_total", change="skipped") == 1
    assert value(m, "guichet_ingest_chunks_total", operation="deleted") == 12
    assert value(m, "guichet_ingest_last_success_timestamp_seconds") > 0
    m.record_ingest(None, ok=False)
    assert value(m, "guichet_ingest_runs_total", result="error") == 1

    path = tmp_path / "guichet_ingest.prom"
    write_ingest_textfile(summary, str(path))
    text = path.read_text()
    assert 'guichet_ingest_fiches_total{change="updated"} 1.0' in text


def test_store_gauges_read_at_scrape_time_and_failure_reported():
    state = {"chunks": 10, "fiches": 3, "embedding_model": "use-m3", "ok": True}
    m = Metrics()
    m.watch_store(lambda: state)
    assert value(m, "guichet_store_chunks") == 10
    state["chunks"] = 12
    assert value(m, "guichet_store_chunks") == 12
    assert value(m, "guichet_store_up") == 1
    assert value(m, "guichet_store_embedding_model") is None  # strings and bools are not gauges

    def broken():
        raise RuntimeError("store closed")

    m2 = Metrics()
    m2.watch_store(broken)
    assert value(m2, "guichet_store_up") == 0


def test_observer_implements_the_bot_seam_and_never_raises():
    from bot.service import NullObserver, Observer

    m = Metrics()
    obs = MetricsObserver(m)
    for name in ("question_received", "answer_sent", "error", "feedback"):
        assert callable(getattr(obs, name)), name
        assert hasattr(Observer, name)
        assert hasattr(NullObserver, name)
    obs.question_received("dm", "question")
    obs.answer_sent("answered", {"Retrieve": 12.0, "chain_ms": 40.0})
    obs.answer_sent("answered", {"Retrieve": "not a number"})  # logged, never raised
    obs.answer_sent("answered", {}, {"input_tokens": 800, "output_tokens": 120})
    assert value(m, "guichet_llm_tokens_total", kind="prompt") == 800
    assert value(m, "guichet_llm_tokens_total", kind="completion") == 120
    obs.feedback("down")
    obs.error("send_failed")
    assert value(m, "guichet_questions_total", room_kind="dm", mode="question") == 1
    assert value(m, "guichet_answers_total", status="answered") == 3
    assert value(m, "guichet_feedback_total", value="down") == 1
    assert value(m, "guichet_errors_total", kind="send_failed") == 1


@pytest.mark.parametrize(
    "line",
    [
        "GET /sync?access_token=syt_Ym90_abcdefghijklmnop_0A1b2C",
        '{"access_token": "MDAxOGxvY2F0aW9uIGxvY2FsaG9zdAo"}',
        "Authorization: Bearer albert-0123456789abcdef",
        "api_key=sk-proj-ABCDEFGH12345678",
        "token rotated: syt_Ym90_xxxxxxxxxxxxxxxxxx_1a2b3c",
        "password: hunter2hunter2",
    ],
)
def test_token_shaped_strings_redacted(line):
    out = redact(line)
    assert "***" in out
    leaks = ("abcdefghijklmnop", "MDAxOGxv", "0123456789abcdef", "ABCDEFGH", "xxxxxxxx", "hunter2")
    for secret in leaks:
        assert secret not in out


def test_ordinary_text_left_alone():
    text = "room !abc:localhost event $ev answered in 120 ms with 3 sources"
    assert redact(text) == text


@pytest.fixture
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)


def test_json_logs_redact_configured_secrets_and_drop_bodies_at_info(restore_root_logger):
    stream = io.StringIO()
    setup_logging("INFO", json=True, secrets=[SecretStr("opaque-key-42"), None], stream=stream)
    log = logging.getLogger("guichet.test")
    log.info(
        "answered with key %s",
        "opaque-key-42",
        extra={"room_id": "!r:localhost", "body": "mon fils mineur", "question": "passeport"},
    )
    log.debug("not shown at INFO")
    try:
        raise ValueError("failed with Bearer opaque-key-42")
    except ValueError:
        log.exception("boom")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 2
    first = lines[0]
    assert first["level"] == "INFO"
    assert first["logger"] == "guichet.test"
    assert first["message"] == "answered with key ***"
    assert first["room_id"] == "!r:localhost"
    assert "body" not in first
    assert "question" not in first
    assert "opaque-key-42" not in stream.getvalue()
    assert "ValueError" in lines[1]["exc"]


def test_bodies_kept_at_debug_and_plain_format(restore_root_logger):
    stream = io.StringIO()
    setup_logging("DEBUG", json=False, stream=stream)
    logging.getLogger("guichet.test").debug("received", extra={"body": "mon fils mineur"})
    out = stream.getvalue()
    assert "DEBUG" in out
    assert "received [body=mon fils mineur]" in out
    assert logging.getLogger("nio").level == logging.DEBUG


def test_setup_logging_is_idempotent_and_checks_level(restore_root_logger):
    setup_logging("INFO", stream=io.StringIO())
    setup_logging("WARNING", stream=io.StringIO())
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_guichet", False)]
    assert len(ours) == 1
    assert logging.getLogger("nio").level == logging.WARNING
    with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
        setup_logging("LOUD")
