"""The reader on the failures issue 18 lists, each checked on real text of the development set
(tests/data/real/, batches 1–3), never on the sentences quoted in the issue.

Each test names the kind of text it stands for; bench.parse_eval scores the whole set.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.parse_eval import DEFAULT_DIR, entry_for
from bot.corpus.clean import clean
from bot.corpus.enumerations import _clause, find_lists
from bot.corpus.loader import build_plan
from bot.corpus.metadata import detect
from bot.corpus.outline import parse

REAL = Path(DEFAULT_DIR)


def read(name: str) -> str:
    return (REAL / name).read_text(encoding="utf-8")


def plan_of(name: str):
    raw = read(name)
    return build_plan({**entry_for({"file": name}, detect(raw))}, raw)


def titles(name: str) -> list[str]:
    """Priority names without their printed label (一、 （一） 1.)."""
    return [re.sub(r"^([（(][一二三四五六七八九十]+[)）]|[一二三四五六七八九十]+、|\d+[.．、])", "", p.title)
            for p in plan_of(name).priorities]


# --------------------------------------------------------------------------- inline lists, any level


def test_a_sub_list_belongs_to_its_item():
    # 一要 实施…，促进…，强化…；二要 发挥…作用，强化…作用，突出…作用；三要 加强…保障 …
    heads = titles("dongcheng-2024-conference.txt")
    assert heads[:3] == ["实施五育融合育人方式变革", "发挥干部队伍的关键引领作用", "加强党建引领的政治保障"]
    assert not any(h.startswith("强化") or h.startswith("突出") for h in heads)


def test_numbered_labels_are_the_top_level_and_their_lists_are_sub_lists():
    # “1”就是贯穿一条主线，即…。“3”就是抓好三项改革，即A、B、C。“3”就是坚决守住三条防线，即…
    assert titles("wanbailin-2021-conference.txt") == ["贯穿一条主线", "抓好三项改革", "坚决守住三条防线", "强化八大工程"]


def test_items_framed_alike_across_sentences_win_over_a_counted_list_inside_one():
    # 要切实提高…，…。要做到…“十个到位”…。要切实夯实…。要做到…。要切实深化…
    heads = titles("baiyin-2025-opening.txt")
    assert [h[:6] for h in heads] == ["切实提高政治", "切实夯实安全", "切实深化教育"]
    assert not any("到位" in h for h in heads)


def test_items_joined_by_semicolons_and_full_stops_with_a_shared_frame():
    # 以党的教育方针为引领，…；以五育并举为引领，…。启动实施…；以基点定位为引领，…
    heads = titles("shanxi-2024-conference.txt")
    assert [h[:6] for h in heads] == ["以党的教育方", "以五育并举为", "以基点定位为", "以达标提质为"]


def test_items_that_name_their_own_count_before_a_colon():
    # 抓好一个重点：…；遵守两个基本原则：…；夯实四大基础：…；着力六个聚焦：聚焦A；聚焦B…
    assert titles("bureau-2018-reform.txt") == ["抓好一个重点", "遵守两个基本原则", "夯实四大基础", "着力六个聚焦"]


def test_clauses_framed_by_their_end():
    # 以提升教育质量攻坚行动为主线，以深化教育改革为动力，以…为抓手，以…为保障
    assert titles("xiangxi-2023-deployment.txt") == [
        "以提升教育质量攻坚行动为主线", "以深化教育改革为动力", "以教师队伍素质提升为抓手", "以校园安全建设为保障"]


def test_a_frame_sentence_is_not_the_years_list():
    # the five-year 清单 (三项重点任务, 五大行动) comes first; the year's list is the 六方面工作
    heads = titles("dongcheng-2025-congress.txt")
    assert heads == ["把牢教育方向", "站稳人民立场", "服务发展大局", "坚持铸魂强师", "加强开放交流", "强化协同联动"]
    # a plan's lead frame (“12881”…八项工程…八项改革) is not its priorities either
    assert titles("city-2022-workpoints.txt") == ["建设区域教育中心,办好人民满意教育"]


def test_a_frame_section_is_never_searched_for_lists():
    # 总体要求：…以立德树人为根本，以教育现代化为主线… is the plan's slogan, not its tasks
    heads = titles("bureau-2018-reform.txt")
    assert not any(h.startswith("以") for h in heads)


def test_a_fragment_head_takes_its_next_clause():
    # 抓师资，确保教师队伍强 (古田): a three-character clause is not a priority's name on its own
    assert _clause("抓师资,确保教师队伍强;") == "抓师资,确保教师队伍强"
    assert _clause("加强两支队伍建设,全面提升队伍综合素质") == "加强两支队伍建设"


def test_a_list_after_即_starts_after_it():
    raw = clean(read("city-2024-summary-meeting.txt")).paragraphs
    lists = [items for para in raw for _, items in find_lists(para)]
    assert any(items[0].startswith("聚焦育人根本問題") for items in lists)


# --------------------------------------------------------------------------- headings and containers


def test_structural_headings_are_containers_and_their_items_the_priorities():
    # 一、总体思路… 二、总体目标锚定… (glued) 三、主要措施（一）坚定政治方向…
    assert titles("district-2024-workplan.txt") == ["坚定政治方向,夯实教育发展政治保障"]
    # 四、工作举措 ㈠全面推行… in a docx flattened onto one line
    assert titles("county-2023-scheme.txt") == ["全面推行科学精细管理,努力提升教育教学质量"]


def test_a_heading_glued_to_its_first_item_is_split():
    # …力量!一、坚持党建引领,全面加强党对教育工作的领导1.强化党的创新理论武装。
    plan = plan_of("city-2024-workpoints.txt")
    assert titles("city-2024-workpoints.txt") == ["坚持党建引领,全面加强党对教育工作的领导"]
    assert plan.priorities[0].items[0] == "强化党的创新理论武装"


def test_a_one_sentence_heading_is_also_a_passage():
    outline = parse(["一、全面推行科学精细管理,努力提升教育教学质量。", "二、存在问题"])
    head = outline.tree[0]
    assert head.title == "全面推行科学精细管理,努力提升教育教学质量"
    assert head.text == "全面推行科学精细管理,努力提升教育教学质量。"


def test_a_hard_wrapped_pdf_is_read_as_paragraphs():
    paragraphs = clean(read("city-2025-workpoints.txt")).paragraphs
    assert any(p.startswith("2025 年是实施“十四五”规划的收官之年,也是启动“十五五”规划") for p in paragraphs)
    assert titles("city-2025-workpoints.txt") == ["坚持铸魂育人,加强党对教育工作的全面领导"]


# --------------------------------------------------------------------------- plan versus review


def test_a_review_and_plan_takes_each_parts_direction():
    # 二、存在问题 (neutral) then 三、2025年工作打算 (a container of the plan's items)
    assert titles("county-2025-review-plan.txt") == ["持续推进党的建设"]
    # only the 2024 review is stored: nothing is shown as the plan's priorities
    assert titles("county-2024-review-2025-plan.txt") == []
    assert titles("county-2022-review-2023-arrangement.txt") == []


def test_a_report_looks_back_throughout():
    # 区教育局2022年工作汇报材料: 一、守牢红色根脉，在…上有新加强 has no look-back word, yet it reviews
    assert detect(read("district-2022-report.txt")).kind == "工作总结"
    assert titles("district-2022-report.txt") == []


def test_unnumbered_headings_told_in_the_past_are_a_look_back():
    # 制定一项规范，划定办学红线 / 实施两项行动，促进优质均衡 — then 3月份，出台…, 启动了…
    assert titles("shandong-2021-review.txt") == []


def test_the_review_and_plan_title_gives_the_plans_year():
    found = detect(read("county-2024-review-2025-plan.txt"))
    assert (found.title, found.year) == ("教育局2024年工作总结及2025年工作计划", 2025)
    found = detect(read("county-2022-review-2023-arrangement.txt"))
    assert (found.title, found.year) == ("县教育局2022年工作总结及2023年工作安排", 2023)


# --------------------------------------------------------------------------- metadata


@pytest.mark.parametrize(("name", "city"), [
    ("tianjin-2022-conference.txt", "天津市"),  # never 津市市, the tail of 天津市
    ("dongcheng-2024-conference.txt", "东城区"),  # a district of a municipality, not 北京市
    ("binhai-2023-inspection.txt", "滨海新区"),  # a 新区 of a municipality
    ("guangxi-2022-workpoints.txt", "广西壮族自治区"),  # an autonomous region's own plan
    ("shanxi-2024-conference.txt", "山西省"),  # a province named in the lead
    ("wanbailin-2021-conference.txt", "万柏林区"),  # the issuer's place over its province and city
    ("jinnan-2018-article.txt", "津南区"),  # over 河北省隆化县 named later
    ("xiangxi-2023-deployment.txt", "湘西土家族苗族自治州"),  # an autonomous prefecture by two characters
    ("shayibake-2022-duty-report.txt", "沙依巴克区"),  # over 乌鲁木齐市 named in its lead
])
def test_places_are_matched_whole_and_the_issuers_wins(name, city):
    assert detect(read(name)).city == city


def test_a_conjunction_is_no_place():
    # 领导班子、干部队伍建设争一流和县综合绩效考核… names no 和县
    assert detect(read("county-2023-scheme.txt")).city is None


@pytest.mark.parametrize(("name", "year"), [
    ("jiulongpo-2023-conference.txt", 2023),  # 2023—2024学年度
    ("banan-2016-survey.txt", 2016),  # a 23.02.2016 stamp
    ("binhai-2023-inspection.txt", None),  # 2022年以来 is a starting point, not the year
])
def test_years(name, year):
    assert detect(read(name)).year == year


@pytest.mark.parametrize(("name", "title"), [
    ("district-2022-review-2023-plan.txt", "区教育局2022年工作总结与2023年工作计划打算"),  # a site tag glued on
    ("county-2023-review-plan.txt", "县教育局2023年工作总结和2023年工作计划"),  # not 工作计划 时间:… WORD下载
    ("shandong-2021-review.txt", "2021年山东义务教育办了这10件实事"),  # not the 人民网>>… breadcrumb
    ("county-2023-scheme.txt", "2023年教育工作方案"),  # glued to 一、指导思想
    ("county-2024-plan-template.txt", "2024年县教育部门年度工作计划"),  # without the site's 模版(二篇)
    ("binhai-2023-inspection.txt",
     "天津市政府教育督导室督查组对滨海新区人民政府2022年以来履行教育职责情况开展实地督查 以结果为导向加快建设教育强区"),
])
def test_titles_are_the_documents_own(name, title):
    assert detect(read(name)).title == title


def test_a_subtitle_or_a_section_heading_is_never_the_title():
    assert not detect(read("jiutai-2021-inspection.txt")).title.startswith("——")
    assert detect(read("tianjin-2023-conference.txt")).title != "“大思政课”综合改革"


def test_a_leads_date_takes_the_year_of_the_report():
    # 1月29日，市教育局召開2023年工作總結暨2024年工作部署會 (no dateline of its own)
    assert detect(read("city-2024-summary-meeting.txt")).date == "2024-01-29"


def test_the_issuer_is_a_government_body_not_the_site():
    assert detect(read("shayibake-2022-duty-report.txt")).issuer == "沙区政府教育督导室"
    assert detect(read("wanbailin-2021-conference.txt")).issuer == "万柏林区教育局"
    assert detect(read("dongcheng-2025-congress.txt")).issuer is None  # 转自:人民网 is a site


# --------------------------------------------------------------------------- furniture


def test_an_aggregators_other_stories_are_not_the_document():
    paragraphs = clean(read("banan-2016-survey.txt")).paragraphs
    assert not any("蓝莓" in p or "药香" in p for p in paragraphs)


def test_numbering_spacing_is_normalised_once():
    outline = parse(["一、加强党的建设", "2 .夯实基层党组织建设。加强各级各类学校党的领导和党的建设工作。"])
    item = outline.tree[0].children[0]
    assert item.label == "2." and item.text.startswith("2.夯实基层党组织建设")


# --------------------------------------------------------------------------- batch 4 kinds


def test_an_outline_at_the_top_is_the_documents_structure():
    # 一、2025年主要工作情况 （一）… 二、2026年工作打算 （一）聚焦铸魂育人 … then the report itself
    assert titles("city-2025-party-review.txt") == [
        "聚焦铸魂育人", "聚焦优质均衡", "聚焦产教融合", "聚焦激发活力", "聚焦德能并重", "聚焦综合施策"]


def test_a_reports_cover_sentence_names_its_kind_and_year():
    # 现将我市教育局2025年度主要工作完成情况…以及2026年度重点工作计划系统汇报如下
    found = detect(read("city-2025-review-2026-plan.txt"))
    assert (found.kind, found.year) == ("半年总结与计划", 2026)


def test_a_local_name_said_in_context_beats_a_province_in_a_reference():
    # 听取吉林省委和省政府工作汇报 … 榆树教育高质量发展
    assert detect(read("yushu-2025-meeting.txt")).city == "榆树市"
    # said only further down, with context: 助力南通教育工作
    assert detect(read("nantong-2025-conference.txt")).city == "南通市"
    # …but a common word said twice far down is no place (教育资源 is not 资源县)
    assert detect(read("tianjin-2023-conference.txt")).city is None


def test_an_item_cut_off_by_the_pages_end_is_not_a_priority():
    # …要严守工作纪律，…。要主动接受   (the stored page stops here)
    assert "主动接受" not in titles("yushu-2025-meeting.txt")


def test_watermarks_and_site_stamps_are_not_text():
    paragraphs = clean(read("district-2023-midyear.txt")).paragraphs + clean(read("district-2019-midyear.txt")).paragraphs
    assert not any("办公文档之家" in p or "gaozihui" in p or "标签" in p or "658229379" in p for p in paragraphs)
