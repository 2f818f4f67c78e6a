"""Answers come from the passages stored in the index, not from parsed plans a process holds.

The index stores each passage with its document (bot.search.tantivy_index), so a snapshot opened from
disk with no plans answers exactly as one bound to the parsed corpus; and ranking reads only what it
must (fewer candidates when the top is clear, part scores only where they decide, passages best-first
until no unread one can reach the page), which must give the same answers as reading everything.
"""

from __future__ import annotations

import numpy as np
import pytest
import tantivy

from bench.relevance import JUDGMENTS, load_judgments
from bot.models import Passage, Plan, PlanMeta
from bot.search import tantivy_index
from bot.search.engine import (
    _CUTOFF,
    _PART,
    CANDIDATES,
    ORIENTATION_WEIGHT,
    PART_WEIGHT,
    PHRASE_BONUS,
    SearchEngine,
)
from bot.search.tantivy_index import PLAN_SHIFT, SCAN, TantivyIndex, decode_passage, encode_passage
from bot.textnorm import normalize


def _meta(plan_id: str) -> PlanMeta:
    return PlanMeta(plan_id, "无锡", "江苏省", None, "city", 2023, "工作要点", f"{plan_id} 标题", "教育局",
                    "2023-02-01", "example.org", f"{plan_id}.txt")


def _passage(plan_id: str, i: int, text: str, section=("一、总体要求",), orientation="forward",
             norm: str | None = None) -> Passage:
    return Passage(f"{plan_id}-p{i}", plan_id, tuple(section), text, normalize(text) if norm is None else norm,
                   orientation, f"{plan_id}-n{i}")


def _odd_plans() -> list[Plan]:
    """Passages that a careless record would not bring back: norm unlike text, no section, a deep
    section, separators and quotes in the text, empty text, full-width punctuation (norm differs) and
    plain text (norm equal)."""
    a = [
        _passage("a", 0, "全面落实“双减”政策，推进课后服务全覆盖。"),
        _passage("a", 1, "双减工作纳入督导", section=()),
        _passage("a", 2, "雙減 ESI 與 IPV6：\t\"引号\" \\ 反斜杠", section=("一、", "（二）质量", "3. 细则"),
                 orientation="backward"),
        _passage("a", 3, "text with \x1f\x1e separators", orientation="neutral", norm="另一种 norm"),
        _passage("a", 4, "", section=("空",), norm=""),
    ]
    b = [_passage("b", i, f"第{i}条：推进集团化办学和县管校聘改革。") for i in range(3)]
    return [Plan(_meta("a"), "", [], a, []), Plan(_meta("b"), "", [], b, [])]


def test_a_passage_survives_its_record():
    damaged = _passage("a", 9, "坏字符\ud800之后", norm="坏字符?之后")  # a lone surrogate from a bad source
    for passage in [p for plan in _odd_plans() for p in plan.passages] + [damaged]:
        stored = encode_passage(passage)
        assert decode_passage(stored) == passage
        assert ("norm" in stored) == (passage.norm != passage.text)


def test_stored_passages_come_back_equal_by_ord_and_by_hit(tmp_path):
    plans = _odd_plans()
    index = TantivyIndex.open(tmp_path / "idx").sync(plans)
    reopened = TantivyIndex.open(tmp_path / "idx")  # another process: nothing but the folder
    assert not reopened.bound
    seq = {p["meta"]["plan_id"]: p["seq"] for p in reopened.state.plans}
    for plan in plans:
        for i, passage in enumerate(plan.passages):
            assert reopened.passage(seq[plan.plan_id] << PLAN_SHIFT | i) == passage
            assert index.passage(seq[plan.plan_id] << PLAN_SHIFT | i) == passage
    with pytest.raises(KeyError):
        reopened.passage(99 << PLAN_SHIFT)
    everything = reopened.searcher.search(tantivy.Query.all_query(), limit=100, count=False).hits
    assert len(everything) == sum(len(p.passages) for p in plans)
    for _, address in everything:  # the bytes ranking tests phrases in are the passage's norm
        assert reopened.norm_bytes(address).decode() == reopened.passage_at(address).norm
    engine = SearchEngine(reopened)
    hits = engine.search("双减").hits
    assert {h.passage.id for h in hits} >= {"a-p0", "a-p1"}
    assert all(h.passage == next(p for p in plans[0].passages if p.id == h.passage.id) for h in hits)


def test_a_removed_plan_leaves_no_stored_passage(tmp_path):
    plans = _odd_plans()
    index = TantivyIndex.open(tmp_path / "idx").sync(plans)
    after = index.sync(plans[1:])
    engine = SearchEngine(TantivyIndex.open(tmp_path / "idx"))
    assert after.n_docs == len(plans[1].passages)
    assert not any(h.passage.plan_id == "a" for h in engine.search("双减").hits)
    assert {h.passage.plan_id for h in engine.search("县管校聘").hits} == {"b"}


def _queries() -> list[str]:
    _, judged = load_judgments(JUDGMENTS / "seeds.json")
    return list(dict.fromkeys(j.query for j in judged))


