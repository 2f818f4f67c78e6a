"""Turn a saved web page, newspaper page or docx extract into the plan's own paragraphs.

Every rule here is about a *kind* of furniture (portal navigation, sharing-site headers, newspaper
teasers, page numbers cut into words), never about one file, so a new plan shaped like the seeds cleans
the same way. The result keeps the original characters for display; normalisation happens later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.textnorm import normalize

TERMINAL = "。！？；!?;"
CLOSERS = "”’」』）)】"

# Lines that are portal or page furniture wherever they appear. They are matched on the normalised line
# (simplified, half-width, lower case), so a traditional repost's 來源 is the 来源 rule.
_CHROME = [
    r"^当前位置[:：]",
    r"^您(所在|现在)的位置[:：]",
    r"^欢迎访问.{0,30}(网站|网)$",
    r"^\d+\.\s*(本站支持ipv6|繁体版|无障碍|english)",
    r"^(本站支持ipv6|繁体版|简体版|无障碍浏览|english)$",
    r"字号[:：].{0,12}$",  # (a leading .* found nothing more, and cost a scan from every position)
    r"^时间[:：].*来源[:：]",
    r"浏览次数",
    r"^扫一扫",
    r"扫一扫在手机上(查看|打开)|扫一扫在手机打开",
    # print, close, back-to-top, read-aloud and share buttons
    r"^(返回顶部|打印本页|打印页面|打印此页|关闭窗口|收藏本页|打印|关闭|听全文|朗读本文|阅读下一篇|阅读上一篇)$",
    r"^[—\-–]*\s*分享\s*[—\-–]*$|^分享到[:：]?.*",
    r"^[—\-–·•]+$",
    r"^(上一篇|下一篇)[:：]",
    r"^返回.{0,12}首页$",
    r"^本文链接[:：]",
    r"^(微信公众号|微信|微博|今日头条|抖音|头条号|qq空间)$",
    r"^显示全部表格信息$",
    r"^(附件|图片|视频)[:：]?\s*$",
    r"^图为",
    r"由会员分享.*(在线阅读|搜索)",
    r"^下面是小编为大家(整理|收集)的",
    r"^以下是.{0,12}(整理|分享|收集)的.{0,40}(供您?参考|供大家参考|仅供参考)",
    r"^网友评论|^评论功能已关闭$|^(荣誉|网友)\s+分享\s+时间[:：]?$",
    r"^[（(]\s*初审[:：]|^相关文档[:：]?$|\.png\s*(关闭|打印)",
    r"^\S{0,12}(网|站)?(小编)?为(你|您)(精心)?(准备|整理|提供)了?.{0,40}(范文|参考)",
    r"小编为(你|您|大家)(整理|收集)了|收藏\s*word下载|^word下载$",
    # a document site's watermark lines: 稿子汇 www.gaozihui.com / 公文汇,办公文档之家
    r"^\S{0,8}\s*www\.[a-z0-9\-]+\.(com|cn|net|org)$|^\S{0,6}[,，]?办公文档之家$",
    r"^导读$",
    r"^[（(]摘选[)）]$",
    r"^…+$|^\.{3,}$",
    r"^[（(][\u4e00-\u9fff]{2,4}(整理|编辑|撰稿|供稿|报道|摄影|审核|校对)[)）]$",
    r"^(责任编辑|编辑|审核|校对|来源)[:：].{0,20}$",
    # bylines: source / author / editor lines, alone or several on one line
    r"^(作者|记者|通讯员|编审|供稿|摄影|来源|编辑|责任编辑|信息来源|撰稿人?|审核人?|供图|全媒体记者)[:：]",
    r"^[（(](编辑|责任编辑|编审|记者|作者)[:：].*[)）]$",
    r"^本文为.{0,20}(原创|稿件).{0,40}$",
    # footers: copyright, licences, site map, screen-resolution advice, site-owner lines
    r"版权所有|版权为.{0,30}所有|copyright|all rights reserved|icp备|icp证|公网安备|网站地图|分辨率",
    r"营业执照|增值电信业务|新网备|备案号|网站标识码|网站安全检测",
    r"^(主办单位|承办单位|协办单位|技术支持|投稿邮箱|网站主办)[:：]",
    r"未经.{0,6}(同意|许可|授权).{0,10}(复制|转载|镜像)",
    r"^(关于我们|联系我们|版权声明|免责声明|网站声明)",
    r"^(地址|邮编|邮政编码|联系电话|电话|传真|邮箱|e-?mail)[:：]",
    # a portal's sign-in strip, images and shared-file names
    r"^(注册|登录|公告|首页|正文)$",
    r"^!\[.*\]\(.*\)$",
    r"^\S{0,4}https?://\S+$",
    r"\.(jpg|jpeg|png|gif|bmp|webp)$|^\S{0,20}\.(jpg|jpeg|png|gif|bmp|webp)",
    r"^\S.{0,60}\.(docx?|pdf|wps)$",
    r"^[\u4e00-\u9fff]{2,10}(新闻网|融媒体中心|网)$",
    r"^(日期|时间|发布时间)[:：]?$",
    # a forum's (Discuz) strips around a reposted story, and a repost's tip jar and reprint note
    r"^微信登录$|^注册\s*忘记密码$|^查看[:：]\s*\d+\s*\|\s*回复[:：]\s*\d+$|^\[复制链接\]$|^该用户从未签到$",
    r"^发表于\s*\d{4}-\d{1,2}-\d{1,2}.{0,30}(显示全部楼层|只看该作者|阅读模式)",
    r"^声明[:：]以上内容来源于网络|^赞赏$|^转载请注明[:：]",
    r"^预览结束|扫码联系老师",  # a ghost-writing site's paywall line
    # a public-information index table flattened to text: 索引号: | … | 分类: | |
    r"^(索引号|分类|发文机关|发文日期|名称|文号|主题分类|发布机构|成文日期)\s*[:：]\s*\|",
]


def alternatives(pattern: str) -> list[str]:
    """A pattern cut at its top-level | (outside groups and character classes)."""
    parts, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            i += 1 + (pattern[i + 1:i + 2] == "^")
            i += pattern[i:i + 1] == "]"  # a ] first in a class is one of its characters
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and not depth:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    return [*parts, pattern[start:]]


def anchored(pattern: str) -> bool:
    """Every way the pattern can match starts at the line's start (^ with no MULTILINE)."""
    return all(part.startswith("^") for part in alternatives(pattern))


