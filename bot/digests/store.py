"""Persistent state for digests: chats, subscriptions and the delivery ledger.

SQLAlchemy Core with portable types so the same code runs on the default SQLite file and on
PostgreSQL (PLANBRIEF_DATABASE_URL). The API is synchronous on purpose: calls are short, and the
async layers run them with asyncio.to_thread instead of pulling an async driver into the core.

Exactly-once delivery rests on one database fact: UNIQUE(subscription_id, period_key) on deliveries.
claim_delivery is a plain INSERT that either wins or hits that constraint, so no interleaving of
processes, retries or restarts can produce two claims for one period.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    any_,
    bindparam,
    case,
    create_engine,
    delete,
    event,
    exists,
    func,
    insert,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from bot.digests import schedule
from bot.digests.migrations import apply_migrations, startup_lock
from bot.models import Subscription

log = logging.getLogger(__name__)

DATABASE_URL_ENV = "PLANBRIEF_DATABASE_URL"
DATA_DIR_ENV = "PLANBRIEF_DATA_DIR"
DEFAULT_FILENAME = "planbrief.sqlite3"
DEFAULT_LANGUAGE = "zh"
SETTLED = ("sent", "skipped", "sending")  # a period with one of these is not owed again
SEEN_ROWS = 200  # a chat's seen plans, and a delivery's plan ids, beyond this many are one shared set
SETS_KEPT = 4  # plan sets kept decoded in memory (a broadcast shares one or two; 50,000 ids are ~6 MB)
# Settled deliveries (sent, skipped) are history after this: a tick reads at most the latest period of a
# weekly subscription (8 days back), /stats a week. A national broadcast is 100,000 rows a day.
DELIVERIES_KEPT = timedelta(days=90)
SET_TOUCH = timedelta(days=1)  # a shared set's used_at is moved on at most this often (one write a day)
# next_due for a row whose owed period cannot be placed in time: due at any tick (too early is safe).
DUE_AT_ONCE = datetime(2000, 1, 1, tzinfo=UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC in and out on every backend; SQLite would otherwise hand back naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = schedule.require_aware(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The current schema, for queries. Must match the migrations' end state (a test reflects and compares).
metadata = MetaData()
chats = Table(
    "chats",
    metadata,
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("tz", String(64), nullable=False),
    Column("language", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("chat_id", BigInteger, ForeignKey("chats.chat_id"), nullable=False),
    Column("frequency", String(8), nullable=False),
    Column("weekday", Integer),
    Column("time", String(5), nullable=False),
    Column("city", String(100)),
    Column("topic", String(200)),
    Column("active", Boolean, nullable=False),
    Column("created_by", BigInteger),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("active_since", UTCDateTime),
    Column("deactivated_reason", String(200)),
    Column("next_due", UTCDateTime),  # migration 7; NULL while inactive (see schedule.next_due)
)
# Active rows only (migration 7): queries must say `active = true` in this form to use it.
ACTIVE = subscriptions.c.active == true()
Index("ix_subscriptions_next_due", subscriptions.c.next_due, subscriptions.c.id,
      postgresql_where=ACTIVE, sqlite_where=ACTIVE)
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscription_id", Integer, ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False),
    Column("period_key", String(16), nullable=False),
    Column("status", String(8), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("plan_ids", Text),
    Column("error", Text),
    Column("owner", String(120)),  # who holds a 'sending' claim (migration 2)
    Column("lease_until", UTCDateTime),  # the holder renews this while it sends
    UniqueConstraint("subscription_id", "period_key", name="uq_deliveries_sub_period"),
)
chat_plans = Table(
    "chat_plans",
    metadata,
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("plan_id", String(200), primary_key=True),
    Column("first_sent_at", UTCDateTime, nullable=False),
)
# A chat's "seen" plans once there are more than SEEN_ROWS of them (migration 8): an unscoped digest at
# national scale knows ~50,000 plans, and a row per (chat, plan) made every chat a 50,000-row write.
# Chats that were sent the same plans share one set, stored once and named by its content's digest.
plan_sets = Table(
    "plan_sets",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("ids", Text, nullable=False),  # JSON: the sorted, distinct plan ids
    Column("size", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),  # last named by a delivery or a chat, to a day (migration 9)
)
chat_seen = Table(
    "chat_seen",
    metadata,
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("set_digest", String(64), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
user_settings = Table(
    "user_settings",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("language", String(8), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

featured_plans = Table(
    "featured_plans",
    metadata,
    Column("subscription_id", Integer, ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True,
           autoincrement=False),
    Column("plan_id", String(200), primary_key=True),
    Column("featured_at", UTCDateTime, nullable=False),
    Column("times", Integer, nullable=False),
)


# claim_delivery's compare-and-set of next_due, built once: building it per claim cost more than running it.
_MOVE_DUE = update(subscriptions).where(
    subscriptions.c.id == bindparam("move_id"), subscriptions.c.active.is_(True),
    subscriptions.c.next_due == bindparam("move_seen", type_=UTCDateTime()),
    subscriptions.c.next_due < bindparam("move_to", type_=UTCDateTime()),
).values(next_due=bindparam("move_to", type_=UTCDateTime()))


@dataclass(frozen=True)
class Featured:
    """When a subscription last showed a plan in full, and how many times it has: the spotlight rotation."""

    featured_at: datetime
    times: int


@dataclass(frozen=True)
class Delivery:
    subscription_id: int
    period_key: str
    status: str  # 'sending' | 'sent' | 'failed' | 'skipped'
    attempts: int
    claimed_at: datetime
    sent_at: datetime | None
    plan_ids: tuple[str, ...]
    error: str | None
    owner: str | None = None
    lease_until: datetime | None = None


@dataclass(frozen=True)
class DueBatch:
    """One page of the subscriptions a tick must look at, in (next_due, id) order.

    `settled` maps a subscription id to its latest occurrence's period key when the ledger settled
    that period (schedule.missed_on_start's last_delivered_period); `cursor` is where the next page starts.
    """

    subs: list[Subscription]
    settled: dict[int, str]
    cursor: tuple[datetime, int] | None


# ------------------------------------------------------------------------------------------- engine


def default_location(data_dir: str | os.PathLike | None = None) -> str | Path:
    """PLANBRIEF_DATABASE_URL wins; else a SQLite file in `data_dir`, PLANBRIEF_DATA_DIR or ./data."""
    url = os.environ.get(DATABASE_URL_ENV)
    return url or Path(data_dir or os.environ.get(DATA_DIR_ENV, "data")) / DEFAULT_FILENAME


def resolve_url(url_or_path: str | os.PathLike | None = None) -> str:
    """Explicit argument, else PLANBRIEF_DATABASE_URL, else a SQLite file in the data directory."""
    if url_or_path is None:
        url_or_path = default_location()
    text = os.fspath(url_or_path)
    if "://" in text:
        return text
    path = Path(text).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _configure_sqlite(engine: Engine) -> None:
    """Take transaction control from pysqlite (per SQLAlchemy's SQLite docs) and begin IMMEDIATE.

    pysqlite's legacy mode neither BEGINs before DDL nor before SELECT, which breaks transactional
    migrations; a deferred transaction that reads then writes can also fail with SQLITE_BUSY without
    waiting. BEGIN IMMEDIATE takes the write lock up front, so writers queue on busy_timeout instead.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")  # before anything that may wait on another process
        if not _is_wal(cursor):  # WAL is stored in the file: only a new file switches, one opener at a time
            with startup_lock(engine.url.database):
                if not _is_wal(cursor):
                    cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _is_wal(cursor) -> bool:
    return str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


def open_store(url_or_path: str | os.PathLike | None = None, *, clock: Callable[[], datetime] | None = None):
    """Open (creating and migrating if needed) the store; safe to call from several processes at once."""
    engine = make_engine(resolve_url(url_or_path))
    apply_migrations(engine)
    return Store(engine, clock=clock)


def _set_json(ids: frozenset[str]) -> str:
    """A plan set as stored, and what its name is the SHA-256 of: the sorted ids as compact JSON."""
    return json.dumps(sorted(ids), ensure_ascii=False, separators=(",", ":"))


def _utcnow() -> datetime:
    return datetime.now(UTC)


# -------------------------------------------------------------------------------------------- store


class Store:
    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] | None = None):
        self.engine = engine
        self.clock = clock or _utcnow
        self._sets: dict[str, frozenset[str]] = {}  # plan sets read or written lately, by name
        self._set_names: dict[frozenset[str], str] = {}
        self._by_list: dict[tuple[str, ...], tuple[str | None, frozenset[str]]] = {}  # see _named
        self._contained: dict[tuple[str, str], None] = {}  # (inner, outer) set names: see _within
        self._sets_lock = threading.Lock()

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # ------------------------------------------------------------------------------------ chats

    def _ensure_chat(self, conn: Connection, chat_id: int, tz: str | None, language: str | None) -> None:
        if conn.scalar(select(chats.c.chat_id).where(chats.c.chat_id == chat_id)) is not None:
            return
        conn.execute(
            insert(chats).values(
                chat_id=chat_id,
                tz=schedule.parse_tz(tz) if tz else schedule.DEFAULT_TZ,
                language=language or DEFAULT_LANGUAGE,
                created_at=self.clock(),
            )
        )

    def ensure_chat(self, chat_id: int, *, tz: str | None = None, language: str | None = None) -> None:
        """Register a chat with defaults if unknown; never overwrites existing settings."""
        with self._tx() as conn:
            self._ensure_chat(conn, chat_id, tz, language)

    def set_chat_tz(self, chat_id: int, tz: str) -> str:
        """Validate and store; returns the canonical name. Raises schedule.UnknownTimeZone."""
        canonical = schedule.parse_tz(tz)
        with self._tx() as conn:
            self._ensure_chat(conn, chat_id, canonical, None)
            conn.execute(update(chats).where(chats.c.chat_id == chat_id).values(tz=canonical))
            # the same wall time in another zone is another instant
            self._refresh(conn, list(conn.scalars(select(subscriptions.c.id).where(
                subscriptions.c.chat_id == chat_id, subscriptions.c.active.is_(True)))), self.clock())
        return canonical

    def get_chat_tz(self, chat_id: int) -> str:
        with self._tx() as conn:
            tz = conn.scalar(select(chats.c.tz).where(chats.c.chat_id == chat_id))
        return tz or schedule.DEFAULT_TZ

    def set_chat_language(self, chat_id: int, language: str) -> None:
        with self._tx() as conn:
            self._ensure_chat(conn, chat_id, None, language)
            conn.execute(update(chats).where(chats.c.chat_id == chat_id).values(language=language))

    def set_user_language(self, user_id: int, language: str) -> None:
        """/lang: the user's own choice, kept until they change it (any chat, any restart)."""
        now = self.clock()
        with self._tx() as conn:
            done = conn.execute(update(user_settings).where(user_settings.c.user_id == user_id)
                                .values(language=language, updated_at=now)).rowcount
            if not done:
                conn.execute(insert(user_settings).values(user_id=user_id, language=language, updated_at=now))

    def user_languages(self) -> dict[int, str]:
        """Every /lang choice (a few bytes a user), loaded once at start-up."""
        with self._tx() as conn:
            return {int(u): lang for u, lang in conn.execute(select(user_settings.c.user_id, user_settings.c.language))}

    def get_chat_language(self, chat_id: int) -> str:
        with self._tx() as conn:
            language = conn.scalar(select(chats.c.language).where(chats.c.chat_id == chat_id))
        return language or DEFAULT_LANGUAGE

    # ---------------------------------------------------------------------------- subscriptions

    def _select_subs(self):
        return select(subscriptions, chats.c.tz, chats.c.language).join(
            chats, chats.c.chat_id == subscriptions.c.chat_id
        )

    @staticmethod
    def _to_sub(row) -> Subscription:
        m = row._mapping
        return Subscription(
            id=m["id"],
            chat_id=m["chat_id"],
            frequency=m["frequency"],
            time=m["time"],
            weekday=m["weekday"],
            city=m["city"],
            topic=m["topic"],
            tz=m["tz"],
            active=bool(m["active"]),
            created_by=m["created_by"],
            language=m["language"],
            deactivated_reason=m["deactivated_reason"],
            active_since=m["active_since"],
            next_due=m["next_due"],
        )

    @staticmethod
    def _normalise(sub: Subscription) -> dict:
        """Canonicalise on write so the scheduler can trust stored values without re-parsing."""
        frequency = schedule.parse_frequency(sub.frequency)
        weekday = sub.weekday if frequency == "weekly" else None
        if frequency == "weekly" and (not isinstance(weekday, int) or not 0 <= weekday <= 6):
            raise schedule.InvalidWeekday("a weekly subscription needs a weekday 0-6 (0=Monday)", sub.weekday)
        return {
            "chat_id": sub.chat_id,
            "frequency": frequency,
            "weekday": weekday,
            "time": schedule.parse_time(sub.time),
            "city": sub.city or None,
            "topic": sub.topic or None,
            "created_by": sub.created_by,
        }

    def _find_same(self, conn: Connection, values: dict) -> int | None:
        cond = [subscriptions.c.active.is_(True)]
        for key, value in values.items():
            if key == "created_by":
                continue
            column = subscriptions.c[key]
            cond.append(column.is_(None) if value is None else column == value)
        return conn.scalar(select(subscriptions.c.id).where(and_(*cond)))

    def add_subscription(self, sub: Subscription) -> Subscription:
        """Store a new subscription (sub.id ignored) and return it as stored.

        An identical active subscription in the same chat is returned instead of duplicated, so a
        double-tapped button does not mean two digests. The chat is created with sub.tz/sub.language
        if unknown; an existing chat keeps its own zone (the zone is a chat setting, not per sub).
        Raises schedule.ScheduleError subclasses for invalid fields.
        """
        values = self._normalise(sub)
        now = self.clock()
        with self._tx() as conn:
            self._ensure_chat(conn, sub.chat_id, sub.tz, sub.language)
            existing = self._find_same(conn, values)
            if existing is None:
                tz = conn.scalar(select(chats.c.tz).where(chats.c.chat_id == sub.chat_id))
                plan = Subscription(None, values["chat_id"], values["frequency"], values["time"],
                                    weekday=values["weekday"], tz=tz, active_since=now)
                existing = conn.execute(
                    insert(subscriptions).values(
                        **values, active=True, created_at=now, updated_at=now, active_since=now,
                        next_due=schedule.first_at_or_after(plan, now).at,
                    )
                ).inserted_primary_key[0]
            row = conn.execute(self._select_subs().where(subscriptions.c.id == existing)).one()
        return self._to_sub(row)

    def get_subscription(self, sub_id: int) -> Subscription | None:
        with self._tx() as conn:
            row = conn.execute(self._select_subs().where(subscriptions.c.id == sub_id)).first()
        return self._to_sub(row) if row else None

    def list_subscriptions(self, chat_id: int, *, include_inactive: bool = True) -> list[Subscription]:
        query = self._select_subs().where(subscriptions.c.chat_id == chat_id)
        if not include_inactive:
            query = query.where(subscriptions.c.active.is_(True))
        with self._tx() as conn:
            rows = conn.execute(query.order_by(subscriptions.c.id)).all()
        return [self._to_sub(r) for r in rows]

    def list_active_subscriptions(self) -> list[Subscription]:
        """Every active subscription of every chat: the scheduler's input."""
        query = self._select_subs().where(subscriptions.c.active.is_(True)).order_by(subscriptions.c.id)
        with self._tx() as conn:
            return [self._to_sub(r) for r in conn.execute(query).all()]

    def _set_active(self, where, active: bool, reason: str | None) -> int:
        now = self.clock()
        values = {"active": active, "updated_at": now, "deactivated_reason": reason}
        if active:
            values["active_since"] = now
        else:
            values["next_due"] = None  # out of the tick's index range until resumed
        with self._tx() as conn:
            ids = list(conn.scalars(select(subscriptions.c.id).where(where)))
            changed = conn.execute(update(subscriptions).where(where).values(**values)).rowcount
            if active:
                self._refresh(conn, ids, now)
            return changed

    # --------------------------------------------------------------------------- next due time

    def _due(self, sub: Subscription, now: datetime, settled: str | None) -> datetime:
        try:
            return schedule.next_due(sub, now, settled)
        except (ValueError, TypeError, KeyError):  # bad stored data: due now, and the tick decides
            log.warning("subscription %s: next due time not computable; due now", sub.id, exc_info=True)
            return now

    def _settled_latest(self, conn: Connection, latest: dict[int, str]) -> dict[int, str]:
        """Of {subscription id: its latest occurrence's period key}, the pairs the ledger settled."""
        if not latest:
            return {}
        ids, keys = sorted(latest), sorted(set(latest.values()))
        if conn.dialect.name == "postgresql":  # one array parameter: psycopg re-parses a 500-placeholder IN per call
            where = (deliveries.c.subscription_id == any_(bindparam("ids", ids, type_=ARRAY(Integer))),
                     deliveries.c.period_key == any_(bindparam("keys", keys, type_=ARRAY(String))))
        else:
            where = (deliveries.c.subscription_id.in_(ids), deliveries.c.period_key.in_(keys))
        query = select(deliveries.c.subscription_id, deliveries.c.period_key).where(
            *where, deliveries.c.status.in_(SETTLED))
        return {sid: key for sid, key in conn.execute(query) if latest.get(sid) == key}

    def _latest_keys(self, subs: list[Subscription], now: datetime) -> dict[int, str]:
        latest = {}
        for sub in subs:
            try:
                latest[sub.id] = schedule.period_key(sub, now)
            except (ValueError, TypeError, KeyError):
                log.warning("subscription %s: period not computable", sub.id, exc_info=True)
        return latest

    def _refresh(self, conn: Connection, ids: list[int], now: datetime) -> None:
        """Recompute next_due from the rows and the ledger as they are (rows locked, in id order, on
        PostgreSQL, so a concurrent settle or edit cannot interleave between the read and the write)."""
        if not ids:
            return
        query = (self._select_subs()
                 .where(subscriptions.c.id.in_(sorted(set(ids))), subscriptions.c.active.is_(True))
                 .order_by(subscriptions.c.id).with_for_update(of=subscriptions))
        subs = [self._to_sub(r) for r in conn.execute(query).all()]
        settled = self._settled_latest(conn, self._latest_keys(subs, now))
        rows = [{"sid": s.id, "due": self._due(s, now, settled.get(s.id))} for s in subs]
        if rows:
            conn.execute(update(subscriptions).where(subscriptions.c.id == bindparam("sid"))
                         .values(next_due=bindparam("due", type_=UTCDateTime())), rows)

    def refresh_next_due(self, sub_ids: list[int], now: datetime | None = None) -> None:
        """Store the exact next due time of these subscriptions as of `now` (default: the store's clock).

        A tick calls this for rows it read but found nothing to do for, so they leave the due range."""
        with self._tx() as conn:
            self._refresh(conn, list(sub_ids), schedule.require_aware(now or self.clock()))

    def _after_period(self, conn: Connection, sub_id: int, period_key: str) -> datetime | None:
        """The occurrence after a period's, for an active subscription; None if it cannot be placed."""
        row = conn.execute(self._select_subs().where(subscriptions.c.id == sub_id,
                                                     subscriptions.c.active.is_(True))).first()
        if row is None:
            return None
        sub = self._to_sub(row)
        try:
            occ = schedule.occurrence_of(sub, period_key)
            return schedule.next_run(sub, occ.at) if occ is not None else None
        except (ValueError, TypeError, KeyError):  # bad stored data: leave next_due early, the tick decides
            log.warning("subscription %s: next due time not computable", sub_id, exc_info=True)
            return None

    def _advance_before_settling(self, conn: Connection, sub_id: int, period_key: str) -> None:
        """In the transaction that settles a period by INSERT, before the INSERT: due no earlier than the
        occurrence after it. If the INSERT fails (the period was already taken) this rolls back with it.

        First, so the subscription row is locked before the ledger row, the order a deletion takes
        them in (subscription, then its deliveries by cascade): PostgreSQL cannot deadlock on the two.
        Same transaction, so a claim costs one write transaction, as before (SQLite has one writer)."""
        after = self._after_period(conn, sub_id, period_key)
        if after is not None:
            conn.execute(update(subscriptions).where(
                subscriptions.c.id == sub_id, subscriptions.c.active.is_(True),
                or_(subscriptions.c.next_due.is_(None), subscriptions.c.next_due < after),
            ).values(next_due=after))

    def _advance(self, sub_id: int, period_key: str) -> None:
        """After a period was settled by UPDATE (a failed claim retaken or given up): due no earlier than
        the occurrence after it, in its own transaction, and only while the period is still settled.

        Never fatal: a row left earlier than it need be is only looked at by the next tick, which then
        stores the exact value."""
        try:
            with self._tx() as conn:
                after = self._after_period(conn, sub_id, period_key)
                if after is None:
                    return
                settled = exists().where(self._key(sub_id, period_key), deliveries.c.status.in_(SETTLED))
                conn.execute(update(subscriptions).where(
                    subscriptions.c.id == sub_id, subscriptions.c.active.is_(True),
                    or_(subscriptions.c.next_due.is_(None), subscriptions.c.next_due < after), settled,
                ).values(next_due=after))
        except Exception:
            log.warning("advancing next due time of subscription %s failed", sub_id, exc_info=True)

    def _pull_back(self, conn: Connection, sub_id: int, period_key: str) -> None:
        """A period becomes owed again (failed, released): due no later than that period's occurrence.

        In the unsettling transaction and before it touches the ledger row, so the row locks are taken
        in the order a subscription's deletion takes them (subscription, then its deliveries)."""
        row = conn.execute(self._select_subs().where(subscriptions.c.id == sub_id)).first()
        occ = schedule.occurrence_of(self._to_sub(row), period_key) if row is not None else None
        at = occ.at if occ is not None else DUE_AT_ONCE
        conn.execute(update(subscriptions).where(
            subscriptions.c.id == sub_id, subscriptions.c.active.is_(True),
            or_(subscriptions.c.next_due.is_(None), subscriptions.c.next_due > at),
        ).values(next_due=at))

    def unscheduled(self) -> list[int]:
        """Active subscriptions without a next_due: written by something that does not keep it (a worker
        of an older version during a rolling upgrade, a hand-made row). The partial index makes this a
        lookup of those rows only; the tick gives them their time (refresh_next_due) before it pages.

        No LIMIT on purpose: PostgreSQL guesses about 9 % of rows match (it cannot know that a NULL
        next_due goes with an inactive row), and with a LIMIT that guess made a sequential scan of the
        whole table look cheaper than the index (seen in bench/tick_bench.py). There are normally none."""
        query = select(subscriptions.c.id).where(ACTIVE, subscriptions.c.next_due.is_(None))
        with self._tx() as conn:
            return list(conn.scalars(query))

    def due_batch(self, now: datetime, *, limit: int = 500, after: tuple[datetime, int] | None = None) -> DueBatch:
        """Active subscriptions with next_due ≤ now, after `after` in (next_due, id) order: the tick's query.

        An index range scan on (next_due, id), so a tick costs what is due, not what is subscribed;
        with the ledger's verdict on each one's latest period, looked up for this page only.
        """
        now = schedule.require_aware(now)
        query = self._select_subs().where(ACTIVE, subscriptions.c.next_due <= now)
        if after is not None:
            query = query.where(tuple_(subscriptions.c.next_due, subscriptions.c.id) > tuple_(
                bindparam("after_due", after[0], type_=UTCDateTime()), bindparam("after_id", after[1])))
        query = query.order_by(subscriptions.c.next_due, subscriptions.c.id).limit(limit)
        with self._tx() as conn:
            rows = conn.execute(query).all()
            subs = [self._to_sub(r) for r in rows]
            settled = self._settled_latest(conn, self._latest_keys(subs, now))
        cursor = (rows[-1].next_due, rows[-1].id) if rows else None
        return DueBatch(subs, settled, cursor)

    def soonest_occurrence(self, now: datetime) -> tuple[datetime, int] | None:
        """The earliest next occurrence after `now` over the active subscriptions, with its id: /stats' "next due".

        A next occurrence depends only on the schedule (zone, frequency, weekday, time), so the database
        groups the active rows by schedule, with each group's lowest id, and only one per group is worked
        out: at 100,000 subscriptions that is some hundreds of schedules, not 100,000 rows (the rows a
        tick still owes included, which a walk of the next_due index would have to read one by one).
        """
        now = schedule.require_aware(now)
        query = select(chats.c.tz, subscriptions.c.frequency, subscriptions.c.weekday, subscriptions.c.time,
                       func.min(subscriptions.c.id)).join(chats, chats.c.chat_id == subscriptions.c.chat_id).where(
            ACTIVE).group_by(chats.c.tz, subscriptions.c.frequency, subscriptions.c.weekday, subscriptions.c.time)
        with self._tx() as conn:
            groups = conn.execute(query).all()
        by_rule: dict[tuple, list[tuple[str, int]]] = {}
        for tz, frequency, weekday, at_time, first_id in groups:
            by_rule.setdefault((tz, frequency, weekday), []).append((at_time, first_id))
        best: tuple[datetime, int] | None = None
        for (tz, frequency, weekday), times in by_rule.items():
            for at_time, first_id in self._soonest_candidates(tz, times, now):
                sub = Subscription(first_id, 0, frequency, at_time, weekday=weekday, tz=tz)
                at = schedule.next_occurrence(sub, now).at
                if best is None or (at, first_id) < best:
                    best = (at, first_id)
        return best

    @staticmethod
    def _soonest_candidates(tz: str | None, times: list[tuple[str, int]], now: datetime) -> list[tuple[str, int]]:
        """Within one zone and weekday rule, the next occurrence goes by wall time: the soonest is among the
        first times after the local clock (today's) or the earliest times (the next firing day). Three of
        each, not one, so that a wall time a DST change moves (a gap shifts it forward) still competes."""
        try:
            times = sorted(times, key=lambda t: (schedule.time_of(t[0]), t[1]))
            clock = now.astimezone(ZoneInfo(tz or schedule.DEFAULT_TZ)).time()
        except (ZoneInfoNotFoundError, ValueError):
            return times  # an unknown zone or time: let next_occurrence decide each, as before
        later = bisect.bisect_right([schedule.time_of(t) for t, _ in times], clock)
        return times[later:later + 3] + times[:3] + times[max(0, later - 3):later]

    def subscription_counts(self) -> list[tuple[str, bool, bool, bool, int]]:
        """(frequency, has city, has topic, active, count) groups: /stats' breakdown without reading every row."""
        has_city = subscriptions.c.city.is_not(None) & (subscriptions.c.city != "")
        has_topic = subscriptions.c.topic.is_not(None) & (subscriptions.c.topic != "")
        city_col, topic_col = case((has_city, True), else_=False), case((has_topic, True), else_=False)
        query = select(subscriptions.c.frequency, city_col, topic_col, subscriptions.c.active,
                       func.count()).group_by(subscriptions.c.frequency, city_col, topic_col, subscriptions.c.active)
        with self._tx() as conn:
            return [(f, bool(c), bool(t), bool(a), n) for f, c, t, a, n in conn.execute(query).all()]

    def reschedule_subscription(self, chat_id: int, sub_id: int, *, time: str | None = None,
                                frequency: str | None = None, weekday: int | None = None) -> Subscription | None:
        """Change when a subscription fires (None keeps a field); returns it as stored, None if not this chat's.

        The one place such an edit may be made, because next_due must move with it (a later time today
        is due today; if today's digest already went out, that tick sends nothing: one per period).
        Raises schedule.ScheduleError subclasses for invalid fields, as add_subscription does.
        """
        now = self.clock()
        with self._tx() as conn:
            row = conn.execute(self._select_subs().where(self._one(chat_id, sub_id))).first()
            if row is None:
                return None
            current = self._to_sub(row)
            changed = Subscription(sub_id, chat_id, frequency or current.frequency, time or current.time,
                                   weekday=weekday if weekday is not None else current.weekday,
                                   city=current.city, topic=current.topic, created_by=current.created_by)
            values = self._normalise(changed)
            fields = {k: values[k] for k in ("frequency", "weekday", "time")}
            conn.execute(update(subscriptions).where(self._one(chat_id, sub_id)).values(**fields, updated_at=now))
            self._refresh(conn, [sub_id], now)
            row = conn.execute(self._select_subs().where(self._one(chat_id, sub_id))).one()
        return self._to_sub(row)

    def _one(self, chat_id: int, sub_id: int):
        """Scope by chat too, so one chat can never pause or delete another chat's subscription."""
        return and_(subscriptions.c.id == sub_id, subscriptions.c.chat_id == chat_id)

    def pause_subscription(self, chat_id: int, sub_id: int) -> bool:
        return self._set_active(self._one(chat_id, sub_id), False, "paused") == 1

    def resume_subscription(self, chat_id: int, sub_id: int) -> bool:
        """Reactivate; occurrences before now are not owed (no surprise digest for the missed past)."""
        return self._set_active(self._one(chat_id, sub_id), True, None) == 1

    def delete_subscription(self, chat_id: int, sub_id: int) -> bool:
        with self._tx() as conn:
            return conn.execute(delete(subscriptions).where(self._one(chat_id, sub_id))).rowcount == 1

    def delete_all_subscriptions(self, chat_id: int) -> int:
        with self._tx() as conn:
            return conn.execute(delete(subscriptions).where(subscriptions.c.chat_id == chat_id)).rowcount

    def deactivate_chat(self, chat_id: int, reason: str) -> int:
        """For chats that blocked the bot or vanished: keep the rows (a returning user can resume)."""
        where = and_(subscriptions.c.chat_id == chat_id, subscriptions.c.active.is_(True))
        return self._set_active(where, False, reason[:200])

    def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> int:
        """Move a group's subscriptions and history to its supergroup id; returns subscriptions moved.

        Idempotent (a second call finds nothing to move). If the new chat already exists its settings
        win; otherwise it inherits the old chat's zone and language.
        """
        with self._tx() as conn:
            old = conn.execute(select(chats).where(chats.c.chat_id == old_chat_id)).first()
            if old is None:
                return 0
            self._ensure_chat(conn, new_chat_id, old.tz, old.language)
            ids = list(conn.scalars(select(subscriptions.c.id).where(subscriptions.c.chat_id == old_chat_id)))
            moved = conn.execute(
                update(subscriptions)
                .where(subscriptions.c.chat_id == old_chat_id)
                .values(chat_id=new_chat_id, updated_at=self.clock())
            ).rowcount
            self._refresh(conn, ids, self.clock())  # the new chat's zone, if it had one, now applies
            self._move_chat_plans(conn, old_chat_id, new_chat_id)
            conn.execute(delete(chats).where(chats.c.chat_id == old_chat_id))
        return moved

    def _move_chat_plans(self, conn: Connection, old_chat_id: int, new_chat_id: int) -> None:
        rows = conn.execute(select(chat_plans).where(chat_plans.c.chat_id == old_chat_id)).all()
        moved = {r.plan_id: r.first_sent_at for r in rows}
        seen = conn.execute(select(chat_seen).where(chat_seen.c.chat_id == old_chat_id)).first()
        ids = frozenset(moved)
        if seen is not None:
            ids |= self._get_set(conn, seen.set_digest)
        self._record_plans(conn, new_chat_id, ids, seen.updated_at if seen is not None else self.clock(), moved)
        conn.execute(delete(chat_plans).where(chat_plans.c.chat_id == old_chat_id))
        conn.execute(delete(chat_seen).where(chat_seen.c.chat_id == old_chat_id))

    # ------------------------------------------------------------------------------- deliveries

    def _key(self, sub_id: int, period_key: str):
        return and_(deliveries.c.subscription_id == sub_id, deliveries.c.period_key == period_key)

    def _lease(self, now: datetime, lease: float | None) -> datetime | None:
        return now + timedelta(seconds=lease) if lease is not None else None

    def claim_delivery(
        self,
        sub_id: int,
        period_key: str,
        *,
        max_attempts: int = 5,
        owner: str | None = None,
        lease: float | None = None,
        due_move: tuple[datetime, datetime] | None = None,
    ) -> bool:
        """Atomically claim (sub, period) for sending; False if anyone already holds or settled it.

        The INSERT relies on the unique constraint (portable, unlike ON CONFLICT). A 'failed' row is
        re-claimable by a conditional UPDATE — also atomic — until max_attempts, so a transient outage
        is retried by a later run without ever letting two senders hold the same period.
        `owner` and `lease` (seconds) record who holds the claim and until when: the holder renews
        the lease while it sends (renew_leases), and only an expired lease may be taken over.
        A claimed period is not owed again, so the claim moves next_due on (other workers' ticks no
        longer read the row): `due_move` = (next_due as the caller read it, the occurrence after this
        period) does it by compare-and-set, without reading the subscription again — a broadcast claims
        30 a second, and on SQLite every claim holds the one write lock; if an edit moved next_due in
        between, the set does nothing and the next tick looks again. Without it the store computes it.
        """
        now = self.clock()
        try:
            with self._tx() as conn:
                if due_move is None:
                    self._advance_before_settling(conn, sub_id, period_key)
                else:
                    conn.execute(_MOVE_DUE, {"move_id": sub_id, "move_seen": due_move[0], "move_to": due_move[1]})
                conn.execute(
                    insert(deliveries).values(
                        subscription_id=sub_id,
                        period_key=period_key,
                        status="sending",
                        attempts=1,
                        claimed_at=now,
                        owner=owner,
                        lease_until=self._lease(now, lease),
                    )
                )
        except IntegrityError:
            if not self._reclaim_failed(sub_id, period_key, now, max_attempts, owner, lease):
                return False
            self._advance(sub_id, period_key)
        return True

    def _reclaim_failed(
        self, sub_id: int, period_key: str, now: datetime, max_attempts: int, owner: str | None, lease: float | None
    ) -> bool:
        where = and_(
            self._key(sub_id, period_key),
            deliveries.c.status == "failed",
            deliveries.c.attempts < max_attempts,
        )
        values = {
            "status": "sending",
            "attempts": deliveries.c.attempts + 1,
            "claimed_at": now,
            "error": None,
            "owner": owner,
            "lease_until": self._lease(now, lease),
        }
        with self._tx() as conn:
            return conn.execute(update(deliveries).where(where).values(**values)).rowcount == 1

    def renew_leases(self, owner: str, lease: float) -> int:
        """Extend every 'sending' claim `owner` holds; the sender calls this while it works."""
        now = self.clock()
        where = and_(deliveries.c.owner == owner, deliveries.c.status == "sending")
        with self._tx() as conn:
            return conn.execute(update(deliveries).where(where).values(lease_until=now + timedelta(seconds=lease))).rowcount

    def mark_sent(self, sub_id: int, period_key: str, plan_ids: list[str] | tuple[str, ...] = ()) -> None:
        """Settle the claim and remember which plans the chat has now seen (for "new since last")."""
        now = self.clock()
        ids = tuple(plan_ids)
        with self._tx() as conn:
            # the ids as listed; beyond SEEN_ROWS distinct ones the shared set's name (an unscoped
            # digest lists every plan: 1.7 MB a delivery at ×10,000)
            name, distinct = self._named(conn, ids, now) if len(ids) > SEEN_ROWS else (None, frozenset(ids))
            stored = json.dumps({"set": name}) if name is not None else json.dumps(list(ids))
            conn.execute(
                update(deliveries)
                .where(self._key(sub_id, period_key))
                .values(status="sent", sent_at=now, plan_ids=stored, error=None)
            )
            chat_id = conn.scalar(select(subscriptions.c.chat_id).where(subscriptions.c.id == sub_id))
            if chat_id is not None:
                self._record_plans(conn, chat_id, distinct, now, name=name)
        # next_due moved on when the period was claimed (claim_delivery): nothing to do here

    def _record_plans(self, conn: Connection, chat_id: int, plan_ids: frozenset[str], now: datetime,
                      first_sent: dict[str, datetime] | None = None, name: str | None = None) -> None:
        """Add the ids the chat has not been sent before (`first_sent`: when, where known; else `now`;
        `name`: the shared set these ids are, when they are one).

        Up to SEEN_ROWS plans a chat has a row per plan. Beyond that its plans are one shared set
        (plan_sets): chats sent the same plans name the same set, so a broadcast of an unscoped digest
        writes one row per chat rather than one per chat and plan. On PostgreSQL the chat's row is
        locked first, so two workers settling digests of one chat do not lose each other's ids.
        """
        if not plan_ids:
            return
        conn.execute(select(chats.c.chat_id).where(chats.c.chat_id == chat_id).with_for_update())
        digest = conn.scalar(select(chat_seen.c.set_digest).where(chat_seen.c.chat_id == chat_id))
        if digest is not None and digest == name:  # the very plans the chat's set holds: the usual day
            return
        if digest is not None and name is not None and self._within(conn, digest, name, plan_ids):
            # the chat knew some of these plans, and nothing else: it now knows this delivery's set
            # (a broadcast after a plan was added: the same two sets for every chat, compared once)
            conn.execute(update(chat_seen).where(chat_seen.c.chat_id == chat_id).values(set_digest=name,
                                                                                        updated_at=now))
            return
        in_set = self._get_set(conn, digest) if digest is not None else frozenset()
        if plan_ids <= in_set:
            return
        rows_known = frozenset(conn.scalars(select(chat_plans.c.plan_id).where(chat_plans.c.chat_id == chat_id))) \
            if digest is None else frozenset()  # a chat with a set has no rows: they moved into it
        unseen = plan_ids - in_set - rows_known if in_set or rows_known else plan_ids
        if not unseen:
            return
        if digest is None and len(rows_known) + len(unseen) <= SEEN_ROWS:
            when = first_sent or {}
            conn.execute(insert(chat_plans), [{"chat_id": chat_id, "plan_id": p, "first_sent_at": when.get(p, now)}
                                              for p in sorted(unseen)])
            return
        if name is not None and not in_set and not rows_known:  # a chat's first digest of many plans
            union = name
        else:
            union = self._put_set(conn, in_set | rows_known | unseen, now)
        if digest is None:
            conn.execute(insert(chat_seen).values(chat_id=chat_id, set_digest=union, updated_at=now))
        else:
            conn.execute(update(chat_seen).where(chat_seen.c.chat_id == chat_id).values(set_digest=union,
                                                                                        updated_at=now))
        if rows_known:  # now in the set
            conn.execute(delete(chat_plans).where(chat_plans.c.chat_id == chat_id))

    def _within(self, conn: Connection, inner: str, outer: str, outer_ids: frozenset[str]) -> bool:
        """Whether set `inner` is part of set `outer` (whose ids are `outer_ids`), remembered by name."""
        with self._sets_lock:
            if (inner, outer) in self._contained:
                return True
        if not self._get_set(conn, inner) <= outer_ids:
            return False
        with self._sets_lock:
            self._contained[(inner, outer)] = None
            while len(self._contained) > SETS_KEPT:
                self._contained.pop(next(iter(self._contained)))
        return True

    def _named(self, conn: Connection, ids: tuple[str, ...], now: datetime) -> tuple[str | None, frozenset[str]]:
        """The shared set of a delivery's ids (None when they are SEEN_ROWS or fewer distinct ones) and
        the ids as a set. A broadcast hands every chat the same ids (the same strings, in the same
        order), so they are looked up as a tuple: hashing and comparing a tuple of the same string
        objects is ~1 ms at 50,000 ids, where building and comparing sets of them was ~6 ms each."""
        with self._sets_lock:
            found = self._by_list.get(ids)
        if found is not None:
            if found[0] is not None:
                self._ensure_set(conn, found[0], found[1], now)
            return found
        distinct = frozenset(ids)
        found = (self._put_set(conn, distinct, now) if len(distinct) > SEEN_ROWS else None, distinct)
        with self._sets_lock:
            self._by_list[ids] = found
            while len(self._by_list) > SETS_KEPT:
                self._by_list.pop(next(iter(self._by_list)))
        return found

    def _put_set(self, conn: Connection, ids, now: datetime) -> str:
        """The name of the set of `ids`, stored if new (the same ids always make the same name)."""
        key = frozenset(ids)
        with self._sets_lock:
            name = self._set_names.get(key)
        if name is None:
            name = hashlib.sha256(_set_json(key).encode("utf-8")).hexdigest()
            self._remember_set(name, key)
        self._ensure_set(conn, name, key, now)
        return name

    def _ensure_set(self, conn: Connection, name: str, ids: frozenset[str], now: datetime) -> None:
        """Store the set unless the database has it: asked every time, since a name remembered here may
        come from a transaction that was rolled back. A set last used more than SET_TOUCH ago is marked
        used now: on PostgreSQL that UPDATE locks the row, so a concurrent `prune` either deleted it
        before (no row updated, and the set is stored again below) or re-reads it as used and keeps it."""
        found = conn.execute(select(plan_sets.c.used_at).where(plan_sets.c.digest == name)).first()
        if found is not None:
            if found.used_at is not None and found.used_at >= now - SET_TOUCH:
                return  # the usual case, one read: a set this recent is no prune's to take
            if conn.execute(update(plan_sets).where(plan_sets.c.digest == name).values(used_at=now)).rowcount:
                return
        values = {"digest": name, "ids": _set_json(ids), "size": len(ids), "created_at": now, "used_at": now}
        if conn.dialect.name == "postgresql":  # two workers may store the same set at once
            conn.execute(pg_insert(plan_sets).values(**values).on_conflict_do_nothing())
        else:  # SQLite: BEGIN IMMEDIATE already serialises writers
            conn.execute(insert(plan_sets).values(**values))

    def prune(self, now: datetime | None = None) -> dict[str, int]:
        """Drop settled deliveries claimed more than DELIVERIES_KEPT ago, then the shared plan sets no chat
        names and none used since (SET_TOUCH later still, so no delivery left can name one). Without it
        both grow for ever: a national broadcast is 100,000 ledger rows and a ~2 MB set a day. Failed and
        sending rows stay (they may still be owed). Safe to run from every worker at once."""
        now = now or self.clock()
        cut = now - DELIVERIES_KEPT
        with self._tx() as conn:
            dropped = conn.execute(delete(deliveries).where(
                deliveries.c.status.in_(("sent", "skipped")), deliveries.c.claimed_at < cut)).rowcount
        named = select(chat_seen.c.chat_id).where(chat_seen.c.set_digest == plan_sets.c.digest).exists()
        with self._tx() as conn:
            gone = list(conn.scalars(delete(plan_sets).where(
                func.coalesce(plan_sets.c.used_at, plan_sets.c.created_at) < cut - 2 * SET_TOUCH, ~named,
            ).returning(plan_sets.c.digest)))
        if gone:
            with self._sets_lock:  # forget them here too, so a name remembered is stored again when used
                for name in gone:
                    ids = self._sets.pop(name, None)
                    if ids is not None:
                        self._set_names.pop(ids, None)
                self._by_list.clear()
                self._contained.clear()
        return {"deliveries": max(dropped, 0), "plan_sets": len(gone)}

    def _get_set(self, conn: Connection, name: str) -> frozenset[str]:
        with self._sets_lock:
            found = self._sets.get(name)
        if found is None:
            data = conn.scalar(select(plan_sets.c.ids).where(plan_sets.c.digest == name))
            found = frozenset(json.loads(data)) if data else frozenset()
            self._remember_set(name, found)
        return found

    def _remember_set(self, name: str, ids: frozenset[str]) -> None:
        with self._sets_lock:
            self._sets[name] = ids
            self._set_names[ids] = name
            while len(self._sets) > SETS_KEPT:
                old = next(iter(self._sets))
                self._set_names.pop(self._sets.pop(old), None)

    def mark_failed(self, sub_id: int, period_key: str, error: str) -> None:
        """Keep the row (history, attempts) but let claim_delivery retake it later (the period is due again)."""
        self._settle(sub_id, period_key, "failed", error)

    def mark_skipped(self, sub_id: int, period_key: str, reason: str) -> None:
        """A period deliberately not sent (too late, nothing to say, ambiguous crash): never retried.

        Always a claimed period, so next_due already moved on with the claim."""
        self._settle(sub_id, period_key, "skipped", reason)

    def _settle(self, sub_id: int, period_key: str, status: str, error: str) -> None:
        with self._tx() as conn:
            if status not in SETTLED:
                self._pull_back(conn, sub_id, period_key)
            conn.execute(
                update(deliveries).where(self._key(sub_id, period_key)).values(status=status, error=error)
            )

    def record_skipped(self, sub_id: int, period_key: str, reason: str) -> bool:
        """Log a missed period we decided not to send; a 'failed' row becomes 'skipped' (given up).

        False if the period was already sent, skipped or is being sent.
        """
        try:
            with self._tx() as conn:
                self._advance_before_settling(conn, sub_id, period_key)
                conn.execute(
                    insert(deliveries).values(
                        subscription_id=sub_id,
                        period_key=period_key,
                        status="skipped",
                        attempts=0,
                        claimed_at=self.clock(),
                        error=reason,
                    )
                )
            return True
        except IntegrityError:
            where = and_(self._key(sub_id, period_key), deliveries.c.status == "failed")
            with self._tx() as conn:
                if conn.execute(update(deliveries).where(where).values(status="skipped", error=reason)).rowcount != 1:
                    return False
        self._advance(sub_id, period_key)
        return True

    def release(self, sub_id: int, period_key: str) -> bool:
        """Delete a claim whose send certainly never reached Telegram, so the period is owed again."""
        where = and_(self._key(sub_id, period_key), deliveries.c.status.in_(("sending", "failed")))
        with self._tx() as conn:
            self._pull_back(conn, sub_id, period_key)
            return conn.execute(delete(deliveries).where(where)).rowcount == 1

    def _to_delivery(self, row, conn: Connection) -> Delivery:
        return Delivery(
            subscription_id=row.subscription_id,
            period_key=row.period_key,
            status=row.status,
            attempts=row.attempts,
            claimed_at=row.claimed_at,
            sent_at=row.sent_at,
            plan_ids=self._stored_ids(conn, row.plan_ids),
            error=row.error,
            owner=row.owner,
            lease_until=row.lease_until,
        )

    def get_delivery(self, sub_id: int, period_key: str) -> Delivery | None:
        with self._tx() as conn:
            row = conn.execute(select(deliveries).where(self._key(sub_id, period_key))).first()
        return self._to_delivery(row, conn) if row else None

    def last_settled_periods(self) -> dict[int, str]:
        """Latest period not owed any more, per subscription (one query for the whole sweep).

        'failed' rows are excluded so a failed period stays owed; latest = most recently claimed.
        """
        query = (
            select(deliveries.c.subscription_id, deliveries.c.period_key)
            .where(deliveries.c.status.in_(SETTLED))
            .order_by(deliveries.c.claimed_at, deliveries.c.id)
        )
        with self._tx() as conn:
            return {row.subscription_id: row.period_key for row in conn.execute(query)}

    def _abandoned(self, now: datetime, claimed_before: datetime | None):
        """A 'sending' claim nobody works on: its lease ran out, or (rows without a lease, from
        before migration 2 or from a caller that took none) it was claimed before `claimed_before`."""
        expired = and_(deliveries.c.lease_until.is_not(None), deliveries.c.lease_until < now)
        if claimed_before is not None:
            legacy = and_(deliveries.c.lease_until.is_(None), deliveries.c.claimed_at < claimed_before)
            expired = or_(expired, legacy)
        return and_(deliveries.c.status == "sending", expired)

    def stale_claims(self, claimed_before: datetime | None) -> list[Delivery]:
        """Claims left 'sending' by a process that stopped working on them (see _abandoned)."""
        with self._tx() as conn:
            query = select(deliveries).where(self._abandoned(self.clock(), claimed_before))
            return [self._to_delivery(r, conn) for r in conn.execute(query)]

    def retake_stale(
        self,
        sub_id: int,
        period_key: str,
        claimed_before: datetime | None,
        *,
        owner: str | None = None,
        lease: float | None = None,
    ) -> bool:
        """Take over one abandoned claim atomically, so two restarting processes cannot both resend it."""
        now = self.clock()
        where = and_(self._key(sub_id, period_key), self._abandoned(now, claimed_before))
        # Without a lease, never leave it below the cut-off (clock skew), or a second taker would see it too.
        values = {
            "attempts": deliveries.c.attempts + 1,
            "owner": owner,
            "lease_until": self._lease(now, lease),
        }
        if lease is None and claimed_before is not None:
            values["claimed_at"] = max(now, claimed_before)
        with self._tx() as conn:
            return conn.execute(update(deliveries).where(where).values(**values)).rowcount == 1

    def take_over_abandoned(self, owner: str, lease: float, claimed_before: datetime | None) -> list[Delivery]:
        """Take over every abandoned claim in one statement and return them, now held by `owner`.

        On PostgreSQL the rows are picked with FOR UPDATE SKIP LOCKED: two processes catching up at
        once split the abandoned claims between them instead of queueing on each other's row locks,
        and the UPDATE re-checks the lease, so a row is never taken twice. SQLite ignores FOR UPDATE;
        there BEGIN IMMEDIATE already serialises whole transactions. claimed_at is kept: the grace
        window counts from the original claim.
        """
        now = self.clock()
        abandoned = self._abandoned(now, claimed_before)
        picked = select(deliveries.c.id).where(abandoned).with_for_update(skip_locked=True)
        statement = (
            update(deliveries)
            .where(and_(deliveries.c.id.in_(picked.scalar_subquery()), abandoned))
            .values(attempts=deliveries.c.attempts + 1, owner=owner, lease_until=now + timedelta(seconds=lease))
            .returning(*deliveries.c)
        )
        with self._tx() as conn:
            return [self._to_delivery(r, conn) for r in conn.execute(statement).all()]

    def _stored_ids(self, conn: Connection, stored: str | None) -> tuple[str, ...]:
        """A delivery's plan ids (`_ids_json`): a shared set's come back sorted and distinct."""
        if not stored:
            return ()
        value = json.loads(stored)
        if isinstance(value, dict):
            return tuple(sorted(self._get_set(conn, value["set"])))
        return tuple(value)

    def plans_sent_to_chat(self, chat_id: int) -> set[str]:
        with self._tx() as conn:
            seen = set(conn.scalars(select(chat_plans.c.plan_id).where(chat_plans.c.chat_id == chat_id)))
            digest = conn.scalar(select(chat_seen.c.set_digest).where(chat_seen.c.chat_id == chat_id))
            if digest is not None:
                seen |= self._get_set(conn, digest)
            return seen

    # ------------------------------------------------------------------------- spotlight rotation

    def featured_plans(self, sub_id: int) -> dict[str, Featured]:
        """Plan id → when this subscription last showed it in full (and how often), for the rotation."""
        query = select(featured_plans).where(featured_plans.c.subscription_id == sub_id)
        with self._tx() as conn:
            return {r.plan_id: Featured(r.featured_at, r.times) for r in conn.execute(query)}

    def record_featured(self, sub_id: int, plan_ids: list[str] | tuple[str, ...]) -> None:
        """Called once a digest is accepted by Telegram: the plans it showed in full move to the back."""
        if not plan_ids:
            return
        now = self.clock()
        with self._tx() as conn:
            if conn.scalar(select(subscriptions.c.id).where(subscriptions.c.id == sub_id)) is None:
                return  # deleted while sending: nothing to rotate
            where = featured_plans.c.subscription_id == sub_id
            known = set(conn.scalars(select(featured_plans.c.plan_id).where(where)))
            for plan_id in dict.fromkeys(plan_ids):
                if plan_id in known:
                    conn.execute(update(featured_plans).where(and_(where, featured_plans.c.plan_id == plan_id))
                                 .values(featured_at=now, times=featured_plans.c.times + 1))
                else:
                    conn.execute(insert(featured_plans).values(subscription_id=sub_id, plan_id=plan_id,
                                                               featured_at=now, times=1))
