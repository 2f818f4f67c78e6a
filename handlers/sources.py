"""Watched sources in Telegram: the check job, the editors' proposals, /sources, /watch, /unwatch.

Thin like the other handlers: the round runs in a niced child process (bot.sources.watch), rendering is
bot/telegram/render_sources.py. What the editors are told is read back from the database (proposals
and auto publications not yet notified, sources failing and not yet told), so a `planbrief sources
check` run from cron on another machine reaches the editors through the running bot just the same,
and a restart tells nothing twice. Each editor gets one message per round, however many candidates.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import logging
import re
from pathlib import Path
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.corpus import sandbox
from bot.sources.poller import WatchPolicy
from bot.sources.store import SourceStore
from bot.sources.watch import CandidateError, Watcher
from bot.sources.watchlist import add_source
from bot.telegram import render
from bot.telegram import render_sources as rs
from bot.telegram.i18n import ZH, t
from bot.telegram.state_store import safely, state_of
from handlers import common, editor

log = logging.getLogger(__name__)

WATCHER = "sources_watcher"
REPORT_TIME = datetime.time(9, 0)  # local time of the daily /sources report (PLANBRIEF_TZ)
ROUND_LOCK = "sources_round_lock"
LAST_CANDIDATES = "sources_last_candidates"  # editor → item ids of the last proposal message, in order
CANDIDATES_TTL = 7 * 24 * 3600.0  # a week-old proposal message can still be corrected with /fix


def watcher(app: Application) -> Watcher:
    """One Watcher for the process, on the digests store's engine (one database, one watch list)."""
    found = app.bot_data.get(WATCHER)
    if found is None:
        settings = app.bot_data["settings"]
        store = app.bot_data.get("store")
        if store is not None:
            sources = SourceStore(store.engine)
        else:
            from bot.digests.store import default_location

            sources = SourceStore.open(default_location(settings.data_dir))
        found = Watcher(sources, app.bot_data["corpus"].folders, Path(settings.data_dir),
                        app.bot_data.get("watch_policy") or WatchPolicy.from_env(),
                        allow_private=settings.allow_private_urls)
        app.bot_data[WATCHER] = found
    found.seeds_dir = app.bot_data["corpus"].folders
    return found


async def watch_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Check the sources that are due, then tell the editors; one round at a time per process."""
    app = context.application
    lock = app.bot_data.setdefault(ROUND_LOCK, asyncio.Lock())
    if lock.locked():
        return
    async with lock:
        w = watcher(app)
        published = 0
        try:
            if await asyncio.to_thread(w.store.due_sources):  # a child process only when there is work
                published = await asyncio.get_running_loop().run_in_executor(
                    sandbox.EXECUTOR, functools.partial(w.run_round_apart, due_only=True))
        except Exception:  # noqa: BLE001 - a broken round must not stop the job; it runs again next tick
            log.exception("source check round failed")
        if published:
            await common.refresh_corpus(app)
        await notify_editors(app)


async def notify_editors(app: Application) -> None:
    w = watcher(app)
    store = w.store
    editors = sorted(app.bot_data["settings"].editors)
    proposed = await asyncio.to_thread(store.unnotified, "proposed")
    proposed = proposed[:rs.MAX_CARDS]
    published = await asyncio.to_thread(store.unnotified, "published")
    failing = await asyncio.to_thread(store.failing_untold)
    if not editors:
        return
    replies, entries = [], []
    if proposed:
        for item in proposed:
            draft = await asyncio.to_thread(w.draft_of, item)
            entries.append((item, await asyncio.to_thread(store.get_source, item.source_id), draft))
        entries = [e for e in entries if e[1] is not None]  # a source removed meanwhile: its items go unshown
        if entries:
            replies.append(rs.proposals(entries, ZH))
    if published:
        replies.append(rs.auto_published(published, ZH))
    if failing:
        replies.append(rs.failing(failing, ZH))
    if entries:  # the editors' /fix now corrects these candidates (①, ② … in the message)
        shown = [item.id for item, _, _ in entries]
        for chat_id in editors:
            await asyncio.to_thread(_set_candidates, app.bot_data, chat_id, shown)
            await asyncio.to_thread(editor.candidates_are_latest, app.bot_data, chat_id)
    for chat_id in editors:
        for reply in replies:
            try:
                await app.bot.send_message(chat_id, reply.text, reply_markup=common.markup(reply.keyboard))
            except TelegramError as exc:
                log.warning("could not tell editor %s about sources: %s", chat_id, type(exc).__name__)
    await asyncio.to_thread(store.mark_notified, [i.id for i in proposed + published])
    if failing:
        await asyncio.to_thread(store.mark_failing_told, [s.id for s in failing])


async def sources_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/sources: per source, last success, items seen, waiting, published, failures.
    /sources daily (or off): the same report every day at REPORT_TIME, kept in the database."""
    if not await editor._refuse_unless_editor(update, context):
        return
    lang = common.lang(update, context)
    store = watcher(context.application).store
    arg = " ".join(context.args or []).strip().lower()
    if arg in ("daily", "每天", "日报", "on", "off", "取消", "关闭"):
        on = arg not in ("off", "取消", "关闭")
        await asyncio.to_thread(store.set_daily_report, update.effective_chat.id, on)
        await common.send(update, context, t(lang, "sw_daily_on", time=REPORT_TIME.strftime("%H:%M"))
                          if on else t(lang, "sw_daily_off"))
        return
    rows = await asyncio.to_thread(lambda: [(s, store.counts(s.id)) for s in store.list_sources()])
    await common.send(update, context, rs.source_list(rows, lang))