# The anchored rules (most of them) can only match at the line's start: one alternation tried there
# answers for all of them, instead of each one searched on its own; the others are searched apart.
_CHROME_AT_START = re.compile("|".join(f"(?:{p})" for p in _CHROME if anchored(p)))
_CHROME_ANYWHERE = [re.compile(p) for p in _CHROME if not anchored(p)]

# A newspaper page-teaser marker ("B2版") announces another article: the marker and the block of
# lines after it (up to the next blank line) belong to that other article.
_PAGE_TEASER = re.compile(r"^[A-Z]\d{1,2}\s*版$")

_PAGE_NUMBER = re.compile(r"\n(\d{1,3})、")

# Some reposting sites gloss characters with their pinyin in brackets ("會(huì)議", "領(lǐng)導(dǎo)"); the
# gloss is never part of the text, and left in place it splits every word it follows.
_RUBY = re.compile(r"(?<=[\u3400-\u9fff])[(?][a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]{1,6}\)")


# The gloss without the look-behind: a text it does not occur in (nearly every one) is scanned once
# quickly instead of trying the look-behind at every character.
_RUBY_GLOSS = re.compile(r"[(?][a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]{1,6}\)")


def strip_ruby(text: str) -> str:
    """Pinyin glued after characters, its opening bracket sometimes lost to ? (梁平日?qǐng)?bào)訊)."""
    if not _RUBY_GLOSS.search(text):
        return text
    for _ in range(3):
        stripped = _RUBY.sub("", text)
        if stripped == text:
            break
        text = stripped
    return text


@dataclass
class Cleaned:
    """The plan body as paragraphs, plus the front matter kept for metadata detection."""

    front: list[str]
    paragraphs: list[str]


_BULLET = re.compile(r"^([•·●▪◆■\s]|[-*](?=\s))+")


CHROME_MAX = 200  # furniture is a line of a page's frame; a longer line is the author's prose


