"""/plans (what is covered) and /plan <id> (one plan's outline with its headline priorities)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.telegram import render
from bot.telegram.i18n import t
from handlers import common


async def plans(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lang = common.lang(update, context)
    await common.send(update, context, render.plans_answer(common.corpus(context).plans, lang))


def plan_reply(context: ContextTypes.DEFAULT_TYPE, plan_id: str, lang: str):
    corpus = common.corpus(context)
    typed = render.clean(plan_id)
    plan = corpus.plan(typed) or corpus.plan(typed.lower())
    if plan is None:
        known = "\n".join(f"<code>{render.esc(p.plan_id)}</code>" for p in corpus.plans)
        if not typed:
            example = corpus.plans[0].plan_id if corpus.plans else "wuxi-2023-conference"
            return t(lang, "plan_usage", example=render.esc(example)) + "\n" + known
        return t(lang, "unknown_plan", plan=render.echo(typed), known=known)
    return render.plan_answer(plan, lang)


async def plan(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lang = common.lang(update, context)
    await common.send(update, context, plan_reply(context, " ".join(context.args or []), lang))
