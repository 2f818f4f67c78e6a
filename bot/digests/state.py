"""State that every worker and every restart must see, in the same database as the subscriptions.

Why not PTB's bot_data: it is one process's memory. With two webhook workers behind a balancer, a
page button answered by worker A is pressed on worker B, an editor's 收录 reaches the worker that
never saw the preview, and an edited /topic arrives anywhere. Each of those is a small keyed value
with a lifetime, so one table (kv_state, migration 6) holds them all, scoped by what they are.

`take` is the exactly-once primitive: a DELETE whose row count says who got the value, so of two
workers pressing 收录 on the same draft only one publishes. `claim` is its twin for "do this once":
an INSERT that wins or hits the primary key.

`seen` records who used the bot and when (one row per chat and per user), for /stats; workers write
it at most once per `SEEN_EVERY` per id, so it costs no write per update.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    String,
    Table,
    Text,
    and_,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from bot.digests.store import UTCDateTime, metadata

SEEN_EVERY = timedelta(minutes=10)

kv_state = Table(
    "kv_state",
    metadata,
    Column("scope", String(32), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
)
seen = Table(
    "seen",
    metadata,
    Column("kind", String(8), primary_key=True),
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StateStore:
    """JSON values by (scope, key), each with an optional time to live."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] | None = None):
        self.engine = engine
        self.clock = clock or _utcnow
        self._seen_written: dict[tuple[str, int], datetime] = {}

    def _live(self, now: datetime):
        return or_(kv_state.c.expires_at.is_(None), kv_state.c.expires_at > now)

    def put(self, scope: str, key: str, value: Any, ttl: float | None = None) -> None:
        """Insert or replace; `ttl` seconds from now, None = until deleted."""
        now = self.clock()
        row = {"value": json.dumps(value, ensure_ascii=False), "updated_at": now,
               "expires_at": now + timedelta(seconds=ttl) if ttl is not None else None}
        where = and_(kv_state.c.scope == scope, kv_state.c.key == str(key))
        with self.engine.begin() as conn:
            if conn.execute(update(kv_state).where(where).values(**row)).rowcount:
                return
            try:
                with conn.begin_nested():
                    conn.execute(insert(kv_state).values(scope=scope, key=str(key), **row))
            except IntegrityError:  # another worker inserted it in between: theirs is as good as ours
                conn.execute(update(kv_state).where(where).values(**row))

    def get(self, scope: str, key: str, default: Any = None) -> Any:
        now = self.clock()
        with self.engine.connect() as conn:
            raw = conn.scalar(select(kv_state.c.value).where(
                kv_state.c.scope == scope, kv_state.c.key == str(key), self._live(now)))
        return default if raw is None else json.loads(raw)

    def take(self, scope: str, key: str) -> Any:
        """Remove and return the live value, or None: of concurrent takers exactly one gets it."""
        now = self.clock()
        where = and_(kv_state.c.scope == scope, kv_state.c.key == str(key))
        with self.engine.begin() as conn:
            raw = conn.scalar(select(kv_state.c.value).where(where, self._live(now)))
            if raw is None or not conn.execute(delete(kv_state).where(where)).rowcount:
                return None
        return json.loads(raw)

    def delete(self, scope: str, key: str) -> bool:
        with self.engine.begin() as conn:
            return bool(conn.execute(delete(kv_state).where(
                kv_state.c.scope == scope, kv_state.c.key == str(key))).rowcount)

    def claim(self, scope: str, key: str, value: Any = True, *, ttl: float | None = None) -> bool:
        """True for the one caller that created the (live) row; an expired row is replaced."""
        now = self.clock()
        where = and_(kv_state.c.scope == scope, kv_state.c.key == str(key))
        with self.engine.begin() as conn:
            conn.execute(delete(kv_state).where(where, ~self._live(now)))
            try:
                with conn.begin_nested():
                    conn.execute(insert(kv_state).values(
                        scope=scope, key=str(key), value=json.dumps(value, ensure_ascii=False), updated_at=now,
                        expires_at=now + timedelta(seconds=ttl) if ttl is not None else None))
            except IntegrityError:
                return False
        return True

    def sweep(self) -> int:
        """Drop expired rows (reads already ignore them; this only keeps the table small)."""
        with self.engine.begin() as conn:
            return conn.execute(delete(kv_state).where(kv_state.c.expires_at <= self.clock())).rowcount

    def scope_items(self, scope: str) -> dict[str, Any]:
        now = self.clock()
        with self.engine.connect() as conn:
            rows = conn.execute(select(kv_state.c.key, kv_state.c.value).where(
                kv_state.c.scope == scope, self._live(now))).all()
        return {key: json.loads(value) for key, value in rows}

    # ------------------------------------------------------------------------------ activity

    def seen_due(self, kind: str, id_: int | None) -> bool:
        """Whether mark_seen would write (callers skip the thread hop when it would not)."""
        last = self._seen_written.get((kind, id_))
        return id_ is not None and (last is None or self.clock() - last >= SEEN_EVERY)

    def mark_seen(self, kind: str, id_: int | None) -> bool:
        """Record that a chat or user (`kind` "chat"/"user") was active now; throttled per id.

        Returns True when a row was written."""
        if id_ is None:
            return False
        now = self.clock()
        last = self._seen_written.get((kind, id_))
        if last is not None and now - last < SEEN_EVERY:
            return False
        if len(self._seen_written) > 100_000:
            self._seen_written.clear()
        self._seen_written[(kind, id_)] = now
        where = and_(seen.c.kind == kind, seen.c.id == id_)
        with self.engine.begin() as conn:
            if conn.execute(update(seen).where(where).values(last_seen=now)).rowcount:
                return True
            try:
                with conn.begin_nested():
                    conn.execute(insert(seen).values(kind=kind, id=id_, first_seen=now, last_seen=now))
            except IntegrityError:
                conn.execute(update(seen).where(where).values(last_seen=now))
        return True

    def seen_since(self, kind: str, since: datetime) -> int:
        from sqlalchemy import func

        with self.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(seen).where(
                seen.c.kind == kind, seen.c.last_seen >= since)) or 0
