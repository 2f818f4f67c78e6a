"""Floors on the judged relevance set (bench.relevance), so a later ranking change cannot quietly make
answers worse: the figures measured when the clause-bigram field and the English glossary went in."""

from __future__ import annotations

from bench.relevance import JUDGMENTS, ndcg_at, recall_at, score_file, summary


def test_metrics_on_a_known_ranking():
    relevant = {"a": 2, "b": 1}
    assert ndcg_at(["a", "b"], relevant) == 1.0
    assert 0 < ndcg_at(["x", "b", "a"], relevant) < ndcg_at(["b", "a"], relevant) < 1.0
    assert recall_at(["x", "a"], relevant) == 0.5 and recall_at([], relevant) == 0.0


def test_seed_relevance_floors():
    scores = score_file(JUDGMENTS / "seeds.json")
    table = summary(scores)
    assert len(scores) >= 40
    assert table["ALL"]["ndcg@10"] >= 0.95 and table["ALL"]["recall@10"] >= 0.95
    assert table["zh"]["ndcg@10"] >= 0.96  # 0.930 before the clause field
    assert table["en"]["ndcg@10"] >= 0.95  # 0.000 before the glossary
