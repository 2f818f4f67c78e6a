"""The watch list and its items on SQLite and on a real PostgreSQL server (same code, a URL apart).

Migration 5's tables match the store's schema; a URL is watched once; items are unique per source and
normalised URL across two store objects (two processes); status moves are compare-and-set, so a
candidate is published or rejected once; failures count up to `failing`, are told once, and a success
makes the source active again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect

from bot.sources.listing import key_of, normalise_url, title_key
from bot.sources.store import SourceExists, SourceStore, metadata
from tests.support.postgres import create_database


class Clock:
    def __init__(self):
        self.now = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

    def __call__(self):
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path):
    if request.param == "sqlite":
        return tmp_path / "planbrief.sqlite3"
    return create_database(request.getfixturevalue("postgres_url"))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(location, clock):
    s = SourceStore.open(location, clock=clock)
    yield s
    s.close()


def _row(url: str, title: str, date: str | None = None):
    return (url, key_of(normalise_url(url)), title, title_key(title), date)


def test_tables_match_the_migrated_schema(store):
    live = inspect(store.engine)
    for table in metadata.sorted_tables:
        assert {c["name"] for c in live.get_columns(table.name)} == set(table.c.keys())


def test_a_url_is_watched_once(store):
    first = store.add_source("https://jyj.example.gov.cn/tzgg/", "南通市")
    with pytest.raises(SourceExists) as exc:
        store.add_source("https://jyj.example.gov.cn/tzgg/", "南通市")
    assert exc.value.source.id == first.id
    assert [s.id for s in store.list_sources()] == [first.id]


def test_items_are_recorded_once_across_two_processes(store, location, clock):
    source = store.add_source("https://jyj.example.gov.cn/tzgg/", "南通市")
    other = SourceStore.open(location, clock=clock)
    rows = [_row("https://jyj.example.gov.cn/a.html?utm_source=x#top", "南通市教育局2024年工作要点"),
            _row("https://JYJ.example.gov.cn:443/a.html", "南通市教育局2024年工作要点")]
    assert rows[0][1] == key_of(normalise_url("https://jyj.example.gov.cn/a.html"))
    assert store.record_items(source.id, rows, "pending") == 1
    assert other.record_items(source.id, rows, "pending") == 0
    urls, titles = other.known_keys(source.id)
    assert rows[0][1] in urls and rows[0][3] in titles
    other.close()


def test_status_moves_are_compare_and_set(store):
    source = store.add_source("https://jyj.example.gov.cn/tzgg/", "南通市")
    store.record_items(source.id, [_row("https://jyj.example.gov.cn/a.html", "要点")], "proposed")
    (item,) = store.items_with_status("proposed")
    assert store.claim_item(item.id, "proposed", "published", plan_id="nantong-2024-abcdef")
    assert not store.claim_item(item.id, "proposed", "rejected")
    assert store.get_item(item.id).status == "published"


def test_failures_back_off_mark_failing_and_are_told_once(store, clock):
    source = store.add_source("https://jyj.example.gov.cn/tzgg/", "南通市")
    for n in range(1, 4):
        source = store.record_failure(source, "网页返回 HTTP 500", "failed", retry_in=600 * n, failing_after=3)
    assert source.state == "failing" and source.failures == 3
    assert source.next_check_at == clock.now + timedelta(seconds=1800)
    assert [s.id for s in store.failing_untold()] == [source.id]
    store.mark_failing_told([source.id])
    source = store.record_failure(source, "网页返回 HTTP 500", "failed", retry_in=600, failing_after=3)
    assert store.failing_untold() == []
    clock.now += timedelta(hours=1)
    assert [s.id for s in store.due_sources()] == [source.id]
    source = store.record_success(source, status="ok", etag='"abc"', last_modified=None)
    assert (source.state, source.failures, source.etag) == ("active", 0, '"abc"')
    assert store.due_sources() == []  # next check one interval later
