"""A new plan's title, kind, city, year, date and issuer, read from its own text rather than the site.

A page's <title>, a sharing site's file name and an aggregator's banner all sit above the document; the
document's own headline, its 时间/发布时间 line and the place it names are what a reader would quote.
Everything is matched on the normalised text (simplified, half-width), so a traditional repost reads
like the original. What the text does not state stays None, and `add` asks for it rather than guess.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from bot.corpus import regions
from bot.corpus.clean import Cleaned, clean, is_chrome, strip_ruby
from bot.textnorm import normalize

KIND_POINTS = "工作要点"
KIND_PLAN = "工作计划"
KIND_SPEECH = "工作会议讲话"
KIND_HALF_YEAR = "半年总结与计划"
KIND_REVIEW = "工作总结"
KIND_NEWS = "会议报道"

_TITLE_HINT = re.compile(r"(工作要点|工作计划|工作总结|总结和.{0,4}计划|工作会议|讲话|实施方案|工作方案|重点工作|工作安排|汇报材料"
                         r"|工作报告|工作汇报|工作思路)")
# What a news headline says: 召开 / 部署 / 工作会 / 务虚会.
_NEWS_HINT = re.compile(r"(召开|举行|部署|工作会|务虚会|座谈会|推进会|会议|督查|调研|视察)")
_DATE = re.compile(r"(20\d{2}|19\d{2})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})\s*日?")
_LABELLED_DATE = re.compile(r"(?:发布时间|发布日期|成文日期|印发日期|日期|时间)\s*[:：]\s*" + _DATE.pattern)
_BARE_DATE = re.compile(r"^[•·\s]*" + _DATE.pattern + r"(\s+\d{1,2}:\d{2}(:\d{2})?)?\s*$")
# 2024年, and a school year 2023—2024学年 (its first year: the year the meeting plans from)
_TRANSMITTAL_NAMES = re.compile(r"现将.{0,80}?(工作总结|完成情况|工作情况|工作进展).{0,60}?(汇报|报告|总结)如下")
_DMY_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.((?:19|20)\d{2})(\s+\d{1,2}:\d{2}(:\d{2})?)?\s*$")
_YEAR = re.compile(r"(20\d{2})\s*(?:年|[—–\-~至]\s*20\d{2}\s*学年)")
_CN_YEAR = re.compile(r"([〇零一二三四五六七八九]{4})年")
_ISSUER = re.compile(r"(?:发文单位|发布机构|发文机关|来源|信息来源)[:：\s]*([\u4e00-\u9fff、\s]{3,40}?)(?:\s{2,}|$|\s*(?:效力|发布|主题|时间))")
_NEWS_LEAD = re.compile(r"^.{0,30}(讯|电)[(（\s]|^本(报|网)讯|^\d{1,2}月\d{1,2}日.{0,80}(召开|举行|举办)|^\d{1,2}月\d{1,2}日(至\d{1,2}日)?(上午|下午|晚)?[，,]|召开[^，,。；;]{0,40}?(会议|大会|会(?=[，,。\s]|$))|会议?[^，,。；;]{0,30}(召开|举行)")
_PROVINCE_BUREAU = re.compile(r"([\u4e00-\u9fff]{2,3}省|北京市|天津市|上海市|重庆市|[\u4e00-\u9fff]{2,8}?自治区)"
                              r"(?:党委教育工委|教育厅|人民政府|教育委员会|教委|委员会)")
_SITE_NOISE = re.compile(r"\.(docx?|pdf|wps|txt)$|范文$|[(（]\d+页珍藏版[)）]$|模[版板]$|范本$|[(（][一二三四五六七八九十\d]+篇[)）]$"
                         r"|【[^】]{1,8}】$")
# A plan's title ends with what it is; a site tag glued after it (…工作计划打算官方抖音号体制内材料助手) is not the title.
_TITLE_END = re.compile(r"^(.{4,60}?(?:工作要点|工作计划打算|工作计划|工作安排|工作思路|工作打算|工作总结|工作方案|实施方案|汇报材料))"
                        r"([\u4e00-\u9fff]{4,16})$")


@dataclass
class Detected:
    title: str | None
    city: str | None
    year: int | None
    issuer: str | None
    date: str | None
    kind: str = KIND_POINTS


def detect(text: str) -> Detected:
    raw = strip_ruby(text)
    cleaned = clean(raw)
    title = _headline(raw, cleaned)
    # the lead is the first sentence, though a short one may stand above the first long paragraph
    lead = next((ln for ln in cleaned.front + cleaned.paragraphs if "。" in ln), None)
    # …其次 a lead may open with its purpose (为全面部署…。) and tell the meeting in its second sentence
    opening = "".join(re.findall(r"[^。]*。", lead)[:2]) if lead else None
    kind = kind_of(title or "", [opening] if opening else cleaned.paragraphs[:1])
    date = _date(raw, cleaned)
    year = _year(title, cleaned, date, kind)
    city = _city(title, cleaned)
    if date is None and year and lead and (m := re.search(r"(?<![\d年])(\d{1,2})月(\d{1,2})日", normalize(lead))):
        month, day = int(m.group(1)), int(m.group(2))
        if 1 <= month <= 12 and 1 <= day <= 31:
            date = f"{year:04d}-{month:02d}-{day:02d}"  # 3月14日 in the lead, the year from title or dateline
    if title is None and (m := _TRANSMITTAL_NAMES.search(normalize("\n".join(cleaned.front + cleaned.paragraphs[:2])))):
        # 现将…2025年度主要工作完成情况…以及2026年度重点工作计划…汇报如下: the report says what it is
        named = m.group()
        planned = re.search(r"计划|打算|安排|重点工作", named.split("完成情况")[-1].split("总结")[-1])
        kind = KIND_HALF_YEAR if planned else KIND_REVIEW
        year = max(_years_in(named), default=year) if planned else year
    if title is None and kind == KIND_NEWS and (lead or cleaned.paragraphs):
        title = _lead_title(lead or cleaned.paragraphs[0])
    return Detected(title, city, year, _issuer(cleaned), date, kind)


# --------------------------------------------------------------------------------------------- title


def _tidy_title(line: str) -> str:
    line = re.sub(r"^编号[:：]\d{5,}", "", line.strip())
    line = re.sub(r"\s*[|｜_]\s*[^|｜_]{0,12}$", "", line.strip()) if re.search(r"[|｜_]\s*[^|｜_]{0,12}$", line) else line.strip()
    if quoted := re.search(r"(?:关于)?印发《([^》]{4,60})》", line):
        return quoted.group(1)
    line = re.sub(r"^(关于印发|印发)", "", line)
    while (stripped := _SITE_NOISE.sub("", line).strip()) != line:
        line = stripped
    if (m := _TITLE_END.match(line)) and not re.match(r"^(的|暨|和|及|与|通知|意见|方案|报告)", m.group(2)):
        line = m.group(1)
    return line


def is_title_line(line: str) -> bool:
    """A short line without a full stop that names a plan or a meeting (工作要点, …召开, 部署…)."""
    norm = normalize(line)
    if re.match(r"^\s*(——|—|--|[一二三四五六七八九十]{1,3}、|[（(][一二三四五六七八九十]{1,3}[)）])", norm):
        return False  # 一、2022年主要工作总结 is a section, ——在…会议上的讲话 a subtitle
    return (len(line) <= 90 and "。" not in line and not _DATE.fullmatch(line.strip())
            and not norm.rstrip().endswith((":", "：")) and not norm.startswith(("现将", "同志们"))
            and bool(_TITLE_HINT.search(norm) or _NEWS_HINT.search(norm)))


def _headline(raw: str, cleaned: Cleaned) -> str | None:
    """The last headline-like line above the body; else a quoted file title (《…工作要点.docx》); else
    a headline-like line among the first lines that is not page furniture."""
    for line in reversed(cleaned.front):
        if is_title_line(line):
            return _tidy_title(line)
    lines = [ln.strip() for ln in raw.splitlines()[:15]]
    for line in lines:
        # a sharing site's 《….docx》 header names the file; a 《…》 in running text cites another document
        quoted = re.search(r"《([^》]{4,60}?)(\.docx?|\.pdf|\.txt)?》", line)
        if quoted and (quoted.group(2) or is_chrome(line)) and _TITLE_HINT.search(normalize(quoted.group(1))):
            return _tidy_title(re.sub(r"\s+", "", quoted.group(1)))
    for line in lines:
        if line and not is_chrome(line) and is_title_line(line) and _TITLE_HINT.search(normalize(line)):
            return _tidy_title(line)
        # a flattened page opens with its title glued to its text: XX镇教育2023年上半年工作总结和下半年工作计划回顾…
        if len(line) > 60 and (m := re.match(r"^(.{4,40}?(?:工作总结和.{0,6}工作计划|工作总结及.{0,6}工作计划|工作总结汇报"
                                              r"|工作要点|工作计划|工作总结))(?=\S)", line)):
            return _tidy_title(m.group(1))
        # a flattened docx opens with its title glued to the first heading: 2023年教育工作方案一、指导思想…
        if (m := re.match(r"^(.{4,40}?(?:工作要点|工作计划|工作方案|实施方案|工作总结|工作安排))(?:一、|[（(]一[)）]|1[.．、])", line)):
            return _tidy_title(m.group(1))
        # a sharing site's first line is the file's name: XX市教育局2024年工作要点.docx
        if (m := re.fullmatch(r"(.{4,60}?)\.(docx?|pdf|wps)", line)) and _TITLE_HINT.search(normalize(m.group(1))):
            return _tidy_title(m.group(1))
    for ln in cleaned.front:
        if "。" in ln:
            break  # the lead has begun: a short line after it heads a section, not the page
        if (len(re.sub(r"\W", "", ln)) >= 2 and len(ln) <= 40 and not _DATE.search(ln) and "|" not in ln
                and not normalize(ln).rstrip().endswith((":", "：")) and not re.match(r"^\s*(——|—|--)", ln)
                and not is_chrome(ln)):
            return ln
    return None


def _lead_title(lead: str) -> str | None:
    """A report without a headline is named by its opening clause: 博罗县教育局召开党组扩大会议."""
    clauses = []
    for clause in re.split(r"[，,。；;]", lead):
        clause = re.sub(r"^.{0,20}(讯|电)\s*[(（][^)）]*[)）]\s*", "", clause.strip())
        clause = re.sub(r"^(本(报|网)讯)?\s*(\d{1,2}月\d{1,2}日(上午|下午|晚)?)\s*", "", clause)
        if 6 <= len(clause) <= 50:
            clauses.append(clause)
    for hint in (re.compile(r"(召开|举行|举办).{0,30}会"), _NEWS_HINT):
        for clause in clauses:
            if hint.search(normalize(clause)):
                return clause
    return None


def kind_of(title: str, lead: list[str] | None = None) -> str:
    """The kind from the title's words, then from the way the text opens (a dateline is news)."""
    t = normalize(title)
    first = normalize(lead[0]) if lead else ""
    if "讲话" in t or first.startswith("同志们"):
        return KIND_SPEECH
    if "上半年" in t and ("下半年" in t or "计划" in t):
        return KIND_HALF_YEAR
    if "工作要点" in t:
        return KIND_POINTS
    if re.search(r"工作(计划|思路|打算|方案)", t) and "总结" not in t:
        return KIND_PLAN
    if "总结" in t:
        return KIND_HALF_YEAR if re.search(r"计划|安排|打算|思路|要点", t) else KIND_REVIEW
    if re.search(r"汇报材料|工作报告|工作汇报|履行教育职责.{0,4}报告", t):
        return KIND_REVIEW
    if _NEWS_HINT.search(t) or _NEWS_LEAD.search(first):
        return KIND_NEWS
    return KIND_POINTS


