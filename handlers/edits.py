"""Edited messages: an edited /topic revises its earlier answer; every other edit is ignored.

Why: PTB's CommandHandler also matches edited messages, so correcting a typo in a command earned a
second, separate answer. Here a gate in front of every handler stops edited messages, except an
edited /topic, whose handler then edits the reply it sent before (or, if that reply is unknown,
does nothing) — never a second answer.
"""

from __future__ import annotations

from telegram import MessageEntity, Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

REVISABLE = frozenset({"topic"})


def command_of(update: Update) -> str | None:
    """The command a message starts with, lower-cased and without @botname; None if it is not one."""
    message = update.effective_message
    if message is None or not message.text or not message.entities:
        return None
    first = message.entities[0]
    if first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
        return None
    return message.text[1:first.length].split("@", 1)[0].lower()


async def gate(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    if isinstance(update, Update) and update.edited_message is not None and command_of(update) not in REVISABLE:
        raise ApplicationHandlerStop
