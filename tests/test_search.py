"""Topic search pinned on the real seed plans: segmentation, ranking, snippets, filters, edge cases."""

from __future__ import annotations

import concurrent.futures

import pytest

from bot.corpus.loader import load_corpus
from bot.search.engine import MAX_QUERY_CHARS, PlanFilters, SearchEngine, snippet
from bot.search.places import covered_names, plans_for_place, resolve_place
from bot.search.tokenize import IndexTokenizer, segment_with
from bot.textnorm import normalize


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.fixture(scope="module")
def engine(corpus, tmp_path_factory):
    return SearchEngine.from_corpus(corpus, tmp_path_factory.mktemp("search"))


def ids(result):
    return [h.passage.id for h in result.hits]


def test_policy_dictionary_fixes_jieba_cuts():
    tokens = IndexTokenizer().tokens(normalize("推进集团化办学和县管校聘"))
    assert "集团化办学" in tokens and "县管校聘" in tokens
    assert "和县" not in tokens and "管校聘" not in tokens
    assert {"县管", "校聘", "团化"} <= set(tokens)  # inner bigrams for partial words


def test_query_segmenter_agrees_with_index(engine):
    idx = engine.index
    assert segment_with("推进集团化办学和县管校聘", idx.words, idx.chars) == ["推进", "集团化办学", "和", "县管校聘"]


@pytest.mark.parametrize("query", ["双减", "县管校聘", "集团化办学", "五育并举", "课后服务", "随迁子女"])
def test_policy_terms_hit_passages_containing_them(engine, query):
    result = engine.search(query)
    assert result.error is None and result.corrected is None
    assert query in result.hits[0].passage.norm


@pytest.mark.parametrize("partial,whole", [("五育", "五育并举"), ("校聘", "县管校聘")])
def test_partial_words_hit_through_bigrams(engine, partial, whole):
    result = engine.search(partial)
    assert result.total > 0
    assert any(whole in h.passage.norm for h in result.hits)


def test_traditional_query_equals_simplified(engine):
    assert ids(engine.search("雙減")) == ids(engine.search("双减"))
    assert ids(engine.search("縣管校聘")) == ids(engine.search("县管校聘"))


@pytest.mark.parametrize("typo", ["双剑", "双剪", "shuangjian", "shuang jian", "SHUANGJIAN"])
def test_homophone_and_pinyin_typos_become_shuangjian(engine, typo):
    result = engine.search(typo)
    assert result.corrected == "双减"
    assert "按「双减」搜索" in result.notice
    assert "双减" in result.hits[0].passage.norm


@pytest.mark.parametrize("typo,fixed", [("县管校骋", "县管校聘"), ("集团办学", "集团化办学"),
                                        ("课后延时服务", "课后服务")])
def test_near_phrases_are_corrected_and_said(engine, typo, fixed):
    result = engine.search(typo)
    assert result.corrected == fixed
    assert f"按「{fixed}」搜索" in result.notice
    assert fixed in result.hits[0].passage.norm


def test_absent_synonym_is_answered_with_present_one(engine):
    result = engine.search("流动人口子女")
    assert result.corrected == "随迁子女"
    assert "随迁子女" in result.hits[0].passage.norm


def test_synonyms_widen_a_known_term(engine):
    result = engine.search("减负")
    assert result.corrected is None
    assert "「双减」" in result.notice
    assert any("双减" in h.passage.norm for h in result.hits)


def test_heading_context_lifts_passages(engine):
    # 实施全面育人行动 is a heading in 无锡 2023; passages under it rank although the body rarely repeats it.
    result = engine.search("全面育人行动")
    assert result.hits and "实施全面育人行动" in result.hits[0].passage.section


def test_snippet_is_bounded_and_marked(engine):
    for hit in engine.search("课后服务", limit=10).hits:
        assert len(hit.excerpt) <= 202
        assert hit.marks
        for a, b in hit.marks:
            assert normalize(hit.excerpt[a:b]) in ("课后服务",) or len(hit.excerpt[a:b]) >= 2


def test_snippet_picks_best_sentence_with_neighbours():
    text = "甲" * 150 + "。" + "推进双减工作。" + "乙" * 150 + "。"
    excerpt, marks = snippet(text, text, ["双减"])
    assert "双减" in excerpt and len(excerpt) <= 202
    assert [excerpt[a:b] for a, b in marks] == ["双减"]