# --------------------------------------------------------------------------------------------- plan titles

# What a column's link text says when the page behind it is a plan or a plan-bearing report: the same
# kinds `kind_of` tells apart, as a bureau titles them. The source watcher's triage reads titles with
# these and nothing else, so the knowledge of what a 工作要点 is lives here once.
PLAN_TITLE_WORDS = re.compile(
    r"(工作要点|要点|工作计划|总结和.{0,8}计划|总结及.{0,8}计划|总结暨.{0,8}(计划|思路)|工作总结|工作思路|"
    r"重点工作任务|重点工作|重点任务|工作任务|工作安排|工作汇报|工作务虚会|部署(\d{4}年)?(全[市县区])?教育(体育)?工作|"
    r"教育(体育|和体育)?(系统)?(\d{4}年|[〇零一二三四五六七八九]{4}年)?(工作(会议|大会|会)|会议|大会)|教育(体育)?工作暨)")
# The year's education conference is often held together with the clean-government one (教育工作暨党风廉政
# 建设工作会议): then the conference words win over 党风廉政.
_CONFERENCE = re.compile(r"教育.{0,8}(会议|大会|会)$|教育大会|工作暨")
_YIELDS_TO_CONFERENCE = {"党风廉政", "廉政"}
# What a bureau also posts under the same columns, each of which outweighs a plan word: admissions,
# holidays, exams, hiring, lists, contests, purchasing, other kinds of meeting and plan, money reports.
NOT_PLAN_TITLE_WORDS = re.compile(
    r"(招生|招录|入学|划片|学区|放假|寒假|暑假|开学|中考|高考|学考|考试|考务|报名|成绩|录取|招聘|遴选|选调|"
    r"公示|名单|公告|结果|评选|评比|表彰|比赛|竞赛|大赛|联赛|运动会|展演|征文|采购|招标|中标|成交|磋商|询价|"
    r"安全生产|消防|防汛|防溺水|食品安全|疫情|党风廉政|廉政|纪检|巡察|政务公开|信息公开|普法|保密|档案|调度会|"
    r"预算|决算|督导评估|验收|年报|年度报告|提案|建议的答复|意见的答复|"
    r"征求意见|解读|指南|须知|问答|致家长|告家长|倡议|提醒)")
