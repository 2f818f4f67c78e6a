"""The watched sources in the operator's view (`stats`, `/stats`): how many, in which state, and each one.

bot.digests.stats cannot import this room (it sits below it), so the callers that show stats install
this hook first; `sources` in `stats --json` is then `{total, by_state, sources: [source as_json]}`.
"""

from __future__ import annotations

from bot.digests import stats
from bot.sources.store import SourceStore


def sources_block(store) -> dict:
    listed = SourceStore(store.engine).list_sources()
    by_state: dict[str, int] = {}
    for source in listed:
        by_state[source.state] = by_state.get(source.state, 0) + 1
    return {"total": len(listed), "by_state": dict(sorted(by_state.items())),
            "sources": [source.as_json() for source in listed]}


def install() -> None:
    stats.SOURCE_HOOKS.setdefault("watched", sources_block)
