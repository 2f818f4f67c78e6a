"""/start (with deep-link payloads that open a topic, a city or a plan) and /help."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.telegram import render
from bot.telegram.i18n import t
from handlers import common
from handlers.city import city_reply
from handlers.plans import plan_reply
from handlers.topic import topic_reply


def help_text(context: ContextTypes.DEFAULT_TYPE, lang: str) -> str:
    return t(lang, "help", bot=render.esc(common.bot_username(context)))


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lang = common.lang(update, context)
    payload = (context.args or [""])[0] if context.args else ""
    if payload and payload != "help":
        link = render.parse_deep_link(payload)
        if link is None:
            await common.send(update, context, t(lang, "bad_start") + "\n\n" + help_text(context, lang))
            return
        kind, value = link
        if kind == "topic":
            query, city = common.split_query_city(value, context)
            await common.send(update, context, await topic_reply(context, query, city, 0, lang))
        elif kind == "city":
            await common.send(update, context, await city_reply(context, value, lang))
        else:
            await common.send(update, context, plan_reply(context, value, lang))
        return
    await common.send(update, context, t(lang, "welcome") + "\n\n" + help_text(context, lang))


LANGS = {"zh": "zh", "中文": "zh", "cn": "zh", "en": "en", "english": "en", "英文": "en"}


async def lang_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/lang zh|en: this user's language from now on, in every chat, remembered across restarts."""
    import asyncio

    user = update.effective_user
    choice = LANGS.get(" ".join(context.args or []).strip().lower())
    if user is None or choice is None:
        current = common.lang(update, context)
        await common.send(update, context, t(current, "lang_usage", current=t(current, f"lang_name_{current}")))
        return
    store = context.bot_data.get("store")
    if store is not None:
        await asyncio.to_thread(store.set_user_language, user.id, choice)
    context.bot_data.setdefault(common.USER_LANG, {})[user.id] = choice
    await common.send(update, context, t(choice, "lang_set"))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await common.send(update, context, help_text(context, common.lang(update, context)))