def is_chrome(line: str) -> bool:
    line = line.strip()
    if len(line) > CHROME_MAX:
        return False
    stripped = _BULLET.sub("", normalize(line))
    return _CHROME_AT_START.match(stripped) is not None or any(rx.search(stripped) for rx in _CHROME_ANYWHERE)


# A breadcrumb: "首页 > 新闻 > 正文", "首页>>图片新闻>>正文" (at least two separators, short crumbs).
_BREADCRUMB = re.compile(r"^(\S{1,20}\s*(>>?|»|&gt;)\s*){2,}\S{0,30}$|^首页\s*(>>?|»)")
# Buttons glued into the text by the page's print layout: 【打印本页】【关闭窗口】, and the empty
# brackets they leave behind.
_BUTTON_WORDS = r"打印本页|打印|关闭窗口|关闭|返回顶部|收藏本页|收藏|大|中|小"
_INLINE_BUTTONS = re.compile(rf"【\s*({_BUTTON_WORDS})?\s*】|\[\s*({_BUTTON_WORDS})\s*\]")
_CONTACT = re.compile(r"1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|[\w.+-]+@[\w-]+\.[\w.]+|[省市区县路街号楼]|^[A-Z\s]+$")
# A reporter's or editor's name closing the last sentence: "……。(罗意)", "……。(宋武利 郭双)".
_TRAILING_BYLINE = re.compile(r"(?<=[。！？”])\s*[（(](本网记者|[\u4e00-\u9fff]{2,4}(?:[\s、，,][\u4e00-\u9fff]{2,4}){0,3})[)）]\s*$")
# Reposting sites double or mix punctuation (",,", ",、"); the text means one mark.
# A model-essay site's sign-off glued to the end of its summary: 以下是网友为大家整理分享的…，供您参考！
_SITE_BLURB = re.compile(r"(?<=[。！？!?])\s*以下是.{0,12}(整理|分享|收集)的.{0,40}(供您?参考|供大家参考|仅供参考)[!！。]?\s*$")
# A document site's notice set into the text: ---本文来源于网络，仅供参考，勿照抄，如有侵权请联系删除---
_INSET_NOTICE = re.compile(r"-{2,}[^-\n]{0,40}(来源于网络|仅供参考|侵权)[^-\n]{0,40}-{2,}")
# A document site's stamps set into the text: 编号:658229379 at its start, [标签:介绍] and
# " 公文汇,办公文档之家" at a paragraph's end.
_SITE_STAMPS = re.compile(r"^编号[:：]\d{5,}|\[标签[:：][^\]]{0,20}\]|\s+\S{2,6}[,，]办公文档之家(?=\s*$)", re.MULTILINE)
_DOUBLED = re.compile(r"([,，])[,，]+|[,，]+(?=[、。；！？])|(?<=[、。；！？])[,，]+")
# Every match of _DOUBLED has a comma beside a comma or a stop: a text without such a pair has none.
_DOUBLED_PAIR = re.compile(r"[,，][,，、。；！？]|[、。；！？][,，]")


def _drop_breadcrumb_list(lines: list[str]) -> list[str]:
    """A numbered navigation list ("1. 首页 / 2. 推荐头条 / 3. 正文") is furniture, not items."""
    out: list[str] = []
    in_list = False
    for line in lines:
        if re.match(r"^\d+\.\s*首页$", line):
            in_list = True
            continue
        if in_list and re.match(r"^\d+\.\s*\S{1,8}$", line):
            continue
        in_list = False
        out.append(line)
    return out


def _drop_contact_blocks(lines: list[str]) -> list[str]:
    """联系我们 and the short name/phone/e-mail/address lines under it, up to the next prose line."""
    out: list[str] = []
    skipping = False
    for line in lines:
        if len(line) <= 12 and normalize(line).startswith("联系我们"):
            skipping = True
            continue
        if skipping:
            if not line:
                continue
            if len(line) <= 40 and not any(p in line for p in "。；") and (_CONTACT.search(line) or len(line) <= 12):
                continue
            skipping = False
        out.append(line)
    return out


_IMAGE_LINE = re.compile(r"^!\[.*\]\(.*\)$|\.(jpg|jpeg|png|gif|bmp|webp)$", re.IGNORECASE)


