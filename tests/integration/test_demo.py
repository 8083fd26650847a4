"""`guichet demo`, as a newcomer runs it: a real Synapse, the real bot (`guichet run`), the
sample corpus ingested by `guichet ingest`, and the terminal chat in an encrypted DM.

Run as a subprocess with piped stdin. Afterwards no process of the demo may be left: every
process on the machine whose command line or environment mentions the demo's data directory
is looked for in /proc.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.synapse, pytest.mark.slow]

SERVICE_PUBLIC = re.compile(r"https://www\.service-public\.fr/particuliers/vosdroits/[FNR]\d+")


def processes_mentioning(marker: str) -> list[tuple[int, str]]:
    """Live processes (not zombies) whose cmdline or environment contains `marker`."""
    found = []
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            status = (entry / "status").read_text()
            if re.search(r"^State:\s+Z", status, re.M):
                continue
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if needle in cmdline or needle in environ:
            found.append((int(entry.name), cmdline.replace(b"\0", b" ").decode(errors="replace")))
    return found


def wait_gone(marker: str, timeout: float = 10.0) -> list[tuple[int, str]]:
    deadline = time.monotonic() + timeout
    left = processes_mentioning(marker)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = processes_mentioning(marker)
    return left


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "data"
    yield path
    for pid, _ in processes_mentioning(str(path)):  # never leave anything behind, even on failure
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def demo_command(data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "app", "demo", "--data-dir", str(data_dir)]


def run_demo(
    data_dir: Path, stdin: str, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`guichet demo` to its end, `stdin` typed into its chat."""
    return subprocess.run(
        demo_command(data_dir),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env if env is not None else clean_env(),
        check=False,
    )


def start_demo(data_dir: Path) -> subprocess.Popen:
    """`guichet demo` in the background, its terminal as pipes, and Ctrl-C as a terminal
    gives it: a shell's background job (`make test &` in a script) ignores SIGINT, and the
    demo would inherit that."""
    return subprocess.Popen(
        demo_command(data_dir),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        preexec_fn=_sigint_as_in_a_terminal,
    )


def _sigint_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def read_until(proc: subprocess.Popen, marker: str, timeout: float = 300) -> str:
    """What the process printed up to (and with) the line containing `marker`."""
    seen = ""
    deadline = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
    return seen


def clean_env() -> dict[str, str]:
    # The demo must work with nothing configured: no LLM, no store, no homeserver settings.
    return {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}


def test_first_run_answers_with_sources_then_stops_everything(demo_dir):
    started = time.monotonic()
    proc = run_demo(demo_dir, "Comment faire un passeport pour un enfant mineur ?\n/quit\n", 900)
    elapsed = time.monotonic() - started
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-4000:]
    assert "Indexation du corpus d'exemple" in out  # empty store: the sample was ingested
    assert "Guichet : démo locale" in out  # the banner
    assert re.search(r"serveur d'accueil http://127\.0\.0\.1:\d+", out)
    answer = out.split("vous> Comment faire un passeport pour un enfant mineur ?", 1)[1]
    assert "Guichet> " in answer
    assert "Passeport d'un mineur" in answer
    assert SERVICE_PUBLIC.search(answer), answer
    assert "Brouillon à vérifier" in answer
    assert "Arrêt du bot et de Synapse" in out
    assert not wait_gone(str(demo_dir)), "processes left behind"
    # The logs hold neither secrets nor what the agent asked (bodies only at DEBUG).
    creds = json.loads((demo_dir / "demo.json").read_text())
    token = json.loads((demo_dir / "bot" / "credentials.json").read_text())["access_token"]
    for log in ("bot.log", "demo.log", "ingest.log"):
        text = (demo_dir / log).read_text(encoding="utf-8")
        for secret in (creds["bot_password"], creds["agent_password"], token):
            assert secret not in text, f"a secret in {log}"
        assert "passeport pour un enfant" not in text, f"a message body in {log}"
    print(f"first demo run: {elapsed:.1f} s")  # noqa: T201 - shown with -s


def test_rerun_reuses_the_data_dir_and_ctrl_c_stops_everything(demo_dir):
    """Second run: no new ingest, no new DM. Then Ctrl-C (SIGINT) while the chat waits."""
    assert (demo_dir / "demo.json").exists(), "needs the first test's data directory"
    started = time.monotonic()
    proc = start_demo(demo_dir)
    try:
        proc.stdin.write("Un étudiant a-t-il droit au RSA ?\n")
        proc.stdin.flush()
        seen = read_until(proc, "Brouillon à vérifier")
        assert "Brouillon à vérifier" in seen, seen + proc.stderr.read()
        rerun_s = time.monotonic() - started
        # While it runs: the bot's ops endpoint, announced in the banner, counted the question.
        ops = re.search(r"Métriques (http://127\.0\.0\.1:\d+)/metrics", seen)
        assert ops, seen
        ready = httpx.get(ops.group(1) + "/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert set(ready.json()["checks"]) == {"homeserver", "bot", "store", "llm"}
        scrape = httpx.get(ops.group(1) + "/metrics", timeout=10).text
        assert 'guichet_questions_total{mode="question",room_kind="dm"} 1.0' in scrape
        assert 'guichet_answers_total{status="answered"} 1.0' in scrape
        assert "guichet_store_chunks" in scrape
        proc.send_signal(signal.SIGINT)  # what Ctrl-C does (stdin stays open: chat is waiting)
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = seen + rest
    assert proc.returncode == 130, out + err
    assert "Indexation" not in out  # the store was reused
    assert "Nouvelle conversation" not in out  # so was the DM
    assert "RSA" in out
    assert SERVICE_PUBLIC.search(out)
    assert "Arrêt demandé." in out
    assert "Arrêt du bot et de Synapse" in out
    assert not wait_gone(str(demo_dir)), "processes left behind after Ctrl-C"
    print(f"rerun to first answer: {rerun_s:.1f} s")  # noqa: T201


def test_guichet_chat_joins_a_running_demo_with_its_own_device(demo_dir):
    """`guichet chat` (no options but --demo-dir) talks to the bot of a running demo."""
    demo = start_demo(demo_dir)
    try:
        seen = read_until(demo, "Tapez une question")
        assert "Tapez une question" in seen, seen
        chat = subprocess.run(
            [sys.executable, "-m", "app", "chat", "--demo-dir", str(demo_dir)],
            input="Un étudiant a-t-il droit au RSA ?\n/quit\n",
            capture_output=True,
            text=True,
            timeout=300,
            env=clean_env(),
            check=False,
        )
        assert chat.returncode == 0, chat.stdout[-3000:] + chat.stderr[-3000:]
        assert SERVICE_PUBLIC.search(chat.stdout), chat.stdout
        assert (demo_dir / "chat-cli" / "session.json").exists()
        demo.stdin.write("/quit\n")
        demo.stdin.flush()
        demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 0
    assert not wait_gone(str(demo_dir)), "processes left behind"


def test_a_bot_that_cannot_start_is_reported_with_its_log(demo_dir):
    """Bad settings for the bot: the demo says why (the bot's log) and stops Synapse."""
    env = clean_env()
    env["GUICHET_MAX_CONCURRENT_LLM"] = "0"  # invalid: must be >= 1
    proc = run_demo(demo_dir, "", 300, env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "guichet demo: the bot stopped (exit 2)" in proc.stderr
    assert "max_concurrent_llm" in proc.stderr  # the bot's own error, from bot.log
    assert not wait_gone(str(demo_dir)), "processes left behind"
