"""The operator's view (`planbrief stats`, `/stats`): is the bot used, do digests go out, is anything stale.

One function reads it all from the places that are true for every worker — the database (chats and users
seen, subscriptions, the delivery ledger, the last tick recorded in the shared state), the seeds
folder's corpus and the index folder — so the CLI and /stats cannot disagree, and neither needs logs.

"blocked" is a delivery the ledger settled as failed because Telegram said the chat is gone (the store
writes such errors as "blocked: …"); every other failed delivery is "failed".

Sources (watched portals) do not exist yet: `SOURCE_HOOKS` lets a later module add its block without
this one knowing it. Each hook takes the store and returns a JSON-able value under its name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select

from bot.digests.state import StateStore
from bot.digests.store import Store, deliveries

TICK_KEY = ("service", "last_tick")
SOURCE_HOOKS: dict[str, Callable[[Store], object]] = {}


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else None


def _kind(city: str | None, topic: str | None) -> str:
    if city and topic:
        return "city+topic"
    return "city" if city else "topic" if topic else "all"


def _outcomes(conn, since: datetime) -> dict[str, int]:
    """Sent / failed / blocked since an instant, counted by the database (a week is every digest sent)."""
    blocked = deliveries.c.error.like("blocked%")
    flag = case((blocked, True), else_=False)
    rows = conn.execute(select(deliveries.c.status, flag, func.count()).where(
        deliveries.c.claimed_at >= since, deliveries.c.status.in_(("sent", "failed"))).group_by(
        deliveries.c.status, flag)).all()
    counts = {"sent": 0, "failed": 0, "blocked": 0}
    for status, is_blocked, count in rows:
        counts["sent" if status == "sent" else "blocked" if is_blocked else "failed"] += count
    return counts


def record_tick(state: StateStore, when: datetime | None = None) -> None:
    """Called by the digest tick of every worker: the latest one wins."""
    state.put(*TICK_KEY, _iso(when or state.clock()))


def index_info(cache_dir: Path | None, now: datetime) -> dict:
    """The tantivy index's generation (its opstamp: it grows with every commit) and how old it is."""
    from bot.search.engine import index_dir
    from bot.search.tantivy_index import META

    meta = index_dir(cache_dir) / META
    try:
        stamp = json.loads(meta.read_text(encoding="utf-8")).get("opstamp")
        built = datetime.fromtimestamp(meta.stat().st_mtime, UTC)
    except (OSError, ValueError):
        return {"generation": None, "built_at": None, "age_seconds": None}
    return {"generation": stamp, "built_at": _iso(built), "age_seconds": int((now - built).total_seconds())}


def corpus_info(corpus) -> dict:
    if corpus is None:
        return {"plans": 0, "passages": 0, "newest": None}
    newest = max(corpus.plans, key=lambda p: (p.meta.date or "", p.meta.year, p.plan_id), default=None)
    return {
        "plans": len(corpus.plans),
        "passages": corpus.passage_count,
        "newest": None if newest is None else {"plan_id": newest.plan_id, "title": newest.meta.title,
                                               "city": newest.meta.city, "date": newest.meta.date},
    }


def collect(store: Store, corpus=None, *, cache_dir: Path | None = None, tz: str = "Asia/Shanghai",
            now: datetime | None = None) -> dict:
    """Everything `stats --json` prints. Field names are a contract: add, never rename."""
    now = now or datetime.now(UTC)
    state = StateStore(store.engine, clock=lambda: now)
    zone = ZoneInfo(tz)
    midnight = datetime.combine(now.astimezone(zone).date(), time(0), zone).astimezone(UTC)
    with store.engine.connect() as conn:
        today, week = _outcomes(conn, midnight), _outcomes(conn, now - timedelta(days=7))
        sending = conn.scalar(select(func.count()).select_from(deliveries).where(
            and_(deliveries.c.status == "sending"))) or 0
    by_kind: dict[str, int] = {}
    by_frequency: dict[str, int] = {}
    active = inactive = 0
    for frequency, has_city, has_topic, is_active, count in store.subscription_counts():
        if not is_active:
            inactive += count
            continue
        active += count
        kind = _kind("c" if has_city else None, "t" if has_topic else None)
        by_kind[kind] = by_kind.get(kind, 0) + count
        by_frequency[frequency] = by_frequency.get(frequency, 0) + count
    next_due = store.soonest_occurrence(now)
    return {
        "generated_at": _iso(now),
        "chats_seen": {"7d": state.seen_since("chat", now - timedelta(days=7)),
                       "30d": state.seen_since("chat", now - timedelta(days=30))},
        "users_seen": {"7d": state.seen_since("user", now - timedelta(days=7)),
                       "30d": state.seen_since("user", now - timedelta(days=30))},
        "subscriptions": {"active": active, "inactive": inactive,
                          "by_kind": dict(sorted(by_kind.items())), "by_frequency": dict(sorted(by_frequency.items()))},
        "digests": {"today": today, "7d": week, "sending_now": sending},
        "last_tick": state.get(*TICK_KEY),
        "next_due": None if next_due is None else {"at": _iso(next_due[0]), "subscription_id": next_due[1]},
        "corpus": corpus_info(corpus),
        "index": index_info(cache_dir, now),
        "sources": {name: hook(store) for name, hook in SOURCE_HOOKS.items()} or None,
    }
