"""The bot's persistent state (SQLite, WAL): what survives a restart.

- the sync token and the processed event IDs, written in one transaction (exactly-once);
- conversation memory per DM and per thread (last turns, idle expiry, `!reset`), and the mode;
- the answers log (question, answer, sources, status) and 👍/👎 feedback on answers;
- undecryptable events waiting for their keys; when the bot joined each room.

One connection through aiosqlite (its own thread), so no call blocks the event loop.
`synchronous=NORMAL` in WAL mode: a commit survives a killed process without an fsync each.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from bot.errors import StateError
from chains.models import Source, Turn

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS processed (
    event_id TEXT PRIMARY KEY, room_id TEXT NOT NULL, outcome TEXT NOT NULL, ts REAL NOT NULL);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT, conversation TEXT NOT NULL, ts REAL NOT NULL,
    question TEXT NOT NULL, answer TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS turns_conv ON turns (conversation, id);
CREATE TABLE IF NOT EXISTS conversations (
    conversation TEXT PRIMARY KEY, mode TEXT NOT NULL DEFAULT 'question',
    last_sources TEXT NOT NULL DEFAULT '[]', last_ts REAL NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    event_id TEXT PRIMARY KEY, room_id TEXT NOT NULL, conversation TEXT NOT NULL,
    thread_root TEXT, question_event_id TEXT NOT NULL, sender TEXT NOT NULL,
    question TEXT NOT NULL, answer TEXT NOT NULL, sources TEXT NOT NULL, status TEXT NOT NULL,
    mode TEXT NOT NULL, ts REAL NOT NULL);
CREATE INDEX IF NOT EXISTS answers_thread ON answers (room_id, thread_root);
CREATE TABLE IF NOT EXISTS feedback (
    reaction_event_id TEXT PRIMARY KEY, answer_event_id TEXT NOT NULL, room_id TEXT NOT NULL,
    sender TEXT NOT NULL, value TEXT NOT NULL, key TEXT NOT NULL, ts REAL NOT NULL);
CREATE TABLE IF NOT EXISTS undecryptable (
    event_id TEXT PRIMARY KEY, room_id TEXT NOT NULL, session_id TEXT NOT NULL,
    sender TEXT NOT NULL, source TEXT NOT NULL, ts REAL NOT NULL, notified INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rooms (room_id TEXT PRIMARY KEY, joined_ts INTEGER NOT NULL);
"""

POSITIVE = ("👍", "👍️", "+1", ":+1:", "👍🏻", "👍🏼", "👍🏽", "👍🏾", "👍🏿")
NEGATIVE = ("👎", "👎️", "-1", ":-1:", "👎🏻", "👎🏼", "👎🏽", "👎🏾", "👎🏿")


def feedback_value(key: str) -> str | None:
    """'up', 'down' or None (not a feedback reaction)."""
    key = key.strip()
    if key in POSITIVE:
        return "up"
    if key in NEGATIVE:
        return "down"
    return None


@dataclass(slots=True)
class AnswerRecord:
    event_id: str
    room_id: str
    conversation: str
    thread_root: str | None
    question_event_id: str
    sender: str
    question: str
    answer: str
    sources: list[dict[str, Any]]
    status: str
    mode: str


