"""Scheduling maths with explicit instants: period keys, DST, parsing, catch-up windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.digests.schedule import (
    InvalidTime,
    InvalidWeekday,
    NaiveDatetime,
    UnknownTimeZone,
    last_due,
    missed_on_start,
    next_run,
    parse_time,
    parse_tz,
    parse_weekday,
    period_key,
)
from bot.models import Subscription

BERLIN = "Europe/Berlin"


def daily(time="08:00", tz="Asia/Shanghai", **kw) -> Subscription:
    return Subscription(id=1, chat_id=1, frequency="daily", time=time, tz=tz, **kw)


def weekly(weekday=0, time="08:00", tz="Asia/Shanghai", **kw) -> Subscription:
    return Subscription(id=1, chat_id=1, frequency="weekly", time=time, weekday=weekday, tz=tz, **kw)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8:00", "08:00"),
        ("08:00", "08:00"),
        ("0800", "08:00"),
        ("800", "08:00"),
        ("8", "08:00"),
        ("20.30", "20:30"),
        ("０８：３０", "08:30"),
        ("8点", "08:00"),
        ("8点半", "08:30"),
        ("8点15分", "08:15"),
        ("下午3点", "15:00"),
        ("8pm", "20:00"),
        ("12am", "00:00"),
        (" 23:59 ", "23:59"),
        ("0:00", "00:00"),
    ],
)
def test_parse_time_is_lenient(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["24:00", "8:60", "13pm", "noon", "", "8:0", "12345", "-1:00"])
def test_parse_time_rejects_with_a_clear_error(text):
    with pytest.raises(InvalidTime) as info:
        parse_time(text)
    assert info.value.code == "invalid_time"
    assert "HH:MM" in str(info.value) or "range" in str(info.value) or "am/pm" in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mon", 0),
        ("Monday", 0),
        ("tue", 1),
        ("THURS", 3),
        ("sun", 6),
        ("周一", 0),
        ("周日", 6),
        ("周天", 6),
        ("星期三", 2),
        ("星期日", 6),
        ("礼拜五", 4),
        ("1", 0),
        ("7", 6),
        (5, 4),
    ],
)
def test_parse_weekday(text, expected):
    assert parse_weekday(text) == expected


@pytest.mark.parametrize("text", ["0", "8", "someday", "周八", ""])
def test_parse_weekday_rejects_ambiguous_and_unknown(text):
    with pytest.raises(InvalidWeekday):
        parse_weekday(text)


def test_parse_tz_canonicalises_and_rejects_unknown():
    assert parse_tz("europe/berlin") == BERLIN
    assert parse_tz("北京") == "Asia/Shanghai"
    for bad in ("Mars/Olympus", "+08:00", "../etc/passwd", ""):
        with pytest.raises(UnknownTimeZone) as info:
            parse_tz(bad)
        assert info.value.code == "unknown_timezone"


# ----------------------------------------------------------------------------------------- occurrences


def test_naive_datetimes_are_refused():
    with pytest.raises(NaiveDatetime):
        last_due(daily(), datetime(2026, 11, 26, 8))


def test_daily_in_shanghai_is_utc_minus_eight():
    sub = daily("08:00")
    now = utc(2026, 11, 26, 1, 0)  # 09:00 in Shanghai
    assert last_due(sub, now) == utc(2026, 11, 26, 0, 0)
    assert next_run(sub, now) == utc(2026, 11, 27, 0, 0)
    assert period_key(sub, now) == "2026-11-26"


def test_period_key_uses_local_date_not_utc_date():
    sub = daily("07:00")  # 07:00 Shanghai = 23:00 UTC the day before
    assert period_key(sub, utc(2026, 11, 25, 23, 30)) == "2026-11-26"


def test_weekly_period_is_iso_week():
    sub = weekly(weekday=3, time="09:00")  # Thursday
    thursday = utc(2026, 11, 26, 1, 0)  # 09:00 Shanghai, Thu 26 Nov 2026 (ISO week 48)
    assert last_due(sub, thursday) == thursday
    assert period_key(sub, thursday) == "2026-W48"
    assert period_key(sub, thursday - timedelta(seconds=1)) == "2026-W47"
    assert next_run(sub, thursday) == thursday + timedelta(days=7)


def test_iso_week_across_new_year():
    sub = weekly(weekday=4, time="08:00", tz="UTC")  # Friday 1 Jan 2027 belongs to 2026-W53
    assert period_key(sub, utc(2027, 1, 1, 9)) == "2026-W53"


def test_dst_spring_forward_nonexistent_time_is_shifted_forward():
    sub = daily("02:30", tz=BERLIN)  # 29 Mar 2026: 02:00 CET → 03:00 CEST
    occ = next_run(sub, utc(2026, 3, 28, 12))
    assert occ == utc(2026, 3, 29, 1, 30)  # = 03:30 CEST, same local date
    assert occ.astimezone(ZoneInfo(BERLIN)).hour == 3
    assert period_key(sub, occ) == "2026-03-29"
    assert next_run(sub, occ) == utc(2026, 3, 30, 0, 30)  # back to 02:30 CEST


def test_dst_fall_back_ambiguous_time_fires_once_at_first_occurrence():
    sub = daily("02:30", tz=BERLIN)  # 25 Oct 2026: 03:00 CEST → 02:00 CET, 02:30 happens twice
    first = next_run(sub, utc(2026, 10, 24, 12))
    assert first == utc(2026, 10, 25, 0, 30)  # 02:30 CEST
    # An hour later it is 02:30 again locally (CET) — still the same period, no second occurrence.
    assert period_key(sub, first + timedelta(hours=1)) == "2026-10-25"
    assert next_run(sub, first) == utc(2026, 10, 26, 1, 30)


def test_summer_and_winter_offsets_differ_for_berlin():
    sub = daily("08:00", tz=BERLIN)
    assert last_due(sub, utc(2026, 7, 1, 12)) == utc(2026, 7, 1, 6)
    assert last_due(sub, utc(2026, 12, 1, 12)) == utc(2026, 12, 1, 7)


# -------------------------------------------------------------------------------------------- catch-up

GRACE = timedelta(hours=2)


def test_missed_on_start_within_grace_returns_the_occurrence():
    sub = daily("08:00")
    now = utc(2026, 11, 26, 1, 30)  # 09:30 local, 90 min late
    assert missed_on_start(sub, now, "2026-11-25", GRACE) == utc(2026, 11, 26, 0, 0)


def test_missed_on_start_outside_grace_is_none():
    sub = daily("08:00")
    assert missed_on_start(sub, utc(2026, 11, 26, 3), "2026-11-25", GRACE) is None


def test_missed_on_start_already_delivered_is_none():
    sub = daily("08:00")
    assert missed_on_start(sub, utc(2026, 11, 26, 1), "2026-11-26", GRACE) is None


def test_missed_on_start_ignores_occurrences_before_subscribing():
    sub = daily("08:00", active_since=utc(2026, 11, 26, 0, 30))  # subscribed at 08:30 local
    assert missed_on_start(sub, utc(2026, 11, 26, 1), None, GRACE) is None


# ------------------------------------------------------------------------------------------ properties

ZONES = st.sampled_from(["Asia/Shanghai", BERLIN, "America/New_York", "Australia/Lord_Howe", "UTC"])
INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC)
)
HHMM = st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda hm: f"{hm[0]:02d}:{hm[1]:02d}")


@st.composite
def subs(draw) -> Subscription:
    tz, hhmm = draw(ZONES), draw(HHMM)
    if draw(st.booleans()):
        return daily(hhmm, tz=tz)
    return weekly(draw(st.integers(0, 6)), hhmm, tz=tz)


@settings(max_examples=300, deadline=None)
@given(subs(), INSTANTS)
def test_next_run_is_after_now_and_last_due_not_after(sub, now):
    assert next_run(sub, now) > now
    assert last_due(sub, now) <= now
    assert next_run(sub, now).tzinfo is UTC and last_due(sub, now).tzinfo is UTC


@settings(max_examples=300, deadline=None)
@given(subs(), INSTANTS)
def test_period_key_is_stable_within_a_period_and_changes_at_the_next(sub, now):
    start, end = last_due(sub, now), next_run(sub, now)
    key = period_key(sub, now)
    assert period_key(sub, start) == key
    assert period_key(sub, end - timedelta(microseconds=1)) == key
    assert period_key(sub, end) != key
    assert last_due(sub, end) == end  # next_run is itself an occurrence


@settings(max_examples=200, deadline=None)
@given(subs(), INSTANTS)
def test_consecutive_occurrences_are_at_most_a_period_apart(sub, now):
    gap = next_run(sub, now) - last_due(sub, now)
    limit = timedelta(days=1 if sub.frequency == "daily" else 7, hours=3)
    assert timedelta(0) < gap <= limit
