"""Inline mode (`@bot 双减`, `@bot 无锡`, `@bot <plan id>`): shareable cited excerpts for any chat.

Works in groups where the bot is not a member; what gets posted is only the excerpt and its
citation, so a group sees a clean quote rather than a bot conversation.
"""

from __future__ import annotations

import asyncio

from telegram import InlineQueryResultArticle, InlineQueryResultsButton, InputTextMessageContent, Update
from telegram.ext import ContextTypes

from bot.telegram import render
from bot.telegram.i18n import t
from handlers import common, compare

MAX_RESULTS = 50
CACHE_SECONDS = 60


def _result(article: render.Article) -> InlineQueryResultArticle:
    return InlineQueryResultArticle(
        id=article.id,
        title=article.title or "…",
        description=article.description or None,
        input_message_content=InputTextMessageContent(article.message),
    )


async def _articles(context: ContextTypes.DEFAULT_TYPE, text: str, lang: str) -> list[render.Article]:
    corpus = common.corpus(context)
    comparison = await compare.inline_articles(context, text, lang)
    if comparison is not None:
        return comparison
    if not text:
        topics = common.popular_topics(context, 5)
        results = await asyncio.gather(*(common.search(context, topic, limit=1) for topic in topics))
        articles = []
        for topic, result in zip(topics, results, strict=True):
            if result.hits:
                hit = result.hits[0]
                article = render.hit_article(hit, result.plans.get(hit.passage.plan_id))
                articles.append(render.Article(render.result_id(f"topic:{topic}"), t(lang, "inline_topic_title", topic=topic),
                                               t(lang, "inline_topic_desc", topic=topic), article.message))
        return articles
    plan = corpus.plan(text)
    if plan is not None:
        return [render.plan_article(plan, lang)]
    if len(text.split()) == 1:
        found = common.place_with_plans(text, context, strict=True)
        if found is not None:
            return [render.plan_article(p, lang) for p in found[1]][:MAX_RESULTS]
    query, city = common.split_query_city(text, context)
    result = await common.search(context, query, city=city or None, limit=MAX_RESULTS)
    if not result.hits and result.suggestions:
        return await _suggested(context, query, result.suggestions, lang)
    seen, articles = set(), []
    for hit in result.hits:
        article = render.hit_article(hit, result.plans.get(hit.passage.plan_id))
        if article.id not in seen:
            seen.add(article.id)
            articles.append(article)
    return articles[:MAX_RESULTS]


async def _suggested(context: ContextTypes.DEFAULT_TYPE, query: str, topics: list[str],
                     lang: str) -> list[render.Article]:
    """Nothing found: say so, and offer the suggested policy terms, each with its best excerpt."""
    results = await asyncio.gather(*(common.search(context, topic, limit=1) for topic in topics))
    articles = []
    for topic, found in zip(topics, results, strict=True):
        if found.hits:
            hit = found.hits[0]
            article = render.hit_article(hit, found.plans.get(hit.passage.plan_id))
            articles.append(render.Article(render.result_id(f"try:{topic}"),
                                           t(lang, "inline_try", query=render.clean(query, 20), topic=topic),
                                           article.description, article.message))
    return articles


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lang = common.lang(update, context)
    text = render.clean(update.inline_query.query, 64)
    articles = await _articles(context, text, lang)
    button = InlineQueryResultsButton(text=t(lang, "inline_button"), start_parameter="help")
    await update.inline_query.answer([_result(a) for a in articles], cache_time=CACHE_SECONDS,
                                     is_personal=False, button=button)