# A school's own plan: a school is named and no bureau or sector is (a 中小学 is the sector, not a school;
# 全市 or 教育局 make it the bureau's).
SCHOOL_WORDS = re.compile(r"(?<!中)(小学|中学|幼儿园|学校|附中|中专|学院|大学|学区)")
BUREAU_WORDS = re.compile(r"(教育局|教体局|教育体育局|教育和体育局|教育和科技局|教委|教育委员会|教育厅|教育工委|"
                          r"全[市县区省州旗]|各[市县区]|中小学|教育系统|教育体育系统)")


def plan_title_words(title: str) -> tuple[list[str], list[str]]:
    """The plan words and the other-kind words a title says (normalised first), for triage to weigh."""
    t = normalize(title)
    plan = [m.group(0) for m in PLAN_TITLE_WORDS.finditer(t)]
    other = [m.group(0) for m in NOT_PLAN_TITLE_WORDS.finditer(t)]
    if any(_CONFERENCE.search(word) for word in plan):
        other = [word for word in other if word not in _YIELDS_TO_CONFERENCE]
    if plan and (m := SCHOOL_WORDS.search(t)) and not BUREAU_WORDS.search(t):
        other.append(m.group(0))
    return plan, other


def years_in_title(title: str) -> list[int]:
    """The years a title names (2024年, 二〇二四年)."""
    return _years_in(normalize(title))


