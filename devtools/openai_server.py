"""A real HTTP server on 127.0.0.1 speaking the OpenAI protocol, for tests and benchmarks.

Endpoints: `POST /v1/chat/completions` (plain and `stream: true`), `GET /v1/models`,
`POST /v1/embeddings` (deterministic hashed bag-of-words vectors, float or base64),
`POST /v1/rerank` (word-overlap scores, Cohere/Jina response shape).

Chat answers are deterministic and built from the prompt received: for the first fiches
fenced as `<fiche n="N" ...>` it quotes the first sentence of their text with [N] and their
link; a condense prompt (`<historique>`) gets "<last question> (<follow-up>)".

Failure modes, chosen per request (first match wins):
1. the server-wide mode (`server.set_mode("429")`),
2. the model name: "guichet-test:slow" or just "slow",
3. a keyword in the last user message: "MODE_SLOW", "MODE_429"...

Modes: normal, slow (answers after `slow_seconds`, past the client's timeout), 429 (rate
limited, `retry-after-ms` header), 500, malformed (HTTP 200 with broken JSON), empty (an
empty answer), amount (adds an invented amount), foreign_url (adds a link to a foreign site),
bad_citation (cites a source [9] that was not given). A fixed `latency` (seconds) applies to
every chat answer (for benchmarks: "exactly 1 s per answer").

Standalone: `python -m devtools.openai_server --port 8099 --latency 1.0`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import re
import struct
import threading
import time
from dataclasses import dataclass, field

from aiohttp import web

MODES = (
    "normal",
    "slow",
    "429",
    "500",
    "malformed",
    "empty",
    "amount",
    "foreign_url",
    "bad_citation",
)
INVENTED_AMOUNT = "1 234,56 €"
FOREIGN_URL = "https://arnaque-demarches.example.com/passeport-express"
_KEYWORD_RE = re.compile(r"\bMODE_([A-Z0-9_]+)\b")
_FICHE_RE = re.compile(r'<fiche n="(\d+)"[^>]*>\n(.*?)</fiche>', re.DOTALL)


@dataclass
class Record:
    path: str
    mode: str
    model: str = ""
    status: int = 200
    at: float = field(default_factory=time.monotonic)


def _sentences(body: str) -> tuple[str, str, str]:
    """(title, url, first sentence) of one fenced fiche."""
    title = url = ""
    text_lines = []
    for line in body.splitlines():
        if line.startswith("Titre : ") and not title:
            title = line[len("Titre : ") :]
        elif line.startswith("Lien : ") and not url:
            url = line[len("Lien : ") :]
        elif line.startswith(("Mise à jour : ", "Section : ", "Services en ligne")):
            continue
        elif line.strip():
            text_lines.append(line.strip().removeprefix("- "))
    text = " ".join(text_lines)
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0] if text else ""
    return title, url, first


def deterministic_answer(messages: list[dict], mode: str) -> str:
    system = next((m["content"] for m in messages if m.get("role") == "system"), "") or ""
    user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "") or ""
    if isinstance(user, list):  # content parts
        user = " ".join(p.get("text", "") for p in user if isinstance(p, dict))
    if "<historique>" in user:
        prev = re.findall(r"^Agent : (.*)$", user, re.MULTILINE)
        q = re.search(r"<question>\n(.*?)\n</question>", user, re.DOTALL)
        follow = q.group(1).strip() if q else ""
        return f"{prev[-1]} ({follow})" if prev else follow
    fiches = _FICHE_RE.findall(user)
    parts = []
    for n, body in fiches[:2]:
        title, url, first = _sentences(body)
        parts.append(f"D'après la fiche « {title} » : {first} [{n}]")
        if url:
            parts.append(f"Fiche : {url} [{n}]")
    if not parts:
        parts.append("Je ne trouve pas d'information dans les fiches fournies.")
    if mode == "amount":
        parts.append(f"Le montant à payer est de {INVENTED_AMOUNT} [1].")
    elif mode == "foreign_url":
        parts.append(f"Démarche accélérée : {FOREIGN_URL} [1]")
    elif mode == "bad_citation":
        parts.append("Voir aussi la fiche sur ce sujet [9].")
    body = "\n".join(parts)
    if "projet de réponse adressé à l'usager" in system:
        return f"Bonjour,\n\n{body}\n\nCordialement,"
    return body


def embed(text: str, dim: int) -> list[float]:
    """A deterministic unit vector: hashed bag of lowercased words."""
    vec = [0.0] * dim
    for word in re.findall(r"\w+", text.lower()):
        h = hashlib.blake2b(word.encode(), digest_size=8).digest()
        idx = int.from_bytes(h[:4], "little") % dim
        vec[idx] += 1.0 if h[4] & 1 else -1.0
    norm = sum(v * v for v in vec) ** 0.5 or 1.0
    return [v / norm for v in vec]


class FakeOpenAIServer:
    """The server, run by aiohttp on its own event loop in a daemon thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency: float = 0.0,
        slow_seconds: float = 5.0,
        embedding_dim: int = 256,
    ) -> None:
        self.host = host
        self.port = port
        self.latency = latency
        self.slow_seconds = slow_seconds
        self.embedding_dim = embedding_dim
        self.mode: str | None = None
        self.records: list[Record] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    # ------------------------------------------------------------------ control

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def set_mode(self, mode: str | None) -> None:
        if mode is not None and mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {MODES}")
        self.mode = mode

    def reset(self) -> None:
        with self._lock:
            self.records.clear()
        self.mode = None

    def count(self, *, path: str | None = None, mode: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for r in self.records
                if (path is None or r.path == path) and (mode is None or r.mode == mode)
            )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeOpenAIServer:
        self._thread = threading.Thread(target=self._run, name="fake-openai", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake OpenAI server did not start within 10 s")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        fut.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        loop.run_until_complete(self._startup())
        self._ready.set()
        loop.run_forever()
        loop.close()

    async def _startup(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/rerank", self._rerank)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ handlers

    def _record(self, path: str, mode: str, model: str, status: int) -> None:
        with self._lock:
            self.records.append(Record(path=path, mode=mode, model=model, status=status))

    def _mode_for(self, model: str, messages: list[dict]) -> str:
        if self.mode:
            return self.mode
        tail = model.rsplit(":", 1)[-1].lower()
        if tail in MODES:
            return tail
        last_user = next(
            (str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"),
            "",
        )
        m = _KEYWORD_RE.search(last_user)
        if m and m.group(1).lower() in MODES:
            return m.group(1).lower()
        return "normal"

    async def _models(self, request: web.Request) -> web.Response:
        self._record("/v1/models", "normal", "", 200)
        data = [
            {"id": "guichet-test", "object": "model", "created": 0, "owned_by": "tests"},
            {"id": "guichet-test-embed", "object": "model", "created": 0, "owned_by": "tests"},
        ]
        return web.json_response({"object": "list", "data": data})

    async def _embeddings(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            inputs = body["input"]
        except (json.JSONDecodeError, KeyError, TypeError):
            self._record("/v1/embeddings", "normal", "", 400)
            return _error(400, "invalid_request_error", "body must be JSON with 'input'")
        model = str(body.get("model", ""))
        if isinstance(inputs, str):
            inputs = [inputs]
        dim = int(body.get("dimensions") or self.embedding_dim)
        data = []
        for i, item in enumerate(inputs):
            text = item if isinstance(item, str) else " ".join(f"t{t}" for t in item)
            vec = embed(text, dim)
            if body.get("encoding_format") == "base64":
                payload = base64.b64encode(struct.pack(f"<{dim}f", *vec)).decode()
            else:
                payload = vec
            data.append({"object": "embedding", "index": i, "embedding": payload})
        self._record("/v1/embeddings", "normal", model, 200)
        usage = {"prompt_tokens": 0, "total_tokens": 0}
        return web.json_response({"object": "list", "data": data, "model": model, "usage": usage})

    async def _rerank(self, request: web.Request) -> web.Response:
        """The Cohere/Jina-style rerank protocol (Albert API, vLLM, llama.cpp server):
        `{"model", "query", "documents": [str], "top_n"}` -> `{"results": [{"index",
        "relevance_score"}]}`, best first. Score: the share of the query's words (4+
        letters) found in the document. The model name picks a failure mode ("slow",
        "500", "malformed") as for chat."""
        path = "/v1/rerank"
        try:
            body = await request.json()
            query = str(body["query"])
            documents = [str(d) for d in body["documents"]]
        except (json.JSONDecodeError, KeyError, TypeError):
            self._record(path, "normal", "", 400)
            return _error(400, "invalid_request_error", "body needs 'query' and 'documents'")
        model = str(body.get("model", ""))
        mode = self._mode_for(model, [])
        self._record(path, mode, model, 200 if mode in ("normal", "slow") else 500)
        if mode == "slow":
            await asyncio.sleep(self.slow_seconds)
        elif mode == "500":
            return _error(500, "server_error", "reranker down")
        elif mode == "malformed":
            return web.Response(status=200, text='{"results": [', content_type="application/json")
        words = {w for w in re.findall(r"\w{4,}", query.lower())}
        scores = [
            len(words & set(re.findall(r"\w{4,}", d.lower()))) / (len(words) or 1)
            for d in documents
        ]
        order = sorted(range(len(documents)), key=lambda i: (-scores[i], i))
        top_n = int(body.get("top_n") or len(documents))
        results = [{"index": i, "relevance_score": scores[i]} for i in order[:top_n]]
        return web.json_response({"model": model, "results": results})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        path = "/v1/chat/completions"
        try:
            body = await request.json()
            messages = body["messages"]
        except (json.JSONDecodeError, KeyError, TypeError):
            self._record(path, "normal", "", 400)
            return _error(400, "invalid_request_error", "body must be JSON with 'messages'")
        model = str(body.get("model", "guichet-test"))
        mode = self._mode_for(model, messages)
        record = Record(path=path, mode=mode, model=model, status=0)
        with self._lock:
            self.records.append(record)
        if self.latency:
            await asyncio.sleep(self.latency)
        if mode == "slow":
            await asyncio.sleep(self.slow_seconds)
        if mode == "429":
            record.status = 429
            resp = _error(429, "rate_limit_exceeded", "Too many requests")
            resp.headers["retry-after-ms"] = "20"
            return resp
        if mode == "500":
            record.status = 500
            return _error(500, "server_error", "The server had an error")
        if mode == "malformed":
            record.status = 200
            return web.Response(
                text='{"id": "chatcmpl-broken", "choices": [{"message": ',
                content_type="application/json",
            )
        text = "" if mode == "empty" else deterministic_answer(messages, mode)
        record.status = 200
        created = int(time.time())
        if body.get("stream"):
            return await self._stream(request, model, text, created)
        return web.json_response(
            {
                "id": f"chatcmpl-{created}",
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": sum(len(str(m.get("content", ""))) // 4 for m in messages),
                    "completion_tokens": len(text) // 4,
                    "total_tokens": 0,
                },
            }
        )

    async def _stream(
        self, request: web.Request, model: str, text: str, created: int
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        pieces = re.findall(r"\S+\s*", text) or [""]
        for i, piece in enumerate(pieces):
            delta = {"content": piece}
            if i == 0:
                delta["role"] = "assistant"
            chunk = {
                "id": f"chatcmpl-{created}",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
            }
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        end = {
            "id": f"chatcmpl-{created}",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }
        await resp.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
        await resp.write_eof()
        return resp


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": code, "code": code, "param": None}},
        status=status,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per chat answer")
    parser.add_argument("--slow-seconds", type=float, default=5.0)
    parser.add_argument("--mode", choices=MODES, default=None, help="force one mode")
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(
        args.host, args.port, latency=args.latency, slow_seconds=args.slow_seconds
    )
    server.set_mode(args.mode)
    server.start()
    print(f"fake OpenAI server on {server.base_url} (Ctrl-C to stop)", flush=True)  # noqa: T201
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
