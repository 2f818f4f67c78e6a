"""subscriptions.next_due (migration 7): right after every change, and a tick that reads only due rows.

The tick used to load every active subscription and the whole ledger each minute. It now reads the rows
whose stored next_due has come (an index range), so the stored value must never be later than the
moment the old full scan would have acted. The equivalence test below runs both side by side — the old
scan as an oracle, the tick for real — over two days that include a DST change.

Expected instants are built with zoneinfo directly (local wall time → UTC), not with the code under test.
test_next_due_postgres.py runs these tests again on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import random
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, text

from bot.digests import migrations, schedule
from bot.digests.delivery import Policy, catch_up
from bot.digests.migrations import apply_migrations
from bot.digests.store import make_engine, open_store, resolve_url
from bot.models import Subscription

GRACE = timedelta(hours=3)


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def local(tz: str, *args) -> datetime:
    """A wall time in a zone, as the UTC instant it is (fold=0: the first of an ambiguous pair)."""
    return datetime(*args, tzinfo=ZoneInfo(tz)).astimezone(UTC)


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "due.sqlite3"


@pytest.fixture
def clock():
    return Clock(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))


@pytest.fixture
def store(db_path, clock):
    s = open_store(db_path, clock=clock)
    yield s
    s.close()


def add(store, chat_id: int, frequency: str = "daily", time: str = "08:00", weekday: int | None = None,
        tz: str = "Asia/Shanghai") -> Subscription:
    return store.add_subscription(Subscription(None, chat_id, frequency, time, weekday=weekday, tz=tz))


def due(store, sub_id: int) -> datetime | None:
    return store.get_subscription(sub_id).next_due


class Sent:
    def __init__(self):
        self.chats: list[int] = []
        self.messages: dict[int, list[str]] = {}

    async def __call__(self, chat_id: int, messages: list[str]) -> None:
        await asyncio.sleep(0)
        self.chats.append(chat_id)
        self.messages.setdefault(chat_id, []).extend(messages)


def build(sub: Subscription):
    return [f"digest {sub.id}"], []


async def no_sleep(_seconds: float) -> None:
    await asyncio.sleep(0)


async def tick(store, now: datetime, send, *, startup: bool = False, policy: Policy | None = None):
    store.clock.now = now
    policy = policy or Policy()
    return await catch_up(store, now, GRACE, send=send, build=build, startup=startup, policy=policy, sleep=no_sleep)


# ------------------------------------------------------------------------------ after each change


def test_create_is_due_at_the_first_occurrence_in_the_chats_zone(store):
    # 2026-11-25 12:00 UTC is 20:00 in Shanghai, 13:00 in Berlin, 07:00 in New York
    daily = add(store, 1, time="08:00")
    weekly = add(store, 2, "weekly", "09:30", weekday=0, tz="Europe/Berlin")  # Mondays
    later_today = add(store, 3, time="07:30", tz="America/New_York")
    assert due(store, daily.id) == local("Asia/Shanghai", 2026, 11, 26, 8, 0)
    assert due(store, weekly.id) == local("Europe/Berlin", 2026, 11, 30, 9, 30)
    assert due(store, later_today.id) == local("America/New_York", 2026, 11, 25, 7, 30)


def test_a_nonexistent_spring_forward_time_is_due_an_hour_later_and_the_next_day_as_usual(store, clock):
    clock.now = datetime(2027, 3, 13, 12, 0, tzinfo=UTC)  # New York: 2027-03-14 02:30 does not exist
    s = add(store, 1, time="02:30", tz="America/New_York")
    assert due(store, s.id) == local("America/New_York", 2027, 3, 14, 3, 30)  # 07:30 UTC, EDT
    clock.now = due(store, s.id)
    assert store.claim_delivery(s.id, "2027-03-14")
    store.mark_sent(s.id, "2027-03-14")
    assert due(store, s.id) == local("America/New_York", 2027, 3, 15, 2, 30)  # 06:30 UTC


def test_an_ambiguous_fall_back_time_is_due_once_at_its_first_occurrence(store, clock):
    clock.now = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)  # Berlin: 2026-10-25 02:30 happens twice
    s = add(store, 1, time="02:30", tz="Europe/Berlin")
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert due(store, s.id) == first
    clock.now = first
    assert store.claim_delivery(s.id, "2026-10-25")
    store.mark_sent(s.id, "2026-10-25")
    assert due(store, s.id) == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)  # not 01:30 UTC the same day (CET)


def test_claim_send_fail_release_and_skip_move_next_due(store, clock):
    s = add(store, 1)
    today, tomorrow = local("Asia/Shanghai", 2026, 11, 26, 8, 0), local("Asia/Shanghai", 2026, 11, 27, 8, 0)
    clock.now = today + timedelta(seconds=5)
    assert store.claim_delivery(s.id, "2026-11-26")
    assert due(store, s.id) == tomorrow  # claimed: another worker's tick does not read it again
    store.mark_failed(s.id, "2026-11-26", "network")
    assert due(store, s.id) == today  # owed again: the next tick retries it
    assert store.claim_delivery(s.id, "2026-11-26")
    assert due(store, s.id) == tomorrow
    assert store.release(s.id, "2026-11-26")
    assert due(store, s.id) == today
    assert store.claim_delivery(s.id, "2026-11-26")
    store.mark_sent(s.id, "2026-11-26")
    assert due(store, s.id) == tomorrow

    clock.now = tomorrow + timedelta(hours=4)
    assert store.record_skipped(s.id, "2026-11-27", "missed: outside grace window")
    assert due(store, s.id) == local("Asia/Shanghai", 2026, 11, 28, 8, 0)
    assert store.claim_delivery(s.id, "2026-11-28")
    store.mark_skipped(s.id, "2026-11-28", "nothing to send")
    assert due(store, s.id) == local("Asia/Shanghai", 2026, 11, 29, 8, 0)


def test_pause_leaves_the_due_range_and_resume_owes_only_what_comes_after(store, clock):
    s = add(store, 1)
    assert store.pause_subscription(1, s.id)
    assert due(store, s.id) is None
    clock.now = local("Asia/Shanghai", 2026, 11, 27, 9, 0)  # two occurrences passed while paused
    assert store.resume_subscription(1, s.id)
    assert due(store, s.id) == local("Asia/Shanghai", 2026, 11, 28, 8, 0)
    assert store.deactivate_chat(1, "blocked: Forbidden") == 1
    assert due(store, s.id) is None


def test_a_new_zone_moves_the_same_wall_time_to_another_instant(store, clock):
    s = add(store, 1, time="08:00")
    w = add(store, 1, "weekly", "18:00", weekday=4)  # Fridays
    assert store.set_chat_tz(1, "Europe/Berlin") == "Europe/Berlin"
    assert due(store, s.id) == local("Europe/Berlin", 2026, 11, 26, 8, 0)
    assert due(store, w.id) == local("Europe/Berlin", 2026, 11, 27, 18, 0)
    store.set_chat_tz(1, "America/Los_Angeles")  # 2026-11-25 04:00 there: today's 08:00 is still ahead
    assert due(store, s.id) == local("America/Los_Angeles", 2026, 11, 25, 8, 0)


def test_a_zone_change_that_brings_an_owed_unsent_period_back_makes_it_due_now(store, clock):
    s = add(store, 1, time="20:00", tz="America/New_York")  # New York: 07:00 now; due tonight
    clock.now = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai, 01:00 in New York
    store.set_chat_tz(1, "Asia/Shanghai")  # Shanghai's 20:00 of the 25th passed after the subscription began
    assert due(store, s.id) == local("Asia/Shanghai", 2026, 11, 25, 20, 0)


async def test_editing_time_frequency_or_weekday_moves_next_due(store, clock):
    s = add(store, 1, time="08:00")
    clock.now = local("Asia/Shanghai", 2026, 11, 26, 8, 5)
    assert store.claim_delivery(s.id, "2026-11-26")
    store.mark_sent(s.id, "2026-11-26")
    earlier = store.reschedule_subscription(1, s.id, time="07:00")  # passed, and today's digest went out
    assert earlier.time == "07:00" and earlier.next_due == local("Asia/Shanghai", 2026, 11, 27, 7, 0)
    later = store.reschedule_subscription(1, s.id, time="18:30")
    assert later.next_due == local("Asia/Shanghai", 2026, 11, 26, 18, 30)
    send = Sent()  # one digest per period: the 18:30 tick finds today's sent and moves on
    report = await tick(store, local("Asia/Shanghai", 2026, 11, 26, 18, 31), send)
    assert (report.sent, send.chats) == ([], [])
    assert due(store, s.id) == local("Asia/Shanghai", 2026, 11, 27, 18, 30)

    weekly = store.reschedule_subscription(1, s.id, frequency="weekly", weekday=4)  # Fridays
    assert weekly.next_due == local("Asia/Shanghai", 2026, 11, 27, 18, 30)
    assert store.reschedule_subscription(1, s.id, weekday=0).next_due == local("Asia/Shanghai", 2026, 11, 30, 18, 30)
    assert store.reschedule_subscription(2, s.id, time="09:00") is None  # another chat's subscription
    with pytest.raises(schedule.InvalidTime):
        store.reschedule_subscription(1, s.id, time="25:00")
    assert store.get_subscription(s.id).time == "18:30"


def test_migrating_into_a_chat_with_another_zone_takes_that_zone(store):
    s = add(store, 1, time="08:00")
    store.ensure_chat(2, tz="Europe/Berlin")
    assert store.migrate_chat(1, 2) == 1
    assert due(store, s.id) == local("Europe/Berlin", 2026, 11, 26, 8, 0)


# ---------------------------------------------------------------------------------- the tick's read


def test_due_batch_reads_only_active_rows_whose_time_has_come_in_pages(store, clock):
    subs = [add(store, chat, time=f"{8 + chat % 4:02d}:00") for chat in range(1, 41)]  # Shanghai 08-11
    store.pause_subscription(4, subs[3].id)  # chat 4: 08:00, paused
    now = local("Asia/Shanghai", 2026, 11, 26, 9, 30)
    expected = [s.id for s in subs if s.chat_id % 4 in (0, 1) and s.chat_id != 4]
    got, cursor = [], None
    while True:
        page = store.due_batch(now, limit=7, after=cursor)
        if not page.subs:
            break
        assert len(page.subs) <= 7
        got += [s.id for s in page.subs]
        cursor = page.cursor
    assert sorted(got) == sorted(expected)
    assert len(got) == len(set(got))


def test_the_due_query_uses_the_next_due_index(store):
    """The statement due_batch really sends, explained by SQLite (PostgreSQL's plan for 100,000 rows:
    bench/tick_bench.py; on a table this small PostgreSQL rightly prefers a sequential scan)."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's planner only; see bench/tick_bench.py for PostgreSQL")
    for chat in range(1, 4):
        add(store, chat)
    store.pause_subscription(2, store.list_subscriptions(2)[0].id)
    seen = []
    listen = lambda conn, cursor, statement, params, context, many: seen.append((statement, params))  # noqa: E731
    event.listen(store.engine, "before_cursor_execute", listen)
    try:
        store.unscheduled()
        store.due_batch(datetime(2026, 11, 27, tzinfo=UTC), limit=2)
        store.due_batch(datetime(2026, 11, 27, tzinfo=UTC), limit=2, after=(datetime(2026, 11, 26, tzinfo=UTC), 1))
    finally:
        event.remove(store.engine, "before_cursor_execute", listen)
    queries = [(sql, params) for sql, params in seen if "next_due <=" in sql or "next_due IS NULL" in sql]
    assert len(queries) == 3
    with store.engine.connect() as conn:
        for sql, params in queries:
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params))
            assert "INDEX ix_subscriptions_next_due" in plan, plan
            assert "SCAN subscriptions" not in plan.replace("USING INDEX", ""), plan


