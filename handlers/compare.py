"""/compare 双减 [无锡 苏州 …]: one topic across places, each place's best excerpt, paged like /topic.

Thin: parse (words after the first that name a place with plans are places, the rest is the topic)
→ bot.digests.compare → bot.telegram.render_compare. Also serves the k1/k2 paging buttons and the
inline `对比 双减`.
"""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.ext import ContextTypes

from bot.digests.compare import Comparison, compare
from bot.search.places import covered_names
from bot.telegram import render
from bot.telegram import render_compare as rc
from bot.telegram import render_pictures as rp
from bot.telegram.i18n import t
from handlers import common


def parse_args(text: str, context: ContextTypes.DEFAULT_TYPE) -> tuple[str, list, list[str]]:
    """(topic, places, unknown words): `双减 无锡 苏州` → ("双减", [无锡, 苏州], []).

    Later words that are not places join the topic (`课后 服务`), unless some later word is a place:
    then the others are place names we do not know, and the reader is told so.
    """
    words = render.clean(text).split()
    if not words:
        return "", [], []
    places, rest = [], []
    for word in words[1:]:
        found = common.place_with_plans(word, context, strict=False)
        if found is None:
            rest.append(word)
        elif found[0].place not in places:
            places.append(found[0].place)
    if places and rest:
        return words[0], places, rest
    return " ".join([words[0], *rest]), places, []


async def run(context: ContextTypes.DEFAULT_TYPE, query: str, places: list) -> Comparison:
    return await asyncio.to_thread(compare, common.engine(context), common.corpus(context), query, places)


def _names(places: list) -> str:
    return " ".join(p.short for p in places)


async def compare_reply(context: ContextTypes.DEFAULT_TYPE, text: str, lang: str, offset: int = 0):
    return (await compare_result(context, text, lang, offset))[0]


async def compare_result(context: ContextTypes.DEFAULT_TYPE, text: str, lang: str, offset: int = 0):
    """(reply, comparison or None, place names): the reply carries a 导出 button when it has rows."""
    query, places, unknown = parse_args(text, context)
    if unknown:
        return render.unknown_city(lang, " ".join(unknown), covered_names(common.corpus(context))), None, ""
    comparison = await run(context, query, places)
    names = _names(places)
    common.remember_topic(context, query, names)
    reply = rc.compare_answer(comparison, lang, query=query, places=names, offset=offset)
    if comparison.places:
        reply = rp.with_export(reply, "compare", query, names, lang)
    return reply, comparison, names


async def compare_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The text answer, then the themes picture of the places answering (sendPhoto)."""
    from handlers.pictures import compare_picture

    lang = common.lang(update, context)
    reply, comparison, names = await compare_result(context, " ".join(context.args or []), lang)
    await common.send(update, context, reply)
    await compare_picture(update, context, comparison, names, lang)


async def on_page(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A paging press: the same comparison at another offset, edited in place."""
    lang = common.lang(update, context)
    page = rc.parse_compare(update.callback_query.data)
    known = (page.query, page.places) if page and page.key is None else None
    if page and page.key is not None:
        known = common.recall_topic(context, page.key)
    if known is None:
        await common.answer_callback(update, t(lang, "stale"))
        return
    reply = await compare_reply(context, " ".join(known), lang, page.offset)
    if isinstance(reply, str):
        reply = render.Reply(reply)
    if not await common.edit(update, context, reply):
        await common.send(update, context, reply)
    await common.answer_callback(update)


async def inline_articles(context: ContextTypes.DEFAULT_TYPE, text: str, lang: str) -> list[render.Article] | None:
    """`对比 双减 [地名…]` in inline mode → one article with the whole comparison; None if not `对比 …`."""
    rest = rc.inline_compare_query(text)
    if rest is None:
        return None
    query, places, unknown = parse_args(rest, context)
    if unknown or not query:
        return []
    comparison = await run(context, query, places)
    if not comparison.places:
        return []
    return [rc.compare_article(comparison, lang, query=query, places=_names(places))]
