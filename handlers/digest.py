"""Digest commands: /subscribe /subscriptions /unsubscribe /digest /timezone and their buttons.

Thin like the other handlers: parse (bot/digests/subscribe.py) → check group rights → call the store in a
worker thread → reply with what bot/telegram/render_digest.py rendered; delivery itself is bot/telegram/digest_jobs.py.
Callback data is validated by bot/digests/subscribe.py, so a forged or stale press gets a polite answer, never
an action on another chat.
"""

from __future__ import annotations

import asyncio
import dataclasses

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.digests import delivery, schedule
from bot.digests import subscribe as parsing
from bot.telegram import render_digest as rd
from bot.telegram.digest_jobs import TICK_SECONDS, DigestService, clock_of, install_jobs, service_of
from bot.telegram.i18n import t
from bot.telegram.render import Reply, clean, esc
from handlers import common


def service(context: ContextTypes.DEFAULT_TYPE) -> DigestService:
    svc = service_of(context.application)
    svc.attach(context.application)
    return svc


async def db(func, *args, **kwargs):
    return await asyncio.to_thread(func, *args, **kwargs)


async def edit(update: Update, reply: Reply) -> None:
    """Replace the message whose button was pressed (the guided steps, the refreshed list)."""
    await update.callback_query.edit_message_text(reply.text, reply_markup=common.markup(reply.keyboard))


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


async def admin_or_refuse(update: Update, context: ContextTypes.DEFAULT_TYPE, lg: str) -> bool:
    """True for an admin; anyone else is told (an alert for a button press) and gets False."""
    if await is_admin(update, context):
        return True
    if update.callback_query is not None:
        await update.callback_query.answer(t(lg, "sub_admins_only"), show_alert=True)
    else:
        await common.send(update, context, t(lg, "sub_admins_only"))
    return False


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lg = common.lang(update, context)
    if not context.args:
        await common.send(update, context, rd.frequency_picker(lg))
        return
    svc = service(context)
    try:
        req = parsing.parse_subscribe(context.args, svc.corpus)
    except parsing.ParseError as exc:
        await common.send(update, context, rd.parse_error_text(exc, lg))
        return
    if not await admin_or_refuse(update, context, lg):
        return
    await common.send(update, context, await _create(update, svc, req, lg))


async def _create(update: Update, svc: DigestService, req: parsing.Request, lg: str) -> str:
    """Store the subscription. A topic is checked as /topic would search it: a typo with a credible
    correction is subscribed as the term (双剑 → 双减); a topic no plan mentions is kept only as an
    alert, and says so (its digests stay silent until a plan mentions it)."""
    user = update.effective_user
    typed, unknown_topic = req.topic, None
    if req.topic and svc.engine is not None:
        found = await asyncio.to_thread(svc.engine.search, req.topic)
        if not found.total:
            unknown_topic = req.topic
        elif found.corrected and not found.translated and not found.unknown:
            req = dataclasses.replace(req, topic=found.corrected)
    sub = req.subscription(update.effective_chat.id, user.id if user else None, lg)
    stored = await db(svc.store.add_subscription, sub)
    unknown = req.city and svc.corpus is not None and not svc.digest(city=req.city).plans
    return rd.subscribed_text(stored, lg, svc.clock(), unknown_city=req.city if unknown else None,
                              unknown_topic=unknown_topic, corrected_from=typed if req.topic != typed else None)


