"""A real Chroma server (`chroma run`) on 127.0.0.1, for the tests and the benches.

`ChromaProcess(path, port).start()` runs one on a data path and waits for its heartbeat;
`stop()` kills it abruptly (as in a crash), `stop(graceful=True)` terminates it first.
The test fixture `chroma_server_url` (tests/support/chroma_server.py) starts one per session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


def chroma_bin() -> str:
    """The `chroma` CLI installed beside this Python (or on PATH)."""
    beside = Path(sys.executable).parent / "chroma"
    if beside.exists():
        return str(beside)
    found = shutil.which("chroma")
    if not found:
        raise RuntimeError("the `chroma` CLI (from the chromadb package) is not installed")
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


@dataclass
class ChromaProcess:
    """A `chroma run` on a fixed port and data path, stoppable and restartable.

    Its output goes to `chroma.log` beside the data path."""

    path: Path
    port: int
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.path.parent / "chroma.log"

    def start(self, timeout: float = 90) -> ChromaProcess:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [chroma_bin(), "run", "--path", str(self.path), "--host", "127.0.0.1",
                 "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
            )  # fmt: skip
        wait_for_heartbeat(self.url, timeout=timeout, proc=self.proc)
        return self

    def stop(self, *, graceful: bool = False) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        if graceful:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
                return
            except subprocess.TimeoutExpired:
                pass
        self.proc.kill()  # abrupt: the server vanishes, as in a crash
        self.proc.wait(timeout=30)
