"""The watch list and the items seen on it, in the digests store's database (migration 5).

Same engine, same SQLite/PostgreSQL portability, same synchronous short calls as the digests store.
Items are written the moment a list page is read (status `pending` for what still has to be fetched
and triaged), before any fetch or message, so a process killed mid-round leaves a record that the next
round resumes from: nothing seen is lost, and nothing proposed is proposed again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from bot.digests.migrations import apply_migrations
from bot.digests.store import UTCDateTime, make_engine, resolve_url

MODES = ("propose", "auto")
STATES = ("active", "paused", "failing")
DEFAULT_INTERVAL = 6 * 3600
# item statuses: what a check round decided. `pending` = recorded, not yet fetched/triaged (a crash
# mid-round leaves these for the next round); `baseline` = present on the first check, never news.
ITEM_STATUSES = ("pending", "baseline", "ignored", "proposed", "published", "rejected", "duplicate", "failed")

metadata = MetaData()
sources = Table(
    "sources",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", String(2000), nullable=False),
    Column("city", String(100), nullable=False),
    Column("selector", String(500)),
    Column("interval_s", Integer, nullable=False),
    Column("mode", String(8), nullable=False),
    Column("state", String(8), nullable=False),
    Column("allow_private", Boolean, nullable=False),
    Column("backfill", Integer, nullable=False),
    Column("baseline_done", Boolean, nullable=False),
    Column("etag", String(500)),
    Column("last_modified", String(100)),
    Column("failures", Integer, nullable=False),
    Column("failing_notified", Boolean, nullable=False),
    Column("last_error", Text),
    Column("last_status", String(16)),
    Column("created_by", BigInteger),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_checked_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("next_check_at", UTCDateTime),
    UniqueConstraint("url", name="uq_sources_url"),
)
items = Table(
    "source_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_id", Integer, ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("url_key", String(64), nullable=False),
    Column("title", String(500), nullable=False),
    Column("title_key", String(64), nullable=False),
    Column("list_date", String(10)),
    Column("status", String(12), nullable=False),
    Column("kind", String(20)),
    Column("why", Text),
    Column("content_hash", String(64)),
    Column("plan_id", String(200)),
    Column("file", Text),
    Column("overrides", Text),
    Column("error", Text),
    Column("notified", Boolean, nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("source_id", "url_key", name="uq_source_items_url"),
)
reports = Table(  # editors' chats that get the daily /sources report
    "source_reports",
    metadata,
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("created_at", UTCDateTime, nullable=False),
)


@dataclass(frozen=True)
class Source:
    id: int
    url: str
    city: str
    selector: str | None
    interval_s: int
    mode: str
    state: str
    allow_private: bool
    backfill: int
    baseline_done: bool
    etag: str | None
    last_modified: str | None
    failures: int
    failing_notified: bool
    last_error: str | None
    last_status: str | None
    created_at: datetime
    last_checked_at: datetime | None
    last_success_at: datetime | None
    next_check_at: datetime | None

    def as_json(self) -> dict:
        """The `sources add/list --json` contract: id, url, city, mode, state (fields may be added)."""
        return {"id": self.id, "url": self.url, "city": self.city, "mode": self.mode, "state": self.state,
                "selector": self.selector, "every_s": self.interval_s, "failures": self.failures,
                "last_error": self.last_error,
                "last_checked_at": _iso(self.last_checked_at), "last_success_at": _iso(self.last_success_at),
                "next_check_at": _iso(self.next_check_at)}


@dataclass(frozen=True)
class Item:
    id: int
    source_id: int
    url: str
    title: str
    list_date: str | None
    status: str
    kind: str | None
    why: list[str]
    content_hash: str | None
    plan_id: str | None
    file: str | None
    overrides: dict
    error: str | None
    notified: bool
    first_seen_at: datetime

    def as_candidate(self) -> dict:
        """One entry of `sources check --json` candidates: id, title, url, kind, status."""
        return {"id": self.id, "title": self.title, "url": self.url, "kind": self.kind, "status": self.status,
                "source_id": self.source_id, "date": self.list_date, "plan_id": self.plan_id,
                "error": self.error, "why": self.why}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SourceExists(Exception):
    def __init__(self, source: Source):
        super().__init__(source.url)
        self.source = source


class SourceStore:
    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] | None = None):
        self.engine = engine
        self.clock = clock or _utcnow

    @classmethod
    def open(cls, url_or_path: str | os.PathLike | None = None, *, clock=None) -> SourceStore:
        engine = make_engine(resolve_url(url_or_path))
        apply_migrations(engine)
        return cls(engine, clock=clock)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # ------------------------------------------------------------------------------ sources

    @staticmethod
    def _to_source(row) -> Source:
        m = row._mapping
        return Source(**{name: m[name] for name in Source.__dataclass_fields__})

    def add_source(self, url: str, city: str, *, selector: str | None = None, interval_s: int = DEFAULT_INTERVAL,
                   mode: str = "propose", allow_private: bool = False, backfill: int = 0,
                   created_by: int | None = None) -> Source:
        """Raises SourceExists (with the existing source) for a URL already watched."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        now = self.clock()
        try:
            with self._tx() as conn:
                new_id = conn.execute(insert(sources).values(
                    url=url, city=city, selector=selector or None, interval_s=int(interval_s), mode=mode,
                    state="active", allow_private=allow_private, backfill=int(backfill), baseline_done=False,
                    failures=0, failing_notified=False, created_by=created_by, created_at=now,
                    next_check_at=now)).inserted_primary_key[0]
        except IntegrityError:
            existing = self.find_source(url)
            if existing is None:
                raise
            raise SourceExists(existing) from None
        return self.get_source(new_id)

    def find_source(self, url: str) -> Source | None:
        with self._tx() as conn:
            row = conn.execute(select(sources).where(sources.c.url == url)).first()
        return self._to_source(row) if row else None

    def get_source(self, source_id: int) -> Source | None:
        with self._tx() as conn:
            row = conn.execute(select(sources).where(sources.c.id == source_id)).first()
        return self._to_source(row) if row else None

    def list_sources(self) -> list[Source]:
        with self._tx() as conn:
            rows = conn.execute(select(sources).order_by(sources.c.id)).all()
        return [self._to_source(r) for r in rows]

    def remove_source(self, source_id: int) -> Source | None:
        found = self.get_source(source_id)
        if found is None:
            return None
        with self._tx() as conn:
            conn.execute(delete(items).where(items.c.source_id == source_id))  # SQLite FKs may be off elsewhere
            conn.execute(delete(sources).where(sources.c.id == source_id))
        return found

    def due_sources(self, now: datetime | None = None) -> list[Source]:
        now = now or self.clock()
        with self._tx() as conn:
            rows = conn.execute(select(sources).where(
                sources.c.state != "paused",
                (sources.c.next_check_at.is_(None)) | (sources.c.next_check_at <= now)).order_by(sources.c.id)).all()
        return [self._to_source(r) for r in rows]

    def update_source(self, source_id: int, **values) -> None:
        with self._tx() as conn:
            conn.execute(update(sources).where(sources.c.id == source_id).values(**values))

    def record_success(self, source: Source, *, status: str, etag: str | None, last_modified: str | None) -> Source:
        now = self.clock()
        values = dict(failures=0, last_error=None, last_status=status, last_checked_at=now, last_success_at=now,
                      next_check_at=now + timedelta(seconds=source.interval_s), failing_notified=False)
        if source.state == "failing":
            values["state"] = "active"
        if etag is not None or last_modified is not None:
            values.update(etag=etag, last_modified=last_modified)
        self.update_source(source.id, **values)
        return self.get_source(source.id)

    def record_failure(self, source: Source, error: str, status: str, *, retry_in: float,
                       failing_after: int) -> Source:
        """Count a failure and schedule the retry; at `failing_after` in a row the source is failing.
        Editors are told by whoever reads `failing_untold()` (the bot), once: see mark_failing_told."""
        now = self.clock()
        failures = source.failures + 1
        values = dict(failures=failures, last_error=error[:1000], last_status=status, last_checked_at=now,
                      next_check_at=now + timedelta(seconds=retry_in))
        if failures >= failing_after and source.state == "active":
            values["state"] = "failing"
        self.update_source(source.id, **values)
        return self.get_source(source.id)

    def failing_untold(self) -> list[Source]:
        with self._tx() as conn:
            rows = conn.execute(select(sources).where(sources.c.state == "failing",
                                                      sources.c.failing_notified.is_(False))).all()
        return [self._to_source(r) for r in rows]

    def mark_failing_told(self, source_ids: list[int]) -> None:
        with self._tx() as conn:
            conn.execute(update(sources).where(sources.c.id.in_(source_ids)).values(failing_notified=True))

    # ------------------------------------------------------------------------------ items

    @staticmethod
    def _to_item(row) -> Item:
        m = row._mapping
        return Item(id=m["id"], source_id=m["source_id"], url=m["url"], title=m["title"], list_date=m["list_date"],
                    status=m["status"], kind=m["kind"], why=json.loads(m["why"] or "[]"),
                    content_hash=m["content_hash"], plan_id=m["plan_id"], file=m["file"],
                    overrides=json.loads(m["overrides"] or "{}"), error=m["error"], notified=bool(m["notified"]),
                    first_seen_at=m["first_seen_at"])

    def known_keys(self, source_id: int) -> tuple[set[str], set[str]]:
        """(url keys, title keys) already seen for this source."""
        with self._tx() as conn:
            rows = conn.execute(select(items.c.url_key, items.c.title_key).where(items.c.source_id == source_id)).all()
        return {r[0] for r in rows}, {r[1] for r in rows}

    def record_items(self, source_id: int, found: list[tuple[str, str, str, str, str | None]], status: str) -> int:
        """Insert (url, url_key, title, title_key, date) rows not yet known; returns how many were new.
        One transaction: a list page's items are recorded all or none."""
        now = self.clock()
        added = 0
        with self._tx() as conn:
            have = set(conn.scalars(select(items.c.url_key).where(items.c.source_id == source_id)))
            for url, url_key, title, t_key, date in found:
                if url_key in have:
                    continue
                have.add(url_key)
                conn.execute(insert(items).values(
                    source_id=source_id, url=url, url_key=url_key, title=title[:500], title_key=t_key,
                    list_date=date, status=status, notified=False, first_seen_at=now, updated_at=now))
                added += 1
        return added

    def items_with_status(self, status: str, source_id: int | None = None) -> list[Item]:
        query = select(items).where(items.c.status == status)
        if source_id is not None:
            query = query.where(items.c.source_id == source_id)
        with self._tx() as conn:
            rows = conn.execute(query.order_by(items.c.id)).all()
        return [self._to_item(r) for r in rows]

    def get_item(self, item_id: int) -> Item | None:
        with self._tx() as conn:
            row = conn.execute(select(items).where(items.c.id == item_id)).first()
        return self._to_item(row) if row else None

    def set_item(self, item_id: int, **values) -> Item:
        if "why" in values and not isinstance(values["why"], str | None):
            values["why"] = json.dumps(values["why"], ensure_ascii=False)
        if "overrides" in values and isinstance(values["overrides"], dict):
            values["overrides"] = json.dumps(values["overrides"], ensure_ascii=False)
        values["updated_at"] = self.clock()
        with self._tx() as conn:
            conn.execute(update(items).where(items.c.id == item_id).values(**values))
        return self.get_item(item_id)

    def claim_item(self, item_id: int, from_status: str, to_status: str, **values) -> bool:
        """Move an item from one status to another only if it is still in the first: two presses of
        收录 (or a shell and a chat) publish once."""
        values["updated_at"] = self.clock()
        with self._tx() as conn:
            done = conn.execute(update(items).where(items.c.id == item_id, items.c.status == from_status)
                                .values(status=to_status, **values)).rowcount
        return done == 1

    def hash_seen(self, content_hash: str, except_id: int) -> Item | None:
        """An earlier candidate (any source) with the same body: the same plan posted twice."""
        with self._tx() as conn:
            row = conn.execute(select(items).where(items.c.content_hash == content_hash, items.c.id != except_id,
                                                   items.c.status.in_(("proposed", "published", "rejected")))
                               .order_by(items.c.id)).first()
        return self._to_item(row) if row else None

    def unnotified(self, status: str = "proposed") -> list[Item]:
        """Proposals (or auto publications) the editors have not been shown yet, from any process."""
        with self._tx() as conn:
            rows = conn.execute(select(items).where(items.c.status == status, items.c.notified.is_(False))
                                .order_by(items.c.id)).all()
        return [self._to_item(r) for r in rows]

    def mark_notified(self, item_ids: list[int]) -> None:
        if not item_ids:
            return
        with self._tx() as conn:
            conn.execute(update(items).where(items.c.id.in_(item_ids)).values(notified=True))

    def set_daily_report(self, chat_id: int, on: bool) -> None:
        with self._tx() as conn:
            conn.execute(delete(reports).where(reports.c.chat_id == chat_id))
            if on:
                conn.execute(insert(reports).values(chat_id=chat_id, created_at=self.clock()))

    def daily_report_chats(self) -> list[int]:
        with self._tx() as conn:
            return list(conn.scalars(select(reports.c.chat_id).order_by(reports.c.chat_id)))

    def counts(self, source_id: int) -> dict[str, int]:
        with self._tx() as conn:
            rows = conn.execute(select(items.c.status, func.count()).where(items.c.source_id == source_id)
                                .group_by(items.c.status)).all()
        return {status: n for status, n in rows}