def test_snippet_prefers_the_typed_word_over_its_synonym(engine):
    top = engine.search("双减", limit=1).hits[0]
    assert "双减" in top.excerpt  # not the sentence holding only the synonym 减负增效
    long = "甲" * 150 + "。推进减负增效工作。" + "乙" * 150 + "。扎实推进双减工作。" + "丙" * 150 + "。"
    excerpt, _ = snippet(long, long, ["双减", "减负增效"], {"双减": 1.0, "减负增效": 0.4})
    assert "双减" in excerpt and "减负增效" not in excerpt


@pytest.mark.parametrize("query", ["", "   ", "！！！", "，。、", None])
def test_empty_and_punctuation_queries_get_suggestions(engine, query):
    result = engine.search(query)
    assert result.error == "empty" and not result.hits
    assert result.suggestions


def test_nonsense_gets_no_match_with_suggestions(engine):
    result = engine.search("qzxwvk")
    assert result.error == "no_match" and result.total == 0 and result.suggestions


def test_overlong_query_is_capped(engine):
    result = engine.search("双减" * 200)
    assert result.error == "too_long" and len(result.normalized) == MAX_QUERY_CHARS
    assert result.hits


def test_city_filter_includes_counties(engine):
    wuxi = engine.search("双减", city="无锡", limit=50)
    plans = {h.passage.plan_id for h in wuxi.hits}
    assert plans and plans <= {"wuxi-2023-conference", "wuxi-2020-review-plan", "jiangyin-2023-speech"}
    assert "jiangyin-2023-speech" in plans
    assert {h.passage.plan_id for h in engine.search("双减", city="江阴", limit=50).hits} == {"jiangyin-2023-speech"}
    province = {h.passage.plan_id for h in engine.search("课后服务", city="江苏", limit=50).hits}
    assert "suizhou-2023-workpoints" not in province


def test_year_and_plan_filters(engine):
    assert {h.passage.plan_id for h in engine.search("教育", year=2020, limit=50).hits} == {"wuxi-2020-review-plan"}
    only = engine.search("教育", plan_id="suzhou-2023-workpoints", limit=50)
    assert {h.passage.plan_id for h in only.hits} == {"suzhou-2023-workpoints"}
    assert engine.search("教育", city="火星").error == "unknown_city"
    assert engine.search("教育", plan_id="nope").error == "unknown_plan"


def test_json_contract(engine):
    data = engine.search("双剑", city="wuxi", limit=3).as_json()
    assert data["query"] == "双剑" and data["corrected"] == "双减"
    keys = {"plan_id", "city", "year", "title", "section", "passage_id", "text", "excerpt", "score"}
    assert data["results"] and all(keys <= set(r) for r in data["results"])
    assert all(r["excerpt"].strip("…") in r["text"] for r in data["results"])


def test_results_are_deterministic_and_paginated(engine):
    first = ids(engine.search("教育", limit=20))
    assert first == ids(engine.search("教育", limit=20))
    assert ids(engine.search("教育", limit=10, offset=10)) == first[10:20]
    scores = [h.score for h in engine.search("教育", limit=20).hits]
    assert scores == sorted(scores, reverse=True)


def test_thread_safe_concurrent_queries(engine):
    queries = ["双减", "双剑", "县管校骋", "wuxi", "集团办学"] * 8
    expected = {q: ids(engine.search(q)) for q in set(queries)}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda q: (q, ids(engine.search(q))), queries))
    assert all(expected[q] == r for q, r in got)


def test_cached_index_reloads_identically(corpus, tmp_path):
    built = SearchEngine.from_corpus(corpus, tmp_path)
    reloaded = SearchEngine.from_corpus(corpus, tmp_path)
    assert reloaded.index.n_docs == built.index.n_docs
    for q in ("双减", "县管校骋", "五育"):
        assert ids(reloaded.search(q)) == ids(built.search(q))
        assert reloaded.search(q).hits[0].passage == built.search(q).hits[0].passage


def test_popular_topics_come_from_corpus(engine, corpus):
    topics = engine.popular_topics()
    assert topics and all(any(t in p.norm for p in corpus.passages) for t in topics)


def _answers(engine, q):
    got = engine.search(q, limit=20)
    return [(h.passage, h.score, h.excerpt, h.marks) for h in got.hits], got.total, got.corrected


QUERIES = ("双减", "县管校骋", "集团办学", "推进集团化办学和县管校聘", "教育", "师德师风", "qzxwvk")


