"""Digest commands: /subscribe /subscriptions /unsubscribe /digest /timezone and their buttons.

Handlers parse, check group rights, call the store in a worker thread and reply; delivery itself is
bot/digest_jobs.py. Callback data is versioned and validated ("ds|…" guided subscribe, "dm|…" manage),
always ≤ 64 bytes, and a forged or stale press gets a polite answer, never an action on another chat.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot import schedule
from bot.digest_jobs import DigestService, clock_of, install_jobs, service_of
from bot.i18n import lang_of
from bot.models import Subscription
from bot.places import resolve_place
from bot.render import MAX_CALLBACK, clean, esc, pack

log = logging.getLogger(__name__)

TIMES = ("07:00", "08:00", "09:00", "12:00", "18:00", "20:00")
TOPICS = ("双减", "职业教育", "学前教育", "义务教育", "教师队伍")
MAX_SCOPE = 20

S = {
    "zh": {
        "usage": "用法：/subscribe daily 08:00　/subscribe weekly mon 09:30 无锡　/subscribe daily 07:30 双减",
        "invalid_time": "时间格式不对：{value}。请写 HH:MM，例如 /subscribe daily 08:00",
        "invalid_weekday": "星期写法不对：{value}。请用 mon…sun 或 周一…周日，例如 /subscribe weekly mon 09:30",
        "invalid_frequency": "频率只能是 daily（每天）或 weekly（每周），例如 /subscribe daily 08:00",
        "unknown_timezone": "不认识这个时区：{value}。例如 /timezone Asia/Shanghai 或 /timezone Europe/Berlin",
        "missing_time": "缺少时间。例如 /subscribe daily 08:00",
        "scope_too_long": "城市或主题太长（最多 {n} 个字）。例如 /subscribe daily 07:30 双减",
        "created": "已订阅：{desc}\n时区：{tz}。下一次：{next}\n/subscriptions 管理订阅",
        "pick_frequency": "订阅简报：多久一次？",
        "pick_weekday": "每周哪一天？",
        "pick_time": "几点发送？（时区 {tz}；其他时间请用 /subscribe daily 07:30）",
        "pick_scope": "范围：全部规划、某个城市，或某个主题？",
        "daily": "每天", "weekly": "每周", "all": "全部规划",
        "days": "周一 周二 周三 周四 周五 周六 周日",
        "desc": "{freq}{day} {time}{scope}",
        "city": " · 城市：{v}", "topic": " · 主题：{v}",
        "none": "还没有订阅。/subscribe 订阅简报。",
        "list": "<b>本聊天的订阅</b>（时区 {tz}）",
        "paused": "（已暂停）", "inactive": "（已停用：{why}）",
        "btn_pause": "⏸ 暂停 #{id}", "btn_resume": "▶ 恢复 #{id}", "btn_delete": "🗑 删除 #{id}",
        "btn_all": "🗑 全部取消",
        "pick_unsub": "要取消哪个订阅？",
        "deleted": "已取消订阅 #{id}。", "deleted_all": "已取消本聊天的全部 {n} 个订阅。",
        "not_found": "没有这个订阅：{value}。/subscriptions 查看编号。",
        "unsub_usage": "用法：/unsubscribe 编号，或 /unsubscribe all 取消全部。",
        "admins_only": "群里只有管理员可以设置订阅。",
        "tz_now": "本聊天的时区：{tz}。修改：/timezone Europe/Berlin",
        "tz_set": "时区已设为 {tz}。订阅时间按这个时区计算。",
        "stale": "这个按钮已失效，请重新发送命令。",
        "done": "好的",
        "empty": "暂无符合条件的规划。",
        "unknown_city_warn": "（注意：暂未收录{v}的规划，收录后会出现在简报里）",
    },
    "en": {
        "usage": "Usage: /subscribe daily 08:00   /subscribe weekly mon 09:30 无锡   /subscribe daily 07:30 双减",
        "invalid_time": "Not a time: {value}. Use HH:MM, e.g. /subscribe daily 08:00",
        "invalid_weekday": "Not a weekday: {value}. Use mon…sun, e.g. /subscribe weekly mon 09:30",
        "invalid_frequency": "Frequency must be daily or weekly, e.g. /subscribe daily 08:00",
        "unknown_timezone": "Unknown time zone: {value}. E.g. /timezone Asia/Shanghai or /timezone Europe/Berlin",
        "missing_time": "A time is missing. E.g. /subscribe daily 08:00",
        "scope_too_long": "City or topic too long (max {n} characters). E.g. /subscribe daily 07:30 双减",
        "created": "Subscribed: {desc}\nTime zone: {tz}. Next: {next}\n/subscriptions to manage",
        "pick_frequency": "Digest subscription: how often?",
        "pick_weekday": "Which day of the week?",
        "pick_time": "At what time? (zone {tz}; for other times use /subscribe daily 07:30)",
        "pick_scope": "Scope: all plans, one city, or one topic?",
        "daily": "daily", "weekly": "weekly", "all": "all plans",
        "days": "Mon Tue Wed Thu Fri Sat Sun",
        "desc": "{freq}{day} {time}{scope}",
        "city": " · city: {v}", "topic": " · topic: {v}",
        "none": "No subscriptions yet. /subscribe to get digests.",
        "list": "<b>Subscriptions in this chat</b> (zone {tz})",
        "paused": " (paused)", "inactive": " (inactive: {why})",
        "btn_pause": "⏸ Pause #{id}", "btn_resume": "▶ Resume #{id}", "btn_delete": "🗑 Delete #{id}",
        "btn_all": "🗑 Cancel all",
        "pick_unsub": "Which subscription should I cancel?",
        "deleted": "Subscription #{id} cancelled.", "deleted_all": "All {n} subscriptions of this chat cancelled.",
        "not_found": "No such subscription: {value}. /subscriptions shows the numbers.",
        "unsub_usage": "Usage: /unsubscribe NUMBER, or /unsubscribe all.",
        "admins_only": "In groups only administrators can manage subscriptions.",
        "tz_now": "This chat's time zone: {tz}. Change it: /timezone Europe/Berlin",
        "tz_set": "Time zone set to {tz}. Subscription times follow it.",
        "stale": "This button has expired; please send the command again.",
        "done": "OK",
        "empty": "No plans match.",
        "unknown_city_warn": " (note: no plans for {v} yet; they will appear once added)",
    },
}


def s(lang: str, key: str, **kwargs) -> str:
    text = S.get(lang, S["zh"])[key]
    return text.format(**kwargs) if kwargs else text


def lang(update: Update) -> str:
    user = update.effective_user
    return lang_of(user.language_code if user else None)


# ------------------------------------------------------------------------------------- parsing


class ParseError(ValueError):
    """A user mistake with the message key and the offending value, for a specific reply."""

    def __init__(self, code: str, value: str = ""):
        super().__init__(code)
        self.code = code
        self.value = value


@dataclass(frozen=True)
class Request:
    frequency: str
    time: str
    weekday: int | None = None
    city: str | None = None
    topic: str | None = None


def _take_time(words: list[str]) -> str:
    if not words:
        raise ParseError("missing_time")
    try:
        return schedule.parse_time(words.pop(0))
    except schedule.ScheduleError as exc:
        raise ParseError(exc.code, str(exc.value)) from None


def _frequency(words: list[str]) -> str:
    """A leading time means daily (`/subscribe 08:00`); otherwise the first word must be a frequency."""
    try:
        return schedule.parse_frequency(words[0]) if words else "daily"
    except schedule.ScheduleError:
        try:
            schedule.parse_time(words[0])
        except schedule.ScheduleError:
            raise ParseError("invalid_frequency", words[0]) from None
        return "daily"


def split_scope(text: str, corpus) -> tuple[str | None, str | None]:
    """(city, topic): a place name (exact or close, e.g. wuxi, 無錫) is a city, anything else a topic."""
    text = clean(text)
    if not text:
        return None, None
    if len(text) > MAX_SCOPE:
        raise ParseError("scope_too_long", text)
    match = resolve_place(text, corpus) if corpus is not None else None
    if match is not None:
        return match.place.short, None
    return None, text


def parse_subscribe(args: list[str], corpus) -> Request:
    words = [w for w in args if w.strip()]
    frequency = _frequency(words)
    if words and _is_frequency(words[0]):
        words.pop(0)
    weekday = None
    if frequency == "weekly":
        if not words:
            raise ParseError("invalid_weekday", "")
        try:
            weekday = schedule.parse_weekday(words.pop(0))
        except schedule.ScheduleError as exc:
            raise ParseError(exc.code, str(exc.value)) from None
    hhmm = _take_time(words)
    city, topic = split_scope(" ".join(words), corpus)
    return Request(frequency, hhmm, weekday, city, topic)


def _is_frequency(word: str) -> bool:
    try:
        schedule.parse_frequency(word)
        return True
    except schedule.ScheduleError:
        return False


# ------------------------------------------------------------------------------------- callbacks
# ds|<d|w>[|<0-6 or ->[|HH:MM[|<a | c:city | t:topic>]]]   guided subscribe, state carried inline
# dm|<p|r|x>|<id>   pause/resume/delete one        dm|a   delete all

_DS = re.compile(r"ds\|([dw])(?:\|([0-6-])(?:\|(\d\d:\d\d)(?:\|(a|[ct]:[^|]{1,20}))?)?)?")
_DM = re.compile(r"dm\|(?:([prx])\|(\d{1,9})|a)")


def _fits(data: str) -> str | None:
    return data if len(data.encode()) <= MAX_CALLBACK else None


def parse_ds(data: str):
    """Validated guided-subscribe state, or None (forged, oversized or from another version)."""
    if not data or len(data.encode("utf-8", "surrogatepass")) > MAX_CALLBACK:
        return None
    m = _DS.fullmatch(data)
    if not m:
        return None
    freq, day, hhmm, scope = m.groups()
    if freq == "w" and day == "-" or freq == "d" and day not in (None, "-"):
        return None
    if hhmm is not None:
        try:
            if schedule.parse_time(hhmm) != hhmm:
                return None
        except schedule.ScheduleError:
            return None
    return freq, day, hhmm, scope


def parse_dm(data: str):
    if not data or len(data.encode("utf-8", "surrogatepass")) > MAX_CALLBACK:
        return None
    m = _DM.fullmatch(data)
    if not m:
        return None
    return ("a", None) if m.group(1) is None else (m.group(1), int(m.group(2)))


# ------------------------------------------------------------------------------------- plumbing


def service(context: ContextTypes.DEFAULT_TYPE) -> DigestService:
    svc = service_of(context.application)
    svc.attach(context.application)
    return svc


async def db(func, *args, **kwargs):
    return await asyncio.to_thread(func, *args, **kwargs)


async def reply(update: Update, text: str, keyboard=None) -> None:
    await update.effective_message.reply_html(text, reply_markup=keyboard, do_quote=False)


async def is_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Private chats: yes. Groups: creator/administrator via getChatMember; anonymous admins post as the
    group itself (sender_chat == chat), which only admins can do."""
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        return True
    message = update.effective_message
    if message is not None and message.sender_chat is not None and message.sender_chat.id == chat.id:
        return True
    user = update.effective_user
    if user is None:
        return False
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)


