"""bot/digests/subscribe.py on its own: /subscribe arguments, callback-data codecs, no Telegram involved."""

from __future__ import annotations

import pytest

from bot.digests.subscribe import (
    ERROR_CODES,
    MAX_SCOPE,
    ParseError,
    Request,
    dm_data,
    ds_data,
    parse_dm,
    parse_ds,
    parse_subscribe,
    parse_unsubscribe,
    request_from_state,
    split_scope,
)
from bot.telegram.i18n import EN, STRINGS, ZH


def test_daily_with_time(shared_corpus):
    assert parse_subscribe(["daily", "08:00"], shared_corpus) == Request("daily", "08:00")


def test_weekly_with_weekday_time_and_city(shared_corpus):
    req = parse_subscribe(["weekly", "mon", "09:30", "无锡"], shared_corpus)
    assert req == Request("weekly", "09:30", weekday=0, city="无锡", topic=None)


def test_anything_that_is_not_a_place_is_a_topic(shared_corpus):
    req = parse_subscribe(["daily", "07:30", "双减"], shared_corpus)
    assert (req.city, req.topic) == (None, "双减")
    assert parse_subscribe(["daily", "07:30", "双减"], None).topic == "双减"  # no corpus: never a city


def test_a_bare_time_means_daily(shared_corpus):
    assert parse_subscribe(["08:00"], shared_corpus) == Request("daily", "08:00")
    assert parse_subscribe(["", " ", "08:00"], shared_corpus) == Request("daily", "08:00")  # blank words


@pytest.mark.parametrize("args,code,value", [
    (["daily", "25:00"], "invalid_time", "25:00"),
    (["weekly", "funday", "08:00"], "invalid_weekday", "funday"),
    (["weekly"], "invalid_weekday", ""),
    (["monthly", "08:00"], "invalid_frequency", "monthly"),
    (["daily"], "missing_time", ""),
    (["weekly", "mon"], "missing_time", ""),
    (["daily", "08:00", "很" * (MAX_SCOPE + 1)], "scope_too_long", "很" * (MAX_SCOPE + 1)),
])
def test_mistakes_raise_their_code_and_value(shared_corpus, args, code, value):
    with pytest.raises(ParseError) as info:
        parse_subscribe(args, shared_corpus)
    assert (info.value.code, info.value.value) == (code, value)
    assert code in ERROR_CODES


def test_every_error_code_has_a_message_in_both_languages():
    for code in (*ERROR_CODES, "usage"):
        assert set(STRINGS[f"sub_{code}"]) == {ZH, EN}


def test_split_scope_for_digest_now(shared_corpus):
    assert split_scope("  ", shared_corpus) == (None, None)
    assert split_scope("无锡", shared_corpus) == ("无锡", None)
    assert split_scope("职业教育", shared_corpus) == (None, "职业教育")


def test_unsubscribe_argument():
    assert parse_unsubscribe(None) == ""
    assert parse_unsubscribe(["ALL"]) == "all" and parse_unsubscribe(["全部"]) == "all"
    assert parse_unsubscribe(["#12"]) == "12"
    assert parse_unsubscribe(["twelve"]) is None and parse_unsubscribe(["1" * 10]) is None


@pytest.mark.parametrize("parts", [
    ("d",), ("w",), ("w", "6"), ("d", "-", "07:00"), ("w", "0", "20:00", "a"),
    ("w", "3", "08:00", "c:无锡"), ("d", "-", "12:00", "t:职业教育"),
])
def test_guided_state_round_trips(parts):
    data = ds_data(*parts)
    assert data is not None and len(data.encode()) <= 64
    assert parse_ds(data) == tuple(parts) + (None,) * (4 - len(parts))


def test_manage_data_round_trips():
    assert parse_dm(dm_data("p", 12)) == ("p", 12)
    assert parse_dm(dm_data("r", 999_999_999)) == ("r", 999_999_999)
    assert parse_dm(dm_data("x", 1)) == ("x", 1)
    assert parse_dm(dm_data("a")) == ("a", None)


def test_oversized_state_is_not_encoded():
    assert ds_data("d", "-", "08:00", "t:" + "很长" * 20) is None


@pytest.mark.parametrize("forged", [
    None, "", "ds|", "ds|x", "ds|w|-|08:00|a", "ds|d|3", "ds|d|-|25:00", "ds|d|-|8:00",
    "ds|d|-|08:00|q:x", "ds|d|-|08:00|c:" + "无" * 30, "ds|d|-|08:00|a|extra", "DS|d",
    "dm|", "dm|z|1", "dm|x|-1", "dm|x|1|2", "dm|p|1234567890", "dm|a|1", "dm|x|" + "1" * 100,
])
def test_forged_data_parses_to_none(forged):
    assert parse_ds(forged) is None and parse_dm(forged) is None


def test_request_from_a_complete_guided_state(shared_corpus):
    assert request_from_state(("w", "0", "08:00", "c:wuxi"), shared_corpus) == Request(
        "weekly", "08:00", weekday=0, city="无锡")
    assert request_from_state(("d", "-", "07:30", "t:双减"), shared_corpus) == Request(
        "daily", "07:30", topic="双减")
    assert request_from_state(("d", None, "07:30", "a"), shared_corpus) == Request("daily", "07:30")
    assert request_from_state(("d", "-", "07:30", "c:不存在的地方"), shared_corpus) is None
    assert request_from_state(("d", "-", "07:30", "c:无锡"), None) is None  # no corpus to check it against
    assert request_from_state(("d", "-", "07:30", "t:\ud800"), shared_corpus) is None  # empty once cleaned
