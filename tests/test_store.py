"""The store against a real SQLite file in tmp_path; a second Store on the same file stands for a restart."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, text

from bot.digests import migrations
from bot.digests.migrations import Migration, apply_migrations
from bot.digests.schedule import InvalidTime, InvalidWeekday, UnknownTimeZone
from bot.digests.store import (
    DELIVERIES_KEPT,
    SEEN_ROWS,
    Featured,
    make_engine,
    metadata,
    open_store,
    resolve_url,
)
from bot.models import Subscription

T0 = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "planbrief.sqlite3"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(db_path, clock):
    s = open_store(db_path, clock=clock)
    yield s
    s.close()


def sub(chat_id=100, frequency="daily", time="8:00", **kw) -> Subscription:
    return Subscription(id=None, chat_id=chat_id, frequency=frequency, time=time, **kw)


# ---------------------------------------------------------------------------------------- schema


def test_sqlite_is_wal_with_foreign_keys(store):
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_migrations_are_recorded_and_idempotent(db_path):
    engine = make_engine(resolve_url(db_path))
    every = [m.version for m in migrations.MIGRATIONS]  # 1 (initial), 2 (claim owner and lease), ...
    assert every[:2] == [1, 2]
    assert apply_migrations(engine) == every
    assert apply_migrations(engine) == []
    with engine.connect() as conn:
        assert migrations.current_version(conn) == every[-1]
    engine.dispose()


def test_new_migration_applies_in_order_once(db_path):
    engine = make_engine(resolve_url(db_path))
    apply_migrations(engine)
    following = migrations.MIGRATIONS[-1].version + 1
    extra = Migration(
        following, "add note", lambda c: c.execute(text("ALTER TABLE chats ADD COLUMN note VARCHAR(20)"))
    )
    assert apply_migrations(engine, (*migrations.MIGRATIONS, extra)) == [following]
    assert apply_migrations(engine, (*migrations.MIGRATIONS, extra)) == []
    assert "note" in {c["name"] for c in inspect(engine).get_columns("chats")}
    engine.dispose()


def test_migration_list_must_be_ordered(db_path):
    engine = make_engine(resolve_url(db_path))
    bad = (Migration(2, "b", lambda c: None), Migration(1, "a", lambda c: None))
    with pytest.raises(ValueError):
        apply_migrations(engine, bad)
    engine.dispose()


def test_two_processes_opening_at_once_migrate_once(db_path):
    errors, results = [], []

    def open_one():
        try:
            engine = make_engine(resolve_url(db_path))
            results.append(apply_migrations(engine))
            engine.dispose()
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, "; ".join(f"{type(e).__name__}: {e}" for e in errors)
    assert sorted(results) == [[], [], [], [m.version for m in migrations.MIGRATIONS]]


def test_an_opener_waits_while_another_is_starting_up(db_path):
    """Start-up (the WAL switch and the migrations) is serialised per file: a second opener waits for
    the first instead of racing it into "database is locked"; the 200-run proof is bench/migrate_race."""
    import time

    from bot.digests.migrations import startup_lock

    done: list[list[int]] = []
    opener = threading.Thread(target=lambda: done.append(apply_migrations(make_engine(resolve_url(db_path)))))
    with startup_lock(str(db_path)):
        opener.start()
        time.sleep(0.5)
        assert done == []  # still waiting: another process is mid start-up
    opener.join(10)
    assert done == [[m.version for m in migrations.MIGRATIONS]]


def test_store_tables_match_migrated_schema(store):
    live = inspect(store.engine)
    for table in metadata.sorted_tables:
        assert {c["name"] for c in live.get_columns(table.name)} == set(table.c.keys())


# -------------------------------------------------------------------------------- subscriptions


def test_add_normalises_and_lists(store):
    added = store.add_subscription(sub(time="０８００", city="杭州"))
    assert (added.id, added.time, added.city, added.tz, added.active) == (
        1,
        "08:00",
        "杭州",
        "Asia/Shanghai",
        True,
    )
    assert added.active_since == T0
    assert store.list_subscriptions(100) == [added]
    assert store.get_subscription(added.id) == added


def test_add_is_idempotent_for_identical_active_subscription(store):
    a = store.add_subscription(sub(frequency="weekly", weekday=2))
    b = store.add_subscription(sub(frequency="weekly", weekday=2, time="08:00"))
    c = store.add_subscription(sub(frequency="weekly", weekday=3))
    assert a.id == b.id != c.id


def test_add_rejects_bad_fields(store):
    with pytest.raises(InvalidTime):
        store.add_subscription(sub(time="25:00"))
    with pytest.raises(InvalidWeekday):
        store.add_subscription(sub(frequency="weekly"))
    with pytest.raises(UnknownTimeZone):
        store.add_subscription(sub(tz="Nowhere/Land"))


def test_pause_resume_delete_are_scoped_to_the_chat(store, clock):
    mine = store.add_subscription(sub(chat_id=1))
    assert not store.pause_subscription(2, mine.id)  # another chat cannot touch it
    assert store.pause_subscription(1, mine.id)
    paused = store.get_subscription(mine.id)
    assert (paused.active, paused.deactivated_reason) == (False, "paused")
    assert store.list_subscriptions(1, include_inactive=False) == []
    clock.now = T0 + timedelta(days=3)
    assert store.resume_subscription(1, mine.id)
    resumed = store.get_subscription(mine.id)
    assert (resumed.active, resumed.deactivated_reason, resumed.active_since) == (True, None, clock.now)
    assert not store.delete_subscription(2, mine.id)
    assert store.delete_subscription(1, mine.id)
    assert store.get_subscription(mine.id) is None


def test_delete_all_only_for_one_chat(store):
    store.add_subscription(sub(chat_id=1))
    store.add_subscription(sub(chat_id=1, time="9:00"))
    store.add_subscription(sub(chat_id=2))
    assert store.delete_all_subscriptions(1) == 2
    assert len(store.list_active_subscriptions()) == 1


def test_chat_tz_and_language(store):
    s = store.add_subscription(sub(chat_id=5))
    assert store.get_chat_tz(5) == "Asia/Shanghai"
    assert store.set_chat_tz(5, "europe/berlin") == "Europe/Berlin"
    assert store.get_subscription(s.id).tz == "Europe/Berlin"  # the zone is the chat's, read via join
    with pytest.raises(UnknownTimeZone):
        store.set_chat_tz(5, "+08:00")
    store.set_chat_language(5, "en")
    assert store.get_chat_language(5) == "en"
    assert store.get_chat_language(999) == "zh"


def _rows(store, table: str, chat_id: int | None = None) -> int:
    where = f" WHERE chat_id = {int(chat_id)}" if chat_id is not None else ""
    with store.engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}{where}")).scalar()


def _many(n: int, prefix: str = "plan") -> list[str]:
    return [f"{prefix}-{i:05d}" for i in range(n)]


def test_chats_sent_every_plan_share_one_set_not_a_row_per_chat_and_plan(store, db_path, clock):
    """An unscoped digest at national scale lists every plan (~50,000): a row per chat and plan made each
    chat's first digest a 50,000-row write and each delivery record 1.7 MB."""
    every = _many(SEEN_ROWS * 3)
    a, b = store.add_subscription(sub(chat_id=1)), store.add_subscription(sub(chat_id=2))
    for s in (a, b):
        store.claim_delivery(s.id, "2026-11-26")
        store.mark_sent(s.id, "2026-11-26", every)
    assert store.plans_sent_to_chat(1) == store.plans_sent_to_chat(2) == set(every)
    assert (_rows(store, "chat_plans"), _rows(store, "plan_sets"), _rows(store, "chat_seen")) == (0, 1, 2)
    assert store.get_delivery(a.id, "2026-11-26").plan_ids == tuple(sorted(every))
    with store.engine.connect() as conn:  # the delivery names the set; it does not copy it
        stored = conn.execute(text("SELECT plan_ids FROM deliveries WHERE subscription_id = :s"), {"s": a.id}).scalar()
    assert len(stored) < 100
    # one more plan for chat 1 only: a set of its own; chat 2 keeps the shared one
    store.claim_delivery(a.id, "2026-11-27")
    store.mark_sent(a.id, "2026-11-27", [*every, "plan-new"])
    again = open_store(db_path, clock=clock)  # another process: nothing from the first one's memory
    try:
        assert again.plans_sent_to_chat(1) == {*every, "plan-new"}
        assert again.plans_sent_to_chat(2) == set(every)
        assert _rows(again, "plan_sets") == 2
    finally:
        again.close()