async def _refuse(update: Update, lg: str) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(s(lg, "admins_only"), show_alert=True)
    else:
        await reply(update, s(lg, "admins_only"))


def describe(sub: Subscription | Request, lg: str) -> str:
    days = s(lg, "days").split()
    day = f" {days[sub.weekday]}" if sub.frequency == "weekly" and sub.weekday is not None else ""
    scope = ""
    if sub.city:
        scope = s(lg, "city", v=esc(sub.city))
    elif sub.topic:
        scope = s(lg, "topic", v=esc(sub.topic))
    return s(lg, "desc", freq=s(lg, sub.frequency), day=day, time=sub.time, scope=scope)


def _next_local(sub: Subscription, now) -> str:
    from zoneinfo import ZoneInfo

    return schedule.next_run(sub, now).astimezone(ZoneInfo(sub.tz)).strftime("%Y-%m-%d %H:%M")


# ------------------------------------------------------------------------------------- /subscribe


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lg = lang(update)
    if not context.args:
        await reply(update, s(lg, "pick_frequency"), _kb([[(s(lg, "daily"), "ds|d"), (s(lg, "weekly"), "ds|w")]]))
        return
    svc = service(context)
    try:
        req = parse_subscribe(context.args, svc.corpus)
    except ParseError as exc:
        await reply(update, _error_text(exc, lg))
        return
    if not await is_admin(update, context):
        await _refuse(update, lg)
        return
    await reply(update, await _create(update, svc, req, lg))