def _drop_captions(lines: list[str]) -> list[str]:
    """The short line under a picture is its caption (长武县2024年教育工作会现场), never a heading."""
    out: list[str] = []
    after_image = False
    for line in lines:
        if _IMAGE_LINE.search(line.strip()):
            after_image = True
            out.append(line)
            continue
        if after_image and line and len(line) <= 40 and not any(p in line for p in "。；！？"):
            after_image = False
            continue
        if line:
            after_image = False
        out.append(line)
    return out


_RELATED = re.compile(r"^(相关阅读|相关新闻|相关文章|相关链接|推荐阅读|热点新闻|热门文章|最新动态|最新文章|猜你喜欢|更多新闻)[:：]?$")


def _drop_related_lists(lines: list[str]) -> list[str]:
    """相关阅读 with a run of short headline lines under it is the site's list of other pages."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if len(lines[i]) <= 12 and _RELATED.match(normalize(lines[i].strip())):
            j = i + 1
            while j < len(lines) and (not lines[j] or (len(lines[j]) <= 40 and "。" not in lines[j])):
                j += 1
            if j > i + 1:
                i = j
                continue
        out.append(lines[i])
        i += 1
    return out


_MIXED = re.compile(r"^(?=.*[A-Za-z])(?=.*[\u4e00-\u9fff])\S{3,20}$")


def _drop_watermarks(lines: list[str]) -> list[str]:
    """A site stamps a short code into the text (Ah5中国通讯社): a mixed Latin/Chinese token that
    stands alone on two or more lines is that stamp; it goes wherever it stands, glued ends included."""
    counts: dict[str, int] = {}
    for line in lines:
        if _MIXED.match(line):
            counts[line] = counts.get(line, 0) + 1
    marks = [m for m, n in counts.items() if n >= 2]
    if not marks:
        return lines
    out = []
    for line in lines:
        for mark in marks:
            line = line.replace(mark, "")
        out.append(line.strip())
    return out


def _is_furniture(line: str) -> bool:
    return is_chrome(line) or bool(_BREADCRUMB.search(line.strip()))


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
    if len(line) < 50 or "。" not in line or _TRANSMITTAL.match(line):
        return False
    if line.rstrip()[-1:] in "：:" and len(line) < 120 and (len(line) < 80 or line.count("。") < 2):
        return False  # a short lead-in to a list; a paragraph of prose may end 总结汇报如下：
    return sum(line.count(p) for p in "。，,；") >= 2


def _outline_run(lines: list[str]) -> int | None:
    """Where a run of at least four numbered heading lines (一、 （一） （二） 二、…) starts, if any."""
    run_start, run = None, 0
    for i, line in enumerate(lines):
        if not line:
            continue
        if _SECTION_LINE.match(line) and len(line) <= 40:
            run_start = i if run == 0 else run_start
            run += 1
            if run >= 4:
                return run_start
        else:
            run = 0
    return None


def _is_lead_sentence(line: str) -> bool:
    """A short news lead is one full sentence (2月7日召开的我市…绘出“路线图”。): the body starts there,
    so the unnumbered headings under it are read as sections, not as page furniture."""
    line = line.rstrip()
    return len(line) >= 25 and line.endswith("。") and line.count("。") == 1 and bool(re.search(r"[，,]", line)) \
        and not _TRANSMITTAL.match(line)


def _ends_sentence(line: str) -> bool:
    stripped = line.rstrip()
    return bool(stripped) and (stripped[-1] in TERMINAL or stripped[-1] in CLOSERS or stripped[-1] in "：:")


_SECTION_LINE = re.compile(r"^([一二三四五六七八九十]{1,3}、|[（(][一二三四五六七八九十]{1,3}[)）])\s*\S")
_LABEL_START = re.compile(r"^([一二三四五六七八九十]{1,3}[、.．]|[（(][一二三四五六七八九十\d]{1,3}[)）]|\d{1,2}\s*[.．、]|第[一二三四五六七八九十]"
                          r"|[一二三四五六七八九十]是)")


def _unwrap(paragraphs: list[str]) -> list[str]:
    """A PDF copied as text breaks every line at the page width (“十\n五五”规划): when most lines
    share one length and stop mid-sentence, a line of that length runs on into the next one, unless
    the next opens with a numbering label (一、 （一） 1.)."""
    open_lengths = [len(p) for p in paragraphs
                    if 12 <= len(p) <= 60 and not _ends_sentence(p) and any(c in p for c in "，,、")]
    if len(open_lengths) < 4:
        return paragraphs
    width = max(set(open_lengths), key=open_lengths.count)
    at_width = sum(abs(n - width) <= 2 for n in open_lengths)
    if at_width < 4 or at_width * 2 < sum(len(p) >= 12 for p in paragraphs):
        return paragraphs  # most of a hard-wrapped page is full-width lines; a few are coincidence
    out: list[str] = []
    runs_on = False  # the last line taken was a full-width line stopping mid-sentence
    for para in paragraphs:
        if out and runs_on and not _LABEL_START.match(para):
            out[-1] += para
        else:
            out.append(para)
        heading = _LABEL_START.match(para) is not None and not any(c in para for c in "。，,；")
        runs_on = abs(len(para) - width) <= 2 and not _ends_sentence(para) and not heading
    return out


# 会议指出 / 会议强调： / 李晓海强调 on a line of its own: the reporter's words lead the next paragraph.
_REPORTER_LINE = re.compile(r"^[\u4e00-\u9fff]{1,6}(指出|强调|要求|认为|提出|表示)[：:]?$")


# A document site's page stamp (第1页共4页) at a line's start, and its blurb naming the document:
# 小编寄语。下面是我们的小编为大家整理的教育体育局2023年工作小结,请大家参阅。 → the title on a line.
_PAGE_STAMP = re.compile(r"^第\d{1,3}页\s*共\d{1,3}页", re.MULTILINE)
_TITLE_BLURB = re.compile(r"(?:[^。\n]{0,30}?小编寄语。)?下面是.{0,12}?(?:为大家|为你|为您)?整理的(?P<title>[^，,。\n]{4,40})[，,]"
                          r"(?:请大家参阅|供大家参考|仅供参考|希望对你有帮助)[。!！]?")
# A flattened page keeps its breaks as spaces: 副市长在…会议上的讲话 同志们: … 一、找准历史方位…
_FLAT_BREAK = re.compile(r"\s+(?=(?:同志们[:：]|[一二三四五六七八九十]{1,3}、[\u4e00-\u9fff]))")


def _split_flattened(line: str) -> list[str]:
    if len(line) < 200:
        return [line]
    pieces = []
    for piece in _FLAT_BREAK.split(line):
        # 一、找准历史方位，…勇于作为 近年来，…: the heading ends where the space is
        m = re.match(r"^([一二三四五六七八九十]{1,3}、[^\s。；]{4,40})\s+(\S.*)$", piece)
        pieces.extend([m.group(1), m.group(2)] if m else [piece])
    return pieces


def _join_broken(paragraphs: list[str]) -> list[str]:
    """Re-join paragraphs a page layout broke mid-sentence ("处理好有教无类" / "与因材施教的关系"), and a
    reporter's line (会议强调) with what was said, which is never a heading of its own."""
    out: list[str] = []
    for para in paragraphs:
        if out:
            prev = out[-1]
            if _REPORTER_LINE.match(prev):
                out[-1] = prev.rstrip("：:") + "，" + para
                continue
            broken = len(prev) >= 40 and any(p in prev for p in "，。,") and not _ends_sentence(prev)
            broken = broken or (len(prev) == 1 and not _ends_sentence(prev) and re.match(r"[\u4e00-\u9fff]", prev))
            conj = re.match(r"^(和|与|及|以及|并)[《“\u4e00-\u9fff]", para) and not _ends_sentence(prev)
            if broken or conj:
                out[-1] = prev + para
                continue
        out.append(para)
    return out


