"""The reader's shortcuts skip work only where the full rule could not have matched.

The cleaning step tests a cheap necessary condition before each costly whole-text pattern, and
split_inline jumps over prose it would not look at; each shortcut is only sound if the condition really
is necessary, which these tests check over generated text (bench.parse_identity compares whole plans).
"""

from __future__ import annotations

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