@pytest.fixture(scope="module")
def seed_engines(shared_corpus, tmp_path_factory):
    folder = tmp_path_factory.mktemp("store")
    bound = SearchEngine.from_corpus(shared_corpus, folder)
    unbound = SearchEngine(TantivyIndex.open(bound.index.directory))
    return bound, unbound


def test_an_unbound_snapshot_answers_as_a_bound_one(seed_engines, shared_corpus):
    bound, unbound = seed_engines
    assert bound.index.bound and not unbound.index.bound
    for query in _queries() + ["县管校骋", "师德师风", "qzxwvk"]:
        for kwargs in ({}, {"city": "无锡"}, {"limit": 5, "offset": 5}):
            assert unbound.search(query, **kwargs).as_json() == bound.search(query, **kwargs).as_json(), query
    assert unbound.plans_matching("双减") == bound.plans_matching("双减")
    passages = {p.id: p for p in shared_corpus.passages}
    for hit in unbound.search("课后服务", limit=50).hits:
        assert hit.passage == passages[hit.passage.id]


def _reference_rank(index: TantivyIndex, terms, phrases, allowed, k):
    """Ranking as it was before reads were cut down: SCAN candidates for the whole query and SCAN for
    the compound's parts (a second full search), every one of the top candidates read and rescored."""
    parts = [(t, w) for t, w in terms if w == PART_WEIGHT]
    query = index._query(terms, allowed) if terms else None
    hits = index.searcher.search(query, limit=SCAN, count=False).hits if query is not None else []
    if not hits:
        return [], 0
    part_scores = None
    if parts:
        found = {index._key(a): s for s, a in index.searcher.search(index._query(parts, allowed), limit=SCAN,
                                                                    count=False).hits}
        part_scores = np.array([found.get(index._key(a), 0.0) for _, a in hits], dtype=np.float32)
    scores = np.array([s for s, _ in hits], dtype=np.float32)
    chosen = sorted((h for h, ok in zip(hits, _CUTOFF.keep(scores, part_scores), strict=True) if ok),
                    key=lambda h: -h[0])
    need = max(k, CANDIDATES)
    end = min(need, len(chosen))
    while 0 < end < len(chosen) and chosen[end][0] == chosen[end - 1][0]:
        end += 1
    cands = []
    for s, a in chosen[:end]:
        cands.append((s, int(index.searcher.fast_field_values("ord", [a])[0]), index.passage_at(a)))
    cands.sort(key=lambda c: (-c[0], c[1]))
    bonus = bool(phrases) and len(terms) > 1
    rescored = []
    for score, ord_, passage in cands[:need]:
        score *= ORIENTATION_WEIGHT[("forward", "backward", "neutral").index(passage.orientation)]
        if bonus:
            score *= 1.0 + PHRASE_BONUS * (sum(1 for p in phrases if p in passage.norm) / len(phrases))
        rescored.append((passage.id, round(score, 5), ord_))
    rescored.sort(key=lambda r: (-r[1], r[2]))
    return [(pid, score) for pid, score, _ in rescored[:k]], len(chosen)


@pytest.mark.parametrize("first_scan", [tantivy_index.FIRST_SCAN, 3])
def test_ranking_reads_less_but_answers_as_reading_everything(seed_engines, monkeypatch, first_scan):
    """Every judged query (compounds among them: 师德师风, 集团化办学 …), with and without a filter and
    for two page depths: the same passages, scores and total as the two-search, read-all ranking."""
    monkeypatch.setattr(tantivy_index, "FIRST_SCAN", first_scan)
    engine = seed_engines[0]
    compounds = absent = 0
    for query in _queries() + ["师德师风", "集团化办学", "推进集团化办学和县管校聘", "教师队伍建设", "双减和县管校聘"]:
        norm = normalize(query)
        english = engine._english(norm)
        parts = [p for zh in english.terms for p in _PART.findall(zh)] + list(english.rest) if english \
            else _PART.findall(norm)
        plan = engine._plan(engine._join_pinyin(parts))
        compounds += any(w == PART_WEIGHT for _, w in plan.terms)
        absent += bool(plan.absent)
        for allowed in (None, {m.plan_id for m in engine.index.plans if m.city == "无锡"}):
            for k in (10, 60):
                ranked, total = engine._rank(plan.terms, plan.phrases, allowed, k, plan.absent)
                ids = [engine.index.passage_at(r.cand.address).id for r in ranked]
                want, want_total = _reference_rank(engine.index, plan.terms, plan.phrases, allowed, k)
                assert (ids, total) == ([pid for pid, _ in want], want_total), query
                # tantivy may sum a document's term scores in another order for another top-k size
                assert [r.score for r in ranked] == pytest.approx([s for _, s in want], rel=1e-5, abs=2e-5), query
    assert compounds >= 3  # the set does exercise compound parts
    assert absent >= 1  # ... and a typed phrase no passage holds (its bonus reads nothing)


