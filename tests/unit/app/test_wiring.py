"""The composition root's order of start: the knowledge base is warm before the bot syncs."""

from __future__ import annotations

from contextlib import AsyncExitStack

from app.wiring import BotApp


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []


class FakeKB:
    def __init__(self, rec: Recorder) -> None:
        self.rec = rec

    def warmup(self) -> None:
        self.rec.calls.append("warmup")


class FakeBot:
    def __init__(self, rec: Recorder) -> None:
        self.rec = rec

    async def run(self) -> None:
        self.rec.calls.append("sync")


async def test_models_are_loaded_before_the_first_sync():
    rec = Recorder()
    stack = AsyncExitStack()
    stack.callback(lambda: rec.calls.append("closed"))
    await BotApp(bot=FakeBot(rec), stack=stack, kb=FakeKB(rec)).run()  # type: ignore[arg-type]
    assert rec.calls == ["warmup", "sync", "closed"]


async def test_without_a_knowledge_base_the_bot_just_runs():
    rec = Recorder()
    await BotApp(bot=FakeBot(rec), stack=AsyncExitStack()).run()  # type: ignore[arg-type]
    assert rec.calls == ["sync"]