def test_a_chat_whose_plans_outgrow_its_rows_keeps_them_in_its_set(store):
    s = store.add_subscription(sub(chat_id=7))
    store.claim_delivery(s.id, "2026-11-26")
    store.mark_sent(s.id, "2026-11-26", ["a", "b"])  # few: a row per plan, as before
    assert (_rows(store, "chat_plans", 7), _rows(store, "chat_seen", 7)) == (2, 0)
    more = _many(SEEN_ROWS)
    store.claim_delivery(s.id, "2026-11-27")
    store.mark_sent(s.id, "2026-11-27", more)
    assert store.plans_sent_to_chat(7) == {"a", "b", *more}
    assert (_rows(store, "chat_plans", 7), _rows(store, "chat_seen", 7)) == (0, 1)
    store.claim_delivery(s.id, "2026-11-28")
    store.mark_sent(s.id, "2026-11-28", ["a", "c"])  # only "c" is new
    assert store.plans_sent_to_chat(7) == {"a", "b", "c", *more}


def _send_on(store, clock, day: int, sub_id: int, ids: list[str]) -> str:
    clock.now = T0 + timedelta(days=day)
    key = clock.now.date().isoformat()
    assert store.claim_delivery(sub_id, key)
    store.mark_sent(sub_id, key, ids)
    return key


