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

_TITLE_HINT = re.compile(r"(工作要点|工作计划|工作总结|总结和.{0,4}计划|工作会议|讲话|实施方案|重点工作|工作安排)")
# What a news headline says: 召开 / 部署 / 工作会 / 务虚会.
_NEWS_HINT = re.compile(r"(召开|举行|部署|工作会|务虚会|座谈会|推进会|会议)")
_DATE = re.compile(r"(20\d{2}|19\d{2})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})\s*日?")
_LABELLED_DATE = re.compile(r"(?:发布时间|发布日期|成文日期|印发日期|日期|时间)\s*[:：]\s*" + _DATE.pattern)
_BARE_DATE = re.compile(r"^[•·\s]*" + _DATE.pattern + r"(\s+\d{1,2}:\d{2}(:\d{2})?)?\s*$")
_YEAR = re.compile(r"(20\d{2})\s*年")
_CN_YEAR = re.compile(r"([〇零一二三四五六七八九]{4})年")
_ISSUER = re.compile(r"(?:发文单位|发布机构|发文机关|来源|信息来源)[:：\s]*([\u4e00-\u9fff、\s]{3,40}?)(?:\s{2,}|$|\s*(?:效力|发布|主题|时间))")
_NEWS_LEAD = re.compile(r"^.{0,30}(讯|电)[(（\s]|^本(报|网)讯|^\d{1,2}月\d{1,2}日.{0,80}(召开|举行|举办)|召开.{0,40}会")
_PROVINCE_BUREAU = re.compile(r"([\u4e00-\u9fff]{2,3}省)(?:教育厅|人民政府|教育委员会|委员会)")
_SITE_NOISE = re.compile(r"\.(docx?|pdf|wps|txt)$|范文$|[(（]\d+页珍藏版[)）]$")


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
    kind = kind_of(title or "", cleaned.paragraphs[:1])
    date = _date(raw, cleaned)
    year = _year(title, cleaned, date, kind)
    city = _city(title, cleaned)
    if title is None and kind == KIND_NEWS and cleaned.paragraphs:
        title = _lead_title(cleaned.paragraphs[0])
    return Detected(title, city, year, _issuer(cleaned), date, kind)


# --------------------------------------------------------------------------------------------- title


def _tidy_title(line: str) -> str:
    line = line.strip()
    if quoted := re.search(r"(?:关于)?印发《([^》]{4,60})》", line):
        return quoted.group(1)
    line = re.sub(r"^(关于印发|印发)", "", line)
    while (stripped := _SITE_NOISE.sub("", line).strip()) != line:
        line = stripped
    return line


