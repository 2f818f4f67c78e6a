"""Inline-button presses: paging a topic answer in place and opening a plan from a city card.

Clients can send any callback_data (old versions, forged bytes, buttons from before a restart), so
everything is parsed by render.parse_callback and anything unrecognised gets a polite toast.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.telegram import render
from bot.telegram.i18n import t
from handlers import common
from handlers.plans import plan_reply
from handlers.topic import topic_reply


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lang = common.lang(update, context)
    parsed = render.parse_callback(update.callback_query.data)
    if isinstance(parsed, render.TopicPage):
        if parsed.key is not None:
            known = common.recall_topic(context, parsed.key)
            if known is None:
                await common.answer_callback(update, t(lang, "stale"))
                return
            query, city = known
        else:
            query, city = parsed.query, parsed.city
            if city and common.place_with_plans(city, context, strict=True) is None:
                city = ""  # a forged place name: search everywhere rather than fail
        reply = await topic_reply(context, query, city, parsed.offset, lang)
        if not await common.edit(update, context, reply):
            await common.send(update, context, reply)
        await common.answer_callback(update)
        return
    if isinstance(parsed, render.PlanOutline) and common.corpus(context).plan(parsed.plan_id):
        await common.answer_callback(update)
        await common.send(update, context, plan_reply(context, parsed.plan_id, lang))
        return
    await common.answer_callback(update, t(lang, "stale"))
