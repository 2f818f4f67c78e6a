"""Shared themes and year-on-year changes, checked against counts taken straight from the passages."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.corpus.loader import load_corpus
from bot.digests.themes import changes_for_place, shared_themes, theme_passages, vocabulary
from bot.search.places import resolve_place


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def _plans_stating(corpus, *words: str) -> set[str]:
    """Plans with a forward-looking passage containing any of `words`: the count a reader would take."""
    return {p.plan_id for p in corpus.plans
            if any(w in psg.norm for psg in p.passages if psg.orientation == "forward" for w in words)}


def _words(theme: str) -> list[str]:
    return [term for term, head in vocabulary().items() if head == theme]


def test_shared_themes_of_the_five_seeds_match_the_passages(corpus):
    line = shared_themes(corpus.plans)
    assert len(line) == 5
    counts = [t.plans for t in line]
    assert counts == sorted(counts, reverse=True) and counts[-1] >= 2
    by_theme = {t.theme: t for t in line}
    assert "双减" in by_theme
    assert set(by_theme["双减"].plan_ids) == _plans_stating(corpus, "双减", "减负增效") == {
        "wuxi-2023-conference", "suizhou-2023-workpoints", "jiangyin-2023-speech", "suzhou-2023-workpoints"}
    for theme in line:
        assert set(theme.plan_ids) == _plans_stating(corpus, *_words(theme.theme)), theme
    # sector words name what a plan is about, not a task: never a theme
    assert "义务教育" not in vocabulary() and "普通高中" not in vocabulary()


def test_review_passages_never_contribute(corpus):
    """Themes only the review part of a plan states (what it did last year) do not count for it."""
    checked = 0
    for plan in corpus.plans:
        review = [p for p in plan.passages if p.orientation == "backward"]
        review_only = replace(plan, passages=review)
        assert theme_passages(review_only) == {}
        stated = theme_passages(plan)
        for term, theme in vocabulary().items():
            in_review = any(term in p.norm for p in review)
            if in_review and plan.plan_id not in _plans_stating(corpus, *_words(theme)):
                assert theme not in stated
                checked += 1
    assert checked >= 3  # the seeds' reviews (江阴, 无锡 2020) do mention themes the plans do not


def test_a_single_plan_gets_its_own_themes(corpus):
    line = shared_themes([corpus.plan("suzhou-2023-workpoints")])
    assert line and all(t.plan_ids == ("suzhou-2023-workpoints",) for t in line)
    assert [t.passages for t in line] == sorted((t.passages for t in line), reverse=True)


def test_wuxi_changes_2020_to_2023(corpus):
    changes = changes_for_place(resolve_place("无锡", corpus).place, corpus)
    data = changes.as_dict()
    assert (data["from"]["plan_id"], data["from"]["year"]) == ("wuxi-2020-review-plan", 2020)
    assert (data["to"]["plan_id"], data["to"]["year"]) == ("wuxi-2023-conference", 2023)
    added = {a["theme"] for a in data["added"]}
    assert "双减" in added and "教育数字化" in added
    for kind, plan_id in (("added", "wuxi-2023-conference"), ("dropped", "wuxi-2020-review-plan")):
        for change in getattr(changes, kind):
            words = _words(change.theme)
            passage = corpus.passage(change.passage.id)
            assert passage.plan_id == plan_id and passage.orientation == "forward"
            assert any(w in passage.norm for w in words)
            assert any(w in change.excerpt for w in words) or change.theme in change.excerpt
    stated_2020 = _plans_stating(corpus, "双减", "减负增效")
    assert "wuxi-2020-review-plan" not in stated_2020
    assert not added & {d["theme"] for d in data["dropped"]}


def test_a_place_with_one_year_has_no_changes(corpus):
    assert changes_for_place(resolve_place("苏州", corpus).place, corpus) is None


def test_changes_compare_one_place_not_a_city_with_its_counties(corpus):
    assert changes_for_place(resolve_place("江苏", corpus).place, corpus) is None
    assert changes_for_place(resolve_place("江阴", corpus).place, corpus) is None
