"""Digest content: priorities and forward-looking targets, new plans first, scoped by city or plan."""

from __future__ import annotations

import pytest

from bot.corpus.loader import load_corpus
from bot.corpus.regions import find_place
from bot.digests.content import build_digest, digest_text, targets


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def test_targets_are_forward_looking_quantities(corpus):
    assert "全市新增义务教育阶段学位6000个" in targets(corpus.plan("suizhou-2023-workpoints"))
    jiangyin = targets(corpus.plan("jiangyin-2023-speech"))
    assert "全市义务教育学校集团化办学覆盖面达60%左右" in jiangyin
    # 2022 review figures (立案23人次, 集团化办学覆盖面近50%) are results, not targets
    assert not any("23人次" in t or "近50%" in t for t in jiangyin)
    suzhou = targets(corpus.plan("suzhou-2023-workpoints"), limit=20)
    assert any("不少于25所" in t for t in suzhou)
    # the 2020 review half reports 34所 and 86%; only the plan half counts
    wuxi2020 = targets(corpus.plan("wuxi-2020-review-plan"))
    assert wuxi2020 == ["新建融合教育资源中心60个"]


def test_slogan_numbers_are_not_targets(corpus):
    assert not any("四个100%" in t for t in targets(corpus.plan("suizhou-2023-workpoints"), limit=50))


def test_city_scope_includes_counties_and_new_first(corpus):
    digest = build_digest(corpus, place=find_place("无锡"), seen_plan_ids={"wuxi-2023-conference"})
    ids = [e.plan.plan_id for e in digest.plans]
    assert set(ids) == {"wuxi-2023-conference", "jiangyin-2023-speech", "wuxi-2020-review-plan"}
    assert [e.new for e in digest.plans] == [True, True, False]
    assert ids[-1] == "wuxi-2023-conference"
    data = digest.as_dict()
    first = data["plans"][0]
    assert {"plan_id", "city", "year", "title", "priorities", "targets", "new"} <= set(first)


def test_province_scope_and_plan_scope(corpus):
    jiangsu = build_digest(corpus, place=find_place("江苏"))
    assert "suizhou-2023-workpoints" not in {e.plan.plan_id for e in jiangsu.plans}
    assert len(jiangsu.plans) == 4
    one = build_digest(corpus, plan_id="suzhou-2023-workpoints")
    assert [e.plan.plan_id for e in one.plans] == ["suzhou-2023-workpoints"]
    assert build_digest(corpus, plan_id="nope").plans == []


def test_no_seen_set_means_nothing_marked_new(corpus):
    assert not any(e.new for e in build_digest(corpus).plans)


def test_text_lists_priorities_and_targets(corpus):
    text = digest_text(build_digest(corpus, plan_id="wuxi-2020-review-plan"))
    # the plan part's five items, not the part heading 二、下半年工作计划安排 (issue 18)
    assert "推进落实教育优先发展" in text and "二、下半年工作计划安排" not in text and "新建融合教育资源中心60个" in text
