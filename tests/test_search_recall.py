"""Recall across segmentation: a typed term matches where it stands even when jieba cut it otherwise,
compounds also search their parts, and a phrase the corpus literally holds is never "corrected"."""

from __future__ import annotations

import pytest

from bot.corpus.loader import load_corpus
from bot.models import Passage, PlanMeta
from bot.search.engine import SearchEngine
from bot.search.tokenize import CLAUSE, IndexTokenizer
from bot.textnorm import normalize


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return SearchEngine.from_corpus(load_corpus(), tmp_path_factory.mktemp("recall"))


def test_boundary_bigrams_are_a_second_field():
    tokens = IndexTokenizer().tokens(normalize("修师德，塑造育人之心"))
    assert CLAUSE + "师德" in tokens  # jieba cuts 修/师/德: 师德 is no word here
    assert CLAUSE + "德塑" not in tokens  # never across punctuation
    assert "塑造" in tokens and CLAUSE + "塑造" not in tokens  # a word's own bigram stays in the word field


def test_shide_finds_jiangyin_xiu_shide_section(engine):
    hits = engine.search("师德", limit=10).hits
    assert "jiangyin-2023-speech:p2.s7.i2" in [h.passage.id for h in hits]
    assert all("师德" in h.passage.norm or any("师德" in s for s in h.passage.section) for h in hits)


def test_compound_finds_what_its_part_finds(engine):
    part = {h.passage.id for h in engine.search("师德", limit=50).hits if "师德" in h.passage.norm}
    whole = engine.search("师德师风", limit=50)
    assert part <= {h.passage.id for h in whole.hits}
    assert "师德师风" in whole.hits[0].passage.norm  # the whole term still ranks first


@pytest.mark.parametrize("query,must", [("课后服务", "课后"), ("县管校聘", "县管校聘"), ("集团化办学", "集团")])
def test_common_parts_do_not_flood(engine, query, must):
    """服务 of 课后服务 is in a fifth of the passages: it alone never makes an answer."""
    result = engine.search(query, limit=50)
    assert result.hits and all(must in h.passage.norm or "教育集团" in h.passage.norm for h in result.hits)


def _meta(plan_id: str) -> PlanMeta:
    return PlanMeta(plan_id, "无锡", "江苏省", None, "city", 2023, "工作要点", "测试", "", "2023", "", "t.txt")


def _passage(pid: str, text: str) -> Passage:
    return Passage(pid, "p", ("一、测试",), text, normalize(text), "forward", pid)


def test_literal_phrase_is_searched_as_typed(tmp_path):
    """Issue 9 item 6: 家校协同育人 stands in one passage; it must not become 家校社协同育人."""
    texts = ["加强家校社协同育人，健全学校家庭社会协同育人机制。"] * 12 + ["推进家校协同育人，开好家长学校。"]
    texts += ["做好课后服务工作。", "深化家校共育。"]
    passages = [_passage(f"p:{i}", t) for i, t in enumerate(texts)]
    engine = SearchEngine.from_passages(passages, [_meta("p")], "literal", tmp_path)
    result = engine.search("家校协同育人")
    assert result.corrected is None
    assert result.hits[0].passage.id == "p:12"
    typo = engine.search("家校社协同育仁")  # a real typo is still corrected
    assert typo.corrected == "家校社协同育人"
