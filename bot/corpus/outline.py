"""Parse a plan's cleaned paragraphs into parts › sections › items, and find its headline priorities.

Official Chinese documents number their levels by convention (第一方面 › 一、 › （一） › 1. › （1）/①),
with 一是/第一， as item-level runs and unnumbered headings in news copy. Ranks below follow that
convention, so a document that skips a level still nests correctly, and no file needs its own rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.corpus.clean import TERMINAL
from bot.models import Node, Orientation, Priority
from bot.textnorm import normalize

CN_NUM = "一二三四五六七八九十"
_CN = f"[{CN_NUM}]{{1,3}}"

RANK_PART, RANK_SECTION, RANK_SUBSECTION, RANK_ITEM, RANK_SUBITEM = 0, 1, 2, 3, 4

_PART = re.compile(rf"^(第{_CN}(?:方面|部分|篇|章))[\s\u3000:：]*(.*)$")
_SAYING = re.compile(rf"^(第{_CN}句话[:：]?)[\s\u3000]*(.+)$")  # a speech's 第一句话：谋划教育，… is a point
_SECTION = re.compile(rf"^({_CN}[、.．])\s*(.+)$")
_LABEL_ORDINAL = re.compile(rf"^([\u4e00-\u9fff]{{1,4}}?{_CN}[：:])\s*(.+)$")
_SUBSECTION = re.compile(rf"^([（(]{_CN}[)）])\s*(.+)$")
_ITEM_NUM = re.compile(r"^((\d{1,2})\s*[.．、]\s*)(?=\S)(.+)$")
_ITEM_NUM_BARE = re.compile(r"^((\d{1,2})\s?)(?=[\u4e00-\u9fff])(.+)$")
_ITEM_SHI = re.compile(rf"^({_CN}是)(.+)$")
_ITEM_DI = re.compile(rf"^(第{_CN}[，,、])\s*(.+)$")
_SUBITEM = re.compile(r"^([（(]\d{1,2}[)）]|[①-⑳])\s*(.+)$")

_SIDEBAR_HEADINGS = {"链接", "相关链接", "延伸阅读", "背景链接", "新闻链接", "知识链接", "相关阅读"}

# A look back says so: 回顾, 总结, 完成情况, 取得…, 2022年工作成效及亮点. 提升育人成效 in a plan's heading
# is a goal, not a result, so 成效/成绩 count only as a result (工作成效, 主要成绩, 成效及亮点).
_BACKWARD = re.compile(r"回顾|总结|完成情况|进展情况|取得|主要做法|工作亮点|亮点工作"
                       r"|(工作|主要|年度|年|半年|来的?)(成效|成绩)|(成效|成绩)(及|和|与|亮点)|^(成效|成绩)"
                       r"|(及|和)(成效|成绩)$|上半年(主要)?工作"  # 一、上半年主要工作及成效
                       r"|过往|过去|肯定成绩|成绩值得肯定")  # 一、过往的成绩值得肯定
_FORWARD = re.compile(r"任务|计划|安排|要点|打算|部署|思路|目标|举措|重点工作")
_NEUTRAL = re.compile(r"^(体会|思考|认识|感悟)|存在(的)?问题|问题(和|与)不足|不足(和|与)问题|困难(和|与)问题|^主要问题")

# A plan's framing sections say how it thinks, not what it will do; a bare "工作目标"/"重点任务"
# section is a container whose numbered children are the priorities.
_FRAMING = re.compile(r"^(指导思想|工作思路|总体思路|总体要求|基本原则|工作原则|总体目标|保障措施|工作要求|组织保障"
                      r"|实施步骤|组织领导)")
# Containers hold the priorities as their children: 主要目标 › its goals, and the plan part of a review
# and plan (二、下半年工作计划安排 › its five items); without children they say nothing of their own.
_CONTAINER = re.compile(r"^((20\d{2}年度?)?(工作目标|主要目标任务|主要目标|目标任务|主要任务|重点任务|重点工作|工作重点|工作任务"
                        r"|主要措施|工作措施|具体措施|工作举措)"
                        r"|[\u4e00-\u9fff]{0,4}?工作(要点|计划|安排|思路|打算)"
                        r"|((20\d{2}|上半|下半|明|今)年度?|下一步|下阶段|今后)(教育)?(工作)?"
                        r"(计划|打算|安排|思路|计划安排|工作安排|要点|重点|任务|重点任务|主要任务|重点工作))$")
# A docx flattened onto one line glues a structural heading to its text (二、总体目标锚定高质量…).
_STRUCTURAL = re.compile(r"^(总体要求|指导思想|总体思路|工作思路|基本原则|工作原则|主要目标任务|主要目标|工作目标|总体目标|目标任务"
                         r"|主要任务|重点任务|主要措施|工作措施|具体措施|保障措施|工作要求|组织保障|实施步骤)[：:\s]*(?=[\u4e00-\u9fff“])")
# …and a section heading to its first item: 一、加强党的全面领导1.坚持用…
_GLUED_ITEM = re.compile(r"^([一二三四五六七八九十]{1,3}[、.．]|[（(][一二三四五六七八九十]{1,3}[)）])"
                         r"([^。；;\d]{2,60}?[\u4e00-\u9fff”])(1\s*[.．、]\s*[\u4e00-\u9fff“].*)$")

# Item titles: the first sentence when it is a short heading-like clause ("加强政治理论学习。").
_TITLE_MAX = 40
# A paragraph this long may be a flattened docx whose numbering runs on in one line (split_inline).
INLINE_SPLIT_MIN = 300


@dataclass
class Block:
    """A paragraph with its recognised numbering: rank, printed label and the rest of the text."""

    rank: int | None
    label: str
    body: str
    kind: str  # part/section/item/subitem/heading/paragraph/list
    number: int | None = None


def first_sentence(text: str) -> tuple[str, str]:
    """Split off a leading sentence; the rest keeps its own punctuation."""
    m = re.search(rf"[{TERMINAL}]", text)
    if not m:
        return text, ""
    return text[: m.end()], text[m.end():]


def title_of(body: str) -> str:
    head, rest = first_sentence(body)
    head_clean = head.rstrip(TERMINAL).strip()
    if len(head_clean) <= _TITLE_MAX:
        return head_clean
    clause = re.split(r"[，,：:]", head_clean, maxsplit=1)[0]
    return clause if len(clause) <= _TITLE_MAX else clause[:_TITLE_MAX] + "…"


def _is_short_line(para: str) -> bool:
    """A heading-like line; one that ends mid-sentence (…办成公办幼儿园; / …×人,) continues its item."""
    return len(para) <= 60 and not any(p in para for p in "。！？；;") and para.rstrip()[-1:] not in "，,、"


def _is_titled(para: str) -> bool:
    """A paragraph led by a short titled sentence: 树牢站位全局的理念。坚持……"""
    head, rest = first_sentence(para)
    return bool(rest.strip()) and len(head) <= 22 and head[-1:] == "。"


def classify(para: str, expected_item: int) -> Block:
    if m := _PART.match(para):
        return Block(RANK_PART, m.group(1), m.group(2), "part")
    if m := _SAYING.match(para):
        return Block(RANK_SECTION, m.group(1), m.group(2), "section")
    if m := _SUBSECTION.match(para):
        return Block(RANK_SUBSECTION, m.group(1), m.group(2), "section")
    if m := _SECTION.match(para):
        return Block(RANK_SECTION, m.group(1), m.group(2), "section")
    if m := _ITEM_SHI.match(para):
        return Block(RANK_ITEM, m.group(1), m.group(2), "item")
    if m := _ITEM_DI.match(para):
        return Block(RANK_ITEM, m.group(1), m.group(2), "item")
    if (m := _ITEM_NUM.match(para)) and not re.match(r"^\d{1,2}\s*[.．]\d", para):
        return Block(RANK_ITEM, m.group(1), m.group(3), "item", int(m.group(2)))
    if (m := _ITEM_NUM_BARE.match(para)) and int(m.group(2)) == expected_item:
        return Block(RANK_ITEM, m.group(1), m.group(3), "item", int(m.group(2)))
    if m := _SUBITEM.match(para):
        return Block(RANK_SUBITEM, m.group(1), m.group(2), "item")
    if m := _LABEL_ORDINAL.match(para):
        return Block(RANK_SECTION, m.group(1), m.group(2), "section")
    return Block(None, "", para, "paragraph")


# ---------------------------------------------------------------------------------------------
# Inline splitting: a docx flattened into one line still carries its numbering in sequence.


def _cn_value(numeral: str) -> int:
    if numeral == "十":
        return 10
    if numeral.startswith("十"):
        return 10 + CN_NUM.index(numeral[1]) + 1
    if numeral.endswith("十"):
        return (CN_NUM.index(numeral[0]) + 1) * 10
    if "十" in numeral:
        a, b = numeral.split("十")
        return (CN_NUM.index(a) + 1) * 10 + CN_NUM.index(b) + 1
    return CN_NUM.index(numeral) + 1


_INLINE_SECTION = re.compile(rf"({_CN})、")
# A docx flattened onto one line glues the document title to its first item ("…工作要点1.全面…").
_GLUED_TITLE = re.compile(r"(工作要点|工作计划|工作安排|实施方案|工作方案|工作思路)$")
_INLINE_SUB = re.compile(rf"[（(]({_CN})[)）]")
_INLINE_ITEM = re.compile(r"(\d{1,2})\s*[.．、]?\s*(?=[\u4e00-\u9fff])")
# The next character split_inline must look at: anything but the ideographs (numerals apart) and
# the commas and quotes of running prose, none of which can open a label or end a sentence.
SKIPPED = "\u3400-\u4dbf\u4e00-\u9fff，、“”："
_LABEL_OR_STOP = re.compile(rf"[^{SKIPPED}]|[{CN_NUM}]")


def split_inline(para: str) -> list[str]:
    """Cut a run-on paragraph at its in-sequence section (一、二、) and item (1 2 . 3 .) numbers.

    Only numbers that continue the sequence and follow a sentence end (or open a section heading)
    count, so "2023年" or "100%" never split a sentence.
    """
    cuts: list[int] = []
    next_section, next_item, next_sub = 1, 1, 1
    heading_open_at: int | None = None
    i = 0
    while i < len(para):
        if not (para[i] in CN_NUM or para[i].isdigit() or para[i] in "（("):  # only a label can open a cut
            if para[i] in TERMINAL:
                heading_open_at = None
            found = _LABEL_OR_STOP.search(para, i + 1)  # the prose between is neither
            i = found.start() if found else len(para)
            continue
        if not (_INLINE_SECTION.match(para, i) or _INLINE_SUB.match(para, i) or _INLINE_ITEM.match(para, i)):
            i += 1  # 一 inside a word, a year's digits: no label opens here, so nothing below could cut
            continue
        # the characters before i, spaces skipped (a reflowed docx leaves "。 一、")
        j = i - 1
        while j >= 0 and para[j].isspace():
            j -= 1
        prev = para[j] if j >= 0 else "。"
        after_sentence = prev in TERMINAL or prev in "”」" and j >= 1 and para[j - 1] in TERMINAL
        tail = para[max(0, j - 5): j + 1]
        after_title = next_item == 1 and bool(_GLUED_TITLE.search(tail))
        m = _INLINE_SECTION.match(para, i)
        glued = next_section == 1 and bool(_GLUED_TITLE.search(tail))
        if m and (after_sentence or i == 0 or glued) and _cn_value(m.group(1)) == next_section:
            cuts.append(i)
            next_section += 1
            next_sub = 1
            heading_open_at = i
            i = m.end()
            continue
        if para[i] in "（(" and (m := _INLINE_SUB.match(para, i)) and _cn_value(m.group(1)) == next_sub:
            in_heading = heading_open_at is not None and i - heading_open_at <= 60
            if after_sentence or in_heading:
                cuts.append(i)
                next_sub += 1
                next_item = 1
                heading_open_at = i
                i = m.end()
                continue
        m = _INLINE_ITEM.match(para, i)
        if m and int(m.group(1)) == next_item and not (i and para[i - 1].isdigit()):
            in_heading = heading_open_at is not None and i - heading_open_at <= 60 and prev not in ",，、"
            spaced = re.match(r"\d{1,2}\s+[.．]\s*[\u4e00-\u9fff]", para[i:i + 6]) is not None and prev not in ",，、"
            if after_sentence or in_heading or after_title or spaced:
                cuts.append(i)
                next_item += 1
                heading_open_at = None
                i = m.end()
                continue
        if para[i] in TERMINAL:
            heading_open_at = None
        i += 1
    titled = bool(cuts) and cuts[0] > 0 and bool(_GLUED_TITLE.search(para[: cuts[0]].rstrip()))
    if len(cuts) < 3 and not (titled and len(cuts) >= 2):
        return [para]  # a title glued to 一、 and its first (一) is structure enough
    pieces = [para[a:b].strip() for a, b in zip([0, *cuts], [*cuts, len(para)], strict=True)]
    return [p for p in pieces if p]


# ---------------------------------------------------------------------------------------------


def _orientation(heading: str, inherited: Orientation, top_level: bool) -> Orientation:
    """Reflections are neutral anywhere; otherwise only top-level headings set a direction.

    A section inside "2022年工作回顾" stays a review even when its title says 根本任务.
    """
    heading = normalize(heading)  # 一、2024年教育工作總結 is 一、2024年教育工作总结
    if _NEUTRAL.search(re.sub(rf"^({_CN}[、.．]|[（(]{_CN}[)）]|第{_CN}\S{{0,2}}?[、:：\s])\s*", "", heading)):
        return "neutral"
    if not top_level:
        return inherited
    if _BACKWARD.search(heading):
        return "backward"
    if _FORWARD.search(heading):
        return "forward"
    return inherited


@dataclass
class Outline:
    preamble: list[str]
    tree: list[Node]


def _node_for(block: Block, parent_orientation: Orientation, top_level: bool) -> Node:
    if block.kind in ("part", "section", "heading"):
        title, rest = block.body, ""
        glued = _STRUCTURAL.match(block.body)
        if glued and len(block.body) - glued.end() >= 15 and any(p in block.body for p in "，,。"):
            title, rest = glued.group(1), block.body[glued.end():]
        elif any(p in block.body for p in "。！？；") and len(block.body) > _TITLE_MAX:
            head, rest = first_sentence(block.body)
            title = head.rstrip(TERMINAL)
        if not rest and block.body.rstrip()[-1:] in "。！？":
            rest = block.body  # 二、继续实行集团化办学…。 is a heading and its own text: searchable
        elif (glued_run := re.search(r"(?<=[\u4e00-\u9fff])(一是|第一[，,])", title)) and glued_run.start() >= 6:
            # a flattened docx runs the heading into its first 一是: …政治保障一是深入开展主题教育
            title, rest = title[: glued_run.start()], (title[glued_run.start():] + rest).strip()
        kind = "part" if block.kind == "part" else "section"
        node = Node(kind, block.label, title.strip().rstrip(TERMINAL + "（( ：:"), rest.strip())
        node.orientation = _orientation(block.label + title, parent_orientation, top_level)
        return node
    if block.kind == "item":
        label = re.sub(r"\s+(?=[.．、])", "", block.label)  # a docx's "10 .发展" reads 10.发展
        node = Node("item", label, title_of(block.body), label + block.body)
        node.orientation = parent_orientation
        return node
    return Node("paragraph", "", "", block.body, parent_orientation)


def _close_for_trailer(stack, paragraphs: list[str], start: int, expected_item: int):
    """An unnumbered paragraph after an item continues it, unless what follows closes the section.

    "在看到成绩的同时……我谈四点体会。" leads into 体会一 (a section), and a closing "同志们，……" ends
    the speech: neither belongs to the item above it.
    """
    for para in paragraphs[start:]:
        block = classify(para, expected_item)
        if block.rank is None:
            continue
        if block.rank >= RANK_ITEM:
            return stack
        return [entry for entry in stack if entry[0] < block.rank]
    return []


def _under_plain_heading(stack: list[tuple[float, Node]]) -> bool:
    """Titled paragraphs are items only beneath an unnumbered heading (news copy such as 树牢五大理念)."""
    for _, node in reversed(stack):
        if node.kind == "section":
            return not node.label
    return False


def parse(paragraphs: list[str], default: Orientation = "forward") -> Outline:
    """Build the tree with a rank stack: a block closes every open block of equal or lower rank."""
    expanded: list[str] = []
    for para in paragraphs:
        for piece in (split_inline(para) if len(para) > INLINE_SPLIT_MIN else [para]):
            if m := _GLUED_ITEM.match(piece):
                expanded.extend([m.group(1) + m.group(2), m.group(3)])
            else:
                expanded.append(piece)

    preamble: list[str] = []
    roots: list[Node] = []
    stack: list[tuple[float, Node]] = []
    expected_item = 1
    sidebar: Node | None = None
    i = 0
    while i < len(expanded):
        para = expanded[i]
        nxt = expanded[i + 1] if i + 1 < len(expanded) else ""
        block = classify(para, expected_item)
        if block.kind == "paragraph" and _is_short_line(para):
            if para in _SIDEBAR_HEADINGS and nxt and not _is_short_line(nxt):
                sidebar = Node("part", "", para, "", "neutral")
                roots.append(sidebar)
                stack = [(RANK_PART, sidebar)]
                i += 1
                continue
            if nxt and not _is_short_line(nxt) and classify(nxt, expected_item).rank is None:
                if sidebar is not None and _is_titled(nxt):
                    sidebar, stack = None, []
                block = Block(RANK_SECTION, "", para, "heading")
            else:
                # A run of short lines is one list block (a "百项重点任务" style excerpt).
                run = [para]
                while i + 1 < len(expanded):
                    cand = expanded[i + 1]
                    after = expanded[i + 2] if i + 2 < len(expanded) else ""
                    if not _is_short_line(cand) or classify(cand, expected_item).rank is not None:
                        break
                    if after and not _is_short_line(after):
                        break  # cand heads the next section
                    run.append(cand)
                    i += 1
                block = Block(None, "", "\n".join(run), "list")
        if block.kind == "item" and block.number is not None:
            expected_item = block.number + 1
        if block.rank is None and _is_titled(para) and _under_plain_heading(stack):
            block = Block(RANK_ITEM, "", para, "item")
        parent = stack[-1][1] if stack else None
        if block.rank is None and parent is not None and parent.kind == "item":
            stack = _close_for_trailer(stack, expanded, i + 1, expected_item)
            parent = stack[-1][1] if stack else None
        if block.rank is None:
            if parent is None and roots:
                roots.append(Node("paragraph", "", "", block.body, "neutral"))
            elif parent is None:
                preamble.append(block.body)
            else:
                parent.children.append(Node("paragraph", "", "", block.body, parent.orientation))
            i += 1
            continue
        while stack and stack[-1][0] >= block.rank:
            stack.pop()
        parent = stack[-1][1] if stack else None
        node = _node_for(block, parent.orientation if parent else default, parent is None)
        (parent.children if parent else roots).append(node)
        stack.append((block.rank, node))
        i += 1
    _assign_ids(roots)
    return Outline(preamble, roots)


def _assign_ids(nodes: list[Node], prefix: str = "") -> None:
    for n, node in enumerate(nodes, 1):
        node.id = f"{prefix}{node.kind[0]}{n}"
        _assign_ids(node.children, node.id + ".")


# ---------------------------------------------------------------------------------------------


_PAST = re.compile(r"了|已经|已(?=[\u4e00-\u9fff])|截至|累计|以来|年内|先后|\d{1,2}月份?[，,]")
_AHEAD = re.compile(r"要|将|力争|确保|计划|推动|推进")


def _told_in_past(node: Node) -> bool:
    """News copy heads its look back with unnumbered headings too (制定一项规范，划定办学红线), and
    they read like tasks; what follows them is told in the past (出台了…, 启动了…, 累计…)."""
    text = node.text + "".join(c.text for c in node.walk() if c is not node)
    past, ahead = len(_PAST.findall(text)), len(_AHEAD.findall(text))
    return past >= 3 and past > ahead


def is_framing(node: Node) -> bool:
    """总体要求, 指导思想 and their kind frame the plan: their slogans (以A为根本，以B为主线) are no list."""
    return node.kind in ("section", "part") and bool(_FRAMING.match(node.title))


def priorities(tree: list[Node]) -> list[Priority]:
    """Headline priorities: top-level forward-looking headings, each with its items' titles.

    A part (第二方面 2023年主要任务) is a container, so its sections are the headings; sidebars and
    reviews never count.
    """
    heads: list[Node] = []
    for node in tree:
        if node.kind == "part" and node.label:
            if node.orientation != "backward":
                heads.extend(c for c in node.children if c.kind == "section" and c.orientation == "forward")
        elif node.kind == "section" and node.orientation == "forward":
            heads.append(node)
    if not heads:
        # a flat list of numbered items with no headings above them (县教育局工作要点 1. … 2. …)
        flat = [n for n in tree if n.kind == "item" and n.label.strip()]
        # …one 一是 on its own line is such a list too when the stored page stops before its 二是
        opened = len(flat) == 1 and re.match(r"^(一是|第一)", flat[0].label) \
            and all(n.kind == "paragraph" for n in tree[tree.index(flat[0]) + 1:])
        if len(flat) >= 2 or opened:
            return [Priority(n.title, ()) for n in flat]
    heads = [h for h in heads if not _FRAMING.match(h.title) and not (not h.label and _told_in_past(h))]
    if any(h.label for h in heads):
        # a numbered plan's unnumbered line (a title's 印发 note, a short preamble) is no priority
        heads = [h for h in heads if h.label]
    expanded: list[Node] = []
    for head in heads:
        listed = [c for c in head.children if c.kind in ("item", "section") and c.title]
        if _CONTAINER.match(head.title):
            expanded.extend(listed)  # a container's items are the priorities; an empty one says nothing
        else:
            expanded.append(head)
    if len(expanded) == 1 and not expanded[0].label and expanded[0].kind == "section":
        return []  # one unnumbered heading is a subtitle or slogan (踔厉奋发 笃行不怠), not a list
    result = []
    for head in expanded:
        items = tuple(c.title for c in head.children if c.kind in ("item", "section") and c.title)
        result.append(Priority(head.heading if head.kind != "item" else head.title, items))
    return result
