"""The bot: sync loop, event → routing → command or chain → reply, exactly once.

Exactly once, nothing lost:
- an event is marked processed (SQLite) only after its reply (or notice) was sent;
- the persisted sync token is a low watermark: it only moves past a sync batch once every event
  of that batch (and of the batches before it) is done, so a crash mid-answer replays the batch
  on restart, and the processed IDs drop what was already answered;
- replies carry a transaction ID derived from the question's event ID, so a reply re-sent after
  a crash between "sent" and "marked" is deduplicated by the homeserver, and each reply names
  the event it answers (`org.guichet.reply_to`), so seeing it in a replayed batch marks the
  question processed too.

Questions run as asyncio tasks: one slow answer never blocks another room; a semaphore bounds
the chain/LLM calls, a lock per conversation keeps each conversation's turns in order.
Exceptions stop at `_guarded`: logged, the agent gets a notice, typing is cleared, the bot
keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any, Protocol

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from bot import retry
from bot.access import AccessPolicy
from bot.commands import REGISTRY, Ask, CommandContext, Reply
from bot.content import reply_content
from bot.errors import BotError, MatrixError
from bot.events import ChatEvent, Membership, Reaction, TextMessage, Undecryptable, from_source
from bot.port import MatrixPort, SyncBatch
from bot.render import render_answer, render_notice
from bot.routing import Command, Ignore, Notice, Policy, Question, RoomInfo, Target, route
from bot.settings import BotSettings
from bot.state import AnswerRecord, State
from bot.texts import NOTICES
from chains.models import Answer, AnswerRequest

logger = logging.getLogger(__name__)


class Answerer(Protocol):
    """What the bot needs from the chain."""

    async def answer(self, request: AnswerRequest) -> Answer: ...


class ChainAnswerer:
    """Adapts `chains.answer.build_answer_chain(...)` (anything with `ainvoke`) to `Answerer`."""

    def __init__(self, chain: Any) -> None:
        self.chain = chain

    async def answer(self, request: AnswerRequest) -> Answer:
        return await self.chain.ainvoke(request)


class Observer(Protocol):
    """Metrics hooks (ops.metrics.MetricsObserver implements them); every method must be cheap."""

    def question_received(self, room_kind: str, mode: str) -> None: ...

    def answer_sent(
        self, status: str, timings: dict[str, float], tokens: dict[str, int] | None = None
    ) -> None: ...

    def error(self, kind: str) -> None: ...

    def feedback(self, value: str) -> None: ...


class NullObserver:
    def question_received(self, room_kind: str, mode: str) -> None:
        pass

    def answer_sent(
        self, status: str, timings: dict[str, float], tokens: dict[str, int] | None = None
    ) -> None:
        pass

    def error(self, kind: str) -> None:
        pass

    def feedback(self, value: str) -> None:
        pass


class RateLimiter:
    """Per user: at most `count` questions in any `window_s` (a moving window kept by the
    `limits` library, in memory), and one notice per user per window about it."""

    def __init__(self, count: int, window_s: float) -> None:
        self.window_s = window_s
        self.item = RateLimitItemPerSecond(count, max(1, round(window_s)))
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self._notified: dict[str, float] = {}

    def check(self, user_id: str) -> float:
        """0 when allowed (and counted), else the seconds to wait."""
        if self.limiter.hit(self.item, user_id):
            return 0.0
        reset_at = self.limiter.get_window_stats(self.item, user_id).reset_time
        return max(1.0, reset_at - time.time())

    def should_notify(self, user_id: str, now: float) -> bool:
        """One notice per user per window, not one per dropped message."""
        last = self._notified.get(user_id)
        if last is not None and now - last < self.window_s:
            return False
        self._notified[user_id] = now
        return True


def reply_txn_id(event_id: str, part: int) -> str:
    digest = hashlib.sha256(event_id.encode()).hexdigest()[:32]
    return f"guichet-{digest}-{part}"


class _DelayedTyping:
    """Typing notification only for answers slower than `delay`: a fast answer costs the
    homeserver no typing requests at all."""

    def __init__(self, matrix: MatrixPort, room_id: str, delay: float) -> None:
        self.matrix = matrix
        self.room_id = room_id
        self.delay = delay
        self.started = False
        self.task: asyncio.Task | None = None

    async def run(self) -> None:
        await asyncio.sleep(self.delay)
        self.started = True
        await self.matrix.typing(self.room_id, True)

    def stop(self, spawn: Callable[[Any], Any]) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.started:
            self.started = False
            spawn(self.matrix.typing(self.room_id, False))


class _Batch:
    __slots__ = ("next_batch", "pending")

    def __init__(self, next_batch: str) -> None:
        self.next_batch = next_batch
        self.pending = 0


class GuichetBot:
    def __init__(
        self,
        settings: BotSettings,
        matrix: MatrixPort,
        state: State,
        answerer: Answerer,
        *,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.time,
        sleep: retry.Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.matrix = matrix
        self.sleep = sleep  # every wait between retries (a test passes one that does not wait)
        self.state = state
        self.answerer = answerer
        self.observer: Observer = observer or NullObserver()
        self.clock = clock
        self.access = AccessPolicy.build(
            domains=settings.allowed_domains,
            homeservers=settings.allowed_homeservers,
            users=settings.allowed_users,
            admins=settings.admin_users,
            identity_servers=settings.identity_servers,
        )
        self.rate = RateLimiter(settings.rate_limit_count, settings.rate_limit_window_s)
        self.llm_slots = asyncio.Semaphore(settings.max_concurrent_llm)
        self.ready = asyncio.Event()  # set after the first sync has been dispatched
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._batches: deque[_Batch] = deque()
        self._locks: dict[str, asyncio.Lock] = {}
        self._in_flight: set[str] = set()
        # (room, Megolm session) whose notice is waiting for its grace period to end
        self._notice_planned: set[tuple[str, str]] = set()
        self._answering = 0
        self._policy: Policy | None = None
        self._token: str | None = None
        self._committed: str | None = None
        self.started_at = time.time()
        self.counters: dict[str, int] = defaultdict(int)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def policy(self) -> Policy:
        assert self._policy is not None
        return self._policy

    async def run(self) -> None:
        """Log in, then sync until `stop()`; reconnects by itself when the homeserver is away."""
        await self.matrix.start()
        self._policy = Policy(
            bot_user_id=self.matrix.user_id,
            display_name=self.settings.display_name,
            command_prefix=self.settings.command_prefix,
            brouillon_marker=self.settings.brouillon_marker,
            catchup_max_age_ms=int(self.settings.catchup_max_age_s * 1000),
            catchup_old=self.settings.catchup_old,
        )
        self._token = self._committed = await self.state.sync_token()
        first_ever = self._token is None
        try:
            while not self._stopping.is_set():
                timeout = 0 if not self.ready.is_set() else self.settings.sync_timeout_ms
                syncing = retry.policy(
                    attempts=None,
                    initial=0.5,
                    maximum=15.0,
                    never=frozenset({"M_UNKNOWN_TOKEN"}),
                    sleep=self._sleep_or_stop,
                    what="sync",
                )
                batch = await syncing(self._sync_or_stop, timeout)
                if batch is None:
                    break
                await self.matrix.after_sync()
                await self._dispatch(batch, skip_timeline=first_ever)
                first_ever = False
                if batch.room_keys_received or not self.ready.is_set():
                    self._spawn(self._retry_undecryptable())
                self.ready.set()
        finally:
            await self._drain()

    async def _sleep_or_stop(self, seconds: float) -> None:
        """The wait before a sync retry: over at once when the bot is stopped."""
        # asyncio.timeout, not wait_for, which on Python 3.11 can swallow a cancellation
        # landing as the event is set
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    async def _sync_or_stop(self, timeout_ms: int) -> SyncBatch | None:
        """One sync (None when stopped first, or stopped during a retry's wait)."""
        if self._stopping.is_set():
            return None
        try:
            return await self._sync_once(timeout_ms)
        except MatrixError:
            self.observer.error("sync")
            raise

    async def _sync_once(self, timeout_ms: int) -> SyncBatch | None:
        sync = asyncio.ensure_future(self.matrix.sync(self._token, timeout_ms))
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            done, _ = await asyncio.wait({sync, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not sync.done():
                sync.cancel()
                with contextlib.suppress(asyncio.CancelledError, BotError):
                    await sync
        if sync in done:
            return sync.result()
        return None

    def stop(self) -> None:
        self._stopping.set()

    async def _drain(self) -> None:
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=30.0)
            for task in pending:
                task.cancel()

    def _spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- dispatch and the sync-token watermark -----------------------------------------------

    async def _dispatch(self, batch: SyncBatch, *, skip_timeline: bool) -> None:
        for room_id, inviter in batch.invites:
            await self._on_invite(room_id, inviter)
        for room_id in batch.limited_rooms:
            logger.info("sync timeline of %s was limited: older events were skipped", room_id)
        entry = _Batch(batch.next_batch)
        self._token = batch.next_batch
        events = [from_source(room_id, source) for room_id, source in batch.timeline]
        me = self.policy.bot_user_id
        for ev in events:
            # Our own replies name the question they answer: a replayed batch after a crash
            # between "sent" and "marked" must not answer it again.
            if isinstance(ev, TextMessage) and ev.sender == me and ev.guichet_reply_to:
                if not self.state.is_processed(ev.guichet_reply_to):
                    await self.state.mark_processed(ev.guichet_reply_to, ev.room_id, "seen-reply")
            elif isinstance(ev, Membership) and ev.target == me:
                await self._on_own_membership(ev)
        if not skip_timeline:
            for ev in events:
                if not self._needs_work(ev):
                    continue
                entry.pending += 1
                self._in_flight.add(ev.event_id)
                self._spawn(self._run_event(ev, entry))
        self._batches.append(entry)
        await self._advance()

    async def _on_own_membership(self, ev: Membership) -> None:
        """Where a room's "for the bot" starts: its invite when seen, else its join.

        What was sent from the invite on is for the bot (an agent types straight into a new
        DM, before the bot has joined); a team room's history is not. An old invite (a room
        left and rejoined) never reopens old history.
        """
        if ev.membership == "join":
            await self.state.set_joined(ev.room_id, ev.ts)
        elif ev.membership == "invite" and ev.ts:
            since = self.state.joined_ts(ev.room_id)
            recent = ev.ts >= (self.clock() - self.settings.catchup_max_age_s) * 1000
            if recent and (since is None or ev.ts < since):
                await self.state.set_joined(ev.room_id, ev.ts, overwrite=True)

    def _needs_work(self, ev: ChatEvent) -> bool:
        if isinstance(ev, Membership) or not ev.event_id:
            return False
        if ev.sender == self.policy.bot_user_id:
            return False
        if ev.event_id in self._in_flight or self.state.is_processed(ev.event_id):
            return False
        return self.access.is_allowed(ev.sender)

    async def _run_event(self, ev: ChatEvent, entry: _Batch) -> None:
        try:
            await self._guarded(ev)
        except asyncio.CancelledError:
            # Stopped mid-answer: the batch stays pending, so the persisted sync token stays
            # before it and the event is replayed (and answered once) after the restart.
            self._in_flight.discard(ev.event_id)
            raise
        self._in_flight.discard(ev.event_id)
        entry.pending -= 1
        await self._advance()

    async def _advance(self) -> None:
        """Persist the sync token past every fully handled batch (in order)."""
        token = None
        while self._batches and self._batches[0].pending == 0:
            token = self._batches.popleft().next_batch
        if token is not None and token != self._committed:
            self._committed = token
            await self.state.set_sync_token(token)

    # -- one event ---------------------------------------------------------------------------

    async def _guarded(self, ev: ChatEvent) -> None:
        """The one boundary: nothing raised by a handler stops the bot."""
        # The homeserver is away (restart, network): keep the event, try again soon.
        attempts = retry.policy(
            attempts=3, initial=5.0, maximum=10.0, sleep=self.sleep, what=f"event {ev.event_id}"
        )
        try:
            await attempts(self._handle, ev)
        except MatrixError:
            logger.error("event %s left unanswered: the homeserver kept failing", ev.event_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.observer.error("internal")
            logger.exception("event %s in %s failed", ev.event_id, ev.room_id)
            if isinstance(ev, TextMessage):
                await self._fallback_notice(ev)

    async def _handle(self, ev: ChatEvent) -> None:
        try:
            if isinstance(ev, Reaction):
                await self._on_reaction(ev)
            elif isinstance(ev, Undecryptable):
                await self._on_undecryptable(ev)
            else:
                await self._on_message(ev)
        except MatrixError as exc:
            self.observer.error("matrix")
            logger.warning("event %s in %s: %s", ev.event_id, ev.room_id, exc)
            raise

    async def _fallback_notice(self, ev: TextMessage) -> None:
        try:
            room = self._room_info(ev.room_id)
            decision = route(ev, room, self.policy, self.state, now_ms=int(self.clock() * 1000))
            target = getattr(decision, "target", None)
            if target is None:
                return
            await self._send_notice(target, NOTICES["error"], part=90)
            await self.matrix.typing(target.room_id, False)
            await self.state.mark_processed(ev.event_id, ev.room_id, "error")
        except Exception:
            logger.exception("could not tell %s about the failure", ev.room_id)

    def _room_info(self, room_id: str) -> RoomInfo:
        return RoomInfo(
            room_id=room_id,
            is_dm=self.matrix.is_dm(room_id),
            joined_ts=self.state.joined_ts(room_id),
        )

    async def _on_message(self, ev: ChatEvent) -> Target | None:
        decision = route(
            ev,
            self._room_info(ev.room_id),
            self.policy,
            self.state,
            now_ms=int(self.clock() * 1000),
        )
        if isinstance(decision, Ignore):
            logger.debug("ignored %s: %s", ev.event_id, decision.reason)
            return None
        target = decision.target
        if isinstance(decision, Notice):
            text = NOTICES[decision.kind].format(
                detail=decision.detail,
                prefix=self.settings.command_prefix,
                marker=self.settings.brouillon_marker,
            )
            await self._send_notice(target, text)
            await self.state.mark_processed(ev.event_id, ev.room_id, f"notice:{decision.kind}")
            return target
        if isinstance(decision, Command):
            await self._on_command(ev, decision)
            return target
        assert isinstance(decision, Question)
        await self._answer(ev, target, decision.text, decision.mode)
        return target

    async def _on_command(self, ev: ChatEvent, decision: Command) -> None:
        self.counters["commands"] += 1
        ctx = CommandContext(
            conversation=decision.target.conversation,
            room_id=ev.room_id,
            sender=ev.sender,
            args=decision.args,
            is_admin=self.access.is_admin(ev.sender),
            prefix=self.settings.command_prefix,
            brouillon_marker=self.settings.brouillon_marker,
            state=self.state,
            runtime_stats=self.runtime_stats,
        )
        result = await REGISTRY.run(decision.name, ctx)
        if isinstance(result, Ask):
            await self._answer(ev, decision.target, result.text, result.mode)
            return
        assert isinstance(result, Reply)
        await self._send_notice(decision.target, result.text)
        await self.state.mark_processed(ev.event_id, ev.room_id, f"command:{decision.name}")

    def runtime_stats(self) -> dict[str, object]:
        return {
            "uptime_s": int(time.time() - self.started_at),
            "in_flight": len(self._in_flight),
            **{f"session_{k}": v for k, v in self.counters.items()},
        }

    async def _answer(self, ev: ChatEvent, target: Target, text: str, mode: str | None) -> None:
        now = self.clock()
        wait = self.rate.check(ev.sender)
        if wait:
            self.counters["rate_limited"] += 1
            if self.rate.should_notify(ev.sender, now):
                await self._send_notice(target, NOTICES["rate_limited"].format(wait=int(wait)))
            await self.state.mark_processed(ev.event_id, ev.room_id, "rate_limited")
            return
        t_received = time.perf_counter()
        conversation = target.conversation
        lock = self._locks.setdefault(conversation, asyncio.Lock())
        async with lock:
            mode = mode or await self.state.mode(conversation)
            room_kind = "dm" if target.thread_root is None else "thread"
            self.observer.question_received(room_kind, mode)
            history = await self.state.history(
                conversation, turns=self.settings.memory_turns, idle_s=self.settings.memory_idle_s
            )
            request = AnswerRequest(
                question=text[: self.settings.max_question_chars],
                history=history,
                mode=mode,  # type: ignore[arg-type]
                audience=self.settings.audience,
            )
            typing = _DelayedTyping(self.matrix, target.room_id, self.settings.typing_delay_s)
            # Typing is cosmetic: under a burst it would double the homeserver's load.
            if self._answering < self.settings.typing_max_concurrent:
                typing.task = self._spawn(typing.run())
            self._answering += 1
            try:
                t0 = time.perf_counter()
                async with self.llm_slots:
                    answer = await self.answerer.answer(request)
                chain_ms = (time.perf_counter() - t0) * 1000
                if answer.status == "error":
                    self.counters["answer_errors"] += 1
                    notice = NOTICES["answer_error"].format(text=answer.text.strip())
                    event_ids = [await self._send_notice(target, notice)]
                else:
                    event_ids = []
                    for part, rendered in enumerate(
                        render_answer(answer, max_chars=self.settings.max_body_chars)
                    ):
                        content = reply_content(rendered, target, asker=ev.sender)
                        txn_id = reply_txn_id(ev.event_id, part)
                        event_ids.append(await self._send(target.room_id, content, txn_id))
                self.counters["answers"] += 1
                send_ms = (time.perf_counter() - t0) * 1000 - chain_ms
                if logger.isEnabledFor(logging.INFO):  # the timings line costs nothing otherwise
                    logger.info(
                        "answered %s in %s: %s, %.0f ms after it was sent (waited %.0f ms), "
                        "chain %.0f ms (%s), reply %.0f ms",
                        ev.event_id,
                        target.room_id,
                        answer.status,
                        self.clock() * 1000 - ev.ts if ev.ts else -1,
                        (t0 - t_received) * 1000,
                        chain_ms,
                        " ".join(f"{k}={v:.0f}" for k, v in answer.timings_ms.items()),
                        send_ms,
                    )
            finally:
                self._answering -= 1
                typing.stop(self._spawn)
            await self.state.record_answer(
                AnswerRecord(
                    event_id=event_ids[0],
                    room_id=target.room_id,
                    conversation=conversation,
                    thread_root=target.thread_root,
                    question_event_id=ev.event_id,
                    sender=ev.sender,
                    question=request.question,
                    answer=answer.text,
                    sources=[s.model_dump() for s in answer.sources],
                    status=answer.status,
                    mode=mode,
                ),
                extra_event_ids=tuple(event_ids[1:]),
                remember=answer.status == "answered",
                processed_outcome=answer.status,
            )
            timings = dict(answer.timings_ms)
            timings["chain_ms"] = chain_ms
            timings["total_ms"] = (self.clock() - ev.ts / 1000) * 1000 if ev.ts else chain_ms
            self.observer.answer_sent(answer.status, timings, dict(answer.tokens))

    async def _send_notice(
        self, target: Target, text: str, *, part: int = 50, pending: bool = False
    ) -> str:
        content = reply_content(render_notice(text), target, msgtype="m.notice", pending=pending)
        return await self._send(target.room_id, content, reply_txn_id(target.event_id, part))

    async def _send(self, room_id: str, content: dict[str, Any], txn_id: str) -> str:
        """One event sent, retried by the bot's policy (the same txn_id: deduplicated)."""
        sending = retry.policy(
            attempts=self.settings.send_retries + 1,
            initial=0.5,
            maximum=10.0,
            never=retry.FATAL_SEND,
            sleep=self.sleep,
            what=f"send to {room_id}",
        )
        return await sending(self.matrix.send, room_id, content, txn_id=txn_id)

    # -- invites, reactions, undecryptable ---------------------------------------------------

    async def _on_invite(self, room_id: str, inviter: str) -> None:
        try:
            if inviter and self.access.is_allowed(inviter):
                # Until the invite event itself shows up in the joined room's timeline (see
                # _dispatch), only what comes from now on is for the bot.
                await self.state.set_joined(room_id, int(self.clock() * 1000), overwrite=True)
                await self.matrix.join(room_id)
                logger.info("joined %s (invited by an allowed user)", room_id)
            else:
                await self.matrix.leave(room_id)
                logger.info("declined the invite to %s from a user outside the allowlist", room_id)
        except MatrixError as exc:
            logger.warning("invite to %s: %s", room_id, exc)

    async def _on_reaction(self, ev: Reaction) -> None:
        value = await self.state.record_feedback(
            ev.event_id, ev.target, ev.room_id, ev.sender, ev.key
        )
        if value is not None:
            self.observer.feedback(value)
            await self.state.mark_processed(ev.event_id, ev.room_id, f"feedback:{value}")

    async def _on_undecryptable(self, ev: Undecryptable) -> None:
        if not await self.state.add_undecryptable(
            ev.event_id, ev.room_id, ev.session_id, ev.sender, ev.source
        ):
            return
        self.observer.error("undecryptable")
        await self.matrix.request_keys(ev.room_id, ev.source)
        # Tell the agent once per Megolm session, and only where every message is for us.
        session = (ev.room_id, ev.session_id)
        if self.matrix.is_dm(ev.room_id) and session not in self._notice_planned:
            self._notice_planned.add(session)
            self._spawn(self._notice_if_keys_stay_missing(ev))

    async def _notice_if_keys_stay_missing(self, ev: Undecryptable) -> None:
        """The notice, unless the keys arrive within the grace period: they usually follow
        the message within a sync or two (a new DM, a bot that was down), and an agent
        should not read 'I could not decrypt' just before the answer."""
        try:
            await self._sleep_or_stop(self.settings.undecryptable_notice_delay_s)
            if self._stopping.is_set():
                return
            if not await self.state.is_undecryptable(ev.event_id):
                logger.debug("event %s decrypted within the grace period: no notice", ev.event_id)
                return
            if await self.state.session_notified(ev.room_id, ev.session_id):
                return
            target = Target(ev.room_id, ev.event_id, ev.room_id, None)
            await self._send_notice(target, NOTICES["undecryptable"], pending=True)
            await self.state.set_notified(ev.event_id)
        finally:  # the store remembers the notice; this set only keeps two tasks apart
            self._notice_planned.discard((ev.room_id, ev.session_id))

    async def _retry_undecryptable(self) -> None:
        for event_id, room_id, source in await self.state.pending_undecryptable():
            decrypted = self.matrix.try_decrypt(room_id, source)
            if decrypted is None:
                logger.debug("event %s in %s still undecryptable", event_id, room_id)
                continue
            await self.state.drop_undecryptable(event_id)
            ev = from_source(room_id, decrypted)
            logger.info("event %s in %s decrypted after its keys arrived", event_id, room_id)
            if self._needs_work(ev):
                self._in_flight.add(ev.event_id)
                dummy = _Batch("")
                dummy.pending = 1
                self._spawn(self._run_event(ev, dummy))