def test_prune_drops_old_history_and_unused_sets_and_keeps_what_is_named(store, db_path, clock):
    """Settled deliveries are history after DELIVERIES_KEPT, and a shared set goes once no chat names it
    and no kept delivery can: a national broadcast is 100,000 ledger rows and a ~2 MB set a day."""
    every = _many(SEEN_ROWS * 2)
    a, b = store.add_subscription(sub(chat_id=1)), store.add_subscription(sub(chat_id=2))
    c = store.add_subscription(sub(chat_id=3))
    store.claim_delivery(c.id, "2026-11-26")
    store.mark_failed(c.id, "2026-11-26", "network")  # may still be owed: never pruned
    day0 = [_send_on(store, clock, 0, s.id, every) for s in (a, b)]
    _send_on(store, clock, 1, a.id, [*every, "new"])  # chat 1 moves on to a set of its own
    _send_on(store, clock, 50, b.id, [*every, "x"])  # so does chat 2: the first set is named by no chat
    day60 = _send_on(store, clock, 60, b.id, every)  # ... but a delivery names it again (used now)
    assert _rows(store, "plan_sets") == 3

    clock.now = T0 + DELIVERIES_KEPT + timedelta(days=3)
    assert store.prune() == {"deliveries": 3, "plan_sets": 0}
    assert store.get_delivery(a.id, day0[0]) is None and store.get_delivery(b.id, day60).plan_ids == tuple(every)
    assert store.get_delivery(c.id, "2026-11-26").status == "failed"

    clock.now = T0 + timedelta(days=60) + DELIVERIES_KEPT + timedelta(days=10)
    assert store.prune() == {"deliveries": 2, "plan_sets": 1}
    assert store.prune() == {"deliveries": 0, "plan_sets": 0}
    assert store.plans_sent_to_chat(1) == {*every, "new"} and store.plans_sent_to_chat(2) == {*every, "x"}
    assert store.get_delivery(c.id, "2026-11-26").status == "failed"
    # the pruned set's plans broadcast again: stored again, though this process remembers its name
    d = store.add_subscription(sub(chat_id=4))
    _send_on(store, clock, 200, d.id, every)
    again = open_store(db_path, clock=clock)
    try:
        assert again.plans_sent_to_chat(4) == set(every) and _rows(again, "plan_sets") == 3
    finally:
        again.close()


def test_migrate_chat_moves_a_shared_set_too(store):
    every = _many(SEEN_ROWS + 1)
    s = store.add_subscription(sub(chat_id=-100))
    store.claim_delivery(s.id, "2026-11-26")
    store.mark_sent(s.id, "2026-11-26", every)
    assert store.migrate_chat(-100, -1001234) == 1
    assert store.plans_sent_to_chat(-1001234) == set(every)
    assert store.plans_sent_to_chat(-100) == set()
    assert _rows(store, "chat_seen", -100) == 0


