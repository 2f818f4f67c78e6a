"""/topic 关键词 [地名]: cited excerpts on a topic, five a page, optionally narrowed to a place."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.telegram import render
from bot.telegram import render_pictures as rp
from bot.telegram.i18n import t
from handlers import common


async def topic_reply(context: ContextTypes.DEFAULT_TYPE, query: str, city: str, offset: int,
                      lang: str) -> render.Reply:
    """One page; shared by /topic, /city 地名 关键词, paging buttons and deep links."""
    result = await common.search(context, query, city=city or None, offset=offset, limit=render.PAGE_SIZE)
    common.remember_topic(context, query, city)
    answer = render.topic_answer(result, lang, query=query, city=city, offset=offset)
    return rp.with_export(answer, "topic", query, city, lang) if result.hits else answer


def usage(context: ContextTypes.DEFAULT_TYPE, lang: str) -> str:
    return t(lang, "topic_usage", topics=render.suggestions_line(lang, common.popular_topics(context)))


async def topic(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An edited /topic revises the answer it got before instead of getting a second one."""
    lang = common.lang(update, context)
    query, city = common.split_query_city(" ".join(context.args or []), context)
    answer = await topic_reply(context, query, city, 0, lang) if query else render.Reply(usage(context, lang))
    if update.edited_message is not None:
        await common.revise(update, context, answer)
        return
    await common.send(update, context, answer)
