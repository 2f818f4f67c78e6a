"""Updates handled concurrently and fairly between users: per-user queues, least recently served first.

Why: PTB's default processor hands its concurrency slots out first come, first served. Under a flood
(20 users x 50 messages) a new user's first message queued behind the whole backlog — 4 s with the
throttle on, 45 s with it off. Here each user has a queue, and a free slot goes to the waiting user
served longest ago (a newcomer: never), one update at a time. Busy users thus take turns, round
robin, and a newcomer goes ahead of all of them instead of waiting for one update of each — which
matters because every answer also waits for the bot's overall 30 msg/s send budget. One update per
user at a time also keeps each user's updates in order (a button press is handled after the message
that made the button).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import OrderedDict, deque
from collections.abc import Awaitable, Hashable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

_ANONYMOUS = ("anonymous",)


def sender_key(update: object) -> Hashable:
    """Whose queue an update joins: the user, else the chat (channel posts), else one shared queue."""
    if isinstance(update, Update):
        if update.effective_user is not None:
            return ("user", update.effective_user.id)
        if update.effective_chat is not None:
            return ("chat", update.effective_chat.id)
    return _ANONYMOUS


class FairUpdateProcessor(BaseUpdateProcessor):
    """At most `max_concurrent_updates` at once, at most one per sender, least recently served first."""

    MAX_REMEMBERED = 100_000  # senders whose last turn is remembered; beyond that, start afresh

    def __init__(self, max_concurrent_updates: int):
        super().__init__(max_concurrent_updates)
        self._waiting: OrderedDict[Hashable, deque[asyncio.Future]] = OrderedDict()
        self._busy: set[Hashable] = set()
        self._served: dict[Hashable, int] = {}  # sender -> ticket of its last turn
        self._tickets = itertools.count(1)

    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = sender_key(update)
        turn = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, deque()).append(turn)
        self._dispatch()
        try:
            await turn
        except asyncio.CancelledError:
            self._withdraw(key, turn)
            with contextlib.suppress(Exception):
                coroutine.close()  # type: ignore[attr-defined]
            raise
        try:
            async with self._semaphore:  # never blocks (dispatch counts slots); keeps PTB's counters true
                await self.do_process_update(update, coroutine)
        finally:
            self._busy.discard(key)
            self._dispatch()

    def _dispatch(self) -> None:
        """Give free slots to idle waiting senders, the one served longest ago (or never) first."""
        while len(self._busy) < self.max_concurrent_updates:
            ready = [key for key in self._waiting if key not in self._busy]
            if not ready:
                return
            key = min(ready, key=lambda k: self._served.get(k, 0))
            queue = self._waiting[key]
            turn = queue.popleft()
            if not queue:
                del self._waiting[key]
            self._busy.add(key)
            if len(self._served) >= self.MAX_REMEMBERED:
                self._served.clear()
            self._served[key] = next(self._tickets)
            turn.set_result(None)

    def _withdraw(self, key: Hashable, turn: asyncio.Future) -> None:
        """A cancelled wait: forget it, or hand back the slot it was just given."""
        queue = self._waiting.get(key)
        if queue is not None and turn in queue:
            queue.remove(turn)
            if not queue:
                del self._waiting[key]
        elif turn.done() and not turn.cancelled():
            self._busy.discard(key)
            self._dispatch()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await coroutine

    async def initialize(self) -> None:
        """Nothing to set up: the queues live in memory and start empty."""

    async def shutdown(self) -> None:
        """Nothing to release: pending updates are dropped by PTB's own shutdown."""
