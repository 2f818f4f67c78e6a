"""Versioned schema migrations, applied in order when a store is opened.

Why not create_all()/ad-hoc ALTERs: a deployed SQLite file or PostgreSQL database outlives the code,
so every schema change must be a numbered, recorded step that runs exactly once per database.

Each migration builds its own snapshot of the tables it touches (a local MetaData), never the store's
current Table objects, so an old migration keeps meaning what it meant when it was written.

Concurrency: everything runs in one transaction that first takes an exclusive lock — BEGIN IMMEDIATE
on SQLite (the store's engine emits it for every transaction), pg_advisory_xact_lock on PostgreSQL —
so a second process opening the database at the same time waits, then sees the versions recorded and
applies nothing. On a SQLite file the whole start-up (the first connection's switch to WAL included)
also runs under a file lock beside the database (`startup_lock`): switching a new file to WAL can fail
with "database is locked" at once, without waiting on the busy timeout, when several processes open
the new file together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime

import filelock
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
    UniqueConstraint,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy import true as sql_true

from bot.digests import schedule
from bot.models import Subscription

# Arbitrary constant key for pg_advisory_xact_lock: "PLANBRIEF" digits-ish, unique within our database.
_PG_LOCK_KEY = 7_526_273_743


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


def _schema_version_table(metadata: MetaData) -> Table:
    return Table(
        "schema_version",
        metadata,
        Column("version", Integer, primary_key=True, autoincrement=False),
        Column("description", String(200), nullable=False),
        Column("applied_at", DateTime(timezone=True), nullable=False),
    )


def _v1_initial(conn: Connection) -> None:
    """Chats, subscriptions, the delivery ledger and the per-chat record of plans already sent."""
    md = MetaData()
    Table(
        "chats",
        md,
        Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
        Column("tz", String(64), nullable=False),
        Column("language", String(16), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "subscriptions",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("chat_id", BigInteger, ForeignKey("chats.chat_id"), nullable=False),
        Column("frequency", String(8), nullable=False),
        Column("weekday", Integer, nullable=True),
        Column("time", String(5), nullable=False),
        Column("city", String(100), nullable=True),
        Column("topic", String(200), nullable=True),
        Column("active", Boolean, nullable=False),
        Column("created_by", BigInteger, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("active_since", DateTime(timezone=True), nullable=True),
        Column("deactivated_reason", String(200), nullable=True),
        Index("ix_subscriptions_chat", "chat_id"),
    )
    Table(
        "deliveries",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column(
            "subscription_id",
            Integer,
            ForeignKey("subscriptions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        Column("period_key", String(16), nullable=False),
        Column("status", String(8), nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("claimed_at", DateTime(timezone=True), nullable=False),
        Column("sent_at", DateTime(timezone=True), nullable=True),
        Column("plan_ids", Text, nullable=True),
        Column("error", Text, nullable=True),
        UniqueConstraint("subscription_id", "period_key", name="uq_deliveries_sub_period"),
        Index("ix_deliveries_status", "status"),
    )
    Table(
        "chat_plans",
        md,
        Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
        Column("plan_id", String(200), primary_key=True),
        Column("first_sent_at", DateTime(timezone=True), nullable=False),
    )
    md.create_all(conn)


def _v2_claim_owner_and_lease(conn: Connection) -> None:
    """Who holds a 'sending' claim and until when, so a catch-up takes over only abandoned claims.

    Before this, a claim carried only its time, and a second process starting up took a live
    process's claims for a crashed one's and sent them again. Existing rows keep NULLs: a claim
    without a lease is judged the old way (claimed before the taker started).
    """
    when = DateTime(timezone=True).compile(dialect=conn.dialect)
    conn.execute(text("ALTER TABLE deliveries ADD COLUMN owner VARCHAR(120)"))
    conn.execute(text(f"ALTER TABLE deliveries ADD COLUMN lease_until {when}"))
    conn.execute(text("CREATE INDEX ix_deliveries_lease ON deliveries (status, lease_until)"))


def _v3_featured_plans(conn: Connection) -> None:
    """Per subscription, when each plan was last shown in full and how often: the spotlight rotation.

    Keyed by subscription, not chat, so a 无锡 and a 双减 subscription in one chat rotate on their own;
    deleting a subscription deletes its rotation.
    """
    md = MetaData()
    Table("subscriptions", md, Column("id", Integer, primary_key=True))
    Table(
        "featured_plans",
        md,
        Column(
            "subscription_id",
            Integer,
            ForeignKey("subscriptions.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        Column("plan_id", String(200), primary_key=True),
        Column("featured_at", DateTime(timezone=True), nullable=False),
        Column("times", Integer, nullable=False),
    )
    md.tables["featured_plans"].create(conn)


def _v4_user_settings(conn: Connection) -> None:
    """Per Telegram user, the language chosen with /lang (issue 16): remembered across chats and restarts,
    ahead of the client's language_code."""
    md = MetaData()
    Table(
        "user_settings",
        md,
        Column("user_id", BigInteger, primary_key=True, autoincrement=False),
        Column("language", String(8), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )
    md.tables["user_settings"].create(conn)


def _v5_watched_sources(conn: Connection) -> None:
    """The watch list (bureau columns) and every item seen on them, with what became of it.

    In the database, not a file, so the bot's job, `planbrief sources check` from cron and an editor's
    /watch all see one list; items are unique per source and normalised URL, so a restart in the
    middle of a round finds what it already recorded instead of proposing it again.
    """
    md = MetaData()
    when = DateTime(timezone=True)
    Table(
        "sources",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("url", String(2000), nullable=False),
        Column("city", String(100), nullable=False),
        Column("selector", String(500), nullable=True),
        Column("interval_s", Integer, nullable=False),
        Column("mode", String(8), nullable=False),
        Column("state", String(8), nullable=False),
        Column("allow_private", Boolean, nullable=False),
        Column("backfill", Integer, nullable=False),
        Column("baseline_done", Boolean, nullable=False),
        Column("etag", String(500), nullable=True),
        Column("last_modified", String(100), nullable=True),
        Column("failures", Integer, nullable=False),
        Column("failing_notified", Boolean, nullable=False),
        Column("last_error", Text, nullable=True),
        Column("last_status", String(16), nullable=True),
        Column("created_by", BigInteger, nullable=True),
        Column("created_at", when, nullable=False),
        Column("last_checked_at", when, nullable=True),
        Column("last_success_at", when, nullable=True),
        Column("next_check_at", when, nullable=True),
        UniqueConstraint("url", name="uq_sources_url"),
    )
    Table(
        "source_items",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("source_id", Integer, ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
        Column("url", String(2000), nullable=False),
        Column("url_key", String(64), nullable=False),
        Column("title", String(500), nullable=False),
        Column("title_key", String(64), nullable=False),
        Column("list_date", String(10), nullable=True),
        Column("status", String(12), nullable=False),
        Column("kind", String(20), nullable=True),
        Column("why", Text, nullable=True),
        Column("content_hash", String(64), nullable=True),
        Column("plan_id", String(200), nullable=True),
        Column("file", Text, nullable=True),
        Column("overrides", Text, nullable=True),
        Column("error", Text, nullable=True),
        Column("notified", Boolean, nullable=False),
        Column("first_seen_at", when, nullable=False),
        Column("updated_at", when, nullable=False),
        UniqueConstraint("source_id", "url_key", name="uq_source_items_url"),
        Index("ix_source_items_status", "status"),
        Index("ix_source_items_hash", "content_hash"),
        Index("ix_source_items_title", "source_id", "title_key"),
    )
    Table(
        "source_reports",
        md,
        Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
        Column("created_at", when, nullable=False),
    )
    md.create_all(conn)


def _v6_shared_state(conn: Connection) -> None:
    """What a second worker or a restart must find: short-lived keyed state (paging keys, reply links,
    editor drafts, the webhook registration, the last digest tick), and who was seen when (for /stats)."""
    md = MetaData()
    Table(
        "kv_state",
        md,
        Column("scope", String(32), primary_key=True),
        Column("key", String(200), primary_key=True),
        Column("value", Text, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=True),
        Index("ix_kv_state_expires", "expires_at"),
    )
    Table(
        "seen",
        md,
        Column("kind", String(8), primary_key=True),
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("first_seen", DateTime(timezone=True), nullable=False),
        Column("last_seen", DateTime(timezone=True), nullable=False),
        Index("ix_seen_last", "kind", "last_seen"),
    )
    md.create_all(conn)


def _v7_next_due(conn: Connection) -> None:
    """subscriptions.next_due, indexed: a scheduler tick reads the rows due instead of every subscription.

    The backfill gives each active subscription the instant a pass next has something to do for it,
    from its schedule and the ledger as they stand now (bot.digests.schedule.next_due); inactive rows
    keep NULL, and the index holds active rows only (a partial index). A value too early only costs the first tick
    a look at the row (it then stores the exact one), so a row the schedule cannot place gets the
    earliest safe value, the instant it became active. Runs under the migration lock like every step,
    so of several processes starting at once one backfills and the others find version 7 recorded.
    """
    when = DateTime(timezone=True)
    conn.execute(text(f"ALTER TABLE subscriptions ADD COLUMN next_due {when.compile(dialect=conn.dialect)}"))
    # Partial: only active rows are in it, so paused and blocked subscriptions (they pile up over the
    # years) never lengthen a tick's range scan, and an active row without a time is found at once.
    true = sql_true().compile(dialect=conn.dialect)
    conn.execute(text(f"CREATE INDEX ix_subscriptions_next_due ON subscriptions (next_due, id) WHERE active = {true}"))
    md = MetaData()
    subs = Table(
        "subscriptions",
        md,
        Column("id", Integer, primary_key=True),
        Column("chat_id", BigInteger),
        Column("frequency", String(8)),
        Column("weekday", Integer),
        Column("time", String(5)),
        Column("active", Boolean),
        Column("created_at", when),
        Column("active_since", when),
        Column("next_due", when),
    )
    chats = Table("chats", md, Column("chat_id", BigInteger, primary_key=True), Column("tz", String(64)))
    ledger = Table(
        "deliveries",
        md,
        Column("subscription_id", Integer),
        Column("period_key", String(16)),
        Column("status", String(8)),
    )
    now = datetime.now(UTC)
    rows = conn.execute(
        select(subs, chats.c.tz).join(chats, chats.c.chat_id == subs.c.chat_id).where(subs.c.active.is_(True))
    ).all()
    latest: dict[int, tuple[Subscription, str | None]] = {}
    for row in rows:
        sub = Subscription(row.id, row.chat_id, row.frequency, row.time, weekday=row.weekday, tz=row.tz,
                           active_since=_aware(row.active_since or row.created_at))
        try:
            latest[row.id] = (sub, schedule.period_key(sub, now))
        except (ValueError, TypeError, KeyError):
            latest[row.id] = (sub, None)
    keys = {key for _, key in latest.values() if key is not None}
    settled = set()
    if keys:
        settled = {(r.subscription_id, r.period_key) for r in conn.execute(
            select(ledger.c.subscription_id, ledger.c.period_key)
            .where(ledger.c.period_key.in_(sorted(keys)), ledger.c.status.in_(("sent", "skipped", "sending"))))}
    values = []
    for sub_id, (sub, key) in latest.items():
        due = sub.active_since
        if key is not None:
            with suppress(ValueError, TypeError, KeyError):  # KeyError: a zone this system has no data for
                due = schedule.next_due(sub, now, key if (sub_id, key) in settled else None)
        values.append({"sid": sub_id, "due": _stored(due, conn)})
    if values:
        conn.execute(subs.update().where(subs.c.id == bindparam("sid")).values(next_due=bindparam("due")), values)


def _v8_plan_sets(conn: Connection) -> None:
    """plan_sets and chat_seen: a chat's seen plans beyond a few hundred are one set shared by the chats
    sent the same plans (bot.digests.store.Store._record_plans). Existing chat_plans rows stay as they are:
    a chat's seen plans are its rows and its set together, and its rows move into a set when it grows."""
    md = MetaData()
    when = DateTime(timezone=True)
    Table(
        "plan_sets",
        md,
        Column("digest", String(64), primary_key=True),
        Column("ids", Text, nullable=False),
        Column("size", Integer, nullable=False),
        Column("created_at", when, nullable=False),
    )
    Table(
        "chat_seen",
        md,
        Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
        Column("set_digest", String(64), nullable=False),
        Column("updated_at", when, nullable=False),
    )
    md.create_all(conn)


def _v9_retention(conn: Connection) -> None:
    """plan_sets.used_at and an index on deliveries.claimed_at: what `Store.prune` needs to drop settled
    deliveries after DELIVERIES_KEPT and the shared sets no chat names and no kept delivery can name.
    Existing sets count as used when they were made."""
    when = DateTime(timezone=True).compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE plan_sets ADD COLUMN used_at {when}"))
    conn.execute(text("UPDATE plan_sets SET used_at = created_at"))
    conn.execute(text("CREATE INDEX ix_deliveries_claimed ON deliveries (claimed_at)"))


def _aware(instant: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC."""
    return instant.replace(tzinfo=UTC) if instant is not None and instant.tzinfo is None else instant


def _stored(instant: datetime | None, conn: Connection) -> datetime | None:
    """As the store's UTCDateTime writes it: naive UTC on SQLite, aware elsewhere."""
    if instant is None or conn.dialect.name != "sqlite":
        return instant
    return instant.astimezone(UTC).replace(tzinfo=None)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "chats, subscriptions, deliveries, chat_plans", _v1_initial),
    Migration(2, "deliveries: claim owner and lease", _v2_claim_owner_and_lease),
    Migration(3, "featured_plans: the per-subscription spotlight rotation", _v3_featured_plans),
    Migration(4, "user_settings: the language each user chose with /lang", _v4_user_settings),
    Migration(5, "sources, source_items, source_reports: the watched bureau columns", _v5_watched_sources),
    Migration(6, "kv_state and seen: state shared by workers, activity for /stats", _v6_shared_state),
    Migration(7, "subscriptions.next_due, indexed: a tick reads only the due rows", _v7_next_due),
    Migration(8, "plan_sets, chat_seen: a chat's seen plans as one shared set once they are many", _v8_plan_sets),
    Migration(9, "plan_sets.used_at, deliveries by claim time: settled history kept for a while, then pruned",
              _v9_retention),
)


def _check_order(migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)) or (versions and versions[0] < 1):
        raise ValueError(f"migration versions must be unique, ascending and ≥ 1: {versions}")


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def current_version(conn: Connection) -> int:
    table = _schema_version_table(MetaData())
    if not conn.dialect.has_table(conn, table.name):
        return 0
    return conn.scalar(select(func.max(table.c.version))) or 0


