"""What the bot says to text it has no command for: a short pointer, never silence in private."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.telegram import render
from bot.telegram.i18n import t
from handlers import common


async def plain_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Private chat, no command: say how to ask, with one button that runs the text as a topic."""
    lang = common.lang(update, context)
    words = render.clean(update.effective_message.text or "", 30)
    example = words if words else "双减"
    text = t(lang, "plain_text", query=render.esc(example))
    keyboard: render.Keyboard = ()
    if words:
        common.remember_topic(context, words, "")
        button = render.Button(t(lang, "plain_text_button", query=render.shorten(words, 12)),
                               callback_data=render.topic_data(words, "", 0))
        keyboard = ((button,),)
    await common.send(update, context, render.Reply(text, keyboard))


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Private chats get a hint; in groups only commands addressed to this bot by name do."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None:
        return
    first = (message.text or "").split(maxsplit=1)[0] if message.text else ""
    _, _, addressee = first.partition("@")
    if chat.type != chat.PRIVATE and addressee.lower() != common.bot_username(context).lower():
        return
    if addressee and addressee.lower() != common.bot_username(context).lower():
        return
    await common.send(update, context, t(common.lang(update, context), "unknown_command"))
