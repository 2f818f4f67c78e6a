"""A per-user token bucket in front of every handler, so one user cannot flood the bot.

The first refused update gets one "请稍候再试"; further ones are dropped silently until the bucket
refills, so a flood produces no flood of apologies either.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.telegram.i18n import t
from handlers import common

BUCKETS = "throttle"


@dataclass
class Bucket:
    tokens: float
    updated: float
    warned: bool = False


class Throttle:
    def __init__(self, burst: int, window: float, clock=time.monotonic) -> None:
        self.burst = burst
        self.rate = burst / window if window > 0 else 0.0
        self.clock = clock
        self.buckets: dict[int, Bucket] = {}

    def take(self, user_id: int) -> bool | None:
        """True: go ahead; False: refuse and warn once; None: refuse silently."""
        if self.burst <= 0:
            return True
        now = self.clock()
        bucket = self.buckets.get(user_id)
        if bucket is None:
            bucket = self.buckets[user_id] = Bucket(float(self.burst), now)
            if len(self.buckets) > 100_000:  # forget idle users rather than grow forever
                self.buckets = {user_id: bucket}
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.warned = False
            return True
        if bucket.warned:
            return None
        bucket.warned = True
        return False


async def check(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    if not isinstance(update, Update) or update.effective_user is None:
        return
    if not (update.message or update.edited_message or update.callback_query or update.inline_query):
        return
    throttle: Throttle | None = context.bot_data.get(BUCKETS)
    if throttle is None:
        return
    verdict = throttle.take(update.effective_user.id)
    if verdict is True:
        return
    if verdict is False:
        text = t(common.lang(update), "throttled")
        if update.callback_query is not None:
            await common.answer_callback(update, text)
        elif update.inline_query is None and update.effective_chat is not None:
            await context.bot.send_message(update.effective_chat.id, text)
    elif update.callback_query is not None:
        await common.answer_callback(update)  # stop the client's spinner, say nothing more
    raise ApplicationHandlerStop