# Another story's opening: 新华网重庆6月9日电 …, 本报讯 …, (a dateline of some site), under its own headline.
_OTHER_DATELINE = re.compile(r"^\S{0,20}?(网|社|报|台|客户端)\S{0,12}?\d{1,2}月\d{1,2}日(电|讯)")


def _drop_other_stories(paragraphs: list[str]) -> list[str]:
    """An aggregator lists its other stories after the article: a short headline, then that story's
    dateline teaser (重庆南川:小小蓝莓果 / 新华网重庆6月9日电 …). From the first such pair on, the page
    is no longer this document; the article's own lead (the first paragraph) may carry a dateline."""
    for i in range(2, len(paragraphs)):
        head = paragraphs[i - 1]
        if (_OTHER_DATELINE.match(paragraphs[i]) and len(head) <= 30
                and not any(p in head for p in "。，,；")):
            return paragraphs[: i - 1]
    return paragraphs


def _trim_tail(paragraphs: list[str]) -> list[str]:
    """Footers are short non-sentences after the last real paragraph (微信 / 返回顶部 / 无锡普法)."""
    end = len(paragraphs)
    while end > 0:
        para = paragraphs[end - 1]
        if len(para) <= 15 and not any(p in para for p in "。，,；") and not _LABEL_START.match(para):
            end -= 1
            continue
        break
    return paragraphs[:end]


