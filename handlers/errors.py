"""The error handler: log once (the token is redacted by the logging filter), tell the user politely."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError
from telegram.ext import ContextTypes

from bot.telegram.i18n import t
from handlers import common

log = logging.getLogger("planbrief.errors")
ERRORS = "errors"  # bot_data list of recent exceptions, read by the tests and useful in a debugger


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    error = context.error
    recent = context.bot_data.setdefault(ERRORS, [])
    recent.append(error)
    del recent[:-50]
    log.error("error while handling an update: %s", type(error).__name__, exc_info=error)
    if not isinstance(update, Update) or isinstance(error, Forbidden | NetworkError):
        return
    text = t(common.lang(update, context), "error")
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text)
        elif update.effective_chat is not None:
            await context.bot.send_message(update.effective_chat.id, text)
    except Exception:  # noqa: BLE001 - an apology that fails must not loop back into this handler
        log.warning("could not tell the user about an error", exc_info=True)
