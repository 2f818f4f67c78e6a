"""`/stats`: the operator's view in Telegram, for PLANBRIEF_ADMINS and the editors; silence for others
would look broken, so they get the ordinary unknown-command answer's politeness: one short refusal."""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.ext import ContextTypes

from bot.digests.stats import collect
from bot.sources.stats_hook import install as install_sources
from bot.telegram.render_stats import stats_text
from handlers import common

REFUSAL = {"zh": "只有管理员可以查看运行概况。", "en": "Only the bot's admins can see its statistics."}


def may_see(context: ContextTypes.DEFAULT_TYPE, update: Update) -> bool:
    settings = context.bot_data["settings"]
    user = update.effective_user
    allowed = set(getattr(settings, "admins", frozenset())) | set(settings.editors)
    return user is not None and user.id in allowed


async def stats_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lang = common.lang(update, context)
    if not may_see(context, update):
        await common.send(update, context, REFUSAL["en" if lang == "en" else "zh"])
        return
    settings = context.bot_data["settings"]
    store = context.bot_data.get("store")
    if store is None:
        return
    install_sources()
    report = await asyncio.to_thread(collect, store, context.bot_data.get("corpus"),
                                     cache_dir=settings.cache_dir, tz=settings.tz)
    await common.send(update, context, stats_text(report, lang))