def test_reopened_index_answers_like_the_fresh_build(corpus, engine, tmp_path):
    """Another start opens the on-disk tantivy index instead of building: exactly the same answers."""
    built = SearchEngine.from_corpus(corpus, tmp_path)
    reopened = SearchEngine.from_corpus(corpus, tmp_path)
    assert reopened.index is not built.index and reopened.index.n_docs == len(corpus.passages)
    for q in QUERIES:
        assert _answers(reopened, q) == _answers(built, q) == _answers(engine, q)


def test_adding_a_plan_writes_only_that_plan_and_answers_like_a_rebuild(corpus, tmp_path):
    *older, newest = corpus.plans
    before = SearchEngine.from_plans(older, tmp_path / "live")
    after = before.updated(corpus.plans)
    rebuilt = SearchEngine.from_plans(corpus.plans, tmp_path / "fresh")
    assert after.index.searcher.num_segments == before.index.searcher.num_segments + 1
    for q in QUERIES:
        assert _answers(after, q) == _answers(rebuilt, q)
    # the old snapshot is untouched: a query in flight on it never sees the new plan
    assert newest.plan_id not in before.plans
    assert all(h.passage.plan_id != newest.plan_id for q in QUERIES for h in before.search(q, limit=50).hits)
    assert after.updated(corpus.plans) is after  # nothing changed, nothing written


def test_removing_a_plan_withdraws_exactly_its_passages(corpus, tmp_path):
    full = SearchEngine.from_plans(corpus.plans, tmp_path)
    gone = corpus.plans[0]
    shrunk = full.updated(corpus.plans[1:])
    assert shrunk.index.n_docs == len(corpus.passages) - len(gone.passages)
    assert gone.plan_id not in shrunk.plans
    rebuilt = SearchEngine.from_plans(corpus.plans[1:], tmp_path / "fresh")
    for q in QUERIES:
        assert all(h.passage.plan_id != gone.plan_id for h in shrunk.search(q, limit=50).hits)
        # the same passages answer; scores may differ a little, since tantivy's BM25 statistics count
        # deleted documents until their segment is merged
        assert {h.passage.id for h in shrunk.search(q, limit=50).hits} == \
               {h.passage.id for h in rebuilt.search(q, limit=50).hits}
    assert shrunk.search("双减", plan_id=gone.plan_id).error == "unknown_plan"


def test_a_place_filter_is_the_plans_the_place_covers(corpus):
    """The filter resolves a place over one plan per (city, province), not over every plan: what it
    keeps must still be every plan the place covers (a province its cities, a city its counties, 无锡
    twice over), and a miss must suggest the places in the corpus's order."""
    filters = PlanFilters([p.meta for p in corpus.plans])
    for name in ("江苏", "无锡", "江阴", "苏州", "随州", "湖北", "wuxi", "無錫", "随洲"):
        match = resolve_place(name, corpus)
        assert match is not None, name
        ids, suggested = filters.place(name)
        assert ids == {p.plan_id for p in plans_for_place(match.place, corpus)} and not suggested, name
    assert len(filters.place("江苏")[0]) == 4 and len(filters.place("无锡")[0]) == 3
    assert filters.place("火星") == (None, tuple(covered_names(corpus)))


def test_place_and_year_filters_asked_again_answer_the_same_and_follow_a_new_snapshot(corpus, tmp_path):
    """A place's and a year's plans are kept per snapshot (resolving a place read every plan: 1.2 s a
    search at 50,000 plans); a snapshot with a plan more must see that plan under its place and year."""
    *older, newest = corpus.plans
    before = SearchEngine.from_plans(older, tmp_path / "live")
    known = older[0].meta
    asks = [dict(city=known.city), dict(year=known.year), dict(city=known.city, year=known.year)]
    first = [[(h.passage.id, h.score) for h in before.search("教育", limit=50, **kw).hits] for kw in asks]
    again = [[(h.passage.id, h.score) for h in before.search("教育", limit=50, **kw).hits] for kw in asks]
    assert first == again and all(first)
    own = [dict(city=newest.meta.city), dict(year=newest.meta.year)]
    for kw in own:  # asked of the old snapshot first, so a kept answer would miss the new plan
        before.search("教育", limit=50, **kw)
    after = before.updated(corpus.plans)
    for kw in own:
        assert newest.plan_id in {h.passage.plan_id for h in after.search("教育", limit=50, **kw).hits}, kw
    assert before.search("教育", city="火星").error == "unknown_city"
    missed = before.search("教育", city="火星")  # the miss is kept too, with the places to suggest
    assert missed.error == "unknown_city" and missed.suggestions
