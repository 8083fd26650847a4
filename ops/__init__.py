"""Operations: what an operator watches, apart from the Matrix runtime.

- `ops.metrics`: the Prometheus metrics and the observer the bot reports to;
- `ops.health`: the `/healthz`, `/readyz`, `/metrics` endpoint and its readiness checks;
- `ops.logs`: logging setup, JSON or plain lines, with secrets and message bodies redacted.

It imports nothing of the bot: the bot's observer seam (`bot.service.Observer`) is a Protocol
that `ops.metrics.MetricsObserver` implements, wired by the composition root (`app.wiring`).
"""
