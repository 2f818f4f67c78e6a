"""Per-user token buckets in front of every handler, so one user cannot flood the bot.

Three budgets, because the three kinds of update arrive at very different natural rates: messages
(commands, text), button presses (a reader paging through results at reading speed must never be
refused), and inline queries (Telegram sends one per keystroke while the user types `@bot 双减`).
Each is a setting (PLANBRIEF_THROTTLE_*; BURST=0 turns the whole throttle off).

The first refused message gets one "请稍候再试"; further ones are dropped silently until the bucket
refills, so a flood produces no flood of apologies either. A refused button press or inline query is
still answered (silently / with no results), so the user's client never keeps spinning.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from telegram import InlineQueryResultsButton, MessageEntity, Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.telegram.i18n import t
from handlers import common

BUCKETS = "throttle"


MESSAGE, BUTTON, INLINE = "message", "button", "inline"


@dataclass(frozen=True)
class Budget:
    """`burst` updates at once, refilled evenly over `window` seconds; burst 0 = unlimited."""

    burst: int
    window: float

    @property
    def rate(self) -> float:
        return self.burst / self.window if self.window > 0 else 0.0


DEFAULT_BUTTONS = Budget(10, 10.0)  # paging at one page a second is never refused
DEFAULT_INLINE = Budget(30, 10.0)  # typing a query at normal speed is never refused


@dataclass
class Bucket:
    tokens: float
    updated: float
    warned: bool = False


class Throttle:
    def __init__(self, burst: int, window: float, clock=time.monotonic, *,
                 buttons: Budget = DEFAULT_BUTTONS, inline: Budget = DEFAULT_INLINE) -> None:
        self.burst = burst  # 0 turns every budget off
        self.rate = burst / window if window > 0 else 0.0
        self.budgets = {MESSAGE: Budget(burst, window), BUTTON: buttons, INLINE: inline}
        self.clock = clock
        self.buckets: dict[tuple[int, str], Bucket] = {}

    @classmethod
    def from_settings(cls, settings, clock=time.monotonic) -> Throttle:
        return cls(settings.throttle_burst, settings.throttle_window, clock,
                   buttons=Budget(settings.throttle_button_burst, settings.throttle_button_window),
                   inline=Budget(settings.throttle_inline_burst, settings.throttle_inline_window))

    def take(self, user_id: int, kind: str = MESSAGE) -> bool | None:
        """True: go ahead; False: refuse and warn once; None: refuse silently."""
        budget = self.budgets[kind]
        if self.burst <= 0 or budget.burst <= 0:
            return True
        now = self.clock()
        key = (user_id, kind)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = Bucket(float(budget.burst), now)
            if len(self.buckets) > 100_000:  # forget idle users rather than grow forever
                self.buckets = {key: bucket}
        bucket.tokens = min(budget.burst, bucket.tokens + (now - bucket.updated) * budget.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.warned = False
            return True
        if bucket.warned:
            return None
        bucket.warned = True
        return False


def addressed_elsewhere(update: Update, username: str | None) -> bool:
    """A command whose @botname is another bot's (in a group several bots read the same messages)."""
    message = update.message or update.edited_message
    if message is None or not message.text or not message.entities:
        return False
    first = message.entities[0]
    if first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
        return False
    _, at, target = message.text[:first.length].partition("@")
    return bool(at) and bool(username) and target.lower() != username.lower()


def kind_of(update: Update) -> str:
    if update.inline_query is not None:
        return INLINE
    return BUTTON if update.callback_query is not None else MESSAGE


async def check(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    if not isinstance(update, Update) or update.effective_user is None:
        return
    if not (update.message or update.edited_message or update.callback_query or update.inline_query):
        return
    if addressed_elsewhere(update, context.bot.username):
        raise ApplicationHandlerStop  # `/topic@other_bot`: not ours, so no budget and no word from us
    throttle: Throttle | None = context.bot_data.get(BUCKETS)
    if throttle is None:
        return
    kind = kind_of(update)
    verdict = throttle.take(update.effective_user.id, kind)
    if verdict is True:
        return
    if kind == INLINE:
        await _refuse_inline(update, verdict is False)
    elif kind == BUTTON:
        await common.answer_callback(update, t(common.lang(update, context), "throttled") if verdict is False else None)
    elif verdict is False and update.effective_chat is not None:
        await context.bot.send_message(update.effective_chat.id, t(common.lang(update, context), "throttled"))
    raise ApplicationHandlerStop


async def _refuse_inline(update: Update, warn: bool) -> None:
    """An empty answer stops the client's spinner; uncached, so the next keystroke asks again."""
    button = InlineQueryResultsButton(text=t(common.lang(update), "throttled"), start_parameter="help") if warn else None
    await update.inline_query.answer([], cache_time=0, is_personal=True, button=button)
