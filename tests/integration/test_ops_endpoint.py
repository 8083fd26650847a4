"""The ops HTTP endpoint, served for real on 127.0.0.1 and queried over HTTP."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from devtools.net import free_port
from ops.health import (
    CheckResult,
    OpsServer,
    homeserver_check,
    llm_check,
    start_ops_server,
    store_check,
)
from ops.metrics import Metrics


@pytest.fixture
async def upstream():
    """A tiny homeserver + OpenAI-compatible stand-in: answers only what the checks ask."""
    seen: list[dict] = []

    async def versions(request: web.Request) -> web.Response:
        return web.json_response({"versions": ["v1.11"]})

    async def models(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        if request.headers.get("Authorization") != "Bearer good-key":
            return web.json_response({"detail": "bad token"}, status=401)
        return web.json_response({"object": "list", "data": [{"id": "albert-large"}]})

    app = web.Application()
    app.router.add_get("/_matrix/client/versions", versions)
    app.router.add_get("/v1/models", models)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


async def test_healthz_metrics_and_ready_when_every_check_passes(upstream):
    base, seen = upstream
    metrics = Metrics()
    metrics.watch_store(lambda: {"chunks": 42, "fiches": 6})
    metrics.record_question("dm", "question")
    metrics.record_answer("answered", {"Retrieve": 20.0, "chain_ms": 120.0})
    checks = {
        "homeserver": homeserver_check(base),
        "store": store_check(lambda: {"chunks": 42}),
        "llm": llm_check(base + "/v1", SecretStr("good-key")),
    }
    async with OpsServer(metrics, checks, host="127.0.0.1", port=0) as server:
        assert server.port != 0
        async with httpx.AsyncClient(base_url=server.url) as client:
            health = await client.get("/healthz")
            ready = await client.get("/readyz")
            scrape = await client.get("/metrics")

    assert health.status_code == 200
    assert health.json() == {"status": "ok"}

    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"homeserver", "store", "llm"}
    assert body["checks"]["store"] == {"ok": True, "detail": "42 chunks"}
    assert seen[-1]["Authorization"] == "Bearer good-key"

    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(scrape.text)}
    assert families["guichet_store_chunks"].samples[0].value == 42
    q = families["guichet_questions"].samples
    assert any(s.labels == {"room_kind": "dm", "mode": "question"} and s.value == 1 for s in q)
    assert "guichet_step_seconds" in families


async def test_readyz_names_each_failing_check(upstream):
    base, _ = upstream
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    def closed_store():
        raise RuntimeError("store is closed")

    async def slow() -> CheckResult:
        await asyncio.sleep(30)
        return CheckResult(True)

    checks = {
        "homeserver": homeserver_check(dead, timeout=1),
        "store": store_check(closed_store),
        "llm": llm_check(base + "/v1", SecretStr("wrong-key")),
        "sync": slow,
    }
    # The per-check bound leaves the other checks time on a loaded machine (they run at once).
    server = OpsServer(Metrics(), checks, port=0, check_timeout=3)
    async with server, httpx.AsyncClient() as client:
        ready = await client.get(server.url + "/readyz")
        health = await client.get(server.url + "/healthz")

    assert health.status_code == 200  # alive, just not ready
    assert ready.status_code == 503
    checks_out = ready.json()["checks"]
    assert checks_out["homeserver"]["ok"] is False
    assert "ConnectError" in checks_out["homeserver"]["detail"]
    assert checks_out["store"] == {"ok": False, "detail": "RuntimeError: store is closed"}
    assert checks_out["llm"] == {"ok": False, "detail": f"HTTP 401 from {base}/v1/models"}
    assert checks_out["sync"] == {"ok": False, "detail": "timed out after 3 s"}
    assert "wrong-key" not in ready.text


async def test_extractive_mode_needs_no_llm():
    result = await llm_check("", None)()
    assert result.ok
    assert "extractive" in result.detail


async def test_bound_to_loopback_by_default():
    server = OpsServer(Metrics(), port=0)
    assert server.host == "127.0.0.1"
    async with server:
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{server.port}/healthz")
        assert r.status_code == 200


async def test_start_ops_server_builds_checks_from_the_configuration(upstream):
    base, _ = upstream
    metrics = Metrics()
    synced = asyncio.Event()  # as GuichetBot.ready: set once its first sync is handled
    server = await start_ops_server(
        metrics,
        host="127.0.0.1",
        port=0,
        homeserver_url=base,
        bot_synced=synced.is_set,
        store_stats=lambda: {"chunks": 7},
        llm_url=base + "/v1",
        llm_api_key=SecretStr("good-key"),
        embeddings_url=base + "/v1",
        embeddings_api_key=SecretStr("good-key"),
    )
    try:
        async with httpx.AsyncClient() as client:
            catching_up = await client.get(server.url + "/readyz")
            synced.set()
            ready = await client.get(server.url + "/readyz")
            scrape = await client.get(server.url + "/metrics")
    finally:
        await server.stop()
    assert catching_up.status_code == 503
    assert catching_up.json()["checks"]["bot"]["ok"] is False
    assert catching_up.json()["checks"]["store"]["ok"] is True
    assert ready.status_code == 200, ready.text
    assert set(ready.json()["checks"]) == {"homeserver", "bot", "store", "llm", "embeddings"}
    assert ready.json()["checks"]["bot"] == {"ok": True, "detail": "first sync handled"}
    assert "guichet_store_chunks 7.0" in scrape.text


async def test_port_in_use_is_a_clear_configuration_error():
    from ops.errors import OpsError

    async with OpsServer(Metrics(), port=0) as first:
        with pytest.raises(OpsError, match=rf"127\.0\.0\.1:{first.port}: .*GUICHET_OPS_PORT"):
            await OpsServer(Metrics(), port=first.port).start()
