"""Issue 16: a query no plan answers gets 没有找到 with real suggestions, never an invented correction.

The queries (tests/data/nonsense_queries.txt) are science terms, names, random characters and English
words outside the glossary; before the change 量子计算 was searched as 「量自己算」 and 引力波, 基因编辑
answered with passages that only share a fragment (吸引力, 红色基因).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.search.tokenize import policy_terms

QUERIES = [line.strip() for line in (Path(__file__).parent / "data" / "nonsense_queries.txt")
           .read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]


def test_the_list_has_thirty_queries():
    assert len(QUERIES) == 30 and len(set(QUERIES)) == 30


@pytest.mark.parametrize("query", QUERIES)
def test_unknown_query_finds_nothing_and_suggests_real_terms(shared_engine, query):
    result = shared_engine.search(query)
    assert result.corrected is None and not (result.notice or "").startswith("按")
    assert result.error == "no_match" and result.total == 0 and not result.hits
    assert 2 <= len(result.suggestions) <= 3
    policy = policy_terms()
    for term in result.suggestions:  # each suggestion is a policy term that itself finds passages
        assert term in policy and shared_engine.search(term).total > 0


def test_real_typos_are_still_corrected(shared_engine):
    for typed, fixed in (("双剑", "双减"), ("县管校骋", "县管校聘"), ("shuangjian", "双减"),
                         ("流动人口子女", "随迁子女")):
        assert shared_engine.search(typed).corrected == fixed


def test_an_unknown_word_beside_a_known_one_is_named(shared_engine):
    result = shared_engine.search("双减 量子")
    assert result.hits and result.unknown == ["量子"]
    assert "没有找到「量子」" in result.notice
    assert result.as_json()["unknown"] == ["量子"]


def test_a_reader_still_typing_after_a_policy_term_gets_its_hits(shared_engine):
    """Inline mode answers every keystroke: 双减无 (on the way to 双减无锡) is 双减, not 'nothing'."""
    assert shared_engine.search("双减无").total == shared_engine.search("双减").total > 0
    assert shared_engine.search("引力波").total == 0  # one stray character beside a fragment is not