async def test_a_tick_sends_only_what_is_due_and_moves_it_on(store, clock):
    early, late = add(store, 1, time="08:00"), add(store, 2, time="10:00")
    send = Sent()
    report = await tick(store, local("Asia/Shanghai", 2026, 11, 26, 8, 1), send)
    assert (report.sent, send.chats) == ([early.id], [1])
    assert due(store, early.id) == local("Asia/Shanghai", 2026, 11, 27, 8, 0)
    assert due(store, late.id) == local("Asia/Shanghai", 2026, 11, 26, 10, 0)
    assert store.due_batch(local("Asia/Shanghai", 2026, 11, 26, 9, 0)).subs == []


async def test_an_active_row_left_without_a_time_is_given_one_and_delivered(store, clock):
    """A worker of the previous version resumes a subscription the new code paused: active, no next_due."""
    s = add(store, 1)
    store.pause_subscription(1, s.id)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE subscriptions SET active = :t, active_since = :since WHERE id = :id"),
                     {"t": True, "id": s.id, "since": clock.now.replace(tzinfo=None)
                      if store.engine.dialect.name == "sqlite" else clock.now})
    assert store.unscheduled() == [s.id]
    send = Sent()
    report = await tick(store, local("Asia/Shanghai", 2026, 11, 26, 8, 1), send)
    assert (report.sent, send.chats, store.unscheduled()) == ([s.id], [1], [])
    assert due(store, s.id) == local("Asia/Shanghai", 2026, 11, 27, 8, 0)