# Markup left in a copied text (a blog editor's <p class="ql-block">): block tags end a line, the rest go.
_BLOCK_TAG = re.compile(r"</?(p|div|br|section|article|h[1-6]|li|ul|ol|table|tr|td|th|blockquote)\b[^>]{0,200}>",
                        re.IGNORECASE)
_INLINE_TAG = re.compile(r"</?(span|strong|b|i|em|font|a|u|sup|sub|img)\b[^>]{0,300}>", re.IGNORECASE)
_ENTITIES = {"&nbsp;": " ", "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": "\"", "&ldquo;": "“", "&rdquo;": "”"}


def strip_markup(text: str) -> str:
    if "<" not in text and "&" not in text:
        return text
    text = _INLINE_TAG.sub("", _BLOCK_TAG.sub("\n", text))
    for entity, char in _ENTITIES.items():
        text = text.replace(entity, char)
    return text


def clean(raw: str) -> Cleaned:
    text = strip_markup(raw.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", ""))
    text = strip_ruby(text)
    if _DOUBLED_PAIR.search(text):
        text = _DOUBLED.sub(lambda m: m.group(1) or "", text)
    text = _INLINE_BUTTONS.sub("", _INSET_NOTICE.sub("", text))
    # each stamp has a literal word of its own: a text without any of them is left unscanned
    if "编号" in text or "[标签" in text or "办公文档之家" in text:
        text = _SITE_STAMPS.sub("", text)
    text = re.sub("[㈠-㈩]", lambda m: f"（{'一二三四五六七八九十'[ord(m.group()) - 0x3220]}）", text)
    text = repair_page_numbers(text)
    text = _PAGE_STAMP.sub("", text)
    if "下面是" in text:  # the blurb's own words; its pattern tries 30 characters at every position
        text = _TITLE_BLURB.sub(lambda m: m.group("title") + "\n", text)
    lines = [piece.strip() for ln in text.split("\n") for piece in _split_flattened(ln)]
    lines = _drop_teasers(lines)
    lines = _drop_captions(_drop_breadcrumb_list(_drop_contact_blocks(_drop_related_lists(_drop_watermarks(lines)))))
    lines = [_SITE_BLURB.sub("", _TRAILING_BYLINE.sub("", ln)) for ln in lines if not _is_furniture(ln)]
    unwrapped = _unwrap([ln for ln in lines if ln])
    if len(unwrapped) < len([ln for ln in lines if ln]):
        lines = unwrapped  # a hard-wrapped PDF: its paragraphs are found only once its lines are joined
    start = next((i for i, ln in enumerate(lines) if _is_long_paragraph(ln) or _is_lead_sentence(ln)), 0)
    outline_at = _outline_run(lines[:start])
    if outline_at is not None:
        start = outline_at  # the document opens with its own outline: 一、… （一）… 二、2026年工作打算 （一）…
    while start > 0 and (_SECTION_LINE.match(lines[start - 1]) or not lines[start - 1]):
        start -= 1  # 一、2022年主要工作总结 / （一）工作成效 head the body, however short
    while start < len(lines) and not lines[start]:
        start += 1
    front = [ln for ln in lines[:start] if ln]
    body = [ln for ln in lines[start:] if ln]
    body = _join_broken(_unwrap(body))
    body = _trim_tail(_drop_other_stories(body))
    return Cleaned(front=front, paragraphs=body)
