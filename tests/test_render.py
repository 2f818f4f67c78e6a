"""Rendering and splitting: escaping, bold marks, citations, the 4096 limit, callback data codec."""

from __future__ import annotations

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Hit, Passage, PlanMeta
from bot.telegram import render
from tests.support.botapi import parse_html

META = PlanMeta("wuxi-2023", "无锡", "江苏省", None, "city", 2023, "工作要点", "无锡市<2023>年教育&工作要点",
                "无锡市教育局", "2023-02-01", "", "x.txt")


def _hit(text: str, marks=(), section=("一、总体要求", "1. 推进“双减”")) -> Hit:
    return Hit(Passage("wuxi-2023:s1.i1", "wuxi-2023", section, text, text, "forward", "s1.i1"), 1.0, text, marks)


def _valid(fragment: str) -> str:
    plain, _ = parse_html(fragment)  # raises on anything Telegram would reject
    return plain


def test_highlight_bolds_marks_and_escapes_everything_else():
    out = render.highlight("a<b>&双减</b>", [(5, 7)])
    assert out == "a&lt;b&gt;&amp;<b>双减</b>&lt;/b&gt;"
    _valid(out)


def test_marks_are_clamped_merged_and_never_nest():
    out = render.highlight("双减一规范", [(0, 2), (1, 3), (3, 3), (4, 99), (-5, 0)])
    assert out == "<b>双减一</b>规<b>范</b>"
    _valid(out)


def test_citation_names_city_plan_section_and_item_escaped():
    block = render.hit_block(1, _hit("推进双减工作", [(2, 4)]), META)
    plain = _valid(block)
    # the year is not repeated when the plan's name already carries it
    assert "无锡 · 《无锡市<2023>年教育&工作要点》 · 一、总体要求 › 1. 推进“双减”" in plain
    assert "<b>双减</b>" in block


def test_pack_keeps_whole_blocks_under_the_limit():
    blocks = [f"<b>{i}.</b> " + "字" * 900 for i in range(12)]
    messages = render.pack(blocks)
    assert len(messages) > 1
    for message in messages:
        assert render.utf16_len(message) <= render.MAX_MESSAGE
        _valid(message)
    joined = "".join(messages)
    assert all(f"<b>{i}.</b>" in joined for i in range(12))


def test_an_oversized_block_is_cut_between_tags_and_reopened():
    block = "<i>" + "很长的一段" * 1000 + "<b>粗</b>" + "尾" * 3000 + "</i>"
    pieces = render.split_block(block, 4096)
    assert len(pieces) > 1
    for piece in pieces:
        assert render.utf16_len(piece) <= 4096
        _valid(piece)
    assert "".join(_valid(p) for p in pieces) == _valid(block)


def test_astral_characters_count_as_two_utf16_units():
    block = "😀" * 3000
    pieces = render.split_block(block, 4096)
    assert all(render.utf16_len(p) <= 4096 for p in pieces)
    assert "".join(pieces) == block


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=3000), min_size=1, max_size=6),
       st.lists(st.tuples(st.integers(-5, 3100), st.integers(-5, 3100)), max_size=8))
def test_any_text_renders_to_valid_html_within_limits(texts, marks):
    blocks = [render.hit_block(i, _hit(text, tuple(marks)), META) for i, text in enumerate(texts)]
    for message in render.pack(blocks):
        assert render.utf16_len(message) <= render.MAX_MESSAGE
        _valid(message)


@given(st.text(max_size=200))
def test_clean_drops_controls_and_format_chars(text):
    out = render.clean(text, 40)
    assert len(out) <= 40
    assert not re.search(r"[\x00-\x1f\u200e\u200f\u202a-\u202e\ufeff]", out)
    assert html.unescape(render.esc(out)) == out


def test_callback_data_round_trips_and_fits():
    data = render.topic_data("双减", "无锡", 5)
    assert data == "t1|5|无锡|双减"
    assert render.parse_callback(data) == render.TopicPage(5, query="双减", city="无锡")
    long = render.topic_data("职业教育" * 10, "", 0)
    assert long.startswith("t2|0|") and len(long.encode()) <= 64
    assert render.parse_callback(long) == render.TopicPage(0, key=render.topic_key("职业教育" * 10, ""))
    assert render.parse_callback(render.plan_data("wuxi-2023")) == render.PlanOutline("wuxi-2023")


def test_forged_callback_data_is_rejected():
    for data in ["", "x", "t1", "t1|-1||双减", "t1|99999||双减", "t1|0|无锡|", "t2|0|nothex", "t9|0||a",
                 "p1|../etc", "p1|", "t1|0", "a" * 65, "t1|1e3||q"]:
        assert render.parse_callback(data) is None, data


@given(st.text(max_size=80))
def test_parse_callback_never_raises(data):
    render.parse_callback(data)


def test_deep_links_round_trip():
    for kind, value in [("topic", "双减 无锡"), ("city", "江阴"), ("plan", "wuxi-2023-conference")]:
        payload = render.deep_link_payload(kind, value)
        assert payload and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", payload)
        assert render.parse_deep_link(payload) == (kind, value)
    assert render.parse_deep_link("zz_abc") is None
    assert render.parse_deep_link("t_!!!") is None
    assert render.parse_deep_link("t_" + "_" * 10) is None


def test_result_ids_fit_telegram():
    assert render.result_id("short") == "short"
    assert len(render.result_id("x" * 100).encode()) <= 64


def test_an_item_number_the_citation_already_carries_is_shown_once():
    """`1. 21. 培养…` read as two numbers: the answer numbers its hits, the citation names the item."""
    text = "21 . 培养高素质教师队伍。坚持师德为先。"
    hit = _hit(text, marks=((5, 7),), section=("五、深化改革", "21. 培养高素质教师队伍"))
    block = render.hit_block(1, hit, META)
    plain = _valid(block)
    assert plain.startswith("1. ") and "21" not in plain.split("—")[0]
    assert "<b>培养</b>高素质" in block  # the marks moved with the cut
    assert "21. 培养高素质教师队伍" in plain.split("—")[1]  # the citation keeps the item's number
    # an excerpt whose number is not the cited item's keeps it
    other = _hit("3. 另一项。", section=("五、深化改革", "21. 培养高素质教师队伍"))
    assert "3. 另一项" in _valid(render.hit_block(2, other, META))
