"""Who used the bot and when: one row per chat and per user in `seen` (migration 6), for `stats`.

Before every other handler and never stopping one; the StateStore writes an id at most once per ten
minutes, so an active chat costs no write per message.
"""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.ext import ContextTypes

from bot.telegram.state_store import safely, state_of


async def note(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    if not isinstance(update, Update):
        return
    state = state_of(context.bot_data)
    if state is None:
        return
    user, chat = update.effective_user, update.effective_chat
    if user is not None and not user.is_bot and state.seen_due("user", user.id):
        await asyncio.to_thread(safely, state.mark_seen, "user", user.id)
    if chat is not None and state.seen_due("chat", chat.id):
        await asyncio.to_thread(safely, state.mark_seen, "chat", chat.id)