async def test_missed_while_down_is_sent_within_grace_and_skipped_after(store, clock):
    """Start-up after two days down: only the latest occurrence counts, as before next_due."""
    recent, old = add(store, 1, time="08:00"), add(store, 2, time="03:00")
    send = Sent()
    report = await tick(store, local("Asia/Shanghai", 2026, 11, 28, 9, 0), send, startup=True)
    assert (report.sent, report.skipped_late, send.chats) == ([recent.id], [old.id], [1])
    assert store.get_delivery(old.id, "2026-11-28").status == "skipped"
    assert store.get_delivery(recent.id, "2026-11-27") is None  # older missed periods are not sent either
    assert due(store, old.id) == local("Asia/Shanghai", 2026, 11, 29, 3, 0)
    again = await tick(store, local("Asia/Shanghai", 2026, 11, 28, 9, 1), send)
    assert (again.sent, again.skipped_late, again.skipped_already) == ([], [], [])


async def test_a_failed_send_is_retried_by_the_next_tick(store, clock):
    s = add(store, 1)
    attempts = []

    async def flaky(chat_id, messages):
        attempts.append(chat_id)
        if len(attempts) == 1:
            raise RuntimeError("unknown error: not retried within the run")

    now = local("Asia/Shanghai", 2026, 11, 26, 8, 0)
    first = await tick(store, now, flaky)
    assert first.failed == [s.id] and due(store, s.id) == now
    second = await tick(store, now + timedelta(minutes=1), flaky)
    assert second.sent == [s.id] and len(attempts) == 2


