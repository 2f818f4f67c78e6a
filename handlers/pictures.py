"""Pictures and documents: /themes [地名], /brief 双减 [地名…], the /compare and /city pictures, and 导出.

Thin: parse → bot.digests (themes_picture, build_brief, briefing rows) in a worker thread → send as a
photo or a document to the chat that asked, and only to it. Drawing is CPU work (~0.1–0.3 s, more the
first time a process draws), so it never runs on the event loop.
"""

from __future__ import annotations

import asyncio
import io
import logging

from telegram import InputFile, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.digests import briefing, figures
from bot.digests.content import plans_in_scope
from bot.digests.themes import changes_for_place, shared_themes
from bot.telegram import render
from bot.telegram import render_pictures as rp
from handlers import common
from handlers.compare import parse_args

log = logging.getLogger(__name__)
EXPORT_TOPIC_ROWS = 50  # a /topic export: the 50 best excerpts (ten pages of the answer)


def _thread(update: Update) -> int | None:
    message = update.effective_message
    return message.message_thread_id if message is not None and message.is_topic_message else None


async def send_photo(update: Update, context: ContextTypes.DEFAULT_TYPE, png: bytes, caption: str,
                     chat_id: int | None = None) -> None:
    chat = chat_id if chat_id is not None else (update.effective_chat.id if update.effective_chat else None)
    if chat is None:
        return
    await context.bot.send_photo(chat, InputFile(io.BytesIO(png), filename="themes.png"), caption=caption,
                                 message_thread_id=_thread(update))


async def send_document(update: Update, context: ContextTypes.DEFAULT_TYPE, data: bytes, name: str,
                        caption: str, chat_id: int | None = None) -> None:
    chat = chat_id if chat_id is not None else (update.effective_chat.id if update.effective_chat else None)
    if chat is None:
        return
    await context.bot.send_document(chat, InputFile(io.BytesIO(data), filename=name), caption=caption,
                                    message_thread_id=_thread(update))


async def _picture_quietly(update, context, make, caption: str) -> None:
    """A picture is an addition to a text answer already sent: if drawing or sending it fails, the
    reader still has the answer, so the failure is logged, not shown."""
    try:
        png = await asyncio.to_thread(make)
        if png:
            await send_photo(update, context, png, caption)
    except (TelegramError, figures.FontMissing, OSError, ValueError):
        log.warning("picture not sent", exc_info=True)


# ------------------------------------------------------------------------------------ /compare


async def compare_picture(update: Update, context: ContextTypes.DEFAULT_TYPE, comparison, scope: str,
                          lang: str) -> None:
    """The themes of the places answering a comparison, after its text (same scope, same plans)."""
    if comparison is None or not comparison.plan_ids:
        return
    corpus = common.corpus(context)
    plans = [p for p in (corpus.plan(pid) for pid in comparison.plan_ids) if p is not None]
    if len(plans) < 2:
        return
    caption = rp.caption(rp.w(lang, "compare_caption", topic=comparison.query, scope=rp.scope_name(scope, lang)))
    await _picture_quietly(update, context, lambda: figures.themes_picture(corpus, plans, lang, scope), caption)


# ------------------------------------------------------------------------------------- /themes


async def themes_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lang = common.lang(update, context)
    words = render.clean(" ".join(context.args or [])).split()
    corpus = common.corpus(context)
    scope, place = "", None
    if words:
        found = common.place_with_plans(words[0], context, strict=False)
        if found is None:
            await common.send(update, context, rp.w(lang, "themes_usage", typed=render.shorten(words[0], 20)))
            return
        place, scope = found[0].place, found[0].place.short
    plans = plans_in_scope(corpus, place=place)
    png = await asyncio.to_thread(figures.themes_picture, corpus, plans, lang, scope)
    if png is None:
        await common.send(update, context, rp.w(lang, "themes_none", scope=rp.scope_name(scope, lang)))
        return
    themes = shared_themes(plans)
    await send_photo(update, context, png, rp.themes_caption(themes, scope, lang, len(plans)))


# --------------------------------------------------------------------------------------- /city


async def city_picture(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, lang: str) -> None:
    """After a /city card with a change across years: the two-column picture of that change."""
    words = render.clean(text).split()
    if len(words) != 1:
        return
    found = common.place_with_plans(words[0], context, strict=False)
    if found is None:
        return
    corpus = common.corpus(context)
    changes = changes_for_place(found[0].place, corpus)
    if changes is None:
        return
    caption = rp.w(lang, "shift_caption", place=changes.place, old=changes.older.year, new=changes.newer.year)
    await _picture_quietly(update, context, lambda: figures.year_shift_picture(corpus, changes, lang), caption)


# -------------------------------------------------------------------------------------- /brief


def _make_brief(context, query: str, places: list, lang: str):
    corpus = common.corpus(context)
    brief = briefing.build_brief(common.engine(context), corpus, query, places)
    if not brief.plans:
        return brief, None
    picture = figures.themes_picture(corpus, brief.stating, lang, brief.scope, brief.matrix)
    return brief, briefing.brief_docx(brief, picture, lang)


async def brief_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lang = common.lang(update, context)
    query, places, unknown = parse_args(" ".join(context.args or []), context)
    if unknown:
        await common.send(update, context, rp.w(lang, "brief_unknown", typed=render.shorten(" ".join(unknown), 30)))
        return
    if not query:
        await common.send(update, context, rp.w(lang, "brief_usage"))
        return
    brief, docx = await asyncio.to_thread(_make_brief, context, query, places, lang)
    if brief.error == "empty" or docx is None:
        await common.send(update, context, rp.w(lang, "brief_none", topic=render.shorten(query, 40)))
        return
    name = rp.file_name("简报" if lang != "en" else "briefing", query, brief.scope, brief.made.isoformat(),
                        ext="docx")
    await send_document(update, context, docx, name, rp.brief_caption(brief, lang))


# ----------------------------------------------------------------------------------------- 导出


def _export_rows(context, press: rp.ExportPress, query: str, scope: str) -> list[briefing.ExportRow]:
    if press.kind == "compare":
        from bot.digests.compare import compare

        topic, places, _ = parse_args(" ".join(x for x in (query, scope) if x), context)
        result = compare(common.engine(context), common.corpus(context), topic, places)
        return briefing.comparison_rows(result)
    result = common.engine(context).search(query, city=scope or None, limit=EXPORT_TOPIC_ROWS)
    return briefing.hit_rows(result.hits, result.plans)


async def on_export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """导出: the answer's rows as .xlsx, sent to the chat where the button was pressed."""
    lang = common.lang(update, context)
    query = update.callback_query
    press = rp.parse_export(query.data)
    known = common.recall_topic(context, press.key) if press else None
    if known is None:
        await common.answer_callback(update, rp.w(lang, "export_stale"))
        return
    if query.message is None:  # a message posted inline: no chat of ours to send a file to
        await common.answer_callback(update, rp.w(lang, "export_inline"))
        return
    rows = await asyncio.to_thread(_export_rows, context, press, *known)
    if not rows:
        await common.answer_callback(update, rp.w(lang, "export_empty"))
        return
    await common.answer_callback(update, rp.w(lang, "making"))
    data = await asyncio.to_thread(briefing.rows_xlsx, rows, lang)
    name = rp.file_name("导出" if lang != "en" else "export", known[0], known[1], ext="xlsx")
    await send_document(update, context, data, name, rp.w(lang, "export_caption", n=len(rows)),
                        chat_id=query.message.chat.id)