# --------------------------------------------------------------------------------------------- date/year


def _iso(m: re.Match) -> str:
    return f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"


def labelled_date(text: str) -> str | None:
    """The date of a 时间/发布时间/日期 line anywhere in `text`, as YYYY-MM-DD."""
    m = _LABELLED_DATE.search(normalize(text))
    return _iso(m) if m else None


def _date(raw: str, cleaned: Cleaned) -> str | None:
    """A 时间/发布时间/日期 line wins (even when 字号 or 浏览次数 share it), then a date alone on a
    line, then the first date in the front matter or lead."""
    lines = [normalize(ln.strip()) for ln in raw.splitlines()[:40]]
    for line in lines:
        if m := _LABELLED_DATE.search(line):
            return _iso(m)
    standalone = [m for ln in lines if (m := _BARE_DATE.match(ln))]
    if standalone:
        return _iso(standalone[-1])
    for line in lines:  # a European-style stamp alone on a line: 23.02.2016  21:56
        if m := _DMY_DATE.match(line):
            return f"{m.group(3)}-{int(m.group(2)):02d}-{int(m.group(1)):02d}"
    head = normalize("\n".join(cleaned.front + cleaned.paragraphs[:1]))
    m = _DATE.search(head)
    return _iso(m) if m else None


def _years_in(text: str) -> list[int]:
    """The years a text names, except a starting point (2022年以来 is not the year it speaks of)."""
    text = re.sub(r"20\d{2}\s*年以来", "", text)
    years = [int(y) for y in _YEAR.findall(text)]
    digits = {c: str(i) for i, c in enumerate("〇一二三四五六七八九")} | {"零": "0"}
    years += [int("".join(digits[c] for c in y)) for y in _CN_YEAR.findall(text)]
    return years


