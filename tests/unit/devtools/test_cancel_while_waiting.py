"""Ctrl-C while the demo's chat or the bot waits on an event must still stop it.

On Python 3.11 `asyncio.wait_for` can swallow a cancellation that lands as the awaited event
fires: the cancelled task then goes on as if nothing had happened. Each wait below is
cancelled in exactly that window."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from bot.service import GuichetBot
from devtools.agent import MatrixAgent


async def _wait_then_go_on(wait) -> str:
    await wait()
    await asyncio.sleep(0.2)  # what the caller would do next
    return "went on"


async def _cancelled_as_the_event_fires(event: asyncio.Event, wait) -> bool:
    task = asyncio.create_task(_wait_then_go_on(wait))
    await asyncio.sleep(0.01)  # the task now waits on the event
    event.set()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return True
    return False


@pytest.mark.parametrize("who", ["chat agent", "bot"])
async def test_a_cancel_landing_as_the_event_fires_is_not_lost(who):
    event = asyncio.Event()
    if who == "chat agent":
        holder = SimpleNamespace(_changed=event)
        wait = lambda: MatrixAgent.wait_changed(holder, 5.0)  # noqa: E731
    else:
        holder = SimpleNamespace(_stopping=event)
        wait = lambda: GuichetBot._sleep_or_stop(holder, 5.0)  # noqa: E731
    assert await _cancelled_as_the_event_fires(event, wait)
