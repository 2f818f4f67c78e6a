"""The parser handles numbering styles beyond the seeds: 一、（一）1、① 第一， 一是, headings with or without 。"""

from __future__ import annotations

from pathlib import Path

from bot.corpus.clean import clean, repair_page_numbers
from bot.corpus.outline import parse, priorities, split_inline

SYNTHETIC = (Path(__file__).parent / "data" / "synthetic_plan.txt").read_text(encoding="utf-8")


def test_all_numbering_styles_nest_by_rank():
    outline = parse(clean(SYNTHETIC).paragraphs)
    assert [n.heading for n in outline.tree] == ["一、加强党的全面领导", "二、推进教育公平", "三、2023年工作回顾"]
    first = outline.tree[0]
    assert [c.heading for c in first.children] == ["（一）深化理论武装", "（二）从严治党"]
    assert [c.label for c in first.children[0].children] == ["1、", "2、"]
    assert [c.label for c in first.children[1].children] == ["①", "②"]
    assert [c.title for c in outline.tree[1].children] == ["扩大学位供给", "促进均衡发展"]
    assert outline.preamble and outline.preamble[0].startswith("2024年")


def test_review_section_is_backward_and_not_a_priority():
    outline = parse(clean(SYNTHETIC).paragraphs)
    assert outline.tree[2].orientation == "backward"
    assert [p.title for p in priorities(outline.tree)] == ["一、加强党的全面领导", "二、推进教育公平"]


def test_page_numbers_only_repaired_after_long_pages():
    short_list = "前言\n1、第一条。\n2、第二条。\n3、第三条。"
    assert repair_page_numbers(short_list) == short_list
    page = "甲" * 400
    assert repair_page_numbers(f"1、{page}扎实开\n2、展学习{page}提质\n3、增效。") == f"{page}扎实开展学习{page}提质增效。"


def test_inline_split_ignores_years_and_percentages():
    run_on = ("一、总体要求2023年，覆盖率达100%。1 .学习贯彻。内容一。2 .全面推进。内容二。"
              "二、公平发展。3 .扩大供给。新增2000个。")
    pieces = split_inline(run_on)
    assert pieces == ["一、总体要求2023年，覆盖率达100%。", "1 .学习贯彻。内容一。", "2 .全面推进。内容二。",
                      "二、公平发展。", "3 .扩大供给。新增2000个。"]
