"""Shared plumbing for the handler modules: language, core access, sending rendered answers.

Handlers stay thin (parse → core → render); whatever is Telegram-specific but not specific to one
command lives here, including the only conversion of render's keyboard data into PTB objects.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from telegram import InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.search.places import plans_for_place, resolve_place
from bot.telegram import render
from bot.telegram.digest_jobs import SERVICE_KEY as DIGEST_SERVICE
from bot.telegram.digest_jobs import keyboard_markup
from bot.telegram.i18n import FALLBACK_TOPICS, lang_of
from bot.telegram.state_store import REPLY_TTL, TOPIC_TTL, safely, state_of

log = logging.getLogger(__name__)

LIBRARY = "library"
TOPIC_KEYS = "topic_keys"
TOPIC_KEYS_MAX = 4096


USER_LANG = "user_lang"  # bot_data: user id → the language chosen with /lang (store: user_settings)


def lang(update: Update | None, context: ContextTypes.DEFAULT_TYPE | None = None) -> str:
    """The user's /lang choice if they made one, else their client's language (Chinese first)."""
    user = update.effective_user if isinstance(update, Update) else None
    if user is not None and context is not None:
        chosen = context.bot_data.get(USER_LANG, {}).get(user.id)
        if chosen:
            return chosen
    return lang_of(user.language_code if user else None)


def corpus(context: ContextTypes.DEFAULT_TYPE):
    return context.bot_data["corpus"]


def engine(context: ContextTypes.DEFAULT_TYPE):
    return context.bot_data["engine"]


async def refresh_corpus(app, published=()) -> bool:
    """Pick up plans added or removed by anyone (this bot's editors, `planbrief add` elsewhere);
    `published`: the drafts this bot just published, whose plans it need not read back.

    The refresh runs in a worker thread and touches only what changed (bot.search.library); the swap is
    two assignments on the event loop with no await between them, so no handler ever sees a corpus from
    one snapshot and an engine from another.
    """
    library = app.bot_data.get(LIBRARY)
    if library is None or (not published and not library.stale()):  # after a publish it is: no need to look
        return False
    if not await asyncio.to_thread(library.refresh, published):
        return False
    snapshot = library.current
    app.bot_data["corpus"], app.bot_data["engine"] = snapshot.corpus, snapshot.engine
    service = app.bot_data.get(DIGEST_SERVICE)
    if service is not None:
        service.use(snapshot.corpus, snapshot.engine)
    return True


def bot_username(context: ContextTypes.DEFAULT_TYPE) -> str:
    return context.bot.username or "planbrief_bot"


async def search(context: ContextTypes.DEFAULT_TYPE, query: str, **kwargs):
    """The engine is CPU-bound numpy; a worker thread keeps the event loop answering others."""
    return await asyncio.to_thread(engine(context).search, query, **kwargs)


def popular_topics(context: ContextTypes.DEFAULT_TYPE, limit: int = 6) -> list[str]:
    try:
        topics = engine(context).popular_topics(limit)
    except Exception:  # noqa: BLE001 - a suggestion list is never worth failing a reply
        log.warning("popular_topics failed", exc_info=True)
        topics = []
    return topics or FALLBACK_TOPICS[:limit]


def markup(keyboard: render.Keyboard) -> InlineKeyboardMarkup | None:
    """render.Button rows as PTB markup: the same conversion the digest jobs use for their buttons."""
    return keyboard_markup(keyboard)


async def send(update: Update, context: ContextTypes.DEFAULT_TYPE, answer: render.Answer | render.Reply | str) -> None:
    """Send an answer to the chat the update came from (HTML parse mode is the Application default)."""
    chat = update.effective_chat
    if chat is None:
        return
    if isinstance(answer, str):
        answer = render.Reply(answer)
    replies = answer.messages if isinstance(answer, render.Answer) else [answer]
    message = update.effective_message
    # in a forum group, answer in the topic thread the question came from
    thread = message.message_thread_id if message is not None and message.is_topic_message else None
    for reply in replies:
        sent = await context.bot.send_message(chat.id, reply.text, reply_markup=markup(reply.keyboard),
                                              message_thread_id=thread)
    if message is not None and len(replies) == 1 and context.chat_data is not None:
        _remember_reply(context.chat_data, message.message_id, sent.message_id)
        if (state := state_of(context.bot_data)) is not None and message.text and message.text.startswith("/"):
            # only commands can be revised (an edited /topic); another worker may receive the edit
            await asyncio.to_thread(safely, state.put, "reply", f"{chat.id}:{message.message_id}",
                                    sent.message_id, ttl=REPLY_TTL)


REPLIES = "replies"  # chat_data key: the user's message id -> our one reply, so an edit can revise it
MAX_REPLIES = 50


def _remember_reply(chat_data: dict, asked: int, answered: int) -> None:
    replies: dict[int, int] = chat_data.setdefault(REPLIES, {})
    replies[asked] = answered
    while len(replies) > MAX_REPLIES:
        replies.pop(next(iter(replies)))


async def revise(update: Update, context: ContextTypes.DEFAULT_TYPE, reply: render.Reply) -> bool:
    """Edit the reply we sent to the message the user just edited; False (nothing sent) if unknown."""
    message = update.edited_message
    if message is None:
        return False
    answered = (context.chat_data or {}).get(REPLIES, {}).get(message.message_id)
    if answered is None and (state := state_of(context.bot_data)) is not None:
        answered = await asyncio.to_thread(safely, state.get, "reply", f"{message.chat.id}:{message.message_id}")
    if answered is None:
        return False
    try:
        await context.bot.edit_message_text(reply.text, chat_id=message.chat.id,
                                            message_id=answered,
                                            reply_markup=markup(reply.keyboard))
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            return False
    return True


async def edit(update: Update, context: ContextTypes.DEFAULT_TYPE, reply: render.Reply) -> bool:
    """Replace a message in place (paging); False when it cannot be edited any more."""
    query = update.callback_query
    try:
        if query.inline_message_id:
            await context.bot.edit_message_text(reply.text, inline_message_id=query.inline_message_id,
                                                reply_markup=markup(reply.keyboard))
            return True
        message = query.message
        if message is None or not getattr(message, "date", None) or message.date.timestamp() == 0:
            return False
        await context.bot.edit_message_text(reply.text, chat_id=message.chat.id, message_id=message.message_id,
                                            reply_markup=markup(reply.keyboard))
        return True
    except BadRequest as exc:
        if "not modified" in str(exc).lower():
            return True
        if "not found" in str(exc).lower() or "can't be edited" in str(exc).lower():
            return False
        raise


def remember_topic(context: ContextTypes.DEFAULT_TYPE, query: str, city: str) -> None:
    """Keep long queries server-side for the t2 callback form (bounded, least recently used out)."""
    keys: OrderedDict = context.bot_data.setdefault(TOPIC_KEYS, OrderedDict())
    key = render.topic_key(query, city)
    known = key in keys
    keys[key] = (query, city)
    keys.move_to_end(key)
    while len(keys) > TOPIC_KEYS_MAX:
        keys.popitem(last=False)
    if not known and (state := state_of(context.bot_data)) is not None:
        # in the database too, so the page button works on another worker and after a restart; on a
        # worker thread, started before the answer is even sent, so it is there before anyone can press
        try:
            asyncio.get_running_loop().run_in_executor(None, safely, state.put, "topic", key, [query, city],
                                                       TOPIC_TTL)
        except RuntimeError:  # no event loop (a synchronous caller): write now
            safely(state.put, "topic", key, [query, city], TOPIC_TTL)


def recall_topic(context: ContextTypes.DEFAULT_TYPE, key: str) -> tuple[str, str] | None:
    keys: OrderedDict = context.bot_data.setdefault(TOPIC_KEYS, OrderedDict())
    found = keys.get(key)
    # a miss here is rare (another worker's answer, or one from before a restart): one short read
    if found is None and (state := state_of(context.bot_data)) is not None:
        row = safely(state.get, "topic", key)
        if isinstance(row, list) and len(row) == 2:
            found = keys[key] = (row[0], row[1])
    return found


def place_with_plans(text: str, context: ContextTypes.DEFAULT_TYPE, *, strict: bool):
    """(match, plans) for a place name, or None; `strict` accepts only exact/traditional spellings so a
    keyword is never mistaken for a place when narrowing."""
    if not text or len(text) > 20:
        return None
    try:
        match = resolve_place(text, corpus(context))
    except Exception:  # noqa: BLE001 - odd input must not break a reply; treat as "no place"
        log.warning("resolve_place failed", exc_info=True)
        return None
    if match is None or (strict and match.how not in ("exact", "traditional")):
        return None
    plans = plans_for_place(match.place, corpus(context))
    return (match, plans) if plans else None


def split_query_city(text: str, context: ContextTypes.DEFAULT_TYPE) -> tuple[str, str]:
    """`双减 无锡` or `无锡 双减` → ("双减", "无锡"); a lone word is always the query."""
    words = render.clean(text).split()
    if len(words) >= 2:
        for idx in (-1, 0):
            found = place_with_plans(words[idx], context, strict=True)
            if found:
                rest = words[:-1] if idx == -1 else words[1:]
                return " ".join(rest), found[0].place.short
    return " ".join(words), ""


async def answer_callback(update: Update, text: str | None = None) -> None:
    """Answer a button press exactly once; a query Telegram already forgot is not worth an error."""
    try:
        await update.callback_query.answer(text[:200] if text else None)
    except BadRequest as exc:
        if "query is too old" not in str(exc) and "query id is invalid" not in str(exc).lower():
            raise
