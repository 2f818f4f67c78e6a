"""/city 地名 [关键词]: a place's plans (a city covers its counties: 无锡 → 江阴), or a narrowed topic."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.digests.themes import changes_for_place
from bot.search.places import covered_names
from bot.telegram import render
from bot.telegram.i18n import t
from bot.telegram.render_digest import with_changes
from handlers import common
from handlers.topic import topic_reply


async def city_reply(context: ContextTypes.DEFAULT_TYPE, text: str, lang: str):
    words = render.clean(text).split()
    if not words:
        places = render.suggestions_line(lang, covered_names(common.corpus(context)))
        return t(lang, "city_usage", places=places)
    found = common.place_with_plans(words[0], context, strict=False)
    rest = words[1:]
    if found is None and len(words) >= 2:  # /city 双减 无锡 reads as well the other way round
        found = common.place_with_plans(words[-1], context, strict=False)
        rest = words[:-1]
    if found is None:
        typed = " ".join(words)
        return render.unknown_city(lang, typed, covered_names(common.corpus(context)))
    match, plans = found
    if rest:
        return await topic_reply(context, " ".join(rest), match.place.short, 0, lang)
    changes = changes_for_place(match.place, common.corpus(context))
    return with_changes(render.city_answer(match, plans, lang, words[0]), changes, lang)


async def city(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    from handlers.pictures import city_picture

    lang = common.lang(update, context)
    text = " ".join(context.args or [])
    await common.send(update, context, await city_reply(context, text, lang))
    await city_picture(update, context, text, lang)