async def daily_report_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The /sources report to every editor chat that asked for it (an editor no longer listed gets none)."""
    app = context.application
    store = watcher(app).store
    editors = app.bot_data["settings"].editors
    chats = [c for c in await asyncio.to_thread(store.daily_report_chats) if c in editors]
    if not chats:
        return
    rows = await asyncio.to_thread(lambda: [(s, store.counts(s.id)) for s in store.list_sources()])
    report = rs.source_list(rows, ZH)
    for chat_id in chats:
        try:
            await app.bot.send_message(chat_id, t(ZH, "sw_daily_head") + "\n\n" + report.text)
        except TelegramError as exc:
            log.warning("could not send the sources report to %s: %s", chat_id, type(exc).__name__)


async def watch_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/watch URL [地名]: the place is needed (the column's plans are read for it when they omit it)."""
    if not await editor._refuse_unless_editor(update, context):
        return
    lang = common.lang(update, context)
    args = context.args or []
    if len(args) < 2:
        await common.send(update, context, t(lang, "sw_watch_usage"))
        return
    store = watcher(context.application).store
    source, error = await asyncio.to_thread(add_source, store, args[0], " ".join(args[1:]),
                                            allow_private=context.bot_data["settings"].allow_private_urls,
                                            created_by=update.effective_user.id)
    if error:
        await common.send(update, context, t(lang, "sw_watch_refused", reason=render.esc(error)))
        return
    await common.send(update, context, t(lang, "sw_watch_added", id=source.id, city=render.esc(source.city),
                                         url=render.esc(source.url)))


async def unwatch_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if not await editor._refuse_unless_editor(update, context):
        return
    lang = common.lang(update, context)
    arg = "".join(context.args or []).lstrip("#")
    store = watcher(context.application).store
    removed = await asyncio.to_thread(store.remove_source, int(arg)) if re.fullmatch(r"[0-9]{1,11}", arg) else None
    if removed is None:
        await common.send(update, context, t(lang, "sw_unwatch_usage"))
        return
    await common.send(update, context, t(lang, "sw_unwatched", id=removed.id, url=render.esc(removed.url)))