async def test_pages_keep_each_chats_digests_in_order_and_send_each_once(store, clock):
    for chat in range(1, 6):
        for minute in range(4):
            add(store, chat, time=f"08:{minute:02d}")
    send = Sent()
    report = await tick(store, local("Asia/Shanghai", 2026, 11, 26, 8, 30), send, policy=Policy(batch=3))
    assert len(report.sent) == 20 and sorted(send.chats) == sorted(list(range(1, 6)) * 4)
    for chat in range(1, 6):  # 08:00, 08:01, 08:02, 08:03 in that order, though they span pages
        assert send.messages[chat] == [f"digest {s.id}" for s in store.list_subscriptions(chat)]


ZONES = ("Asia/Shanghai", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "UTC")


def old_full_scan(store, now: datetime) -> set[int]:
    """What the tick did before next_due: every active subscription against the whole ledger."""
    settled = store.last_settled_periods()
    return {s.id for s in store.list_active_subscriptions()
            if schedule.missed_on_start(s, now, settled.get(s.id), GRACE) is not None}


async def test_the_tick_acts_exactly_when_the_old_full_scan_would_across_zones_and_dst(store, clock):
    rng = random.Random(20)
    clock.now = datetime(2027, 3, 26, 12, 0, tzinfo=UTC)  # Berlin moves its clocks on the 28th
    subs = []
    for chat in range(1, 41):
        zone = ZONES[chat % len(ZONES)]
        weekly = rng.random() < 0.3
        when = f"{rng.choice([0, 1, 2, 3, 7, 8, 12, 20, 23]):02d}:{rng.choice([0, 15, 30, 45]):02d}"
        subs.append(add(store, chat, "weekly" if weekly else "daily", when,
                        weekday=rng.randrange(7) if weekly else None, tz=zone))
    for s in rng.sample(subs, 5):
        store.pause_subscription(s.chat_id, s.id)
    send, now = Sent(), clock.now
    for step in range(60):  # every 47 minutes for two days: ticks land at every minute of the hour
        now += timedelta(minutes=47)
        if step == 30:
            paused = [s for s in subs if not store.get_subscription(s.id).active]
            store.resume_subscription(paused[0].chat_id, paused[0].id)
            store.set_chat_tz(subs[0].chat_id, "America/Los_Angeles")
        store.clock.now = now
        expected = old_full_scan(store, now)
        report = await tick(store, now, send)
        assert set(report.sent) == expected, now
    assert len(send.chats) >= 30  # the ticks really delivered: about two days of 40 subscriptions


