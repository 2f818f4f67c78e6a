"""Turn a saved web page, newspaper page or docx extract into the plan's own paragraphs.

Every rule here is about a *kind* of furniture (portal navigation, sharing-site headers, newspaper
teasers, page numbers cut into words), never about one file, so a new plan shaped like the seeds cleans
the same way. The result keeps the original characters for display; normalisation happens later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TERMINAL = "。！？；!?;"
CLOSERS = "”’」』）)】"

# Lines that are portal or page furniture wherever they appear.
_CHROME = [
    r"^当前位置[:：]",
    r"^欢迎访问.{0,30}(网站|网)$",
    r"^\d+\.\s*(本站支持IPV6|繁体版|无障碍|English)",
    r"^(本站支持IPV6|繁体版|简体版|无障碍浏览|English)$",
    r".*字号[:：].{0,12}$",
    r"^时间[:：].*来源[:：]",
    r"浏览次数",
    r"^扫一扫",
    r"扫一扫在手机上查看",
    r"^(返回顶部|打印本页|关闭窗口|分享到[:：]?.*|收藏本页|打印|关闭)$",
    r"^(微信公众号|微信|微博|今日头条|抖音|头条号)$",
    r"^显示全部表格信息$",
    r"^附件[:：]?\s*$",
    r"由会员分享.*(在线阅读|搜索)",
    r"^导读$",
    r"^[（(]摘选[)）]$",
    r"^…+$|^\.{3,}$",
    r"^[（(][\u4e00-\u9fff]{2,4}(整理|编辑|撰稿|供稿|报道|摄影|审核|校对)[)）]$",
    r"^(责任编辑|编辑|审核|校对|来源)[:：].{0,20}$",
]
_CHROME_RE = [re.compile(p) for p in _CHROME]

# A newspaper page-teaser marker ("B2版") announces another article: the marker and the block of
# lines after it (up to the next blank line) belong to that other article.
_PAGE_TEASER = re.compile(r"^[A-Z]\d{1,2}\s*版$")

_PAGE_NUMBER = re.compile(r"\n(\d{1,3})、")


@dataclass
class Cleaned:
    """The plan body as paragraphs, plus the front matter kept for metadata detection."""

    front: list[str]
    paragraphs: list[str]


def is_chrome(line: str) -> bool:
    stripped = line.strip()
    return any(rx.search(stripped) for rx in _CHROME_RE)


def repair_page_numbers(text: str) -> str:
    """Remove docx page numbers ("扎实开\\n2、展学习") that the sharing site cut into the middle of words.

    A page marker is a line start `N、` where N runs 2, 3, 4 … in order and the page before it is long;
    a genuine numbered list has short lines, so it is left alone.
    """
    lines = text.split("\n")
    markers = []
    expected = 2
    for i, line in enumerate(lines):
        m = re.match(r"^(\d{1,3})、", line)
        if m and int(m.group(1)) == expected and i > 0 and len(lines[i - 1]) > 300:
            markers.append(i)
            expected += 1
    if len(markers) < 2:
        return text
    first = markers[0]
    # Page 1's number sits at the start of the first long page.
    for j in range(first - 1, -1, -1):
        if len(lines[j]) > 300:
            lines[j] = re.sub(r"^1、", "", lines[j])
            break
    marked = set(markers)
    out: list[str] = []
    for i, line in enumerate(lines):
        if i in marked:
            out[-1] = out[-1] + re.sub(r"^\d{1,3}、", "", line)
        else:
            out.append(line)
    return "\n".join(out)


def _drop_teasers(lines: list[str]) -> list[str]:
    out: list[str] = []
    skipping = False
    seen_text = False
    for line in lines:
        if _PAGE_TEASER.match(line.strip()):
            skipping, seen_text = True, False
            continue
        if skipping:
            if line.strip():
                seen_text = True
                continue
            if seen_text:
                skipping = False
            continue
        out.append(line)
    return out


_TRANSMITTAL = re.compile(r"^(现将|现印发|现把|特此|根据.{0,20}要求，?现)")


def _is_long_paragraph(line: str) -> bool:
    """The body opens with the first real prose paragraph; a cover note (现将…印发给你们) is not it."""
    if len(line) < 50 or "。" not in line or _TRANSMITTAL.match(line) or line.rstrip()[-1:] in "：:":
        return False
    return sum(line.count(p) for p in "。，,；") >= 2


def _ends_sentence(line: str) -> bool:
    stripped = line.rstrip()
    return bool(stripped) and (stripped[-1] in TERMINAL or stripped[-1] in CLOSERS or stripped[-1] in "：:")


def _join_broken(paragraphs: list[str]) -> list[str]:
    """Re-join paragraphs a page layout broke mid-sentence ("处理好有教无类" / "与因材施教的关系")."""
    out: list[str] = []
    for para in paragraphs:
        if out:
            prev = out[-1]
            broken = len(prev) >= 40 and any(p in prev for p in "，。,") and not _ends_sentence(prev)
            conj = re.match(r"^(和|与|及|以及|并)[《“\u4e00-\u9fff]", para) and not _ends_sentence(prev)
            if broken or conj:
                out[-1] = prev + para
                continue
        out.append(para)
    return out


def _trim_tail(paragraphs: list[str]) -> list[str]:
    """Footers are short non-sentences after the last real paragraph (微信 / 返回顶部 / 无锡普法)."""
    end = len(paragraphs)
    while end > 0:
        para = paragraphs[end - 1]
        if len(para) <= 15 and not any(p in para for p in "。，,；"):
            end -= 1
            continue
        break
    return paragraphs[:end]


def clean(raw: str) -> Cleaned:
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = repair_page_numbers(text)
    lines = [ln.strip() for ln in text.split("\n")]
    lines = _drop_teasers(lines)
    lines = [ln for ln in lines if not is_chrome(ln)]
    start = next((i for i, ln in enumerate(lines) if _is_long_paragraph(ln)), 0)
    front = [ln for ln in lines[:start] if ln]
    body = [ln for ln in lines[start:] if ln]
    body = _join_broken(body)
    body = _trim_tail(body)
    return Cleaned(front=front, paragraphs=body)