async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """收录 / 取消 on a proposal: editors only; the database decides, so a second press does nothing."""
    lang = common.lang(update, context)
    press = rs.parse_press(update.callback_query.data)
    if press is None or not editor.is_editor(context, update):
        await common.answer_callback(update, t(lang, "ed_only") if press else t(lang, "stale"))
        return
    await common.answer_callback(update)
    w = watcher(context.application)
    try:
        if press.action == "reject":
            item = await asyncio.to_thread(w.reject, press.item_id)
            await common.send(update, context, t(lang, "sw_rejected", id=item.id))
            return
        item = await asyncio.to_thread(w.accept, press.item_id)
    except CandidateError as exc:
        await common.send(update, context, t(lang, "sw_failed", reason=render.esc(str(exc))))
        return
    await common.refresh_corpus(context.application)
    plan = common.corpus(context).plan(item.plan_id)
    meta = plan.meta if plan else None
    await common.send(update, context, t(lang, "ed_published", plan_id=render.esc(item.plan_id or ""),
                                         place=render.esc(meta.city if meta else ""),
                                         year=meta.year if meta else "",
                                         title=render.esc(render.shorten(meta.title if meta else item.title, 60))))


async def fix_candidate(update: Update, context: ContextTypes.DEFAULT_TYPE, args: list[str]) -> None:
    """`/fix [②] city|year|title …` after a proposal message: that candidate (the first without a
    mark) re-read with the correction; the card comes back with its 收录 / 取消 buttons."""
    lang = common.lang(update, context)
    ids = await asyncio.to_thread(_candidates, context.bot_data, update.effective_user.id)
    pick = 0
    if args and (args[0] in rs.MARKS or re.fullmatch(r"[0-9]{1,2}", args[0])):
        pick = rs.MARKS.index(args[0]) if args[0] in rs.MARKS else int(args[0]) - 1
        args = args[1:]
    name = editor.FIX_FIELDS.get(args[0].lower()) if args else None
    value = render.clean(" ".join(args[1:]), 120)
    if (not 0 <= pick < len(ids) or name is None or not value
            or (name == "year" and not re.fullmatch(r"[0-9]{1,4}", value))):
        await common.send(update, context, t(lang, "ed_fix_usage"))
        return
    w = watcher(context.application)

    async def reread() -> None:
        try:
            item, draft = await editor.untrusted(w.fix, ids[pick], name, int(value) if name == "year" else value)
            source = await asyncio.to_thread(w.store.get_source, item.source_id)
        except CandidateError as exc:
            await common.send(update, context, t(lang, "sw_failed", reason=render.esc(str(exc))))
            return
        if source is None:
            await common.send(update, context, t(lang, "sw_failed", reason=render.esc(f"#{item.source_id}")))
            return
        # the card now shows it as ①
        await asyncio.to_thread(_set_candidates, context.bot_data, update.effective_user.id, [item.id])
        await common.send(update, context, rs.proposals([(item, source, draft)], lang))

    editor._background(update, context, reread())


def _set_candidates(bot_data, user_id: int, ids: list[int]) -> None:
    """The candidates of the proposal message an editor saw last, in its order (①, ②…); in the shared
    state too, so a /fix that reaches another worker, or comes after a restart, finds them."""
    bot_data.setdefault(LAST_CANDIDATES, {})[user_id] = list(ids)
    state = state_of(bot_data)
    if state is not None:
        safely(state.put, LAST_CANDIDATES, str(user_id), list(ids), ttl=CANDIDATES_TTL)


def _candidates(bot_data, user_id: int) -> list[int]:
    """The shared state first (another worker may have sent a newer message), this worker's memory
    when there is no database or it is away."""
    state = state_of(bot_data)
    ids = safely(state.get, LAST_CANDIDATES, str(user_id)) if state is not None else None
    if ids is None:
        ids = bot_data.get(LAST_CANDIDATES, {}).get(user_id)
    return [int(i) for i in ids] if isinstance(ids, list) else []


def register(app: Application) -> None:
    app.add_handler(CommandHandler("sources", sources_command))
    app.add_handler(CommandHandler("watch", watch_command))
    app.add_handler(CommandHandler("unwatch", unwatch_command))
    app.add_handler(CallbackQueryHandler(on_press, pattern=r"^sw\|"))
    if app.job_queue is not None:
        policy = app.bot_data.get("watch_policy") or WatchPolicy.from_env()
        app.job_queue.run_repeating(watch_job, interval=policy.tick, first=policy.tick, name="sources-watch")
        tz = ZoneInfo(app.bot_data["settings"].tz)
        app.job_queue.run_daily(daily_report_job, REPORT_TIME.replace(tzinfo=tz), name="sources-daily-report")
