"""JobQueue wiring for scheduled digests: start-up catch-up, a one-minute tick, PTB errors → delivery's.

PTB keeps no jobs across restarts, so nothing here is per subscription: a single repeating tick asks
the database what is due (bot.digests.delivery.catch_up), and the ledger's unique claim makes every tick,
restart and overlapping process deliver each (subscription, period) once. A new subscription needs no
job registration; it is simply due at its next occurrence.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.digests import delivery
from bot.digests.content import Digest, build_digest
from bot.digests.spotlight import narrow, shown_ids
from bot.digests.themes import changes_into
from bot.models import Subscription
from bot.search.places import resolve_place
from bot.telegram.ratelimit import retry_seconds
from bot.telegram.render import Keyboard
from bot.telegram.render_digest import digest_keyboard, render_digest

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
TICK_SECONDS = 60
PRUNE_SECONDS = 6 * 3600  # the ledger's retention is in days; a few runs a day keep each one small
BUILT_CACHE = 64
READINGS = 12  # a topic's passages per plan that 细读 can work through
DEFAULT_GRACE = timedelta(hours=3)
GONE = ("chat not found", "user is deactivated", "bot was kicked", "bot is not a member", "chat_write_forbidden",
        "need administrator rights", "have no rights to send")

# Which (subscription, period) the current task is delivering, so a resent digest skips the messages
# Telegram already accepted (a 429 on message 2 must not repeat message 1).


def utcnow() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------- send / build


def map_error(exc: Exception) -> Exception:
    """PTB's exception → bot.digests.delivery's; unknown errors are returned as they are (not retried)."""
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


class DigestPicture(str):
    """A digest "message" that is a photo: the str is its caption (HTML), `png` the picture.

    It travels in the same list as the text messages, so delivery's progress counting (resume after
    a partial send) covers it without knowing what it is."""

    png: bytes

    def __new__(cls, caption: str, png: bytes) -> DigestPicture:
        self = super().__new__(cls, caption)
        self.png = png
        return self


def weekly_picture(corpus, digest: Digest, sub: Subscription) -> DigestPicture | None:
    """One themes picture a week for a scope of several plans; daily digests never get one (a picture
    a day of what changes a few times a year would be noise)."""
    if sub.frequency != "weekly" or len(digest.scope_ids) < 2:
        return None
    from bot.digests.figures import FontMissing, themes_picture
    from bot.telegram import render_pictures as rp

    plans = [p for p in (corpus.plan(pid) for pid in digest.scope_ids) if p is not None]
    scope = sub.city or ""
    try:
        png = themes_picture(corpus, plans, sub.language, scope)
    except (FontMissing, OSError, ValueError):
        log.warning("weekly picture not drawn", exc_info=True)
        return None
    if not png:
        return None
    return DigestPicture(rp.themes_caption(digest.themes, scope, sub.language, len(plans)), png)


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
        self._built: dict[tuple, object] = {}
        self._photo_ids: dict[str, str] = {}  # picture bytes' hash → Telegram file id, after one upload
        self._plan_ids: dict[tuple[int, str], list[str]] = {}
        self._featured: dict[tuple[int, str], list[str]] = {}  # plans shown in full, for the rotation
        self._keyboards: dict[tuple[int, str], Keyboard] = {}  # the buttons under each digest's last message
        # One thread only for settling sent digests: behind the shared to_thread pool (full of claims
        # during a broadcast) a sent digest could wait seconds unrecorded, and a crash then resends it.
        self._ledger = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-ledger")
        # The spotlight rotation is written after the ledger, on a thread of its own (see _settle).
        self._rotation = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-rotation")

    def attach(self, app) -> DigestService:
        """Pick up what the application loads after registration (corpus, engine in post_init)."""
        self.bot = self.bot or app.bot
        self.corpus = app.bot_data.get("corpus") or self.corpus
        self.engine = app.bot_data.get("engine") or self.engine
        return self

    def use(self, corpus, engine) -> None:
        """A new corpus (a plan published or withdrawn): digests built from the old one are dropped."""
        self.corpus, self.engine = corpus, engine
        self._built.clear()
        self._place.cache_clear()

    # -- content

    def _resolve(self, city: str):
        match = resolve_place(city, self.corpus)
        return match.place if match else None

    def _search(self, query: str, plan_id: str):
        """A plan's passages on a topic: two are its excerpts, the rest what 细读 works through."""
        if self.engine is None:
            return []
        return self.engine.search(query, plan_id=plan_id, limit=READINGS).hits

    def digest(self, *, city: str | None = None, topic: str | None = None, plan_id: str | None = None,
               seen: set[str] | None = None) -> Digest:
        place = self._place(city) if city else None
        scope = self.engine.plans_matching(topic) if topic and self.engine is not None else None
        return build_digest(self.corpus, plan_id=plan_id, place=place, topic=topic, seen_plan_ids=seen,
                            search=self._search, topic_plans=scope)

    def scheduled(self, sub: Subscription) -> Digest:
        """The digest `sub` gets at its next run, as things stand (build_sync sends it; /digest
        previews it): the same history, rotation and choice."""
        return self._scheduled(sub)[0]

    def _scheduled(self, sub: Subscription) -> tuple[Digest, tuple]:
        seen = self.store.plans_sent_to_chat(sub.chat_id) or None
        featured = self.store.featured_plans(sub.id) if sub.id is not None else {}
        corpus_id = getattr(self.corpus, "fingerprint", id(self.corpus))  # an added plan means a new corpus
        scope = (corpus_id, sub.city, sub.topic, frozenset(seen) if seen else None)
        digest = narrow(self._cached(scope, lambda: self.digest(city=sub.city, topic=sub.topic, seen=seen)),
                        featured, lambda plan: self._cached((corpus_id, "changes", plan.plan_id),
                                                            lambda: changes_into(plan, self.corpus)))
        return digest, scope

    def preview(self, sub: Subscription) -> tuple[list[str], Keyboard]:
        """Exactly the messages (and buttons) the next scheduled digest of `sub` would carry now."""
        digest = self.scheduled(sub)
        messages = render_digest(digest, sub.language, today=self.local_today(sub.tz), tz=sub.tz)
        return messages, digest_keyboard(sub.id, digest, sub.language) if sub.id is not None else ()

    def build_sync(self, sub: Subscription) -> tuple[list[str], list[str]]:
        """A scheduled digest: plans new to the chat in full, else one spotlight (bot.digests.spotlight).

        A first digest marks nothing new: "new since your last digest" needs a last digest. The
        returned ids are every plan in scope (the chat now knows of them, so none is "new" later);
        the plans shown in full go to the rotation once Telegram accepted the digest (_settle).
        Chats with the same scope, history, choice and language share one build (see _cached), so a
        broadcast to a thousand chats builds it once.
        """
        digest, scope = self._scheduled(sub)
        today = self.local_today(sub.tz)
        # what the reader sees: which plans, which priority in full, since when (as a local date)
        focus = tuple((e.focus.title if e.focus else None, e.reading.passage.id if e.reading else None)
                      for e in digest.plans)
        since = digest.since.astimezone(ZoneInfo(sub.tz)).date() if digest.since else None
        key = (scope, tuple(shown_ids(digest)), focus, since, sub.language, sub.tz, today)
        built = self._cached((*key, sub.frequency), lambda: (self._messages(digest, sub, today),
                                                            list(digest.scope_ids), shown_ids(digest)))
        job = delivery.current_job()
        if job:
            self._plan_ids[job] = built[1]
            self._featured[job] = built[2]
            if sub.id is not None:
                self._keyboards[job] = digest_keyboard(sub.id, digest, sub.language)
        return list(built[0]), list(built[1])

    def _messages(self, digest: Digest, sub: Subscription, today: date) -> list[str]:
        messages = render_digest(digest, sub.language, today=today, tz=sub.tz)
        picture = weekly_picture(self.corpus, digest, sub) if messages else None
        return [*messages, picture] if picture is not None else messages

    def _cached(self, key: tuple, make: Callable[[], object]):
        """Bounded memo for build_sync: the full digest per scope and history, the messages per choice.

        After the first day every subscription has its own rotation timestamps, but chats whose
        choice (plans, focus, date) is the same still share one build and one rendering.
        """
        if key in self._built:
            return self._built[key]
        value = self._built[key] = make()
        while len(self._built) > BUILT_CACHE:
            self._built.pop(next(iter(self._built)))
        return value

    def render(self, digest: Digest, lang: str, tz: str | None = None) -> tuple[list[str], list[str]]:
        messages = render_digest(digest, lang, today=self.local_today(tz), tz=tz)
        return messages, [e.plan.plan_id for e in digest.plans]

    def local_today(self, tz: str | None) -> date:
        from zoneinfo import ZoneInfo

        return self.clock().astimezone(ZoneInfo(tz or "Asia/Shanghai")).date()

    async def build(self, sub: Subscription) -> tuple[list[str], list[str]]:
        return await asyncio.to_thread(self.build_sync, sub)

    # -- transport

    async def send(self, chat_id: int, messages: list[str]) -> None:
        job = delivery.current_job()
        done = self.progress.get(job, 0) if job else 0
        buttons = keyboard_markup(self._keyboards.get(job, ())) if job else None
        # the buttons go under the last text message (a weekly picture, when there is one, follows it)
        last_text = max((i for i, m in enumerate(messages) if not isinstance(m, DigestPicture)), default=-1)
        for index, text in enumerate(messages):
            if index < done:
                continue
            try:
                if isinstance(text, DigestPicture):
                    await self._send_picture(chat_id, text)
                else:
                    await self.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML,
                                                link_preview_options=NO_PREVIEW,
                                                reply_markup=buttons if index == last_text else None)
            except Exception as exc:
                mapped = map_error(exc)
                if mapped is exc:
                    raise
                raise mapped from exc
            if job:
                self.progress[job] = index + 1
        if job:
            self.progress.pop(job, None)
            self._keyboards.pop(job, None)
            await self._settle(job)

    async def _send_picture(self, chat_id: int, picture: DigestPicture) -> None:
        """A broadcast uploads a picture once: after that Telegram's file id for it is sent instead."""
        import hashlib

        from telegram import InputFile

        key = hashlib.blake2s(picture.png, digest_size=12).hexdigest()
        known = self._photo_ids.get(key)
        photo = known or InputFile(picture.png, filename="themes.png")
        sent = await self.bot.send_photo(chat_id, photo, caption=str(picture), parse_mode=ParseMode.HTML)
        if known is None and sent.photo:
            self._photo_ids[key] = sent.photo[-1].file_id
            while len(self._photo_ids) > BUILT_CACHE:
                self._photo_ids.pop(next(iter(self._photo_ids)))

    async def _settle(self, job: tuple[int, str]) -> None:
        """Record the period as sent the moment Telegram accepted the last message (see __init__);
        the broadcaster's own mark_sent afterwards is an idempotent repeat."""
        plan_ids = self._plan_ids.pop(job, [])
        featured = self._featured.pop(job, [])
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._ledger, self.store.mark_sent, job[0], job[1], plan_ids)
        if featured:  # after the ledger, on its own thread: it must never delay another chat's mark_sent
            await loop.run_in_executor(self._rotation, self.store.record_featured, job[0], featured)

    # -- runs

    async def run(self, *, startup: bool, now: datetime | None = None,
                  wait: bool = False) -> delivery.Report | None:
        """One complete pass: everything due and still within grace is sent once (see bot.digests.delivery).

        A tick that finds the previous pass still sending returns None: overlapping passes would be
        harmless (claims) but would only compete for the same rate limit.
        """
        if self._busy.locked() and not (startup or wait):
            return None
        async with self._busy:
            now = now or self.clock()
            report = await delivery.catch_up(self.store, now, self.grace, send=self.send, build=self.build,
                                             policy=self.policy, startup=startup)
        _log_report(report, startup)
        return report


