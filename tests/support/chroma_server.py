"""A real Chroma server (`chroma run`) on 127.0.0.1, started once per session when needed.

`chroma_server_url` yields its base URL. With GUICHET_TEST_CHROMA_URL set, that server is
used instead and nothing is started.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chroma_bin() -> str:
    beside = Path(sys.executable).parent / "chroma"
    if beside.exists():
        return str(beside)
    found = shutil.which("chroma")
    if not found:
        pytest.fail("the `chroma` CLI (from the chromadb package) is not installed")
    return found


def wait_for_heartbeat(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"chroma run exited with code {proc.returncode}")
        try:
            r = httpx.get(f"{url}/api/v2/heartbeat", timeout=2.0)
            if r.status_code == 200:
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"Chroma at {url} did not answer its heartbeat in {timeout}s: {last}")


@pytest.fixture(scope="session")
def chroma_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("GUICHET_TEST_CHROMA_URL")
    if external:
        wait_for_heartbeat(external.rstrip("/"), timeout=10.0)
        yield external.rstrip("/")
        return
    data = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    log_path = data / "chroma.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [_chroma_bin(), "run", "--path", str(data / "db"), "--host", "127.0.0.1",
             "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_heartbeat(url, proc=proc)
        except RuntimeError as exc:
            pytest.fail(f"{exc}\n--- chroma log ---\n{log_path.read_text(errors='replace')}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
