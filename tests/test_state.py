"""The shared state table (migration 6): what one worker puts, another sees; take and claim are once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect

from bot.digests.state import StateStore
from bot.digests.store import metadata, open_store


class Clock:
    def __init__(self):
        self.now = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

    def __call__(self):
        return self.now


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "state.sqlite3")


def _two(db, clock=None):
    a, b = open_store(db), open_store(db)
    return a, b, StateStore(a.engine, clock=clock), StateStore(b.engine, clock=clock)


def test_migration_6_tables_match_the_schema(db):
    store = open_store(db)
    live = inspect(store.engine)
    for name in ("kv_state", "seen"):
        assert {c["name"] for c in live.get_columns(name)} == set(metadata.tables[name].c.keys())


def test_a_value_put_by_one_store_is_read_by_another_until_it_expires(db):
    clock = Clock()
    a, b, sa, sb = _two(db, clock)
    sa.put("topic", "k1", ["双减", "无锡"], ttl=60)
    assert sb.get("topic", "k1") == ["双减", "无锡"]
    sa.put("topic", "k1", ["课后服务", ""], ttl=60)  # replaced, not duplicated
    assert sb.scope_items("topic") == {"k1": ["课后服务", ""]}
    clock.now += timedelta(seconds=61)
    assert sb.get("topic", "k1") is None
    assert sb.sweep() == 1


def test_take_gives_the_value_to_exactly_one_of_many_takers(db):
    a, b, sa, sb = _two(db)
    sa.put("draft", "abc", {"user_id": 7})
    got, barrier = [], threading.Barrier(8)

    def taker(state):
        barrier.wait()
        got.append(state.take("draft", "abc"))

    threads = [threading.Thread(target=taker, args=(sa if i % 2 else sb,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert [g for g in got if g is not None] == [{"user_id": 7}]


def test_claim_wins_once_and_again_after_expiry(db):
    clock = Clock()
    a, b, sa, sb = _two(db, clock)
    assert sa.claim("service", "webhook", "https://x/hook", ttl=30)
    assert not sb.claim("service", "webhook", "https://x/hook", ttl=30)
    clock.now += timedelta(seconds=31)
    assert sb.claim("service", "webhook", "https://x/hook", ttl=30)


def test_seen_counts_ids_active_since_and_writes_once_per_interval(db):
    clock = Clock()
    a, _b, sa, _sb = _two(db, clock)
    assert sa.mark_seen("user", 1)
    assert not sa.mark_seen("user", 1)  # throttled: no write per update
    sa.mark_seen("user", 2)
    sa.mark_seen("chat", -100)
    clock.now += timedelta(days=8)
    sa.mark_seen("user", 2)
    assert sa.seen_since("user", clock.now - timedelta(days=7)) == 1
    assert sa.seen_since("user", clock.now - timedelta(days=30)) == 2
    assert sa.seen_since("chat", clock.now - timedelta(days=30)) == 1
