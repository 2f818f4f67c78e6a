"""Headline priorities written inside a paragraph, the way news reports and speeches list them.

A bureau's plan numbers its priorities as headings (一、 （一） 1.), which the outline parser reads. A
report of the same conference runs them into one paragraph: 一要…；二要…, 第一，…第二，…, 首先…其次…,
①②③; 突出党建引领…；突出质量提升…；… (a parallel prefix); 重点抓好以下八个方面的工作：…；…
or 打好A、B、C…“六大攻坚战” (an announced count). This module finds those lists, and tells a
list that plans the coming year from one that reviews the last (会议指出，2022年…一是…).

Only forms are recognised, never particular words of a particular plan, so the same rules hold for a
report they have not seen.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.textnorm import normalize

CN_DIGITS = "一二三四五六七八九十"
_CLAUSE_END = "，,；;。！？!?：:"
_MIN_ITEMS = 2
_TITLE_MAX = 40

# 一是 / 一要 / 一是要 / 第一， — the ordinal run must start at 一 and go on in order.
# 一是 / 一要 may follow their subject directly (各学校一是要…); 第一， and the rest follow a clause mark.
_ORDINAL = re.compile(rf"(?:(?<=^)|(?<=[，,；;。：:！？\s“])|(?=[{CN_DIGITS}](?:是|要)))(第?)([{CN_DIGITS}])(是要|是|要|[，,、])")
_FIRST_NEXT = re.compile(r"(?:(?<=^)|(?<=[，,；;。：:]))(首先|其次|再次|最后)[，,]?")
_CIRCLED = re.compile(r"[①-⑳]")
# An announced count: 八个方面 / 六大攻坚战 / "五个坚持" / 以下十个方面 / 三点意见 / 七项重点任务.
_COUNT = re.compile(rf"[“\"]?([两{CN_DIGITS}]{{1,2}})\s*(?:个|大|项|点|方面|件|张|条)[\u4e00-\u9fff]{{0,6}}[”\"]?")
# What an unquoted count may name when it closes a 、 list: 六张答卷, 三项任务 — not a term like 五项管理.
_LIST_NOUN = re.compile(r"^[两一二三四五六七八九十]{1,2}\s*(?:个|大|项|点|方面|件|张|条)(答卷|清单|任务|行动|工程|攻坚战|战役|举措|重点|保障|目标|工作)")

# Words that mark the coming year or a requirement, and words that mark a look back.
_FORWARD = re.compile(r"强调|要求|提出|部署|指出[，,]?要|新的一年|今年|下半年|下一步|将|(?<![重主需只必])要|重点|任务|意见|着力|计划|打算|如何")
_BACKWARD = re.compile(r"过去|去年|一年来|以来|回顾|回首|总结|取得|成绩|(?<![见出求])成效|荣获|获得|完成|上半年")


@dataclass(frozen=True)
class InlineItem:
    """One listed priority: its short title (the opening clause) and the whole listed text."""

    title: str
    text: str


def _cn_value(numeral: str) -> int:
    return CN_DIGITS.index(numeral) + 1


_FRAME_CLAUSE = re.compile(r"^以.{2,14}为(平台|抓手|载体|契机|引领|牵引|切入点|着力点|突破口|主线|核心|依托)$")


def _clause(text: str) -> str:
    """The opening clause of an item, without a leading 要/是, cut to a citable length.

    A clause of three characters or fewer is a fragment of a run of short clauses (谋宏图，架梁柱，…):
    the head takes the next clause too, so it says something on its own."""
    text = text.strip().lstrip("，,、：: ")
    text = re.sub(r"^(是要|是|要)(?=[\u4e00-\u9fff“])", "", text)
    if _headline_shaped(text) and re.match(r"[^。！？!?；;]+[。！？!?]\s*\S", text):
        # 带好队伍，担当作为，凝心聚力抓质量。学校校长…: a headline sentence over its measures is said whole
        return re.match(r"[^。！？!?；;]+", text).group().strip()
    end = next((i for i, ch in enumerate(text) if ch in _CLAUSE_END), len(text))
    if _FRAME_CLAUSE.match(text[:end].strip()) and end < len(text) and text[end] in "，,":
        # 以教育教学一线为平台，加大名师…培育力度: the frame says how, the next clause what
        end = next((i for i in range(end + 1, len(text)) if text[i] in _CLAUSE_END), len(text))
    while len(text[:end].strip()) <= 3 and end < len(text) and text[end] in "，,":
        nxt = next((i for i in range(end + 1, len(text)) if text[i] in _CLAUSE_END), len(text))
        if nxt - end > _TITLE_MAX:
            break
        end = nxt
    head = text[:end].strip()
    return head if len(head) <= _TITLE_MAX else head[:_TITLE_MAX] + "…"


def _lead_is_backward(lead: str, plan_year: int | None) -> bool:
    """The last direction word before a list decides: 会议强调… is forward, 过去一年…取得 backward.

    A bare earlier year opening the lead ("2022年，…") counts as a look back, the plan's own year
    ("2023年，全市教育工作将…") as a look ahead.
    """
    lead = normalize(lead)  # 會議強調 is 会议强调
    marks: list[tuple[int, bool]] = [(m.start(), False) for m in _FORWARD.finditer(lead)]
    marks += [(m.start(), True) for m in _BACKWARD.finditer(lead)]
    for m in re.finditer(r"(20\d{2})\s*年", lead):
        if plan_year:
            marks.append((m.start(), int(m.group(1)) < plan_year))
    if not marks:
        return False
    return max(marks)[1]


def _lead_before(paragraph: str, start: int) -> str:
    """The sentence that introduces a list at `start`: back to the previous full stop, or one more
    sentence when the list opens its own sentence (……取得了显著成效。一是……)."""
    before = paragraph[:start]
    stops = [i for i, ch in enumerate(before) if ch in "。！？!?"]
    if not stops:
        return before
    last = stops[-1]
    if before[last + 1:].strip(" “") == "":
        prior = stops[-2] + 1 if len(stops) > 1 else 0
        return before[prior:]
    return before[last + 1:]


def _ordinal_runs(paragraph: str) -> list[tuple[int, list[str]]]:
    """一是…二是…三是… (or 一要, 第一，, ①②③, 首先…其次…最后) in order, as (start, item texts).

    A report may list last year's results (一是…二是…) and this year's tasks (一要…二要…) in one
    paragraph: every run is returned, and the direction of each is judged on its own."""
    runs: list[tuple[int, list[str]]] = []
    for marks in [*_ordinal_marks(paragraph), _circled_marks(paragraph), _sequence_marks(paragraph)]:
        if len(marks) >= _MIN_ITEMS:
            ends = [m[0] for m in marks[1:]] + [_run_end(paragraph, marks[-1][1])]
            runs.append((marks[0][0], [paragraph[m[1]:end] for m, end in zip(marks, ends, strict=True)]))
    return sorted(runs)


def _run_end(paragraph: str, start: int) -> int:
    """The last item runs to its sentence end."""
    m = re.search(r"[。！？!?]", paragraph[start:])
    return start + m.end() if m else len(paragraph)


def _ordinal_marks(paragraph: str) -> list[list[tuple[int, int]]]:
    """Each ordinal run (一是 二是 …, 第一， 第二， …) as mark spans; overlapping runs keep the longest."""
    runs: list[list[tuple[int, int]]] = []
    for m in _ORDINAL.finditer(paragraph):
        if _cn_value(m.group(2)) != 1:
            continue
        style = (m.group(1), m.group(3)[:1])
        if style[0] == "" and style[1] in "，,、":
            continue  # "一，" alone is not an ordinal; 第一， is
        run = [(m.start(), m.end())]
        for n in _ORDINAL.finditer(paragraph, m.end()):
            if (n.group(1), n.group(3)[:1]) == style and _cn_value(n.group(2)) == len(run) + 1:
                run.append((n.start(), n.end()))
        if len(run) >= _MIN_ITEMS:
            runs.append(run)
    kept: list[list[tuple[int, int]]] = []
    for run in sorted(runs, key=len, reverse=True):
        if all(run[-1][1] <= other[0][0] or run[0][0] >= other[-1][1] for other in kept):
            kept.append(run)
    return kept


def _circled_marks(paragraph: str) -> list[tuple[int, int]]:
    marks = [(m.start(), m.end()) for m in _CIRCLED.finditer(paragraph)]
    return marks if [paragraph[s] for s, _ in marks] == list("①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"[: len(marks)]) else []


def _sequence_marks(paragraph: str) -> list[tuple[int, int]]:
    marks = [(m.start(), m.end(), m.group(1)) for m in _FIRST_NEXT.finditer(normalize(paragraph))]
    if not marks or marks[0][2] != "首先" or not any(w in ("其次", "最后") for *_, w in marks[1:]):
        return []
    return [(s, e) for s, e, _ in marks]


def _common_prefix(parts: list[str]) -> str:
    first = parts[0]
    n = 0
    while n < len(first) and all(len(p) > n and p[n] == first[n] for p in parts):
        n += 1
    return first[:n]


def _parallel(pieces: list[str], min_prefix: int,
              norm: Callable[[str], str] = normalize) -> tuple[int, list[str]] | None:
    """Pieces 2..n open with one prefix (突出/坚持/聚焦/要强化); the first piece carries a lead-in and
    then the same prefix. Returns (offset of the list inside the first piece, item texts)."""
    if len(pieces) < 3:
        return None
    rest = [p.strip() for p in pieces[1:]]
    prefix = _common_prefix([norm(p) for p in rest])
    prefix = re.sub(r"[^\u4e00-\u9fff]+$", "", prefix)
    if len(prefix) < min_prefix:
        return None
    first = norm(pieces[0])
    for size in range(min(len(prefix), 6), min_prefix - 1, -1):
        at = _prefix_at(first, prefix[:size])
        if at >= 0:
            return at, [pieces[0][at:], *rest]
    return None


def _prefix_at(first: str, prefix: str) -> int:
    """Where the list starts in its first piece: the last place the prefix opens a clause (陈珊强调，要…),
    else its first occurrence after a lead-in verb (全体干部职工要坚持…, 要做好抓…)."""
    at = -1
    for m in re.finditer(re.escape(prefix), first):
        if m.start() == 0 or first[m.start() - 1] in "，,：:；;“ 即":
            at = m.start()
    return at if at >= 0 else first.find(prefix)


def _announced(paragraph: str) -> tuple[int, list[str]] | None:
    """A count with its list: "八个方面的工作：A；B；…" (N pieces after the colon) or
    "打好A、B、…“六大攻坚战”" (N pieces before the count). A colon list wins over a 、 list, which
    is often a slogan inside the summary (四个重点, 四个保障); among equals the longer list wins."""
    colon_lists: list[tuple[int, list[str]]] = []
    comma_lists: list[tuple[int, list[str]]] = []
    norm = normalize(paragraph)  # same length: offsets found here cut the original (六張答卷 is 六张答卷)
    for m in _COUNT.finditer(norm):
        count = _count_value(m.group(1))
        if count < 2:
            continue
        after = paragraph[m.end():]
        colon = re.match(r"[\u4e00-\u9fff“”\"]{0,12}?[：:]", after)
        if colon:
            body_start = m.end() + colon.end()
            body = paragraph[body_start:]
            end = re.search(r"[。！？!?]", body)
            pieces = re.split(r"[；;]", body[: end.start()] if end else body)
            if len(pieces) == count:
                colon_lists.append((body_start, pieces))
                continue
        closed = m.start() > 0 and norm[m.start() - 1] == "等"  # 抓好A、B、…、G等七个方面
        if paragraph[m.start()] not in "“\"" and not _LIST_NOUN.match(norm[m.start():]) and not closed:
            continue  # 打好A、B、C“三大攻坚战” or …六张答卷 name their list; 双减及五项管理 is a term
        clause_start = max(paragraph.rfind(ch, 0, m.start()) for ch in "，,。；;：:") + 1
        if closed and (verb := re.search(r"(抓好|做好|抓实|推进|加强|落实)(?=[\u4e00-\u9fff]{2})", norm[clause_start:m.start()])):
            clause_start += verb.end()  # 就年如何抓好义教均衡发展、…: the list starts after its verb
        pieces = re.split(r"、", paragraph[clause_start:m.start() - closed])
        if len(pieces) == count and all(2 <= len(p.strip("“”\" ")) <= 20 for p in pieces):
            comma_lists.append((clause_start, pieces))
    for found in (colon_lists, comma_lists):
        if found:
            return max(found, key=lambda f: len(f[1]))
    return None


def _count_value(numeral: str) -> int:
    if numeral == "两":
        return 2
    if numeral == "十":
        return 10
    if numeral.startswith("十"):
        return 10 + _cn_value(numeral[1])
    if len(numeral) == 1:
        return _cn_value(numeral)
    return 0


def _sentences(paragraph: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group()) for m in re.finditer(r"[^。！？!?]+[。！？!?]?", paragraph)]


_MANNER = re.compile(r"^(更加|更|进一步|不断|全面|切实|大力)")


def _is_action(piece: str) -> bool:
    """A 、 list of priorities names actions (强化教书育人这一职责); 更加良好的状态、更加务实的作风
    is a manner of working, a noun phrase with 的."""
    piece = normalize(piece.strip())
    return len(piece) >= 4 and "的" not in piece and not _MANNER.match(piece)


def _requirement_run(paragraph: str) -> tuple[int, list[str]] | None:
    """会议强调，要…。要…；要…。: three or more sentences (or ；-pieces) that open with 要 are the
    listed requirements; a piece in between that does not is the previous one's continuation."""
    pieces = [(m.start(), m.group()) for m in re.finditer(r"[^。；;！？!?]+[。；;！？!?]?", paragraph)]
    starts: list[int] = []
    for n, (pos, piece) in enumerate(pieces):
        text = normalize(piece)
        lead = len(text) - len(text.lstrip())
        if text.lstrip().startswith("要"):
            starts.append(pos + lead)
        elif starts and n + 1 < len(pieces) and pieces[n - 1][1].rstrip()[-1:] in "；;" \
                and normalize(pieces[n + 1][1]).lstrip().startswith("要") and text.rstrip()[-1:] in "；;":
            starts.append(pos + lead)  # 要A；要B；深化C；要D: one sentence's ；-pieces are its items
        elif not starts and n <= 1 and (m := re.match(r"^\s*[^，,。]{0,20}[，,]\s*[^，,。]{0,16}?要(?!求)", text)):
            starts.append(pos + m.end() - 1)  # 杭莺要求，要… / 会议强调，全区教育系统要…
    if len(starts) < 3:
        return None
    end = _run_end(paragraph, starts[-1])
    return starts[0], _headlined([paragraph[a:b] for a, b in zip(starts, [*starts[1:], end], strict=True)])


