"""Query correction steps in isolation: pinyin readings, homophones, near words, synonyms."""

from __future__ import annotations

import pytest

from bot.corpus.loader import load_corpus
from bot.search.engine import SearchEngine
from bot.search.fuzzy import char_readings, pinyin_keys


@pytest.fixture(scope="module")
def lexicon(tmp_path_factory):
    return SearchEngine.from_corpus(load_corpus(), tmp_path_factory.mktemp("fz")).lexicon


def test_readings_are_toneless_with_heteronyms():
    assert char_readings("剑") == ["jian"]
    assert "lv" in char_readings("绿")
    assert "xingzhang" in pinyin_keys("行长") and "hangzhang" in pinyin_keys("行长")


@pytest.mark.parametrize("typed", ["双剑", "双剪", "shuangjian"])
def test_homophones_find_corpus_word(lexicon, typed):
    assert lexicon.homophone(typed) == "双减"


def test_pinyin_city(lexicon):
    assert lexicon.homophone("wuxi") == "无锡"


def test_near_never_returns_a_piece_of_the_query(lexicon):
    found = lexicon.near("双减课后服务")
    assert found is None or found[0] not in "双减课后服务"


def test_near_policy_completion(lexicon):
    assert lexicon.near("集团办学", policy_only=True)[0] == "集团化办学"
    assert lexicon.near("县管校骋")[0] == "县管校聘"


def test_synonyms_only_name_corpus_terms(lexicon):
    syn = lexicon.synonyms("流动人口子女")
    assert "随迁子女" in syn and all(lexicon.df.get(s) or s in ("新市民子女",) for s in syn)


def test_nonsense_has_no_homophone(lexicon):
    assert lexicon.homophone("qzxwvk") is None
