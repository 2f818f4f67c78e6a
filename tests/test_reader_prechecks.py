"""The reader's shortcuts skip work only where the full rule could not have matched.

The cleaning step tests a cheap necessary condition before each costly whole-text pattern, and
split_inline jumps over prose it would not look at; each shortcut is only sound if the condition really
is necessary, which these tests check over generated text (bench.parse_identity compares whole plans).
"""

from __future__ import annotations

import re
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.corpus import clean, outline
from bot.corpus.clean import TERMINAL

# the characters the patterns care about, and some they do not
_PUNCT = st.text(alphabet=",，、。；！？;!?a一 \n", max_size=40)
_RUBY_TEXT = st.text(alphabet="會議领(?)huìyìlǐngabc )", max_size=40)


@settings(max_examples=400, deadline=None)
@given(_PUNCT)
def test_doubled_punctuation_needs_a_pair(text):
    if clean._DOUBLED.search(text):
        assert clean._DOUBLED_PAIR.search(text)


@settings(max_examples=400, deadline=None)
@given(_RUBY_TEXT)
def test_ruby_needs_a_gloss(text):
    if clean._RUBY.search(text):
        assert clean._RUBY_GLOSS.search(text)
    if not clean._RUBY_GLOSS.search(text):
        assert clean.strip_ruby(text) == text


def test_stamps_and_blurbs_still_go():
    """The literal words clean() looks for before running these patterns are in every match, so the
    stamps and the site's blurb still go."""
    stamped = "编号：1234567 正文 [标签：介绍] 结尾 公文汇，办公文档之家"
    assert clean._SITE_STAMPS.sub("", stamped) == " 正文  结尾"
    blurb = ("小编寄语。下面是小编为大家整理的教育体育局2023年工作小结,请大家参阅。\n"
             "一、工作开展情况。本年度全局上下团结一心，扎实推进各项工作，取得了明显成效。")
    assert clean.clean(blurb).paragraphs[0] == "教育体育局2023年工作小结"


def test_split_inline_skips_only_what_it_would_not_read():
    """Every character the jump passes over can neither open a label nor end a sentence."""
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        if outline._LABEL_OR_STOP.match(ch) is None:
            assert not (ch in outline.CN_NUM or ch.isdigit() or ch in "（(" or ch in TERMINAL), hex(code)


def test_split_inline_still_cuts_numbered_runs():
    para = ("2024年工作要点一、加强党的建设。全面落实从严治党要求，推进清廉学校建设。二、推进教育公平。"
            "1.扩大学位供给，新建学校3所。2.推进集团化办学，覆盖率达到80%。3.做好招生入学工作，确保平稳有序。")
    pieces = outline.split_inline(para)
    assert pieces[0] == "2024年工作要点"
    assert pieces[1].startswith("一、加强党的建设")
    assert [p[:2] for p in pieces[3:]] == ["1.", "2.", "3."]
    assert outline.split_inline("２０２４年，全市新建学校３所，新增学位５０００个。") == ["２０２４年，全市新建学校３所，新增学位５０００个。"]


def _anchored_by_re(pattern: str) -> bool:
    """The same question asked of Python's own regex parser (a private module: tests only)."""
    from re import _constants, _parser

    items = list(_parser.parse(pattern))
    if len(items) == 1 and items[0][0] is _constants.BRANCH:
        branches = [list(b) for b in items[0][1][1]]
    else:
        branches = [items]
    return all(b and b[0] == (_constants.AT, _constants.AT_BEGINNING) for b in branches)


def test_anchored_rules_are_told_apart_like_the_regex_parser_does():
    tricky = [r"^a|b", r"^a|^b", r"^(a|b)$", r"a|^b", r"^[|]x", r"^\|x|^y", r"^[]|]x", r"^[^]|]x|y", r"(^a|^b)"]
    for pattern in clean._CHROME + tricky:
        assert clean.anchored(pattern) == _anchored_by_re(pattern), pattern


def _chrome_one_by_one(line: str) -> bool:
    line = line.strip()
    if len(line) > clean.CHROME_MAX:
        return False
    stripped = clean._BULLET.sub("", clean.normalize(line))
    # the rules as they were written before (字号 with a leading .*), each searched on its own
    rules = [r".*字号[:：].{0,12}$" if p.startswith("字号") else p for p in clean._CHROME]
    return any(re.search(p, stripped) for p in rules)


def test_is_chrome_answers_as_every_rule_searched_alone():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    lines = [ln for path in [*root.glob("seeds/*.txt"), *root.glob("tests/data/real/*.txt")]
             for ln in path.read_text(encoding="utf-8").split("\n")]
    lines += ["当前位置：首页 > 新闻", "字号：大 中 小", "· 打印本页", "本站支持IPv6", "版权所有 © 2024", "图为会议现场",
              "分享到：微信", "相关文档", "x.png 关闭", "预览结束", "附件：", "教育局 www.example.com"]
    assert sum(map(clean.is_chrome, lines)) > 100
    for line in lines:
        assert clean.is_chrome(line) == _chrome_one_by_one(line), line