STARTUP_LOCK_WAIT = 60.0  # seconds; a migration of this schema takes milliseconds
_STARTUP_LOCKS: dict[str, filelock.FileLock] = {}
_STARTUP_GUARD = threading.Lock()


@contextmanager
def startup_lock(database: str | None) -> Iterator[None]:
    """Serialise the start-up of every process and thread opening one SQLite file (no-op otherwise).

    One lock object per file, so a thread that holds it (migrating) can open its first connection,
    whose WAL switch takes the same lock, without waiting on itself; other threads and processes wait.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    with _STARTUP_GUARD:
        lock = _STARTUP_LOCKS.get(database)
        if lock is None:
            lock = filelock.FileLock(database + ".startup.lock", timeout=STARTUP_LOCK_WAIT, poll_interval=0.005)
            _STARTUP_LOCKS[database] = lock
    with lock:
        yield


def apply_migrations(engine: Engine, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply pending migrations atomically; return the versions applied by this call (often none)."""
    _check_order(migrations)
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    with startup_lock(database):
        return _apply(engine, migrations)


def _apply(engine: Engine, migrations: Sequence[Migration]) -> list[int]:
    table = _schema_version_table(MetaData())
    applied: list[int] = []
    with engine.begin() as conn:
        _lock(conn)
        table.create(conn, checkfirst=True)
        done = set(conn.scalars(select(table.c.version)))
        for migration in migrations:
            if migration.version in done:
                continue
            migration.apply(conn)
            conn.execute(
                table.insert().values(
                    version=migration.version,
                    description=migration.description,
                    applied_at=datetime.now(UTC),
                )
            )
            applied.append(migration.version)
    return applied
