"""The bot object: PTB's ExtBot, except that one update it cannot parse no longer stops polling.

Why: PTB parses a whole getUpdates batch at once. One update it cannot read (a message without
`date`, a callback without `chat_instance`) makes the parse raise; the Updater logs it, does not
advance the offset, and fetches the same batch again — about 20 times a second, for ever, while
nobody gets an answer. Here every raw update is parsed on its own first; one that fails is logged
once at WARNING with its update_id and replaced by a bare `{"update_id": n}`. That placeholder
parses, matches no handler, and lets the Updater confirm the offset past it, so polling goes on
with the next update. (Webhook mode is unaffected: PTB parses each request separately.)
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from telegram import Update
from telegram.ext import ExtBot

log = logging.getLogger(__name__)


def defuse_poison(raw_updates: list[Any], bot: Any = None) -> list[Any]:
    """The batch with each unparseable update replaced by its bare update_id (dropped if it has none)."""
    kept: list[Any] = []
    for raw in raw_updates:
        try:
            Update.de_json(copy.deepcopy(raw), bot)
        except Exception as exc:  # noqa: BLE001 - whatever the parser trips on, the update is unusable
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            log.warning("skipped update %s: it cannot be parsed (%s: %s)", update_id, type(exc).__name__,
                        str(exc)[:200])
            if isinstance(update_id, int) and not isinstance(update_id, bool):
                kept.append({"update_id": update_id})
            continue
        kept.append(raw)
    return kept


class PoisonSafeBot(ExtBot):
    """ExtBot whose getUpdates answers go through defuse_poison before PTB parses them."""

    async def _post(self, endpoint: str, data: Any = None, **kwargs: Any) -> Any:
        result = await super()._post(endpoint, data, **kwargs)
        if endpoint == "getUpdates" and isinstance(result, list):
            return defuse_poison(result, self)
        return result