def _error_text(exc: ParseError, lg: str) -> str:
    key = exc.code if exc.code in S["zh"] else "usage"
    text = s(lg, key, value=esc(clean(exc.value, 30)), n=MAX_SCOPE)
    return text if key == "usage" else f"{text}\n{s(lg, 'usage')}"


async def _create(update: Update, svc: DigestService, req: Request, lg: str) -> str:
    chat = update.effective_chat
    user = update.effective_user
    sub = Subscription(id=None, chat_id=chat.id, frequency=req.frequency, time=req.time, weekday=req.weekday,
                       city=req.city, topic=req.topic, created_by=user.id if user else None, language=lg)
    stored = await db(svc.store.add_subscription, sub)
    text = s(lg, "created", desc=describe(stored, lg), tz=esc(stored.tz), next=_next_local(stored, svc.clock()))
    if req.city and svc.corpus is not None and not svc.digest(city=req.city).plans:
        text += s(lg, "unknown_city_warn", v=esc(req.city))
    return text


def _kb(rows) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in row] for row in rows])


def _guide_keyboard(state, lg: str, svc: DigestService, tz: str) -> tuple[str, InlineKeyboardMarkup | None]:
    freq, day, hhmm, _ = state
    base = f"ds|{freq}"
    if freq == "w" and day is None:
        days = s(lg, "days").split()
        return s(lg, "pick_weekday"), _kb([[(days[i], f"{base}|{i}") for i in range(j, min(j + 4, 7))]
                                           for j in (0, 4)])
    base += f"|{day or '-'}"
    if hhmm is None:
        return s(lg, "pick_time", tz=esc(tz)), _kb([[(t, f"{base}|{t}") for t in TIMES[j:j + 3]] for j in (0, 3)])
    base += f"|{hhmm}"
    options = [(s(lg, "all"), f"{base}|a")]
    options += [(c, f"{base}|c:{c}") for c in _covered(svc)]
    options += [(t, f"{base}|t:{t}") for t in _topics(svc)]
    options = [(t, d) for t, d in options if _fits(d)]
    return s(lg, "pick_scope"), _kb([options[i:i + 3] for i in range(0, len(options), 3)])


