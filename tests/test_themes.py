"""Shared themes and year-on-year changes, checked against counts taken straight from the passages."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.corpus.loader import load_corpus
from bot.digests.themes import changes_for_place, shared_themes, theme_passages, vocabulary
from bot.models import Passage, Plan, PlanMeta
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


def _stated_by_definition(passages: list[Passage]) -> dict[str, list[tuple[str, int, int]]]:
    """A theme's first term in vocabulary order a forward passage holds, at `str.find` of that term."""
    found: dict[str, list[tuple[str, int, int]]] = {}
    for passage in passages:
        if passage.orientation != "forward":
            continue
        seen: set[str] = set()
        for term, theme in vocabulary().items():
            start = passage.norm.find(term)
            if start >= 0 and theme not in seen:
                seen.add(theme)
                found.setdefault(theme, []).append((passage.id, start, start + len(term)))
    return found


_TERMS = sorted(vocabulary())
_PIECES = st.one_of(st.sampled_from(_TERMS), st.sampled_from(_TERMS).map(lambda t: t[1:] or t),
                    st.sampled_from(["，", "的", "和", "推进", "机构", "减", "双", "教育"]))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(_PIECES, max_size=12).map("".join), st.booleans()), min_size=1, max_size=4))
def test_themes_are_each_terms_first_find_in_vocabulary_order(texts):
    """Terms overlap and nest (校外培训 inside 校外培训机构, a theme's synonyms side by side): whatever
    matcher reads the passages, what it reports is each theme's first term in vocabulary order that a
    forward passage holds, at that term's first offset, with review passages left out."""
    passages = [Passage(f"p{i}", "plan", ("一",), norm, norm, "forward" if forward else "backward", f"n{i}")
                for i, (norm, forward) in enumerate(texts)]
    meta = PlanMeta("plan", "无锡", "江苏省", None, "city", 2024, "工作要点", "测试", "", "2024", "", "t.txt")
    plan = Plan(meta, "", [], passages, [])
    got = {theme: [(p.id, s, e) for p, s, e in hits] for theme, hits in theme_passages(plan).items()}
    assert got == _stated_by_definition(passages)
    assert list(got) == list(_stated_by_definition(passages))  # and themes in the same order


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