# ---------------------------------------------------------------------------------- exactly once


async def test_two_processes_ticking_together_send_each_due_digest_once(db_path, store, clock):
    for chat in range(1, 31):
        add(store, chat, time=f"08:{chat:02d}")
    other = open_store(db_path, clock=Clock(clock.now))
    send = Sent()
    try:
        now = local("Asia/Shanghai", 2026, 11, 26, 8, 45)
        reports = await asyncio.gather(tick(store, now, send, policy=Policy(batch=4)),
                                       tick(other, now, send, policy=Policy(batch=4)))
    finally:
        other.close()
    assert sorted(send.chats) == list(range(1, 31))
    assert len(reports[0].sent) + len(reports[1].sent) == 30


# ---------------------------------------------------------------------------------- migration 7


def test_migration_7_backfills_existing_rows_and_runs_once_under_concurrent_openers(db_path):
    engine = make_engine(resolve_url(db_path))
    assert apply_migrations(engine, migrations.MIGRATIONS[:6]) == [1, 2, 3, 4, 5, 6]
    now = datetime.now(UTC)
    stamp = (now - timedelta(days=3)).replace(tzinfo=None) if engine.dialect.name == "sqlite" \
        else now - timedelta(days=3)
    wall = (now + timedelta(hours=2)).astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M")  # later today
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO chats (chat_id, tz, language, created_at) VALUES (1, 'Europe/Berlin', 'zh', :t)"),
                     {"t": stamp})
        for sub_id, active in ((1, True), (2, True), (3, False)):
            conn.execute(text(
                "INSERT INTO subscriptions (id, chat_id, frequency, weekday, time, active, created_at, updated_at,"
                " active_since) VALUES (:id, 1, 'daily', NULL, :wall, :active, :t, :t, :t)"),
                {"id": sub_id, "wall": wall, "active": active, "t": stamp})
    engine.dispose()
    probe = Subscription(None, 1, "daily", wall, tz="Europe/Berlin", active_since=now - timedelta(days=3))
    latest = schedule.last_occurrence(probe, now)
    with make_engine(resolve_url(db_path)).begin() as conn:  # sub 2 already got its latest period
        conn.execute(text("INSERT INTO deliveries (subscription_id, period_key, status, attempts, claimed_at)"
                          " VALUES (2, :key, 'sent', 1, :t)"),
                     {"key": schedule.key_for(probe, latest.local_date), "t": stamp})

    results, errors = [], []

    def open_one():
        try:
            opened = make_engine(resolve_url(db_path))
            results.append(apply_migrations(opened))
            opened.dispose()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sorted(results) == [[], [], [], [m.version for m in migrations.MIGRATIONS[6:]]]  # 7 on
    store = open_store(db_path)
    try:
        owed, settled, paused = (store.get_subscription(i).next_due for i in (1, 2, 3))
    finally:
        store.close()
    assert owed == latest.at  # yesterday's occurrence, never sent: the first tick decides (send or skip)
    assert settled == schedule.next_run(probe, now)  # later today
    assert paused is None
