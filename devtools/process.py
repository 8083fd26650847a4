"""Guichet as child processes, for the reliability tests and benches: `guichet ingest` and
`guichet run` with an isolated environment (no GUICHET_* from outside), the real fiches they
use, and an encrypted DM with a bot process that may still be starting.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import knowledge
from devtools.errors import DevToolError

SAMPLE = Path(knowledge.__file__).resolve().parent / "sample" / "vdd-2020" / "particuliers"
# Seven real fiches: enough for passeport / carte d'identité / Smic questions.
TINY_FICHES = ("F1342", "F21089", "F2300", "F12567", "F34757", "F14929", "F18723")


def command_path(name: str) -> str:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise DevToolError(f"the `{name}` command is not installed (pip install -e .)")
    return found


def clean_env(**guichet: Any) -> dict[str, str]:
    """The environment without any GUICHET_* from outside, plus the given GUICHET_* values."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    env["ANONYMIZED_TELEMETRY"] = "False"
    for key, value in guichet.items():
        if value is None:
            continue
        env[f"GUICHET_{key.upper()}"] = ",".join(value) if isinstance(value, list) else str(value)
    return env


def run_cli(args: list[str], *, cwd: Path, timeout: float = 180, **guichet: Any):
    """Run `guichet ARGS` to completion (isolated env and working dir)."""
    return subprocess.run(
        [command_path("guichet"), *args],
        cwd=cwd,
        env=clean_env(**guichet),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ingest_cli(store: Path, inputs: list[Path], *, cwd: Path, **guichet: Any):
    guichet.setdefault("ingest_workers", 1)
    return run_cli(
        ["ingest", "--no-progress", "--json", "--store", str(store), *map(str, inputs)],
        cwd=cwd,
        **guichet,
    )


def copy_fiches(dest: Path, ids: tuple[str, ...] = TINY_FICHES) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for fid in ids:
        shutil.copy(SAMPLE / f"{fid}.xml", dest / f"{fid}.xml")
    return dest


class GuichetProcess:
    """`guichet run` as a child process; its log goes to a file."""

    def __init__(self, env: dict[str, str], cwd: Path, name: str = "bot") -> None:
        self.env = env
        self.cwd = cwd
        self.log_path = cwd / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.peak_rss_kb = 0

    def start(self) -> GuichetProcess:
        self.cwd.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 (kept open by the child)
        self.proc = subprocess.Popen(
            [command_path("guichet"), "run"],
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _status(self, field: str) -> int:
        try:
            text = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def rss_kb(self) -> int:
        return self._status("VmRSS")

    def hwm_kb(self) -> int:
        """Peak resident set size of the bot process so far (VmHWM)."""
        value = self._status("VmHWM")
        self.peak_rss_kb = max(self.peak_rss_kb, value)
        return self.peak_rss_kb

    def kill(self) -> None:
        """SIGKILL: no cleanup, no draining (a crash, an OOM kill)."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)

    def stop(self, timeout: float = 40) -> int | None:
        if self.proc is None:
            return None
        if self.alive():
            self.hwm_kb()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        return self.proc.returncode

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def bot_env(hs: Any, bot_user: Any, data_dir: Path, store: Path, **extra: Any) -> dict[str, str]:
    values: dict[str, Any] = {
        "homeserver_url": hs.url,
        "user_id": bot_user.user_id,
        "password": bot_user.password,
        "data_dir": data_dir,
        "store_dir": store,
        "allowed_domains": ["interieur.gouv.fr", "developpement-durable.gouv.fr"],
        "identity_servers": ["localhost"],
        "sync_timeout_ms": 3000,
        "rate_limit_count": 1000,
        "ops_port": 0,
        "log_level": "INFO",
    }
    values.update(extra)
    return clean_env(**values)


async def dm_with_process(agent: Any, bot_user_id: str, wait_s: float = 150.0) -> str:
    """An encrypted DM with a bot that may still be starting (a `guichet run` loads its
    embedding model first: slow on a busy machine)."""
    room = await agent.create_room([bot_user_id], dm=True)
    await agent.wait_member(room, bot_user_id, wait_s=wait_s)
    return room
