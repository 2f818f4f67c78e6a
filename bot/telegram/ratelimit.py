"""PTB rate limiting that is fair across chats.

Fair between chats twice over: a 429 pauses only its chat (below), and when sends queue for the
overall budget, chats sent to least recently go first (SlidingWindow priorities).

Rate limiting: Telegram answers 429 per chat or for the whole bot, and PTB's AIORateLimiter halts
*every* request for retry_after when any one of them gets a 429 (and by default, max_retries=0,
does not retry at all). ChatFairRateLimiter keeps AIORateLimiter's per-group limiter but waits out a
429 for that chat only, and paces the whole bot with a sliding window of successful sends (what
Telegram's 30 msg/s counts), so one flooded chat never stalls the rest of a broadcast.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

log = logging.getLogger(__name__)

PACING = 0.9  # fraction of period/max_calls kept between send starts (see SlidingWindow.spacing)


class SlidingWindow:
    """At most `max_calls` counted calls per `period` seconds, with in-flight calls reserved.

    A call is stamped when it *completes*, which is never earlier than Telegram saw it, so this window
    is never more permissive than Telegram's. A call released uncounted (a 429) frees its slot at once.
    Waiters are served lowest `priority` first, then in arrival order: the rate limiter passes how
    recently the chat was last sent to, so under a flood a chat the bot has not answered lately (a
    new user) goes ahead of chats it has just answered, and a broadcast (every chat once) stays FIFO.
    `spacing` (seconds, optional) also keeps starts that far apart: a bare window lets `max_calls`
    go at once and then stalls for the rest of the period, so whoever arrives just after a burst —
    and every handler holding a slot while it waits — waits up to a whole period.
    """

    def __init__(self, max_calls: int, period: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 spacing: float = 0.0):
        self.max_calls = max_calls
        self.period = period
        self.clock = clock
        self.spacing = spacing
        self._next_start = float("-inf")
        self._stamps: deque[float] = deque()
        self._inflight = 0
        self._cond = asyncio.Condition()
        self._queue: list[tuple[float, int]] = []  # heap of (priority, arrival) of waiting callers
        self._arrivals = itertools.count()

    def _purge(self, now: float) -> None:
        while self._stamps and self._stamps[0] <= now - self.period:
            self._stamps.popleft()

    async def acquire(self, priority: float = 0.0) -> None:
        async with self._cond:
            me = (priority, next(self._arrivals))
            heapq.heappush(self._queue, me)
            try:
                await self._wait_turn(me)
            except BaseException:
                self._queue.remove(me)
                heapq.heapify(self._queue)
                self._cond.notify_all()
                raise
            heapq.heappop(self._queue)
            self._inflight += 1
            self._next_start = self.clock() + self.spacing
            self._cond.notify_all()  # the next in line may fit too

    async def _wait_turn(self, me: tuple[float, int]) -> None:
        """Return (lock held) once `me` heads the queue and the window has room."""
        while True:
            now = self.clock()
            self._purge(now)
            room = len(self._stamps) + self._inflight < self.max_calls
            paced = now >= self._next_start
            if room and paced and self._queue[0] == me:
                return
            if not room:
                timeout = self._stamps[0] + self.period - now if self._stamps else None
            else:
                timeout = None if paced else self._next_start - now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._cond.wait(), timeout)

    async def release(self, counted: bool) -> None:
        async with self._cond:
            self._inflight -= 1
            if counted:
                self._stamps.append(self.clock())
            else:  # Telegram counted nothing: neither does the pacing
                self._next_start = min(self._next_start, self.clock())
            self._cond.notify_all()


def retry_seconds(exc: RetryAfter) -> float:
    """PTB 22 keeps the value as a timedelta internally and may expose int or timedelta publicly."""
    value = getattr(exc, "_retry_after", None)
    if value is None:
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class ChatFairRateLimiter(AIORateLimiter):
    """AIORateLimiter whose 429 handling pauses only the chat that got it (see module doc)."""

    def __init__(self, overall_max_rate: int = 30, overall_time_period: float = 1.0,
                 group_max_rate: float = 20, group_time_period: float = 60, max_retries: int = 3):
        super().__init__(overall_max_rate=0, overall_time_period=0, group_max_rate=group_max_rate,
                         group_time_period=group_time_period, max_retries=max_retries)
        # Paced a little faster than the cap, so the window (the cap) still decides throughput
        # while no burst can leave a long stall behind it.
        spacing = PACING * overall_time_period / overall_max_rate if overall_max_rate else 0.0
        self._window = (SlidingWindow(overall_max_rate, overall_time_period, spacing=spacing)
                        if overall_max_rate else None)
        self._paused: dict[Any, float] = {}
        self._last_sent: dict[Any, int] = {}  # chat -> ticket of its latest send: the window's priority
        self._tickets = itertools.count(1)
        self.on_retry: Callable[[], None] | None = None  # called once per 429 that is waited out

    async def _wait_chat(self, chat_id: Any) -> None:
        until = self._paused.get(chat_id)
        while until is not None and (delay := until - time.monotonic()) > 0:
            await asyncio.sleep(delay)
            until = self._paused.get(chat_id)
        self._paused.pop(chat_id, None)

    async def _attempt(self, chat_id: Any, call: Callable[[], Any]):
        if self._window is None or chat_id is None:
            return await call()
        await self._window.acquire(self._last_sent.get(chat_id, 0))
        if len(self._last_sent) >= 100_000:  # forget idle chats rather than grow forever
            self._last_sent.clear()
        self._last_sent[chat_id] = next(self._tickets)
        counted = True
        try:
            return await call()
        except RetryAfter:
            counted = False
            raise
        finally:
            await self._window.release(counted)

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        max_retries = rate_limit_args or self._max_retries
        chat_id = data.get("chat_id")
        group: int | str | bool = False
        with contextlib.suppress(ValueError, TypeError):
            chat_id = int(chat_id)
        if (isinstance(chat_id, int) and chat_id < 0) or isinstance(chat_id, str):
            group = chat_id

        def call():
            return self._run_request(chat=chat_id is not None, group=group, allow_paid_broadcast=False,
                                     callback=callback, args=args, kwargs=kwargs)

        for attempt in range(max_retries + 1):
            await self._wait_chat(chat_id)
            try:
                return await self._attempt(chat_id, call)
            except RetryAfter as exc:
                if attempt == max_retries:
                    raise
                pause = retry_seconds(exc) + 0.1
                log.info("429 for chat %s: that chat waits %.1fs", chat_id, pause)
                if self.on_retry is not None:  # `planbrief serve` counts these for /metrics
                    self.on_retry()
                self._paused[chat_id] = max(self._paused.get(chat_id, 0.0), time.monotonic() + pause)
        return None  # unreachable: the last attempt returns or raises


