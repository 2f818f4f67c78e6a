"""JobQueue wiring for scheduled digests: start-up catch-up, a one-minute tick, PTB errors → delivery's.

PTB keeps no jobs across restarts, so nothing here is per subscription: a single repeating tick asks
the database what is due (bot.delivery.catch_up), and the ledger's unique claim makes every tick,
restart and overlapping process deliver each (subscription, period) once. A new subscription needs no
job registration; it is simply due at its next occurrence.

Rate limiting: Telegram answers 429 per chat or for the whole bot, and PTB's AIORateLimiter halts
*every* request for retry_after when any one of them gets a 429 (and by default, max_retries=0,
does not retry at all). ChatFairRateLimiter keeps AIORateLimiter's per-group limiter but waits out a
429 for that chat only, and paces the whole bot with a sliding window of successful sends (what
Telegram's 30 msg/s counts), so one flooded chat never stalls the rest of a broadcast.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import AIORateLimiter

from bot import delivery
from bot.digest import Digest, build_digest
from bot.models import Subscription
from bot.places import resolve_place
from bot.render_digest import render_digest

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
TICK_SECONDS = 60
BUILT_CACHE = 64
DEFAULT_GRACE = timedelta(hours=3)
GONE = ("chat not found", "user is deactivated", "bot was kicked", "bot is not a member", "chat_write_forbidden",
        "need administrator rights", "have no rights to send")

# Which (subscription, period) the current task is delivering, so a resent digest skips the messages
# Telegram already accepted (a 429 on message 2 must not repeat message 1).
_JOB: contextvars.ContextVar[tuple[int, str] | None] = contextvars.ContextVar("digest_job", default=None)


def utcnow() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------ rate limiting


class SlidingWindow:
    """At most `max_calls` counted calls per `period` seconds, with in-flight calls reserved.

    A call is stamped when it *completes*, which is never earlier than Telegram saw it, so this window
    is never more permissive than Telegram's. A call released uncounted (a 429) frees its slot at once.
    """

    def __init__(self, max_calls: int, period: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.max_calls = max_calls
        self.period = period
        self.clock = clock
        self._stamps: deque[float] = deque()
        self._inflight = 0
        self._cond = asyncio.Condition()

    def _purge(self, now: float) -> None:
        while self._stamps and self._stamps[0] <= now - self.period:
            self._stamps.popleft()

    async def acquire(self) -> None:
        async with self._cond:
            while True:
                now = self.clock()
                self._purge(now)
                if len(self._stamps) + self._inflight < self.max_calls:
                    self._inflight += 1
                    return
                timeout = self._stamps[0] + self.period - now if self._stamps else None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._cond.wait(), timeout)

    async def release(self, counted: bool) -> None:
        async with self._cond:
            self._inflight -= 1
            if counted:
                self._stamps.append(self.clock())
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
        self._window = SlidingWindow(overall_max_rate, overall_time_period) if overall_max_rate else None
        self._paused: dict[Any, float] = {}

    async def _wait_chat(self, chat_id: Any) -> None:
        until = self._paused.get(chat_id)
        while until is not None and (delay := until - time.monotonic()) > 0:
            await asyncio.sleep(delay)
            until = self._paused.get(chat_id)
        self._paused.pop(chat_id, None)

    async def _attempt(self, chat_id: Any, call: Callable[[], Any]):
        if self._window is None or chat_id is None:
            return await call()
        await self._window.acquire()
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
                self._paused[chat_id] = max(self._paused.get(chat_id, 0.0), time.monotonic() + pause)
        return None  # unreachable: the last attempt returns or raises


# ------------------------------------------------------------------------------------- send / build


def map_error(exc: Exception) -> Exception:
    """PTB's exception → bot.delivery's; unknown errors are returned as they are (not retried)."""
    if isinstance(exc, Forbidden):
        return delivery.Blocked(str(exc))
    if isinstance(exc, ChatMigrated):
        return delivery.Migrated(int(exc.new_chat_id))
    if isinstance(exc, RetryAfter):
        return delivery.RetryLater(retry_seconds(exc))
    if isinstance(exc, BadRequest):
        return delivery.Blocked(str(exc)) if any(g in str(exc).lower() for g in GONE) else exc
    if isinstance(exc, TimedOut | NetworkError):
        return delivery.TransientError(str(exc))
    return exc


class DigestService:
    """What the jobs and handlers share: store, corpus, search, bot and clock, plus delivery progress."""

    def __init__(self, *, store, corpus, search_engine=None, bot=None, clock: Callable[[], datetime] = utcnow,
                 grace: timedelta = DEFAULT_GRACE, policy: delivery.Policy | None = None):
        self.store = store
        self.corpus = corpus
        self.engine = search_engine
        self.bot = bot
        self.clock = clock
        self.grace = grace
        self.policy = policy or delivery.Policy()
        self.progress: dict[tuple[int, str], int] = {}  # messages already accepted per (sub, period)
        self._place = lru_cache(maxsize=256)(self._resolve)
        self._busy = asyncio.Lock()
        self._built: dict[tuple, tuple[list[str], list[str]]] = {}
        self._plan_ids: dict[tuple[int, str], list[str]] = {}
        # One thread only for settling sent digests: behind the shared to_thread pool (full of claims
        # during a broadcast) a sent digest could wait seconds unrecorded, and a crash then resends it.
        self._ledger = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-ledger")

    def attach(self, app) -> DigestService:
        """Pick up what the application loads after registration (corpus, engine in post_init)."""
        self.bot = self.bot or app.bot
        self.corpus = app.bot_data.get("corpus") or self.corpus
        self.engine = app.bot_data.get("engine") or self.engine
        return self

    # -- content

    def _resolve(self, city: str):
        match = resolve_place(city, self.corpus)
        return match.place if match else None

    def _search(self, query: str, plan_id: str):
        if self.engine is None:
            return []
        return self.engine.search(query, plan_id=plan_id, limit=2).hits

    def digest(self, *, city: str | None = None, topic: str | None = None, plan_id: str | None = None,
               seen: set[str] | None = None) -> Digest:
        place = self._place(city) if city else None
        return build_digest(self.corpus, plan_id=plan_id, place=place, topic=topic, seen_plan_ids=seen,
                            search=self._search)

    def build_sync(self, sub: Subscription) -> tuple[list[str], list[str]]:
        """A first digest marks nothing new: "new since your last digest" needs a last digest.

        Chats with the same scope, history and language get the same digest, so a broadcast to a
        thousand chats builds it once.
        """
        seen = self.store.plans_sent_to_chat(sub.chat_id) or None
        key = (sub.city, sub.topic, frozenset(seen) if seen else None, sub.language, self.local_today(sub.tz))
        built = self._built.get(key)
        if built is None:
            digest = self.digest(city=sub.city, topic=sub.topic, seen=seen)
            built = self._built[key] = self.render(digest, sub.language, sub.tz)
            while len(self._built) > BUILT_CACHE:
                self._built.pop(next(iter(self._built)))
        job = _JOB.get()
        if job:
            self._plan_ids[job] = built[1]
        return list(built[0]), list(built[1])

    def render(self, digest: Digest, lang: str, tz: str | None = None) -> tuple[list[str], list[str]]:
        messages = render_digest(digest, lang, today=self.local_today(tz))
        return messages, [e.plan.plan_id for e in digest.plans]

    def local_today(self, tz: str | None) -> date:
        from zoneinfo import ZoneInfo

        return self.clock().astimezone(ZoneInfo(tz or "Asia/Shanghai")).date()

    async def build(self, sub: Subscription) -> tuple[list[str], list[str]]:
        return await asyncio.to_thread(self.build_sync, sub)

    # -- transport

    async def send(self, chat_id: int, messages: list[str]) -> None:
        job = _JOB.get()
        done = self.progress.get(job, 0) if job else 0
        for index, text in enumerate(messages):
            if index < done:
                continue
            try:
                await self.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML,
                                            link_preview_options=NO_PREVIEW)
            except Exception as exc:
                mapped = map_error(exc)
                if mapped is exc:
                    raise
                raise mapped from exc
            if job:
                self.progress[job] = index + 1
        if job:
            self.progress.pop(job, None)
            await self._settle(job)

    async def _settle(self, job: tuple[int, str]) -> None:
        """Record the period as sent the moment Telegram accepted the last message (see __init__);
        the broadcaster's own mark_sent afterwards is an idempotent repeat."""
        plan_ids = self._plan_ids.pop(job, [])
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._ledger, self.store.mark_sent, job[0], job[1], plan_ids)

    # -- runs

    async def run(self, *, startup: bool, now: datetime | None = None,
                  wait: bool = False) -> delivery.Report | None:
        """One complete pass: everything due and still within grace is sent once (see bot.delivery).

        A tick that finds the previous pass still sending returns None: overlapping passes would be
        harmless (claims) but would only compete for the same rate limit.
        """
        if self._busy.locked() and not (startup or wait):
            return None
        async with self._busy:
            now = now or self.clock()
            report = await catch_up(self.store, now, self.grace, send=self.send, build=self.build,
                                    policy=self.policy, startup=startup)
        _log_report(report, startup)
        return report