def test_migrate_chat_keeps_subscriptions_history_and_settings(store):
    s = store.add_subscription(sub(chat_id=-100))
    store.set_chat_tz(-100, "Europe/Berlin")
    assert store.claim_delivery(s.id, "2026-11-26")
    store.mark_sent(s.id, "2026-11-26", ["p1"])
    assert store.migrate_chat(-100, -1001234) == 1
    assert store.migrate_chat(-100, -1001234) == 0  # idempotent
    moved = store.get_subscription(s.id)
    assert (moved.chat_id, moved.tz) == (-1001234, "Europe/Berlin")
    assert store.plans_sent_to_chat(-1001234) == {"p1"}
    assert store.plans_sent_to_chat(-100) == set()
    assert not store.claim_delivery(s.id, "2026-11-26")  # history follows the subscription


def test_deactivate_chat_keeps_rows_with_reason(store):
    a = store.add_subscription(sub(chat_id=7))
    store.add_subscription(sub(chat_id=7, time="9:00"))
    assert store.deactivate_chat(7, "blocked: Forbidden") == 2
    assert store.get_subscription(a.id).deactivated_reason == "blocked: Forbidden"
    assert store.list_active_subscriptions() == []


# ----------------------------------------------------------------------------------- deliveries


def test_claim_is_unique_across_two_stores_on_the_same_file(db_path, store):
    s = store.add_subscription(sub())
    assert store.claim_delivery(s.id, "2026-11-26")
    restarted = open_store(db_path)
    try:
        assert not restarted.claim_delivery(s.id, "2026-11-26")
        assert restarted.claim_delivery(s.id, "2026-11-27")
        assert not store.claim_delivery(s.id, "2026-11-27")
    finally:
        restarted.close()


