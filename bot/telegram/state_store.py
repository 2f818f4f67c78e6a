"""The shared state (bot.digests.state) as the handlers reach it: one StateStore per application.

Built lazily on the digest store's engine, so it is the same database as the subscriptions (SQLite for
one process, PostgreSQL for several). Without a store (a bare test application) it is None and the
callers keep their in-memory copy only — which is all one process needs.

Every call here is a short synchronous query; handlers run them with asyncio.to_thread.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

STATE_KEY = "shared_state"
TOPIC_TTL = 30 * 24 * 3600.0  # a page button on a month-old answer still pages
REPLY_TTL = 2 * 24 * 3600.0  # an edit to a two-day-old /topic still revises its answer


def state_of(bot_data) -> object | None:
    """The application's StateStore, or None when it has no database."""
    state = bot_data.get(STATE_KEY)
    if state is None:
        store = bot_data.get("store")
        if store is None or not hasattr(store, "engine"):
            return None
        from bot.digests.state import StateStore

        state = bot_data[STATE_KEY] = StateStore(store.engine)
    return state


def safely(call, *args, default=None, **kwargs):
    """A state read or write that fails (database away) degrades to this worker's memory, never an error
    for the user."""
    try:
        return call(*args, **kwargs)
    except Exception:  # noqa: BLE001 - shared state is an optimisation across workers, not the answer
        log.warning("shared state unavailable for %s", getattr(call, "__name__", call), exc_info=True)
        return default
