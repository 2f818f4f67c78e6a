"""Editor drafts that any worker can finish: the preview's facts in the shared state, the file in the
data folder (which every worker mounts).

Why: a draft used to live in one process's bot_data, so 收录 pressed after a restart, or routed to the
other worker, found nothing. The book keeps the in-memory copy (the prepared draft, no re-read on
the worker that made it) and writes what is needed to re-read it elsewhere: the file, the editor,
the original name, the /fix overrides. `claim` removes the row atomically, so of two presses that
reach two workers only one publishes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.telegram.state_store import safely, state_of

SCOPE, LAST = "draft", "draft_last"


class DraftBook:
    """get / pop / [key] = like the dict it replaces, plus `claim`, `last` and `set_last`."""

    def __init__(self, bot_data, make: Callable[..., Any], ttl: float):
        self._bot_data = bot_data
        self._make = make
        self._ttl = ttl
        self._memory: dict[str, Any] = {}
        self._last: dict[int, str] = {}

    @property
    def _state(self):
        return state_of(self._bot_data)

    def __setitem__(self, key: str, pending) -> None:
        self._memory[key] = pending
        if self._state is not None:
            row = {"user_id": pending.user_id, "source": str(pending.source), "original_name": pending.original_name,
                   "overrides": pending.overrides, "source_site": pending.source_site}
            safely(self._state.put, SCOPE, key, row, ttl=self._ttl)

    def get(self, key: str):
        found = self._memory.get(key)
        if found is None and self._state is not None:
            row = safely(self._state.get, SCOPE, key)
            if isinstance(row, dict) and Path(row.get("source", "")).is_file():
                found = self._make(row["user_id"], Path(row["source"]), row["original_name"],
                                   overrides=dict(row.get("overrides") or {}), source_site=row.get("source_site") or "")
        return found

    def pop(self, key: str, default=None):
        found = self._memory.pop(key, default)
        if self._state is not None:
            safely(self._state.delete, SCOPE, key)
        return found

    def claim(self, key: str) -> bool:
        """True for the one press that may publish this draft (across workers and restarts)."""
        self._memory.pop(key, None)
        if self._state is None:
            return True
        return safely(self._state.take, SCOPE, key) is not None

    def last(self, user_id: int) -> str | None:
        key = self._last.get(user_id)
        if key is None and self._state is not None:
            key = safely(self._state.get, LAST, str(user_id))
        return key

    def set_last(self, user_id: int, key: str) -> None:
        self._last[user_id] = key
        if self._state is not None:
            safely(self._state.put, LAST, str(user_id), key, ttl=self._ttl)
