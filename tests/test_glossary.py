"""English queries through the reviewed glossary: same passages as the Chinese term, said in the answer,
and glossed beside each excerpt for English readers."""

from __future__ import annotations

import pytest

from bot.corpus.loader import load_corpus
from bot.search.engine import SearchEngine
from bot.search.glossary import GLOSSARY, key_words, load_glossary, singular
from bot.telegram import render
from tests.support.botapi import parse_html

SOURCES = {"MOE", "SC", "NPC", "XH", "CD", "UNESCO", "PB"}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return SearchEngine.from_corpus(load_corpus(), tmp_path_factory.mktemp("glossary"))


def ids(result):
    return [h.passage.id for h in result.hits]


def test_glossary_is_large_sourced_and_unambiguous():
    glossary = load_glossary()
    assert len(glossary.entries) >= 300
    assert {e.source for e in glossary.entries} <= SOURCES
    legend = GLOSSARY.read_text(encoding="utf-8")
    assert all(f"#   {code}" in legend for code in SOURCES)  # every source code is explained
    owner: dict[tuple[str, ...], str] = {}
    for entry in glossary.entries:
        for wording in entry.en:
            key = key_words(wording)
            assert key, wording
            assert owner.setdefault(key, entry.zh) == entry.zh, f"{wording!r}: {owner[key]} or {entry.zh}?"
    assert len(glossary.by_zh) == len(glossary.entries)  # one line a Chinese term


@pytest.mark.parametrize("word,one", [("services", "service"), ("activities", "activity"), ("classes", "class"),
                                      ("children", "child"), ("campus", "campus"), ("ethics", "ethics")])
def test_singular(word, one):
    assert singular(word) == one


@pytest.mark.parametrize("english,chinese", [("double reduction", "双减"), ("Double-Reduction", "双减"),
                                             ("DOUBLE REDUCTIONS", "双减"),
                                             ("after school service", "课后服务"), ("After-School Services", "课后服务"),
                                             ("county managed school hired", "县管校聘"),
                                             ("County-Managed, School-Hired", "县管校聘"),
                                             ("myopia prevention", "近视防控")])
def test_english_finds_what_chinese_finds(engine, english, chinese):
    result = engine.search(english)
    assert result.corrected == chinese and result.translated[0][1] == chinese
    assert f"按「{chinese}」搜索" in result.notice
    assert result.hits and ids(result) == ids(engine.search(chinese))
    data = result.as_json()
    assert data["translated"][0]["zh"] == chinese


def test_pinyin_is_not_taken_for_english(engine):
    result = engine.search("shuangjian")
    assert result.translated == [] and result.corrected == "双减"


def test_english_reader_sees_the_english_of_matched_terms(engine):
    result = engine.search("double reduction", limit=3)
    assert all(("双减", "double reduction") in h.glossary for h in result.hits)
    assert result.as_json()["results"][0]["glossary"][0] == {"zh": "双减", "en": "double reduction"}
    reply = render.topic_answer(result, "en", query="double reduction")
    plain, _ = parse_html(reply.text)
    assert "Terms: 双减 = double reduction" in plain
    assert "Searched the Chinese term “双减” for “double reduction”" in plain
    chinese = render.topic_answer(engine.search("双减", limit=3), "zh", query="双减")
    assert "double reduction" not in chinese.text  # a Chinese reader's answer is unchanged


def test_unknown_english_still_gets_a_clear_answer(engine):
    result = engine.search("qwerty blorp")
    assert result.error == "no_match" and result.translated == [] and result.suggestions