def _year(title: str | None, cleaned: Cleaned, date: str | None, kind: str) -> int | None:
    """The title's year; for a report, the latest year its lead speaks of (总结2022年，部署2023年 is a
    2023 report) within a year of its date; else the date's year, else the first year named."""
    if title and (years := _years_in(normalize(title))):
        # 2024年工作总结及2025年工作计划 is the plan for 2025: a review-and-plan takes the later year
        return max(years) if "总结" in title and re.search(r"计划|打算|思路|安排|要点", title) else years[0]
    lead = normalize("\n".join(cleaned.front + cleaned.paragraphs[:2]))
    years = _years_in(lead)
    if kind == KIND_NEWS and years:
        dated = int(date[:4]) if date else None
        near = [y for y in years if dated is None or dated - 1 <= y <= dated + 1]
        return max(near) if near else dated
    if date:
        return int(date[:4])
    return years[0] if years else None


# --------------------------------------------------------------------------------------------- city


@lru_cache(maxsize=1)
def _spoken_names() -> dict[str, regions.Place]:
    """Autonomous counties go by their first two characters (城步苗族自治县 → 城步县, 城步)."""
    names: dict[str, regions.Place] = {}
    for place in regions.all_places():
        if place.level == regions.LEVEL_COUNTY and place.name.endswith(("自治县", "自治旗")):
            names.setdefault(place.name[:2], place)
        if place.level == regions.LEVEL_CITY and place.name.endswith("自治州"):
            names.setdefault(place.name[:2], place)  # 湘西土家族苗族自治州 → 湘西
    return names


# Common nouns that end like a place name (示范县, 城区学校, 开发区) and would otherwise read as 范县,
# 城区 or 发区: masked, length kept, before places are looked for.
_NOT_PLACES = re.compile(r"示范(县|区|市)|先行(县|区|市)|(试验|实验|集聚|开发|高新|保税|新|城|郊|矿|市|县|景|园|校|社|片|辖|山|库)区")


def _conjunction_head(text: str, at: int, place: regions.Place) -> bool:
    """争一流和县综合绩效 names no 和县: a two-character name opening with a conjunction or
    preposition counts only as an issuer (和县教育局) or after its province or city (安徽省和县)."""
    if len(place.name) != 2 or at < 0 or place.name[0] not in "和与及的在对向从为并或把被给跟同":
        return False
    if _ISSUER_AFTER.match(text, at + len(place.name)):
        return False
    return not re.search(r"(省|市)$", text[max(0, at - 6):at])