def _covered(svc: DigestService) -> list[str]:
    from bot.places import covered_names

    return covered_names(svc.corpus)[:6] if svc.corpus is not None else []


def _topics(svc: DigestService) -> list[str]:
    try:
        found = svc.engine.popular_topics(5) if svc.engine is not None else []
    except Exception:  # noqa: BLE001 - suggestions never fail a reply
        found = []
    return [t for t in found if len(t) <= 8] or list(TOPICS)


async def on_guide(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    lg = lang(update)
    state = parse_ds(query.data)
    if state is None or query.message is None:
        await query.answer(s(lg, "stale"))
        return
    svc = service(context)
    if state[3] is None:
        tz = await db(svc.store.get_chat_tz, update.effective_chat.id)
        text, keyboard = _guide_keyboard(state, lg, svc, tz)
        await query.answer()
        await query.edit_message_text(text, reply_markup=keyboard)
        return
    if not await is_admin(update, context):
        await _refuse(update, lg)
        return
    req = _request_from_state(state, svc)
    if req is None:
        await query.answer(s(lg, "stale"))
        return
    await query.answer(s(lg, "done"))
    await query.edit_message_text(await _create(update, svc, req, lg))


def _request_from_state(state, svc: DigestService) -> Request | None:
    freq, day, hhmm, scope = state
    city = topic = None
    if scope.startswith("c:"):
        match = resolve_place(scope[2:], svc.corpus) if svc.corpus is not None else None
        if match is None:
            return None
        city = match.place.short
    elif scope.startswith("t:"):
        topic = clean(scope[2:]) or None
        if topic is None:
            return None
    weekday = int(day) if freq == "w" else None
    return Request("weekly" if freq == "w" else "daily", hhmm, weekday, city, topic)


# ------------------------------------------------------------------------------------- /subscriptions


def _list_text(subs: list[Subscription], tz: str, lg: str) -> str:
    if not subs:
        return s(lg, "none")
    lines = [s(lg, "list", tz=esc(tz))]
    for sub in subs:
        state = ""
        if not sub.active:
            why = sub.deactivated_reason or ""
            state = s(lg, "paused") if why in ("paused", "") else s(lg, "inactive", why=esc(clean(why, 40)))
        lines.append(f"#{sub.id} {describe(sub, lg)}{state}")
    return pack(["\n".join(lines)])[0]


def _list_keyboard(subs: list[Subscription], lg: str) -> InlineKeyboardMarkup | None:
    rows = []
    for sub in subs[:20]:
        toggle = ("btn_pause", "p") if sub.active else ("btn_resume", "r")
        rows.append([(s(lg, toggle[0], id=sub.id), f"dm|{toggle[1]}|{sub.id}"),
                     (s(lg, "btn_delete", id=sub.id), f"dm|x|{sub.id}")])
    return _kb(rows) if rows else None


async def subscriptions(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lg = lang(update)
    svc = service(context)
    chat_id = update.effective_chat.id
    subs = await db(svc.store.list_subscriptions, chat_id)
    tz = await db(svc.store.get_chat_tz, chat_id)
    await reply(update, _list_text(subs, tz, lg), _list_keyboard(subs, lg))


async def on_manage(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    lg = lang(update)
    action = parse_dm(query.data)
    if action is None or query.message is None:
        await query.answer(s(lg, "stale"))
        return
    if not await is_admin(update, context):
        await _refuse(update, lg)
        return
    svc = service(context)
    chat_id = update.effective_chat.id
    if not await _apply(svc, chat_id, *action):
        await query.answer(s(lg, "stale"))  # someone else's id, or already gone: nothing changed
        return
    await query.answer(s(lg, "done"))
    subs = await db(svc.store.list_subscriptions, chat_id)
    tz = await db(svc.store.get_chat_tz, chat_id)
    await query.edit_message_text(_list_text(subs, tz, lg), reply_markup=_list_keyboard(subs, lg))


async def _apply(svc: DigestService, chat_id: int, verb: str, sub_id: int | None) -> bool:
    """Every store call is scoped by this chat, so a forged id from another chat changes nothing."""
    store = svc.store
    if verb == "a":
        return await db(store.delete_all_subscriptions, chat_id) > 0
    func = {"p": store.pause_subscription, "r": store.resume_subscription, "x": store.delete_subscription}[verb]
    return await db(func, chat_id, sub_id)


# ------------------------------------------------------------------------------------- /unsubscribe


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lg = lang(update)
    if not await is_admin(update, context):
        await _refuse(update, lg)
        return
    svc = service(context)
    chat_id = update.effective_chat.id
    arg = clean(" ".join(context.args or [])).lstrip("#").lower()
    if not arg:
        subs = await db(svc.store.list_subscriptions, chat_id)
        if not subs:
            await reply(update, s(lg, "none"))
            return
        rows = [[(f"#{x.id} {describe(x, lg)}"[:60], f"dm|x|{x.id}")] for x in subs[:20]]
        rows.append([(s(lg, "btn_all"), "dm|a")])
        await reply(update, s(lg, "pick_unsub"), _kb(rows))
        return
    if arg in ("all", "全部", "所有"):
        n = await db(svc.store.delete_all_subscriptions, chat_id)
        await reply(update, s(lg, "deleted_all", n=n))
        return
    if not arg.isdigit() or len(arg) > 9:
        await reply(update, s(lg, "unsub_usage"))
        return
    ok = await db(svc.store.delete_subscription, chat_id, int(arg))
    await reply(update, s(lg, "deleted", id=int(arg)) if ok else s(lg, "not_found", value=esc(arg)))


# ------------------------------------------------------------------------------------- /digest /timezone


async def digest_now(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A digest on demand; it does not count as the scheduled one (that still arrives on time)."""
    lg = lang(update)
    svc = service(context)
    try:
        city, topic = split_scope(" ".join(context.args or []), svc.corpus)
    except ParseError as exc:
        await reply(update, _error_text(exc, lg))
        return
    chat_id = update.effective_chat.id
    tz = await db(svc.store.get_chat_tz, chat_id)
    seen = await db(svc.store.plans_sent_to_chat, chat_id)
    digest = await asyncio.to_thread(svc.digest, city=city, topic=topic, seen=seen or None)
    messages, _ = svc.render(digest, lg, tz)
    for text in messages or [s(lg, "empty")]:
        await context.bot.send_message(chat_id, text)


async def timezone(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lg = lang(update)
    svc = service(context)
    chat_id = update.effective_chat.id
    if not context.args:
        await reply(update, s(lg, "tz_now", tz=esc(await db(svc.store.get_chat_tz, chat_id))))
        return
    if not await is_admin(update, context):
        await _refuse(update, lg)
        return
    try:
        tz = await db(svc.store.set_chat_tz, chat_id, " ".join(context.args))
    except schedule.ScheduleError as exc:
        await reply(update, s(lg, "unknown_timezone", value=esc(clean(str(exc.value), 40))))
        return
    await reply(update, s(lg, "tz_set", tz=esc(tz)))


# ------------------------------------------------------------------------------------- registration


def open_store_for(settings, app: Application):
    """PLANBRIEF_DATABASE_URL wins; else a SQLite file in the configured data directory.

    The store stamps active_since with the application's clock, so a test clock and the schedule
    agree on whether an occurrence predates the subscription.
    """
    from bot.store import DATABASE_URL_ENV, DEFAULT_FILENAME, open_store

    url = os.environ.get(DATABASE_URL_ENV)
    data_dir = Path(getattr(settings, "data_dir", None) or os.environ.get("PLANBRIEF_DATA_DIR", "data"))
    return open_store(url or data_dir / DEFAULT_FILENAME, clock=lambda: clock_of(app)())


def register(app: Application, settings=None) -> DigestService:
    """Add the digest handlers and jobs; app.bot_data may carry "store", "clock", "digest_grace"."""
    store = app.bot_data.get("store") or open_store_for(settings, app)
    app.bot_data["store"] = store
    svc = DigestService(store=store, corpus=app.bot_data.get("corpus"), search_engine=app.bot_data.get("engine"))
    if app.bot_data.get("digest_grace") is not None:
        svc.grace = app.bot_data["digest_grace"]
    app.add_handler(CommandHandler("subscribe", subscribe))
    app.add_handler(CommandHandler("subscriptions", subscriptions))
    app.add_handler(CommandHandler("unsubscribe", unsubscribe))
    app.add_handler(CommandHandler("digest", digest_now))
    app.add_handler(CommandHandler("timezone", timezone))
    app.add_handler(CallbackQueryHandler(on_guide, pattern=r"^ds\|"))
    app.add_handler(CallbackQueryHandler(on_manage, pattern=r"^dm\|"))
    install_jobs(app, svc)
    return svc