class State:
    """Async facade over the SQLite file. Build with `await State.open(path)`."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        # Small caches for the hot path (routing lookups), filled from the database at open.
        self._answer_threads: dict[str, str | None] = {}
        self._bot_threads: set[tuple[str, str]] = set()
        self._processed: set[str] = set()
        self._joined: dict[str, int] = {}

    @classmethod
    async def open(cls, path: Path | str) -> State:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = await aiosqlite.connect(path)
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.executescript(SCHEMA)
            await db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"cannot open the bot state {path}: {exc}") from exc
        state = cls(db, path)
        await state._load_caches()
        return state

    async def _load_caches(self) -> None:
        async with self._db.execute("SELECT event_id, room_id, thread_root FROM answers") as cur:
            async for event_id, room_id, root in cur:
                self._answer_threads[event_id] = root
                if root:
                    self._bot_threads.add((room_id, root))
        async with self._db.execute("SELECT event_id FROM processed") as cur:
            self._processed = {row[0] async for row in cur}
        async with self._db.execute("SELECT room_id, joined_ts FROM rooms") as cur:
            self._joined = {r: int(t) async for r, t in cur}

    async def close(self) -> None:
        await self._db.close()

    # -- sync token and exactly-once --------------------------------------------------------

    async def sync_token(self) -> str | None:
        async with self._db.execute("SELECT value FROM kv WHERE key='sync_token'") as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def set_sync_token(self, token: str) -> None:
        await self._db.execute(
            "INSERT OR REPLACE INTO kv (key, value) VALUES ('sync_token', ?)", (token,)
        )
        await self._db.commit()

    def is_processed(self, event_id: str) -> bool:
        return event_id in self._processed

    async def mark_processed(
        self, event_id: str, room_id: str, outcome: str, *, sync_token: str | None = None
    ) -> None:
        """Record that `event_id` got its reply (and, in the same transaction, the token)."""
        self._processed.add(event_id)
        await self._db.execute(
            "INSERT OR IGNORE INTO processed (event_id, room_id, outcome, ts) VALUES (?, ?, ?, ?)",
            (event_id, room_id, outcome, time.time()),
        )
        if sync_token is not None:
            await self._db.execute(
                "INSERT OR REPLACE INTO kv (key, value) VALUES ('sync_token', ?)", (sync_token,)
            )
        await self._db.commit()

    async def processed_count(self) -> int:
        async with self._db.execute("SELECT COUNT(*) FROM processed") as cur:
            row = await cur.fetchone()
        return int(row[0])

    # -- rooms -------------------------------------------------------------------------------

    def joined_ts(self, room_id: str) -> int | None:
        return self._joined.get(room_id)

    async def set_joined(self, room_id: str, ts_ms: int, *, overwrite: bool = False) -> None:
        if room_id in self._joined and not overwrite:
            return
        self._joined[room_id] = ts_ms
        await self._db.execute(
            "INSERT OR REPLACE INTO rooms (room_id, joined_ts) VALUES (?, ?)", (room_id, ts_ms)
        )
        await self._db.commit()

    # -- routing lookups (sync: served from the caches) -------------------------------------

    def is_bot_answer(self, event_id: str) -> bool:
        return event_id in self._answer_threads

    def is_bot_thread(self, room_id: str, root: str) -> bool:
        return (room_id, root) in self._bot_threads

    def thread_of_answer(self, room_id: str, answer_event_id: str) -> str | None:
        return self._answer_threads.get(answer_event_id)

    # -- conversations -----------------------------------------------------------------------

    async def history(self, conversation: str, *, turns: int, idle_s: float) -> list[Turn]:
        """The last `turns` turns, or nothing when the conversation has been idle too long."""
        if turns <= 0:
            return []
        async with self._db.execute(
            "SELECT ts, question, answer FROM turns WHERE conversation=? ORDER BY id DESC LIMIT ?",
            (conversation, turns),
        ) as cur:
            rows = await cur.fetchall()
        if not rows or time.time() - rows[0][0] > idle_s:
            return []
        return [Turn(question=q, answer=a) for _, q, a in reversed(rows)]

    async def mode(self, conversation: str) -> str:
        async with self._db.execute(
            "SELECT mode FROM conversations WHERE conversation=?", (conversation,)
        ) as cur:
            row = await cur.fetchone()
        return row[0] if row else "question"

    async def set_mode(self, conversation: str, mode: str) -> None:
        await self._db.execute(
            "INSERT INTO conversations (conversation, mode, last_ts) VALUES (?, ?, ?) "
            "ON CONFLICT(conversation) DO UPDATE SET mode=excluded.mode",
            (conversation, mode, time.time()),
        )
        await self._db.commit()

    async def last_sources(self, conversation: str) -> list[Source]:
        async with self._db.execute(
            "SELECT last_sources FROM conversations WHERE conversation=?", (conversation,)
        ) as cur:
            row = await cur.fetchone()
        return [Source.model_validate(s) for s in json.loads(row[0])] if row else []

    async def reset(self, conversation: str) -> int:
        """Forget the conversation's turns and last sources; returns how many turns went."""
        cur = await self._db.execute("DELETE FROM turns WHERE conversation=?", (conversation,))
        await self._db.execute(
            "UPDATE conversations SET last_sources='[]' WHERE conversation=?", (conversation,)
        )
        await self._db.commit()
        return cur.rowcount

    async def record_answer(
        self,
        record: AnswerRecord,
        *,
        extra_event_ids: tuple[str, ...] = (),
        remember: bool,
        processed_outcome: str = "answered",
        sync_token: str | None = None,
    ) -> None:
        """One transaction: the answers log, the memory turn, the last sources, `processed`."""
        now = time.time()
        sources_json = json.dumps(record.sources, ensure_ascii=False)
        for event_id in (record.event_id, *extra_event_ids):
            await self._db.execute(
                "INSERT OR REPLACE INTO answers (event_id, room_id, conversation, thread_root, "
                "question_event_id, sender, question, answer, sources, status, mode, ts) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event_id,
                    record.room_id,
                    record.conversation,
                    record.thread_root,
                    record.question_event_id,
                    record.sender,
                    record.question,
                    record.answer,
                    sources_json,
                    record.status,
                    record.mode,
                    now,
                ),
            )
            self._answer_threads[event_id] = record.thread_root
        if record.thread_root:
            self._bot_threads.add((record.room_id, record.thread_root))
        if remember:
            await self._db.execute(
                "INSERT INTO turns (conversation, ts, question, answer) VALUES (?, ?, ?, ?)",
                (record.conversation, now, record.question, record.answer),
            )
        await self._db.execute(
            "INSERT INTO conversations (conversation, last_sources, last_ts) VALUES (?, ?, ?) "
            "ON CONFLICT(conversation) DO UPDATE SET last_sources=excluded.last_sources, "
            "last_ts=excluded.last_ts",
            (record.conversation, sources_json, now),
        )
        self._processed.add(record.question_event_id)
        await self._db.execute(
            "INSERT OR IGNORE INTO processed (event_id, room_id, outcome, ts) VALUES (?, ?, ?, ?)",
            (record.question_event_id, record.room_id, processed_outcome, now),
        )
        if sync_token is not None:
            await self._db.execute(
                "INSERT OR REPLACE INTO kv (key, value) VALUES ('sync_token', ?)", (sync_token,)
            )
        await self._db.commit()

    async def answer(self, event_id: str) -> AnswerRecord | None:
        async with self._db.execute(
            "SELECT event_id, room_id, conversation, thread_root, question_event_id, sender, "
            "question, answer, sources, status, mode FROM answers WHERE event_id=?",
            (event_id,),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return AnswerRecord(*row[:8], json.loads(row[8]), row[9], row[10])

    # -- feedback ----------------------------------------------------------------------------

    async def record_feedback(
        self, reaction_event_id: str, answer_event_id: str, room_id: str, sender: str, key: str
    ) -> str | None:
        """Store a 👍/👎 on one of our answers; returns 'up'/'down', or None if not feedback."""
        value = feedback_value(key)
        if value is None or not self.is_bot_answer(answer_event_id):
            return None
        await self._db.execute(
            "INSERT OR REPLACE INTO feedback (reaction_event_id, answer_event_id, room_id, sender,"
            " value, key, ts) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (reaction_event_id, answer_event_id, room_id, sender, value, key, time.time()),
        )
        await self._db.commit()
        return value

    async def feedback_rows(self) -> list[dict[str, Any]]:
        """Every feedback with its question, answer and sources (for `guichet feedback export`)."""
        query = (
            "SELECT f.ts, f.value, f.key, f.sender, f.room_id, f.answer_event_id, a.question, "
            "a.answer, a.sources, a.status, a.mode FROM feedback f JOIN answers a "
            "ON a.event_id = f.answer_event_id ORDER BY f.ts"
        )
        rows = []
        async with self._db.execute(query) as cur:
            async for r in cur:
                rows.append(
                    {
                        "ts": r[0],
                        "value": r[1],
                        "reaction": r[2],
                        "sender": r[3],
                        "room_id": r[4],
                        "answer_event_id": r[5],
                        "question": r[6],
                        "answer": r[7],
                        "sources": json.loads(r[8]),
                        "status": r[9],
                        "mode": r[10],
                    }
                )
        return rows

    # -- undecryptable events ----------------------------------------------------------------

    async def add_undecryptable(
        self, event_id: str, room_id: str, session_id: str, sender: str, source: dict
    ) -> bool:
        """Remember an event waiting for its keys. True when it is new."""
        cur = await self._db.execute(
            "INSERT OR IGNORE INTO undecryptable (event_id, room_id, session_id, sender, source,"
            " ts, notified) VALUES (?, ?, ?, ?, ?, ?, 0)",
            (event_id, room_id, session_id, sender, json.dumps(source), time.time()),
        )
        await self._db.commit()
        return cur.rowcount == 1

    async def session_notified(self, room_id: str, session_id: str) -> bool:
        async with self._db.execute(
            "SELECT 1 FROM undecryptable WHERE room_id=? AND session_id=? AND notified=1",
            (room_id, session_id),
        ) as cur:
            return await cur.fetchone() is not None

    async def set_notified(self, event_id: str) -> None:
        await self._db.execute("UPDATE undecryptable SET notified=1 WHERE event_id=?", (event_id,))
        await self._db.commit()

    async def pending_undecryptable(self) -> list[tuple[str, str, dict]]:
        async with self._db.execute(
            "SELECT event_id, room_id, source FROM undecryptable ORDER BY ts"
        ) as cur:
            return [(e, r, json.loads(s)) async for e, r, s in cur]

    async def is_undecryptable(self, event_id: str) -> bool:
        """True while the event still waits for its keys."""
        async with self._db.execute(
            "SELECT 1 FROM undecryptable WHERE event_id=?", (event_id,)
        ) as cur:
            return await cur.fetchone() is not None

    async def drop_undecryptable(self, event_id: str) -> None:
        await self._db.execute("DELETE FROM undecryptable WHERE event_id=?", (event_id,))
        await self._db.commit()

    # -- stats -------------------------------------------------------------------------------

    async def stats(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for name, query in (
            ("answers", "SELECT COUNT(*) FROM answers"),
            ("conversations", "SELECT COUNT(*) FROM conversations"),
            ("feedback_up", "SELECT COUNT(*) FROM feedback WHERE value='up'"),
            ("feedback_down", "SELECT COUNT(*) FROM feedback WHERE value='down'"),
            ("processed", "SELECT COUNT(*) FROM processed"),
            ("undecryptable_pending", "SELECT COUNT(*) FROM undecryptable"),
            ("rooms", "SELECT COUNT(*) FROM rooms"),
        ):
            async with self._db.execute(query) as cur:
                row = await cur.fetchone()
            out[name] = int(row[0])
        return out