def is_title_line(line: str) -> bool:
    """A short line without a full stop that names a plan or a meeting (工作要点, …召开, 部署…)."""
    norm = normalize(line)
    return (len(line) <= 60 and "。" not in line and not _DATE.fullmatch(line.strip())
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
    return next((ln for ln in cleaned.front if len(ln) <= 40 and not _DATE.search(ln) and "|" not in ln
                 and not normalize(ln).rstrip().endswith((":", "："))), None)


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
    if "工作计划" in t and "总结" not in t:
        return KIND_PLAN
    if "总结" in t or "小结" in t:
        return KIND_HALF_YEAR if "计划" in t else KIND_REVIEW
    if _NEWS_HINT.search(t) or _NEWS_LEAD.search(first):
        return KIND_NEWS
    return KIND_POINTS


# --------------------------------------------------------------------------------------------- plan titles

# What a column's link text says when the page behind it is a plan or a plan-bearing report: the same
# kinds `kind_of` tells apart, as a bureau titles them. The source watcher's triage reads titles with
# these and nothing else, so the knowledge of what a 工作要点 is lives here once.
PLAN_TITLE_WORDS = re.compile(
    r"(工作要点|要点|工作计划|总结和.{0,8}计划|总结及.{0,8}计划|总结暨.{0,8}(计划|思路)|工作总结|工作小结|工作思路|"
    r"重点工作任务|重点工作|重点任务|工作任务|工作安排|工作汇报|工作务虚会|务虚工作会|部署(\d{4}年)?(全[市县区])?教育(体育)?工作|"
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
    r"征求意见|解读|指南|须知|问答|致家长|告家长|倡议|提醒|"
    # a plan of one line of work or one office, not the bureau's year: 党建工作总结, 教育督导工作要点,
    # 行政执法工作总结, 组织部2024年工作要点
    r"(党建|党的建设|行政执法|督导|组织部|宣传|德育|教研|法治|语言文字|关工委|工会|团委|信访|审计|资助|信息化|网络安全|安全)"
    r"(\d{4}年度?)?(第.季度)?(工作)?(要点|总结|计划)|"
    # rules titled 要点, the government's own report and task split, a list implementing another document
    r"作业要点|实施要点|操作要点|政府工作报告|贯彻落实[《〈]|"
    # a scheme for one campaign or task (实施方案, 重点工作方案), not the year's plan; news of carrying out
    # a meeting's spirit (落实…推进会精神) is a relay, not the plan
    r"方案|(传达|落实|贯彻|学习).{0,30}精神)")
# A government's 规划计划 column lists every department's plan: a plan word counts only in a title that
# speaks of education (教育, 教体, 教委, 教工委 all say 教); otherwise NOT_EDUCATION stands in `why`.
NOT_EDUCATION = "非教育"
# A school's own plan: a school is named and no bureau or sector is (a 中小学 is the sector, not a school;
# 全市 or 教育局 make it the bureau's).
SCHOOL_WORDS = re.compile(r"(?<!中)(小学|中学|幼儿园|学校|附中|中专|学院|大学|学区|"
                          r"[镇乡](?:教育|中心校|中心学校|教办|教管办))")  # a township's schools, not a bureau
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
    if plan and "教" not in t:
        other.append(NOT_EDUCATION)
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
    head = normalize("\n".join(cleaned.front + cleaned.paragraphs[:1]))
    m = _DATE.search(head)
    return _iso(m) if m else None


def _years_in(text: str) -> list[int]:
    years = [int(y) for y in _YEAR.findall(text)]
    digits = {c: str(i) for i, c in enumerate("〇一二三四五六七八九")} | {"零": "0"}
    years += [int("".join(digits[c] for c in y)) for y in _CN_YEAR.findall(text)]
    return years


def _year(title: str | None, cleaned: Cleaned, date: str | None, kind: str) -> int | None:
    """The title's year; for a report, the latest year its lead speaks of (总结2022年，部署2023年 is a
    2023 report) within a year of its date; else the date's year, else the first year named."""
    if title and (years := _years_in(normalize(title))):
        return years[0]
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
    return names


# Common nouns that end like a place name (示范县, 城区学校, 开发区) and would otherwise read as 范县,
# 城区 or 发区: masked, length kept, before places are looked for.
_NOT_PLACES = re.compile(r"示范(县|区|市)|先行(县|区|市)|(试验|实验|集聚|开发|高新|保税|新|城|郊|矿|市|县|景|园|校|社|片|辖|山|库)区")


_ISSUER_AFTER = re.compile(r"(教育局|教体局|教育体育局|教育和体育局|教育工委|人民政府|召开|举行)")


def _first_named(text: str) -> regions.Place | None:
    """The issuing place (永州市教育局召开…, whoever else speaks later), else the place named first
    (by official name, or 城步县 for an autonomous county), narrowed to a county of that city."""
    text = _NOT_PLACES.sub(lambda m: "　" * len(m.group()), text)
    found: list[tuple[int, regions.Place]] = []
    for place in regions.places_in_text(text):
        if place.level == regions.LEVEL_PROVINCE:
            continue
        at = text.find(place.name)
        found.append((at if at >= 0 else text.find(place.short), place))
    for alias, place in _spoken_names().items():
        if (at := text.find(alias + "县")) >= 0:
            found.append((at, place))
    found = [(at, p) for at, p in found if at >= 0]
    if not found:
        return None
    issuing = [(at, p) for at, p in found
               if _ISSUER_AFTER.match(text, at + len(p.name)) and text.startswith(p.name, at)]
    if issuing:
        return min(issuing, key=lambda f: (f[0], -len(f[1].name)))[1]
    first = min(found, key=lambda f: (f[0], -len(f[1].name)))[1]
    # 咸宁市委常委、县委书记…崇阳县: a county of the first-named city is the more exact answer
    inside = [p for _, p in sorted(found, key=lambda f: f[0]) if p.parent_city == first.name]
    return inside[0] if first.level == regions.LEVEL_CITY and inside else first


_SHORT_CONTEXT = "(?=教育|新闻|日报|融媒|全市|全县|全区)"


def _words(text: str) -> Counter:
    """The text's words as jieba cuts them (imported here: only `add` and the reader bench pay)."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return Counter(jieba.lcut(text))


def _by_short_name(text: str) -> regions.Place | None:
    """News copy says 无锡教育 or 城步新闻网, not 无锡市: a short name counts where such a word follows
    it, or where the text says it twice (a lone 复兴 in 民族复兴 is not 复兴区); cities before
    counties, longest first."""
    tokens = _words(text)

    def named(short: str) -> bool:
        if len(short) < 2 or short not in text or short not in tokens:
            return False  # 和安 in 发展和安全 is no place: the words there are 和 / 安全
        return tokens[short] >= 2 or re.search(re.escape(short) + _SHORT_CONTEXT, text) is not None

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
            return place.name
    for source in (t, lead):
        if place := _by_short_name(source):
            return place.name
    return None


def _issuer(cleaned: Cleaned) -> str | None:
    head = "\n".join(cleaned.front + cleaned.paragraphs[:1])
    if m := _ISSUER.search(head):
        return re.sub(r"\s+", "、", m.group(1).strip())
    for label, value in zip(cleaned.front, cleaned.front[1:], strict=False):
        if label in ("发布机构", "发文机关", "发文单位", "来源"):
            return value
    return None