def test_concurrent_claims_have_exactly_one_winner(db_path, store):
    s = store.add_subscription(sub())
    stores = [open_store(db_path) for _ in range(4)]
    wins = []
    barrier = threading.Barrier(len(stores))

    def race(st):
        barrier.wait()
        wins.append(st.claim_delivery(s.id, "2026-11-26"))

    threads = [threading.Thread(target=race, args=(st,)) for st in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for st in stores:
        st.close()
    assert sorted(wins) == [False, False, False, True]


def test_sent_records_plans_for_new_since_last(store, clock):
    s = store.add_subscription(sub())
    store.claim_delivery(s.id, "2026-11-26")
    clock.now = T0 + timedelta(minutes=1)
    store.mark_sent(s.id, "2026-11-26", ["a", "b", "a"])
    d = store.get_delivery(s.id, "2026-11-26")
    assert (d.status, d.sent_at, d.plan_ids) == ("sent", clock.now, ("a", "b", "a"))
    store.claim_delivery(s.id, "2026-11-27")
    store.mark_sent(s.id, "2026-11-27", ["b", "c"])
    assert store.plans_sent_to_chat(100) == {"a", "b", "c"}


def test_release_makes_the_period_claimable_again(store):
    s = store.add_subscription(sub())
    assert store.claim_delivery(s.id, "k")
    assert store.release(s.id, "k")
    assert store.claim_delivery(s.id, "k")
    store.mark_sent(s.id, "k")
    assert not store.release(s.id, "k")  # a sent period can never be released


def test_failed_is_reclaimable_up_to_max_attempts(store):
    s = store.add_subscription(sub())
    assert store.claim_delivery(s.id, "k", max_attempts=2)
    store.mark_failed(s.id, "k", "timeout")
    assert store.claim_delivery(s.id, "k", max_attempts=2)
    assert store.get_delivery(s.id, "k").attempts == 2
    store.mark_failed(s.id, "k", "timeout")
    assert not store.claim_delivery(s.id, "k", max_attempts=2)


def test_settled_periods_and_skips(store):
    s = store.add_subscription(sub())
    store.claim_delivery(s.id, "2026-11-25")
    store.mark_sent(s.id, "2026-11-25")
    store.claim_delivery(s.id, "2026-11-26")
    store.mark_failed(s.id, "2026-11-26", "x")
    assert store.last_settled_periods() == {s.id: "2026-11-25"}  # failed stays owed
    assert store.record_skipped(s.id, "2026-11-26", "late")  # gives up the failed one
    assert not store.record_skipped(s.id, "2026-11-26", "late")
    assert store.last_settled_periods() == {s.id: "2026-11-26"}


def test_stale_claims_are_taken_over_by_one_store_only(db_path, store, clock):
    s = store.add_subscription(sub())
    store.claim_delivery(s.id, "k")
    restart = T0 + timedelta(minutes=5)
    assert [d.period_key for d in store.stale_claims(restart)] == ["k"]
    assert store.retake_stale(s.id, "k", restart)
    assert not store.retake_stale(s.id, "k", restart)


def test_a_leased_claim_is_not_stale_until_its_lease_runs_out(db_path, store, clock):
    s = store.add_subscription(sub())
    assert store.claim_delivery(s.id, "k", owner="host:1:a", lease=30)
    held = store.get_delivery(s.id, "k")
    assert (held.owner, held.lease_until) == ("host:1:a", T0 + timedelta(seconds=30))
    other = open_store(db_path, clock=Clock(T0 + timedelta(seconds=20)))
    try:
        # a second process starting now (cut-off = its start) must leave the live claim alone
        assert other.stale_claims(T0 + timedelta(seconds=20)) == []
        assert other.take_over_abandoned("host:2:b", 30, T0 + timedelta(seconds=20)) == []
        clock.now = T0 + timedelta(seconds=20)
        assert store.renew_leases("host:1:a", 30) == 1  # the owner is still sending
        other.clock.now = T0 + timedelta(seconds=45)
        assert other.take_over_abandoned("host:2:b", 30, None) == []
        other.clock.now = T0 + timedelta(seconds=51)  # renewed lease ran out: the owner died
        taken = other.take_over_abandoned("host:2:b", 30, None)
        assert [(d.period_key, d.owner, d.attempts) for d in taken] == [("k", "host:2:b", 2)]
        assert taken[0].claimed_at == T0  # grace still counts from the first claim
        assert other.take_over_abandoned("host:3:c", 30, None) == []
        assert store.renew_leases("host:1:a", 30) == 0  # the old owner no longer holds it
    finally:
        other.close()


def test_concurrent_takeovers_take_each_abandoned_claim_once(db_path, store, clock):
    subs = [store.add_subscription(sub(chat_id=100 + i)) for i in range(30)]
    for s in subs:
        store.claim_delivery(s.id, "k", owner="dead:1:x", lease=5)
    later = T0 + timedelta(minutes=1)
    takers = [open_store(db_path, clock=Clock(later)) for _ in range(4)]
    taken: list[list[int]] = [[] for _ in takers]

    def take(i):
        taken[i].extend(d.subscription_id for d in takers[i].take_over_abandoned(f"live:{i}", 30, later))

    threads = [threading.Thread(target=take, args=(i,)) for i in range(len(takers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for taker in takers:
        taker.close()
    every = [sid for part in taken for sid in part]
    assert sorted(every) == sorted(s.id for s in subs)  # each once, none lost


def test_deleting_a_subscription_cascades_its_deliveries(store):
    s = store.add_subscription(sub())
    store.claim_delivery(s.id, "k")
    store.delete_subscription(100, s.id)
    assert store.get_delivery(s.id, "k") is None


def test_resolve_url_prefers_explicit_then_env(monkeypatch, tmp_path):
    monkeypatch.setenv("PLANBRIEF_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert resolve_url(None) == "postgresql+psycopg://u@h/db"
    assert resolve_url(tmp_path / "x.db") == f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.delenv("PLANBRIEF_DATABASE_URL")
    monkeypatch.setenv("PLANBRIEF_DATA_DIR", str(tmp_path / "data"))
    assert resolve_url(None) == f"sqlite:///{tmp_path / 'data' / 'planbrief.sqlite3'}"


# -------------------------------------------------------------------------------- spotlight rotation


def test_featured_plans_rotation_survives_reopen_and_follows_the_subscription(db_path, clock):
    store = open_store(db_path, clock=clock)
    first = store.add_subscription(sub())
    other = store.add_subscription(sub(chat_id=2))
    store.record_featured(first.id, ["a", "b"])
    clock.now = T0 + timedelta(days=1)
    store.record_featured(first.id, ["a"])
    store.record_featured(other.id, ["c"])
    store.close()
    store = open_store(db_path, clock=clock)  # a restart: the rotation is in the database
    assert store.featured_plans(first.id) == {"a": Featured(T0 + timedelta(days=1), 2), "b": Featured(T0, 1)}
    assert set(store.featured_plans(other.id)) == {"c"}
    assert store.delete_subscription(first.chat_id, first.id)
    assert store.featured_plans(first.id) == {}  # deleted with its subscription
    store.record_featured(first.id, ["a"])  # a digest settling after its subscription was deleted
    assert store.featured_plans(first.id) == {}
    with store.engine.connect() as conn:
        assert migrations.current_version(conn) >= 3
    store.close()