def test_an_upgrade_removes_the_older_format_index(tmp_path):
    """A FORMAT bump builds a new folder; the old one (a stale copy of the corpus) goes, a newer one stays."""
    from bot.search.engine import index_dir
    from bot.search.tantivy_index import FORMAT

    old = tmp_path / f"tantivy-v{FORMAT - 1}"
    (old / "segment").mkdir(parents=True)
    (old / "segment" / "x.store").write_bytes(b"old")
    (tmp_path / f"tantivy-v{FORMAT - 1}.lock").write_bytes(b"")
    newer = tmp_path / f"tantivy-v{FORMAT + 1}"
    newer.mkdir()
    engine = SearchEngine.from_plans(_odd_plans(), tmp_path)
    assert engine.search("县管校聘").hits
    assert not old.exists() and not (tmp_path / f"tantivy-v{FORMAT - 1}.lock").exists()
    assert newer.exists() and index_dir(tmp_path).is_dir()


def test_phrase_counts_match_a_scan_of_every_passage(seed_engines, shared_corpus):
    """Every bigram of a passage's clause is indexed as a word or a clause term, so the conjunction of
    a phrase's bigrams finds every passage holding it: on the seeds (fewer passages than PHRASE_SCAN)
    the count equals a scan of all passages, for phrases cut from the text and for typed queries."""
    unbound = seed_engines[1].index
    norms = [p.norm for p in shared_corpus.passages]
    phrases = set()
    for i, norm in enumerate(norms[::7]):
        for size in (2, 3, 5):
            window = norm[(i * 13) % max(1, len(norm) - size):][:size]
            if len(window) == size and all("\u4e00" <= c <= "\u9fff" for c in window):
                phrases.add(window)
    phrases |= {"县管校聘", "县管校骋", "集团化办学", "集团办学", "课后服务", "课后延时服务", "量自己算"}
    assert len(phrases) > 40
    for phrase in sorted(phrases):
        want = sum(phrase in n for n in norms)
        assert unbound.phrase_count(phrase) == want, phrase
        assert unbound.phrase_present(phrase) == (want > 0), phrase
        assert unbound.phrase_count(phrase, stop=2) == min(2, want), phrase
        # absence is proven only when true; here (fewer than PHRASE_SCAN candidates) always when true
        assert unbound.phrase_absent(phrase) == (want == 0), phrase


def test_a_query_plan_is_kept_per_snapshot_and_never_outlives_it(tmp_path):
    """Plans are cached per engine: asking again answers the same from the same plan, and a plan added
    later (a new engine from `updated`) is searched with its own words, not the old snapshot's plan
    that did not know them. A rebuild after damage empties the cache of the index it replaced."""
    plans = _odd_plans()
    engine = SearchEngine.from_plans(plans, tmp_path)
    before = engine.search("航天科普基地")
    assert not before.hits and before.unknown == ["航天科普基地"]
    parts = _PART.findall(normalize("推进集团化办学"))
    assert engine._plan(parts) is engine._plan(parts)
    assert engine.search("推进集团化办学").as_json() == engine.search("推进集团化办学").as_json()

    space = Plan(_meta("c"), "", [], [_passage("c", 0, "建设青少年航天科普基地，推进集团化办学。")], [])
    newer = engine.updated([*plans, space])
    assert newer is not engine
    after = newer.search("航天科普基地")
    assert [h.passage.plan_id for h in after.hits] == ["c"] and not after.unknown
    assert not engine.search("航天科普基地").hits  # the old snapshot still answers as it did

    assert newer._plans
    assert newer._recover(ValueError("damaged"), newer.index)
    assert not newer._plans
    assert [h.passage.plan_id for h in newer.search("航天科普基地").hits] == ["c"]


def test_ties_by_the_hundred_rank_as_reading_everything(tmp_path):
    """Copies of one passage (a national corpus repeats itself) tie on score: the page takes the lowest
    corpus positions, whether ranking reads every tied candidate or skips those that can at best tie
    the k-th; orientation and a passage without the phrase still reorder them."""
    plans = []
    for p in range(30):
        texts = ["推进双减工作，规范校外培训。", "双减工作纳入督导考核。", "落实双减，工作专班每月调度。"]
        passages = [_passage(f"p{p:02d}", i, text, orientation=("forward", "backward", "neutral")[(p + i) % 3])
                    for i, text in enumerate(texts)]
        plans.append(Plan(_meta(f"p{p:02d}"), "", [], passages, []))
    engine = SearchEngine.from_plans(plans, tmp_path)
    plan = engine._plan(["双减工作"])
    assert plan.phrases and len(plan.terms) > 1  # the phrase bonus path, where reading is cut short
    for allowed in (None, {f"p{p:02d}" for p in range(0, 30, 2)}):
        for k in (1, 10, 45):
            ranked, total = engine._rank(plan.terms, plan.phrases, allowed, k)
            want, want_total = _reference_rank(engine.index, plan.terms, plan.phrases, allowed, k)
            ids = [engine.index.passage_at(r.cand.address).id for r in ranked]
            assert (ids, total) == ([pid for pid, _ in want], want_total), (allowed, k)
            assert [r.score for r in ranked] == pytest.approx([s for _, s in want], rel=1e-5, abs=2e-5)