def _ends_place(text: str, m: re.Match) -> bool:
    """东城区 or 新城区 is a place, though 城区 alone is the town centre: the common noun is masked only
    when no official name ends with it there."""
    return any(any(p.name == text[m.start() - k: m.end()] for p in regions.find_places(text[m.start() - k: m.end()]))
               for k in (1, 2, 3) if m.start() - k >= 0)


_ISSUER_AFTER = re.compile(r"(教育局|教体局|教育体育局|教育和体育局|教育工委|人民政府|召开|举行)")


def _first_named(text: str) -> regions.Place | None:
    """The issuing place (永州市教育局召开…, whoever else speaks later), else the place named first
    (by official name, or 城步县 for an autonomous county), narrowed to a county of that city."""
    text = _NOT_PLACES.sub(lambda m: m.group() if _ends_place(text, m) else "　" * len(m.group()), text)
    found: list[tuple[int, regions.Place]] = []
    for place in regions.places_in_text(text):
        if place.level == regions.LEVEL_PROVINCE and not text.count(place.name):
            continue  # a province only by its full name (山西省, 天津市), never by a short tail
        at = text.find(place.name)
        found.append((at if at >= 0 else text.find(place.short), place))
    for alias, place in _spoken_names().items():
        suffix = "州" if place.level == regions.LEVEL_CITY else "县"
        if (at := text.find(alias + suffix)) >= 0:
            found.append((at, place))
    found = [(at, p) for at, p in found if at >= 0 and not _conjunction_head(text, at, p)]
    if not found:
        return None
    issuing = [(at, p) for at, p in found
               if _ISSUER_AFTER.match(text, at + len(p.name)) and text.startswith(p.name, at)]
    if issuing:
        return min(issuing, key=lambda f: (f[0], -len(f[1].name)))[1]
    first = min(found, key=lambda f: (f[0], -len(f[1].name)))[1]
    # 咸宁市委常委、县委书记…崇阳县: a county of the first-named city is the more exact answer;
    # 北京市东城区 / 山西省太原市万柏林区: a place inside the first-named province likewise
    ordered = [p for _, p in sorted(found, key=lambda f: f[0])]
    if first.level == regions.LEVEL_PROVINCE:
        inside = [p for p in ordered if p.level != regions.LEVEL_PROVINCE and p.province == first.name]
        if inside:
            counties = [p for p in inside if p.level == regions.LEVEL_COUNTY]
            return counties[0] if counties else inside[0]
        return first
    inside = [p for p in ordered if p.parent_city == first.name]
    return inside[0] if first.level == regions.LEVEL_CITY and inside else first


_SHORT_CONTEXT = "(?=教育|新闻|日报|融媒|全市|全县|全区)"