class _TrackedBroadcaster(delivery.Broadcaster):
    """Names the (subscription, period) in a context variable while its job runs, for `send`'s progress."""

    async def _job(self, chat, job) -> None:
        token = _JOB.set((job.sub.id, job.period))
        try:
            await super()._job(chat, job)
        finally:
            _JOB.reset(token)


async def catch_up(store, now_utc: datetime, grace: timedelta, *, send, build, policy: delivery.Policy,
                   startup: bool) -> delivery.Report:
    """bot.delivery.catch_up with the tracked broadcaster; same steps, same guarantees."""
    from bot import schedule

    now_utc = schedule.require_aware(now_utc)
    broadcaster = _TrackedBroadcaster(store, send, build, policy)
    jobs = await broadcaster.stale_jobs(now_utc, grace, now_utc) if startup else []
    retaken = {(job.sub.id, job.period) for job in jobs}
    jobs += await broadcaster.due_jobs(now_utc, grace, retaken)
    return await broadcaster.run(jobs)


def _log_report(report: delivery.Report, startup: bool) -> None:
    if any((report.sent, report.failed, report.deactivated, report.migrated, report.skipped_late)):
        log.info("digest %s: sent=%d failed=%d deactivated=%d migrated=%d late-skipped=%d",
                 "start-up catch-up" if startup else "tick", len(report.sent), len(report.failed),
                 len(report.deactivated), len(report.migrated), len(report.skipped_late))