def keyboard_markup(keyboard: Keyboard) -> InlineKeyboardMarkup | None:
    """render.Button rows as PTB markup, for the digest jobs and the handlers alike (handlers/common.markup)."""
    rows = []
    for row in keyboard:
        buttons = []
        for b in row:
            if b.callback_data is not None:
                buttons.append(InlineKeyboardButton(b.text, callback_data=b.callback_data))
            elif b.switch_inline_query is not None:
                buttons.append(InlineKeyboardButton(b.text, switch_inline_query=b.switch_inline_query))
            elif b.url is not None:
                buttons.append(InlineKeyboardButton(b.text, url=b.url))
        if buttons:
            rows.append(buttons)
    return InlineKeyboardMarkup(rows) if rows else None


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


async def prune_job(context) -> None:
    """The ledger's old history and unused plan sets go (Store.prune); a failure only waits for the next."""
    store = service_of(context.application).store
    try:
        dropped = await asyncio.to_thread(store.prune, clock_of(context.application)())
    except Exception:
        log.warning("pruning the digest ledger failed; retried at the next run", exc_info=True)
        return
    if any(dropped.values()):
        log.info("digest ledger pruned: %(deliveries)d deliveries, %(plan_sets)d plan sets", dropped)


def install_jobs(app, service: DigestService, *, interval: float = TICK_SECONDS) -> None:
    """Catch up once when the application starts, then tick every `interval` seconds; prune the ledger
    an hour after the start and every PRUNE_SECONDS after."""
    app.bot_data[SERVICE_KEY] = service
    service.clock = lambda: clock_of(app)()
    if app.job_queue is None:
        raise RuntimeError("PTB was installed without the job-queue extra; digests cannot be scheduled")
    # Scheduled now, but the job queue only starts after post_init (corpus, index: seconds), and
    # APScheduler skips a job more than misfire_grace_time (default 1 s) late: without None here the
    # catch-up was reported "missed by 2 s" at every start and never ran.
    app.job_queue.run_once(startup_job, when=0, name="digest-catch-up", job_kwargs={"misfire_grace_time": None})
    app.job_queue.run_repeating(tick_job, interval=interval, first=interval, name="digest-tick")
    app.job_queue.run_repeating(prune_job, interval=PRUNE_SECONDS, first=3600, name="digest-prune")