def _headline_shaped(item: str) -> bool:
    """要提振精神，精准谋划，迎难而上开新局。: a whole sentence of two to four short clauses."""
    sentence = re.split(r"[。！？!?；;]", normalize(item).strip())[0]
    clauses = [c for c in re.split(r"[，,、]", re.sub(r"^要", "", sentence)) if c]
    return 2 <= len(clauses) <= 4 and len(sentence) <= 26 and all(len(c) <= 9 for c in clauses)


def _headlined(items: list[str]) -> list[str]:
    """Requirements written as headline sentences (要带好队伍，担当作为，凝心聚力抓质量。) each followed by
    their own 要… measures: the headlines are the items, the measures belong to the one before."""
    marks = [_headline_shaped(item) for item in items]
    if sum(marks) < 2 or all(marks) or not marks[0]:
        return items
    merged: list[str] = []
    for item, head in zip(items, marks, strict=True):
        if head or not merged:
            merged.append(item)
        else:
            merged[-1] += item
    return merged


def _comma_parallel(sentence: str) -> tuple[int, list[str]] | None:
    """强化担当意识，练就…，强化攻坚意识，提振…，强化创新意识，…: one two-character word opening
    (or nearly opening: 切实强化) every other clause, at least three times, each item one or two clauses."""
    clauses = [(m.start(), m.group()) for m in re.finditer(r"[^，,]+", sentence.rstrip("。！？!?"))]
    norm = [normalize(c) for _, c in clauses]
    for key in dict.fromkeys(n.strip()[:2] for n in norm):
        if not re.fullmatch(r"[\u4e00-\u9fff]{2}", key):
            continue
        opens = [i for i, n in enumerate(norm) if n.strip().startswith(key)]
        before = [i for i, n in enumerate(norm[: opens[0] if opens else 0]) if 0 < n.strip().find(key) <= 2]
        opens = before[-1:] + opens  # the first may carry an adverb: 切实强化…
        if len(opens) < 3 or any(b - a > 2 for a, b in zip(opens, opens[1:], strict=False)):
            continue
        if len(clauses) - opens[-1] > 2:
            continue
        bounds = [*opens, len(clauses)]
        items = [",".join(c for _, c in clauses[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
        first = clauses[opens[0]]
        return first[0] + normalize(first[1]).find(key), items
    return None


# “1”就是… “3”就是… (a numbered slogan such as “1338” spelled out): the labels open the items.
_LABEL = re.compile(r"[“\"]\s*(\d{1,2}|[一二三四五六七八九十])\s*[”\"]\s*(?:就是|是指|即)")
# Words that open a reporter's sentence, not a listed item: 会议指出…。会议强调…。会议要求…
_REPORTING = re.compile(r"指出|强调|要求|表示|认为|提出|介绍")


def _reported(items: list[str]) -> bool:
    """会议以…为要。会议提出，一要…。会议还强调，要…: sentences that open alike on the reporter (会议,
    the speaker's name) narrate the meeting; the list is inside them, not made of them."""
    return sum(bool(_REPORTING.search(normalize(t).strip()[:8])) for t in items) >= 2


def _label_run(paragraph: str) -> tuple[int, list[str]] | None:
    marks = list(_LABEL.finditer(paragraph))
    if len(marks) < 3:
        return None
    ends = [m.start() for m in marks[1:]] + [_run_end(paragraph, marks[-1].end())]
    return marks[0].end(), [paragraph[m.end():end] for m, end in zip(marks, ends, strict=True)]


def _counted_run(paragraph: str) -> tuple[int, list[str]] | None:
    """抓好一个重点：…；遵守两个基本原则：…；夯实四大基础：…；着力六个聚焦：聚焦A；聚焦B… — each item
    names its own count before a colon; the pieces between (聚焦A；聚焦B) belong to the item before."""
    pieces = [(m.start(), m.group()) for m in re.finditer(r"[^。；;！？!?]+[。；;！？!?]?", paragraph)]
    starts = []
    for pos, text in pieces:
        lead = len(text) - len(text.lstrip(" “"))
        head = re.match(r"[^：:，,]{2,14}[：:]", text[lead:])
        if head and _COUNT.search(normalize(head.group())):
            starts.append(pos + lead)
    if len(starts) < 3:
        return None
    end = _run_end(paragraph, starts[-1])
    return starts[0], [paragraph[a:b] for a, b in zip(starts, [*starts[1:], end], strict=True)]


_CLAUSE_COUNT = re.compile(r"([一两二三四五六七八九十])\s*(?:个|项|支|件|条|大|点|种|张|方面)?[\u4e00-\u9fff]{1,3}$")


def _counted_clauses(paragraph: str) -> tuple[int, list[str]] | None:
    """“12345”工程，即实现…这一目标，突出…两项重点，打造…三支队伍，建立…四项机制，办好五件实事: after 即,
    clauses whose ends count up one, two, three… each close an item (an item may run over commas)."""
    for m in re.finditer("即", paragraph):
        end = re.search(r"[。！？!?]", paragraph[m.end():])
        body_end = m.end() + end.start() if end else len(paragraph)
        expected, seg, items, waiting = 1, m.end(), [], 0
        for c in re.finditer(r"[^，,；;]+", paragraph[m.end():body_end]):
            hit = _CLAUSE_COUNT.search(normalize(c.group()).strip())
            if hit and _count_value(hit.group(1)) == expected:
                items.append(paragraph[seg:m.end() + c.end()])
                seg, expected, waiting = m.end() + c.end() + 1, expected + 1, 0
            elif (waiting := waiting + 1) > 3:
                break  # the counted clauses ended: 落实责任，密切配合… is the sentence going on
        if len(items) >= 3:
            return m.end(), items
    return None


def _dash_list(paragraph: str) -> tuple[int, list[str]] | None:
    """…规划的教育事业美好蓝图——坚持A，认真落实B，…，努力建设C等，实现…: a dash opens a comma list that
    its 等 closes; every clause is an item."""
    for m in re.finditer("——", paragraph):
        body = re.match(r"([^。；;—]{12,400}?)等(?=[，,。])", paragraph[m.end():])
        if not body:
            continue
        pieces = re.split(r"[，,]", body.group(1))
        if len(pieces) >= 4 and all(2 <= len(p.strip()) <= 30 for p in pieces):
            return m.end(), pieces
    return None


def _comma_framed(sentence: str) -> tuple[int, list[str]] | None:
    """以问题为导向全面抓好…，以目标为导向全面提升…，以结果为导向加快…: clauses that open with one
    character and carry one shared word close behind it (为导向), three or more in a row."""
    clauses = [(m.start(), m.group()) for m in re.finditer(r"[^，,；;。]+", sentence)]
    norm = [normalize(c).strip() for _, c in clauses]
    for n, whole in enumerate(norm[:-2]):
        for lead in range(0, min(5, len(whole) - 4)):  # the first behind its lead-in: 将坚持以问题为导向…
            clause = whole[lead:]
            for k in range(2, min(9, len(clause) - 2)):
                head, infix = clause[:1], clause[k:k + 3]
                if not re.fullmatch(r"[\u4e00-\u9fff]{3}", infix) or _REPORTING.search(infix):
                    continue
                run = [n] + [i for i in range(n + 1, len(norm))
                             if norm[i].startswith(head) and 2 <= norm[i].find(infix, 1) <= 9]
                if len(run) >= 3 and all(b - a == 1 for a, b in zip(run, run[1:], strict=False)):
                    text = clauses[n][1]
                    start = clauses[n][0] + len(text) - len(text.lstrip()) + lead
                    return start, [clauses[n][1].strip()[lead:]] + [clauses[i][1].strip() for i in run[1:]]
            # …or shared near the end: 以A为主线，以B为动力，以C为抓手 / 要X、在Y上下功夫，要Z、在W上下功夫
            for key in (lambda c: c[-4:], lambda c: c[-3]):
                if len(clause) < 6 or len(clause) > 24:
                    break
                head, tail = clause[:1], key(clause)
                run = [n]
                for i in range(n + 1, len(norm)):
                    if 6 <= len(norm[i]) <= 24 and norm[i].startswith(head) and key(norm[i]) == tail:
                        run.append(i)
                    else:
                        break
                if len(run) >= 3 and re.fullmatch(r"[\u4e00-\u9fff]+", tail):
                    text = clauses[n][1]
                    start = clauses[n][0] + len(text) - len(text.lstrip()) + lead
                    return start, [clauses[n][1].strip()[lead:]] + [clauses[i][1].strip() for i in run[1:]]
    return None


def _framed_run(paragraph: str) -> tuple[int, list[str]] | None:
    """Items that open alike across ；and 。 with their own sentences in between:
    要切实提高…。要做到…。要切实夯实…。要做到…。要切实深化… (a shared opening of 2–4 characters), or
    以A为引领，…；以B为引领，…。…；以C为引领 (a shared opening character and a shared close of the
    first clause). A piece that does not open so continues the item before it (at most two)."""
    pieces = [(m.start(), m.group()) for m in re.finditer(r"[^。；;！？!?]+[。；;！？!?]?", paragraph)]
    if len(pieces) < 3:
        return None
    clauses = [re.split(r"[，,：:]", normalize(text).strip(" “"))[0] for _, text in pieces]
    offsets = [pos + len(text) - len(text.lstrip(" “")) for pos, text in pieces]
    frames: set[tuple[str, str]] = set()
    for clause in clauses:
        for size in (2, 3, 4):
            if len(clause) > size + 1:
                frames.add((clause[:size], ""))
        for size in (2, 3, 4):
            if len(clause) > size + 2:
                frames.add((clause[:1], clause[-size:]))
    best: tuple[int, int, list[int], list[int]] | None = None
    for head, tail in frames:
        if not re.fullmatch(r"[\u4e00-\u9fff]+", head + tail) or (not tail and len(head) < 2):
            continue
        if _REPORTING.search(head) or (tail and len(tail) < 2):
            continue
        opens, starts = [], []
        for n, clause in enumerate(clauses):
            if clause.startswith(head) and clause.endswith(tail) and len(clause) > len(head) + len(tail):
                if _REPORTING.search(clause[: len(head) + 4]):
                    continue
                opens.append(n)
                starts.append(offsets[n])
            elif not opens and n + 1 < len(clauses) and (at := clause.find(head, 1)) > 0 and at <= 20 \
                    and clause.endswith(tail) and not _REPORTING.search(clause[at:at + len(head) + 4]):
                opens.append(n)  # the first item behind its lead-in: 各学校要切实提高…
                starts.append(offsets[n] + at)
        if len(opens) < 3 or any(b - a > 3 for a, b in zip(opens, opens[1:], strict=False)):
            continue
        if not any(b - a > 1 for a, b in zip(opens, opens[1:], strict=False)) and not tail:
            continue  # every piece opens alike: the plainer readers above have it
        weight = (len(opens), len(head) + len(tail))
        if best is None or weight > best[:2]:
            best = (*weight, opens, starts)
    if best is None:
        return None
    opens, starts = best[2], best[3]
    last = min(opens[-1] + 2, len(pieces) - 1)
    end = pieces[last][0] + len(pieces[last][1])
    return starts[0], [paragraph[a:b] for a, b in zip(starts, [*starts[1:], end], strict=True)]


def _span(paragraph: str, start: int, items: list[str]) -> list[tuple[int, int]]:
    """Where each item lies in the paragraph (items are slices, or ；-pieces, of it in order)."""
    spans, cursor = [], start
    for item in items:
        at = paragraph.find(item.strip(), cursor)
        if at < 0:
            at = cursor
        spans.append((at, at + len(item.strip())))
        cursor = spans[-1][1]
    return spans


def _candidates(paragraph: str) -> list[tuple[int, int, list[str]]]:
    """Every reading of a paragraph as a list, as (strength, start, items); lower is stronger."""
    found: list[tuple[int, int, list[str]]] = [(0, start, items) for start, items in _ordinal_runs(paragraph)]
    if (hit := _label_run(paragraph)) is not None:
        found.append((1, *hit))
    if (hit := _counted_run(paragraph)) is not None:
        found.append((1, *hit))
    if (hit := _counted_clauses(paragraph)) is not None:
        found.append((1, *hit))
    if (hit := _announced(paragraph)) is not None:
        found.append((2, *hit))
    if (hit := _dash_list(paragraph)) is not None:
        found.append((2, *hit))
    for start, sentence in _sentences(paragraph):
        pieces = re.split(r"[；;]", sentence.rstrip("。！？!?"))
        if (hit := _parallel(pieces, 1)) is not None:
            found.append((3, start + hit[0], hit[1]))
    sentences = _sentences(paragraph)
    done = False
    # Each sentence is tried in groups of every size from every start: normalised once, not each time.
    memo: dict[str, str] = {}

    def norm(text: str) -> str:
        found = memo.get(text)
        if found is None:
            found = memo[text] = normalize(text)
        return found

    for i in range(len(sentences) - 2):
        group = [s for _, s in sentences[i:]]
        if len(_common_prefix([norm(group[1].strip()), norm(group[2].strip())])) < 2:
            continue  # every group from here holds these two, so no group's prefix can reach 2 characters
        for size in range(len(group), 2, -1):
            # sentences opening alike: 要以…。要以…。要以…。
            hit = _parallel(group[:size], 2, norm)
            if hit is not None and hit[0] <= 30 and not _reported(hit[1]):
                found.append((4, sentences[i][0] + hit[0], hit[1]))
                done = True
                break
        if done:
            break
    if (hit := _framed_run(paragraph)) is not None:
        found.append((5, *hit))
    if (run := _requirement_run(paragraph)) is not None:
        found.append((6, *run))
    for start, sentence in _sentences(paragraph):
        for clause_m in re.finditer(r"[^，,。；;：:]+", sentence):
            pieces = clause_m.group().split("、")
            if (hit := _parallel(pieces, 2)) is not None and all(_is_action(p) for p in pieces):
                found.append((7, start + clause_m.start() + hit[0], hit[1]))
                break
        if (hit := _comma_parallel(sentence) or _comma_framed(sentence)) is not None:
            found.append((8, start + hit[0], hit[1]))
    return found


def find_lists(paragraph: str) -> list[tuple[int, list[str]]]:
    return [(start, items) for _, start, items in ranked_lists(paragraph)]


def ranked_lists(paragraph: str) -> list[tuple[int, int, list[str]]]:
    """Every inline list in a paragraph as (start offset, item texts), the strongest form first:
    ordinals, then numbered labels, announced counts, parallel prefixes between ；, across sentences,
    items framed alike with sentences between them, 要… requirements, between 、 and between ，.

    A list that lies inside one item of another list is that item's sub-list (一要… with 加强…、突出…
    under it; “3”就是抓好三项改革，即A、B、C): the priorities are the outer list's items."""
    found = _candidates(paragraph)
    spans = {id(c): _span(paragraph, c[1], c[2]) for c in found}

    def inside(inner, outer) -> bool:
        a, b = spans[id(inner)][0][0], spans[id(inner)][-1][1]
        own = spans[id(outer)]
        return any(lo <= a and b <= hi for lo, hi in own) and (a, b) != (own[0][0], own[-1][1])

    # A run of sentences that merely open with 要 declares no list: a declared list inside one of them
    # (要做好抓A；抓B；抓C) is the speaker's list, not a sub-list.
    outer = [c for c in found if c[0] != 6]
    top = [c for c in found if not any(o is not c and inside(c, o) for o in outer)]
    if not top:
        return []
    rank = min(c[0] for c in top)
    chosen = [(start, items) for r, start, items in top if r == rank]
    return [(rank, start, items) for start, items in (sorted(chosen) if rank in (0, 3) else chosen[:1])]


def _narrated(texts: list[str]) -> bool:
    """首先学习了…其次传达了…最后进行了…: items told in the past (了) record what a meeting did."""
    return sum("了" in t for t in texts) * 2 > len(texts)


def _told_after(paragraph: str, start: int, texts: list[str]) -> bool:
    """在A、B、…“七个力”上实现了新提升: a list whose clause goes on in the past records results."""
    end = _span(paragraph, start, texts)[-1][1]
    tail = re.split(r"[，,。；;！？!?]", paragraph[end:], maxsplit=1)[0]
    return "了" in tail


_WEAK_RANK = 7  # 、-lists and comma-parallel clauses (see _candidates)
# A bullet (•, ●, or the ? a lost bullet glyph became), alone or after the reporter's words (潘琍强调，•…)
_BULLET_ITEM = re.compile(r"^(?:[^，。]{1,10}(?:指出|强调|要求)[，,])?\s*[?？•●▪◆■]\s*(?=[\u4e00-\u9fff])")


def inline_priorities(paragraphs: list[str], plan_year: int | None) -> list[InlineItem]:
    """The forward-looking inline lists of a plan's paragraphs, flattened into items in order."""
    items: list[InlineItem] = []
    found = [(paragraph, rank, start, texts) for paragraph in paragraphs
             for rank, start, texts in ranked_lists(paragraph)
             if not (_lead_is_backward(_lead_before(paragraph, start), plan_year) or _narrated(texts)
                     or _told_after(paragraph, start, texts))]
    # A speaker's declared list (一是…, 要…；要…) names the priorities; a run of clauses that merely open
    # alike elsewhere (把每一所校园打造成…，把每间教室…) is the rhetoric around it.
    declared = any(rank < _WEAK_RANK for _, rank, _, _ in found)
    # Bulleted requirements (•各地各部门要… / •要加大…；要以…): a bullet without a list of its own is one item.
    bullets = [p for p in paragraphs if _BULLET_ITEM.match(p)]
    listed = {id(p) for p, *_ in found}
    for paragraph in paragraphs:
        if len(bullets) >= 2 and id(paragraph) not in listed and _BULLET_ITEM.match(paragraph) \
                and (ask := re.search(r"要(?!求)", paragraph)):
            found.append((paragraph, 0, ask.start(), [paragraph[ask.start():]]))
    order = {id(p): n for n, p in enumerate(paragraphs)}
    found.sort(key=lambda f: (order[id(f[0])], f[2]))
    for paragraph, rank, _start, texts in found:
        if declared and rank >= _WEAK_RANK:
            continue
        for n, text in enumerate(texts):
            title = _clause(text)
            cut_off = n == len(texts) - 1 and len(title) < 6 and text.strip().endswith(title) \
                and paragraph.rstrip()[-1:] not in "。！？!?；;”"
            if len(title) >= 2 and not cut_off:  # the stored page stopped mid-item: 要主动接受
                items.append(InlineItem(title, text.strip()))
    return items