def _words(text: str) -> Counter:
    """The text's words as jieba cuts them (imported here: only `add` and the reader bench pay)."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return Counter(jieba.lcut(text))


def _by_short_name(text: str, provinces: bool = False, context_only: bool = False) -> regions.Place | None:
    """News copy says 无锡教育 or 城步新闻网, not 无锡市: a short name counts where such a word follows
    it, or where the text says it twice (a lone 复兴 in 民族复兴 is not 复兴区); cities before
    counties, longest first."""
    tokens = _words(text)

    def named(short: str) -> bool:
        if len(short) < 2 or short not in text or short not in tokens:
            return False  # 和安 in 发展和安全 is no place: the words there are 和 / 安全
        said_with_context = re.search(re.escape(short) + _SHORT_CONTEXT, text) is not None
        return said_with_context or (tokens[short] >= 2 and not context_only)

    if provinces:
        hits = [p for p in regions.all_places() if p.level == regions.LEVEL_PROVINCE and named(p.short)]
        return max(hits, key=lambda p: (tokens[p.short], len(p.short))) if hits else None
    hits = [p for p in regions.all_places() if p.level != regions.LEVEL_PROVINCE and named(p.short)]
    hits += [p for alias, p in _spoken_names().items() if named(alias)]
    rank = {regions.LEVEL_CITY: 0, regions.LEVEL_COUNTY: 1}
    return min(hits, key=lambda p: (rank[p.level], -len(p.short), p.code)) if hits else None


def _city(title: str | None, cleaned: Cleaned) -> str | None:
    """The title's place; a provincial bureau's province; the first place the lead names in full;
    else a short name in the title, front matter or opening paragraph."""
    t = normalize(title or "")
    front = normalize("\n".join(cleaned.front + cleaned.paragraphs[:1]))
    lead = normalize("\n".join(cleaned.front + cleaned.paragraphs[:3]))
    for source in (t, front):
        if (m := _PROVINCE_BUREAU.search(source)) and (province := regions.find_place(m.group(1))):
            return province.name
    for source in (t, lead):
        if place := _first_named(source):
            if place.level == regions.LEVEL_PROVINCE and (local := _by_short_name(normalize(_body(cleaned)), context_only=True)) \
                    and local.province == place.name:
                return local.name  # 听取吉林省委…汇报 names the province; 榆树教育 names the issuer
            return place.name
    for source in (t, lead):
        if place := _by_short_name(source):
            return place.name
    if place := _by_short_name(normalize(_body(cleaned)), context_only=True):
        return place.name  # named only further down (助力南通教育): the text still says where it is
    for source in (t, lead):  # a province's own plan speaks of 视察广西, 全区 and 自治区 only
        if place := _by_short_name(source, provinces=True):
            return place.name
    return None


# A government body: a bureau, a department, a committee, a government or its office, an inspectorate.
_BODY = re.compile(r"[\u4e00-\u9fff]{2,20}?(教育局|教体局|教育体育局|教育和体育局|科教体局|教育厅|教育委员会|教委|教育工委"
                   r"|人民政府(办公室)?|政府教育督导室|教育督导室|督导室|督导委员会)")


def _body(cleaned: Cleaned) -> str:
    return "\n".join(cleaned.front + cleaned.paragraphs)


def _issuer(cleaned: Cleaned) -> str | None:
    """The body that issued the text: a 来源/发布机构 line or a signature line, when it names a
    government body (a hosting site or a newspaper is not an issuer); else the body the title or lead
    names as acting (…区教育局召开…)."""
    head = "\n".join(cleaned.front + cleaned.paragraphs[:1])
    candidates: list[str] = []
    if m := _ISSUER.search(head):
        candidates.append(re.sub(r"\s+", "、", m.group(1).strip()))
    for label, value in zip(cleaned.front, cleaned.front[1:], strict=False):
        if label in ("发布机构", "发文机关", "发文单位", "来源", "信息来源"):
            candidates.append(value)
    for line in cleaned.front:
        # a signature or by-line: 2023-11-24 11:54   沙区政府教育督导室 / 来源：县教体局
        labelled = re.search(r"(?:来源|信息来源|发布机构|供稿|印发)[:：\s]*([\u4e00-\u9fff]{2,24})", normalize(line))
        signed = re.match(r"^[\d\-:/\s]{8,}\s+([\u4e00-\u9fff]{3,24})$", line.strip())
        if found := labelled or signed:
            candidates.append(found.group(1))
    for value in candidates:
        if m := _BODY.search(value):
            return value[: m.end()]
    text = normalize(head)
    for m in re.finditer(r"(?<=[市县区州省])(教育局|教体局|教育体育局|教育和体育局|教育厅|教委)", text):
        for start in range(max(0, m.start() - 12), m.start() - 1):  # the longest place name before it
            if any(p.name == text[start:m.start()] for p in regions.find_places(text[start:m.start()])):
                return text[start:m.end()]
    return None