async def on_guide(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    lg = common.lang(update, context)
    state = parsing.parse_ds(query.data)
    if state is None or query.message is None:
        await query.answer(t(lg, "stale"))
        return
    svc = service(context)
    if state[3] is None:
        tz = await db(svc.store.get_chat_tz, update.effective_chat.id)
        cities, topics = parsing.suggested_cities(svc.corpus), parsing.suggested_topics(svc.engine)
        await query.answer()
        await edit(update, rd.guide_step(state, lg, tz, cities, topics))
        return
    if not await admin_or_refuse(update, context, lg):
        return
    req = parsing.request_from_state(state, svc.corpus)
    if req is None:
        await query.answer(t(lg, "stale"))
        return
    await query.answer(t(lg, "sub_done"))
    await edit(update, Reply(await _create(update, svc, req, lg)))


async def _listing(svc: DigestService, chat_id: int, lg: str) -> Reply:
    subs = await db(svc.store.list_subscriptions, chat_id)
    tz = await db(svc.store.get_chat_tz, chat_id)
    return rd.subscriptions_reply(subs, tz, lg)


async def subscriptions(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lg = common.lang(update, context)
    await common.send(update, context, await _listing(service(context), update.effective_chat.id, lg))


async def _press(update: Update, context: ContextTypes.DEFAULT_TYPE, parse) -> tuple[str, tuple] | None:
    """(language, parsed action) of a subscription button anyone allowed pressed on a message we sent;
    None once the presser was told why not (stale data, or not an admin of a group)."""
    query = update.callback_query
    lg = common.lang(update, context)
    action = parse(query.data)
    if action is None or query.message is None:
        await query.answer(t(lg, "stale"))
        return None
    if not await admin_or_refuse(update, context, lg):
        return None
    return lg, action


async def on_manage(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    pressed = await _press(update, context, parsing.parse_dm)
    if pressed is None:
        return
    lg, action = pressed
    query = update.callback_query
    svc = service(context)
    chat_id = update.effective_chat.id
    if not await _apply(svc, chat_id, *action):
        await query.answer(t(lg, "stale"))  # someone else's id, or already gone: nothing changed
        return
    await query.answer(t(lg, "sub_done"))
    await edit(update, await _listing(svc, chat_id, lg))


async def _apply(svc: DigestService, chat_id: int, verb: str, sub_id: int | None) -> bool:
    """Every store call is scoped by this chat, so a forged id from another chat changes nothing."""
    store = svc.store
    if verb == "a":
        return await db(store.delete_all_subscriptions, chat_id) > 0
    func = {"p": store.pause_subscription, "r": store.resume_subscription, "x": store.delete_subscription}[verb]
    return await db(func, chat_id, sub_id)


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lg = common.lang(update, context)
    if not await admin_or_refuse(update, context, lg):
        return
    svc = service(context)
    chat_id = update.effective_chat.id
    which = parsing.parse_unsubscribe(context.args)
    if which == "":
        answer = rd.unsubscribe_picker(await db(svc.store.list_subscriptions, chat_id), lg)
    elif which == "all":
        answer = t(lg, "sub_deleted_all", n=await db(svc.store.delete_all_subscriptions, chat_id))
    elif which is None:
        answer = t(lg, "sub_unsub_usage")
    elif await db(svc.store.delete_subscription, chat_id, int(which)):
        answer = t(lg, "sub_deleted", id=int(which))
    else:
        answer = t(lg, "sub_not_found", value=esc(which))
    await common.send(update, context, answer)


async def digest_now(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A digest on demand; it does not count as the scheduled one (that still arrives on time).

    In a chat with active subscriptions, a bare /digest previews exactly what each one's next
    scheduled digest would say (same rotation, same buttons); `/digest all` (全部) gives the overview.
    """
    lg = common.lang(update, context)
    svc = service(context)
    chat_id = update.effective_chat.id
    words = " ".join(context.args or []).strip()
    if not words:
        subs = await db(svc.store.list_subscriptions, chat_id, include_inactive=False)
        if subs:
            for sub in subs[:parsing.MAX_LISTED]:
                messages, keyboard = await asyncio.to_thread(svc.preview, sub)
                await common.send(update, context, t(lg, "dg_preview", desc=rd.describe(sub, lg)))
                for i, text in enumerate(messages or [t(lg, "dg_preview_silent")]):
                    last = i == len(messages) - 1
                    await common.send(update, context, Reply(text, keyboard if last else ()))
            return
    if words.lower() in ("all", "全部", "所有"):
        words = ""
    try:
        city, topic = parsing.split_scope(words, svc.corpus)
    except parsing.ParseError as exc:
        await common.send(update, context, rd.parse_error_text(exc, lg))
        return
    tz = await db(svc.store.get_chat_tz, chat_id)
    seen = await db(svc.store.plans_sent_to_chat, chat_id)
    digest = await asyncio.to_thread(svc.digest, city=city, topic=topic, seen=seen or None)
    messages, _ = svc.render(digest, lg, tz)
    for text in messages or [rd.empty_notice(lg)]:
        await context.bot.send_message(chat_id, text)


async def on_digest_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A scheduled digest's 暂停 / 恢复 / 退订: answered below it, so the digest stays as it was."""
    pressed = await _press(update, context, parsing.parse_dg)
    if pressed is None:
        return
    lg, action = pressed
    query = update.callback_query
    svc = service(context)
    chat_id = update.effective_chat.id
    verb, sub_id = action
    sub = next((s for s in await db(svc.store.list_subscriptions, chat_id) if s.id == sub_id), None)
    if sub is None or not await _apply(svc, chat_id, verb, sub_id):
        await query.answer(t(lg, "stale"))  # another chat's id, or already gone: nothing changed
        return
    await query.answer(t(lg, "sub_done"))
    await common.send(update, context, rd.subscription_action_reply(verb, sub, lg))


async def timezone(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lg = common.lang(update, context)
    svc = service(context)
    chat_id = update.effective_chat.id
    if not context.args:
        tz = await db(svc.store.get_chat_tz, chat_id)
        await common.send(update, context, t(lg, "sub_tz_now", tz=esc(tz)))
        return
    if not await admin_or_refuse(update, context, lg):
        return
    try:
        tz = await db(svc.store.set_chat_tz, chat_id, " ".join(context.args))
    except schedule.ScheduleError as exc:
        value = esc(clean(str(exc.value), 40))
        await common.send(update, context, t(lg, "sub_unknown_timezone", value=value))
        return
    await common.send(update, context, t(lg, "sub_tz_set", tz=esc(tz)))


def register(app: Application, settings=None) -> DigestService:
    """Add the digest handlers and jobs; app.bot_data may carry "store", "clock", "digest_grace".

    Without a store in bot_data one is opened (bot.digests.store.default_location) that stamps active_since with
    the application's clock, so a test clock and the schedule agree on whether an occurrence predates
    the subscription.
    """
    from bot.digests.store import default_location, open_store

    data_dir = getattr(settings, "data_dir", None)
    store = app.bot_data.get("store") or open_store(default_location(data_dir), clock=lambda: clock_of(app)())
    app.bot_data["store"] = store
    app.bot_data[common.USER_LANG] = store.user_languages()  # /lang choices survive a restart
    lease = getattr(settings, "digest_lease_seconds", None)
    policy = delivery.Policy(lease=lease) if lease else None
    svc = DigestService(store=store, corpus=app.bot_data.get("corpus"), search_engine=app.bot_data.get("engine"),
                        policy=policy)
    if app.bot_data.get("digest_grace") is not None:
        svc.grace = app.bot_data["digest_grace"]
    app.add_handler(CommandHandler("subscribe", subscribe))
    app.add_handler(CommandHandler("subscriptions", subscriptions))
    app.add_handler(CommandHandler("unsubscribe", unsubscribe))
    app.add_handler(CommandHandler("digest", digest_now))
    app.add_handler(CommandHandler("timezone", timezone))
    app.add_handler(CallbackQueryHandler(on_guide, pattern=r"^ds\|"))
    app.add_handler(CallbackQueryHandler(on_manage, pattern=r"^dm\|"))
    app.add_handler(CallbackQueryHandler(on_digest_button, pattern=r"^dg\|"))
    install_jobs(app, svc, interval=getattr(settings, "digest_tick_seconds", None) or TICK_SECONDS)
    return svc