# ------------------------------------------------------------------------------------- JobQueue


SERVICE_KEY = "digest_service"


def service_of(app) -> DigestService:
    return app.bot_data[SERVICE_KEY]


def clock_of(app) -> Callable[[], datetime]:
    """Tests put a callable in bot_data["clock"] to move time without sleeping."""
    return app.bot_data.get("clock") or utcnow


async def startup_job(context) -> None:
    await run_once(context.application, startup=True)


async def tick_job(context) -> None:
    await run_once(context.application, startup=False)


async def run_once(app, *, startup: bool, wait: bool = False) -> delivery.Report | None:
    """`wait` queues behind a pass in progress instead of skipping (tests want every pass to run)."""
    service = service_of(app).attach(app)
    return await service.run(startup=startup, now=clock_of(app)(), wait=wait)


def install_jobs(app, service: DigestService, *, interval: float = TICK_SECONDS) -> None:
    """Catch up once when the application starts, then tick every `interval` seconds."""
    app.bot_data[SERVICE_KEY] = service
    service.clock = lambda: clock_of(app)()
    if app.job_queue is None:
        raise RuntimeError("PTB was installed without the job-queue extra; digests cannot be scheduled")
    app.job_queue.run_once(startup_job, when=0, name="digest-catch-up")
    app.job_queue.run_repeating(tick_job, interval=interval, first=interval, name="digest-tick")
