"""Each plan's best hit found in batches (SearchEngine.plan_bests, TantivyIndex.tops) is, plan for plan,
what a search of that plan alone answers: the comparison across places leans on it, so it is checked
against the definition on copies that tie by the dozen, queries with compound parts, phrase bonuses,
corrections and English, and batches of a few plans."""

from __future__ import annotations

import dataclasses

import pytest

from bench.compare_bench import by_definition
from bot.digests.compare import compare
from bot.models import Plan
from bot.search import tantivy_index
from bot.search.engine import SearchEngine
from bot.search.places import plan_place, plans_for_place, resolve_place

QUERIES = ["双减", "师德师风", "课后延时服务", "推进集团化办学和县管校聘", "shuangjian", "双剑", "double reduction",
           "教育", "随迁子女", "五育", "不存在的词语", "县管校骋"]


def _copy(plan: Plan, k: int) -> Plan:
    """Copy k of `plan` under its own id, in another year; odd copies lose every third passage, so the
    copies are alike (ties) without being the same plan."""
    pid = f"{plan.plan_id}-c{k}"
    passages = [dataclasses.replace(p, id=f"{p.id}-c{k}", plan_id=pid)
                for i, p in enumerate(plan.passages) if k % 2 == 0 or i % 3]
    meta = dataclasses.replace(plan.meta, plan_id=pid, year=plan.meta.year - k)
    return Plan(meta, plan.preamble, plan.tree, passages, plan.priorities)


def _omnibus(plans: list[Plan]) -> Plan:
    """One plan holding every passage of `plans` three times: more matches than a search of one plan
    reads (FIRST_SCAN, SCAN), so its cut is exercised too."""
    first = plans[0]
    pid = "omnibus-2019"
    passages = [dataclasses.replace(p, id=f"omnibus-{r}-{i}", plan_id=pid)
                for r in range(3) for i, p in enumerate(x for plan in plans for x in plan.passages)]
    meta = dataclasses.replace(first.meta, plan_id=pid, year=2019)
    return Plan(meta, first.preamble, first.tree, passages, first.priorities)


@pytest.fixture(scope="module")
def copies(shared_corpus, tmp_path_factory):
    plans = list(shared_corpus.plans) + [_copy(p, k) for p in shared_corpus.plans for k in range(1, 5)]
    plans.append(_omnibus(list(shared_corpus.plans)))
    return plans, SearchEngine.from_plans(plans, tmp_path_factory.mktemp("copies"))


@pytest.mark.parametrize("per_query", [3, tantivy_index.PLANS_PER_QUERY])
def test_each_plans_best_is_what_a_search_of_that_plan_answers(copies, monkeypatch, per_query):
    plans, engine = copies
    monkeypatch.setattr(tantivy_index, "PLANS_PER_QUERY", per_query)
    ids = [p.plan_id for p in plans]
    matched = 0
    for query in QUERIES:
        bests = engine.plan_bests(query, ids)
        for pid in ids:
            alone = engine.search(query, plan_id=pid, limit=1)
            assert bests.result.corrected == alone.corrected, query
            if alone.hits:
                matched += 1
                assert bests.score(pid) == alone.hits[0].score, (query, pid)
                assert bests.hit(pid) == alone.hits[0], (query, pid)
            else:
                assert bests.score(pid) is None, (query, pid)
    assert matched > len(ids) * 5  # most queries find something in most plans
    assert engine.search("教育", plan_id="omnibus-2019").total > tantivy_index.FIRST_SCAN  # its cut is read


def test_plan_bests_of_some_plans_and_of_nothing(copies):
    plans, engine = copies
    some = [p.plan_id for p in plans[::7]] + ["no-such-plan"]
    bests = engine.plan_bests("双减", some)
    assert set(bests.ranked) <= set(some) - {"no-such-plan"} and bests.ranked
    assert engine.plan_bests("双减", []).ranked == {}
    empty = engine.plan_bests("  ", some)
    assert empty.result.error == "empty" and empty.result.suggestions and not empty.ranked


@pytest.mark.parametrize("query", ["双减", "师德师风", "课后延时服务", "教育"])
def test_compare_across_every_place_equals_a_search_per_plan(copies, shared_corpus, query):
    plans, engine = copies
    corpus = dataclasses.replace(shared_corpus, plans=plans)
    got = compare(engine, corpus, query)
    assert [(p.place, p.meta.plan_id, p.hit) for p in got.places] == by_definition(engine, corpus, query)
    everywhere = {plan_place(p).short for p in plans}
    assert {p.place for p in got.places} <= everywhere and (query != "双减" or len(got.places) == len(everywhere))
    wuxi = resolve_place("无锡", corpus).place
    named = compare(engine, corpus, query, [wuxi])
    assert [(p.place, p.meta.plan_id, p.hit) for p in named.places] == \
        by_definition(engine, corpus, query, [wuxi])
    assert {p.plan_id for p in plans_for_place(wuxi, corpus)} >= set(named.plan_ids)


def _brief_blocks_by_definition(engine, corpus, topic, per_place):
    """The brief's place blocks as first written: two hits of a search per plan, grouped by place, the
    distinct excerpts of each place best first."""
    from bot.digests.briefing import scope_plans

    by_place: dict[str, list] = {}
    for plan in scope_plans(corpus, None):
        for hit in engine.search(topic, plan_id=plan.plan_id, limit=2).hits:
            own = plan_place(plan)
            by_place.setdefault(own.short if own else plan.meta.city, []).append((hit.score, plan.plan_id, hit))
    blocks = []
    for label, found in by_place.items():
        found.sort(key=lambda e: -e[0])
        kept, texts = [], set()
        for score, pid, hit in found:
            if hit.excerpt not in texts:
                texts.add(hit.excerpt)
                kept.append((pid, hit.passage.id, hit.excerpt, score))
        blocks.append((label, kept[:per_place]))
    return sorted(blocks, key=lambda b: -b[1][0][3])


@pytest.mark.parametrize("topic", ["双减", "师德师风", "课后延时服务", "不存在的词语"])
def test_a_brief_across_every_place_equals_a_search_per_plan(copies, shared_corpus, topic):
    from bot.digests.briefing import MAX_PLACES, PER_PLACE, build_brief

    plans, engine = copies
    corpus = dataclasses.replace(shared_corpus, plans=plans)
    brief = build_brief(engine, corpus, topic)
    got = [(b.place, [(e.meta.plan_id, e.passage.id, e.text, e.score) for e in b.excerpts]) for b in brief.places]
    assert got == _brief_blocks_by_definition(engine, corpus, topic, PER_PLACE)[:MAX_PLACES]
    assert (brief.error == "no_match") == (not got)
    stating = {p.plan_id for p in plans if engine.search(topic, plan_id=p.plan_id, limit=1).hits}
    assert {m.plan_id for m in brief.plans} == stating
