"""Topic search: the one entry point the bot and the CLI call (`SearchEngine.search`).

A query goes: normalise (same `normalize` as the corpus) → an all-Latin query read through the English
glossary (bot.search.glossary) → split into parts → correct each part against the corpus vocabulary
(bot.search.fuzzy), unless the corpus holds it verbatim → weigh its terms (typed words, compound parts,
clause-bigram fragments) → BM25 top-k on tantivy (bot.search.tantivy_index) → relative cutoff,
orientation weight and phrase bonus on the top candidates → snippet with marked words. The index holds
the tokens and stores the passages, so an answer reads only its hits' documents (no parsed corpus in
memory), a reload re-segments only changed plans, and queries never load jieba (only a plan being added
does). Ranking reads as little as it can: FIRST_SCAN candidates when the top is clear, the compound's
part scores only where they decide the cutoff, passages for the phrase bonus best-first until no unread
one can reach the page, snippets for the page shown. An engine is one snapshot:
its methods are read-only, so the bot calls them from worker threads (asyncio.to_thread) concurrently,
and `updated` hands back a new engine for the next snapshot.
"""

from __future__ import annotations

import bisect
import logging
import re
import shutil
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

from bot.models import Hit, Passage, Plan, PlanMeta
from bot.search.fuzzy import Lexicon
from bot.search.glossary import Translation, load_glossary
from bot.search.paths import cache_root
from bot.search.tantivy_index import FORMAT, PHRASE_SCAN, Candidate, IndexBusy, IndexUnusable, TantivyIndex
from bot.search.tokenize import CLAUSE, clause_terms, expand_word, is_cjk, query_terms, segment_with
from bot.textnorm import normalize

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 64
MAX_LIMIT = 50
PLACE_CACHE = 256  # place names (and years) whose plans a filtered search keeps (PlanFilters)
CANDIDATES = 40
PLAN_CACHE = 512  # query plans kept per engine (a few KB each)
PHRASE_BONUS = 0.25
RELATIVE_CUTOFF = 0.2
# Readers ask what a city *plans*; at equal relevance a task outranks last year's review.
ORIENTATION_WEIGHT = (1.0, 0.8, 0.9)  # forward, backward, neutral (indexes of _ORIENT)
SYNONYM_BOOST = 0.4
# A compound's parts (师德师风 → 师德, 师风) are evidence, not the thing asked: they may find a passage
# but rank it below one holding the whole term.
PART_WEIGHT = 0.5
# Clause-field bigrams that are fragments of a longer typed word (课后服务 → ~后服): enough to find a
# passage the segmenter cut differently, too little to outrank the word itself.
CLAUSE_WEIGHT = 0.3
# A part in more than this share of passages (服务, 教育, 建设) is a common bigram, not a concept, and is
# searched only as a fragment.
SPECIFIC_SHARE = 0.05
# A correction must find this many times more passages than the words as typed (which, for the
# corrections offered, is almost always none), or the typed words stand.
CORRECTION_ADVANTAGE = 5
SUGGESTIONS = 3
EXCERPT_MAX = 200
EXCERPT_TARGET = 120
_PART = re.compile(r"[\u3400-\u9fff]+|[0-9a-z]+(?:[.+][0-9a-z]+)*")
_ENDS = "。；！？;!?\n"  # what ends a sentence (as bot.search.tokenize cuts them)
_ORIENT = ("forward", "backward", "neutral")
_JOINERS = frozenset("和与及或并的之等在对把将")


def _occurrences(text: str, word: str) -> list[int]:
    out, start = [], text.find(word)
    while start >= 0:
        out.append(start)
        start = text.find(word, start + 1)
    return out


@dataclass
class SearchResult:
    query: str
    normalized: str
    corrected: str | None = None
    notice: str | None = None
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    suggestions: list[str] = field(default_factory=list)
    error: str | None = None  # "empty" | "too_long" | "no_match" | "unknown_city" | "unknown_plan"
    plans: Mapping[str, PlanMeta] = field(default_factory=dict, repr=False)
    translated: list[tuple[str, str]] = field(default_factory=list)  # (English as read, Chinese searched)
    unknown: list[str] = field(default_factory=list)  # typed words no plan contains and nothing corrects

    def as_json(self) -> dict:
        """The `planbrief search --json` contract (add keys, never rename)."""
        results = []
        for hit in self.hits:
            meta = self.plans.get(hit.passage.plan_id)
            results.append({
                "plan_id": hit.passage.plan_id,
                "city": meta.city if meta else None,
                "year": meta.year if meta else None,
                "title": meta.title if meta else None,
                "section": list(hit.passage.section),
                "passage_id": hit.passage.id,
                "text": hit.passage.text,
                "excerpt": hit.excerpt,
                "marks": [list(m) for m in hit.marks],
                "score": round(float(hit.score), 4),
                "glossary": [{"zh": zh, "en": en} for zh, en in hit.glossary],
            })
        return {"query": self.query, "corrected": self.corrected, "notice": self.notice,
                "error": self.error, "total": self.total, "suggestions": self.suggestions, "results": results,
                "translated": [{"en": en, "zh": zh} for en, zh in self.translated],
                "unknown": list(self.unknown)}


@dataclass
class PlanBests:
    """`SearchEngine.plan_bests`: the query as read (`result`: normalized, corrected, notice, error,
    suggestions; no hits) and each matching plan's best candidates, made Hits when asked."""

    result: SearchResult
    ranked: dict[str, list[Ranked]] = field(default_factory=dict)
    make: Callable[[Ranked], Hit] | None = None

    def score(self, plan_id: str) -> float | None:
        """The plan's best final score, None when the plan has no match."""
        found = self.ranked.get(plan_id)
        return None if not found else found[0].score

    def scores(self, plan_id: str) -> list[float]:
        """The final scores of the plan's best hits, best first ([] when it has no match)."""
        return [r.score for r in self.ranked.get(plan_id, ())]

    def hit(self, plan_id: str, rank: int = 0) -> Hit:
        """The plan's `rank`-th best hit (0: its best), read and cut into an excerpt now."""
        return self.make(self.ranked[plan_id][rank])


def index_dir(cache_dir: Path | str | None) -> Path:
    return cache_root(cache_dir) / f"tantivy-v{FORMAT}"


def _sync_lock(directory: Path):
    """One process at a time creates or changes the index folder (tantivy allows one writer)."""
    from filelock import FileLock  # here: a start that only reads takes no lock and need not import it

    directory.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(directory) + ".lock")


def _drop_older_formats(directory: Path) -> None:
    """An index of an older FORMAT beside the current one is never read again: remove it (and its
    lock file), so an upgrade leaves no stale copy of the corpus on disk. A newer one is left alone."""
    for other in directory.parent.glob("tantivy-v*"):
        version = other.name.removeprefix("tantivy-v").removesuffix(".lock")
        if version.isdigit() and int(version) < FORMAT:
            if other.is_dir() and not other.is_symlink():
                shutil.rmtree(other, ignore_errors=True)
            else:
                other.unlink(missing_ok=True)


@contextmanager
def _index_lock(directory: Path):
    """`_sync_lock`, with a location that cannot hold the lock (or the index) said in one line."""
    try:
        lock = _sync_lock(directory)
        lock.acquire()
    except OSError as exc:
        raise IndexUnusable(f"搜索索引目录不可用：{directory.parent}（{exc.strerror or type(exc).__name__}）；"
                            "请检查 PLANBRIEF_DATA_DIR") from exc
    try:
        yield
    finally:
        lock.release()


# What a damaged index raises from tantivy (ValueError, RuntimeError), or from a document pointing at
# a plan or passage that is not there (KeyError, IndexError), or from its files (OSError).
INDEX_DAMAGE = (ValueError, RuntimeError, KeyError, IndexError, OSError)


def _why(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


class SearchEngine:
    """Query planning, ranking and snippets over one snapshot of the tantivy index."""

    def __init__(self, index: TantivyIndex, plans: Mapping[str, PlanMeta] | None = None,
                 corpus_plans: Callable[[], list[Plan]] | None = None) -> None:
        """`plans` (default: every plan the index holds) answers a hit's citation fields;
        `corpus_plans` gives the plans to rebuild a damaged index from when it holds none."""
        self.index = index
        self.plans = plans if plans is not None else {m.plan_id: m for m in index.plans}
        self._corpus_plans = corpus_plans
        self._lexicon: Lexicon | None = None
        self._lock = threading.Lock()
        self._plans: OrderedDict[tuple, QueryPlan] = OrderedDict()  # see `_plan`
        self._filters: PlanFilters | None = None  # for the index's list of plans: see `_filter`
        # The query segmenter's dictionary total, summed once rather than at every query part.
        self._seg_total = sum(index.words.values()) + sum(index.chars.values())

    # -- construction and updates

    @classmethod
    def from_corpus(cls, corpus, cache_dir: Path | str | None = None) -> SearchEngine:
        """The index in the cache folder brought up to `corpus`: only changed plans are (re)indexed."""
        return cls.from_plans(corpus.plans, cache_dir)

    @classmethod
    def from_passages(cls, passages: list[Passage], plans: list[PlanMeta], fingerprint: str = "",
                      cache_dir: Path | str | None = None) -> SearchEngine:
        """Passages with their plans' metadata (tests, benchmarks): grouped into plans and indexed.
        `fingerprint` is accepted for old callers; each plan's own content hash keys the index now."""
        by_plan: dict[str, list[Passage]] = {m.plan_id: [] for m in plans}
        for passage in passages:
            by_plan[passage.plan_id].append(passage)
        return cls.from_plans([Plan(m, "", [], by_plan[m.plan_id], []) for m in plans], cache_dir)

    @classmethod
    def from_plans(cls, plans: list[Plan], cache_dir: Path | str | None = None) -> SearchEngine:
        directory = index_dir(cache_dir)
        with _index_lock(directory):
            try:
                engine = cls(TantivyIndex.open(directory).sync(plans))
            except (IndexBusy, IndexUnusable):
                raise
            except INDEX_DAMAGE as exc:
                log.warning("search index %s is damaged (%s); rebuilding it from the corpus", directory, _why(exc))
                engine = cls(TantivyIndex.rebuild(directory, plans))
        _drop_older_formats(directory)
        return engine

    @staticmethod
    def index_added(plans: list[Plan], cache_dir: Path | str | None = None) -> bool:
        """Put plans just added into the index on disk, touching no other plan (`planbrief add`); False
        when there is no index yet (the first search builds it whole). A damaged index is left for the
        next search, which rebuilds it from the corpus."""
        from bot.search.tantivy_index import STATE

        directory = index_dir(cache_dir)
        if not (directory / STATE).exists():
            return False
        with _index_lock(directory):
            TantivyIndex.open_for_add(directory).add(plans)
        return True

    def updated(self, plans: list[Plan]) -> SearchEngine:
        """This engine with `plans` applied to the live index (self when nothing changed).

        Only the plans added, changed or removed are written; this engine keeps its searcher, so a
        query in flight on it finishes on the old snapshot.
        """
        if self.index.directory is None:
            index = self.index.sync(plans)
        else:
            index = self._locked(lambda: self.index.sync(plans), plans)
        return self if index is self.index else SearchEngine(index)

    def _locked(self, write: Callable[[], TantivyIndex], plans: list[Plan]) -> TantivyIndex:
        """`write` under the index folder's lock; an index found damaged meanwhile is rebuilt from
        `plans` (one WARNING line), since it is only a cache of the corpus."""
        with _index_lock(self.index.directory):
            try:
                return write()
            except (IndexBusy, IndexUnusable):
                raise
            except INDEX_DAMAGE as exc:
                log.warning("search index %s is damaged (%s); rebuilding it from the corpus",
                            self.index.directory, _why(exc))
                return TantivyIndex.rebuild(self.index.directory, plans)

    def applied(self, added: list[Plan], removed: list[str], plans: list[Plan]) -> SearchEngine:
        """This engine with only `added` (new or changed) and `removed` plans written to the live index,
        when the caller knows what changed (the running bot's refresh): no other plan is hashed or
        diffed. `plans` is the whole corpus after the change; it is synced whole, as `updated` does,
        when another process wrote the index since this snapshot (or it turns out damaged)."""
        if not added and not removed:
            return self

        def write() -> TantivyIndex:
            index = self.index.applied(added, removed, plans)
            if index is not None:
                in_place.append(index)
            if index is None and not removed:  # another process indexed them already (`planbrief add`)
                index = self.index.adopted(added, plans)
            return index if index is not None else self.index.sync(plans)

        in_place: list[TantivyIndex] = []
        if self.index.directory is None:
            return self._changed(write(), in_place, added, removed)
        index = self._locked(write, plans)
        return self if index is self.index else self._changed(index, in_place, added, removed)

    def _changed(self, index: TantivyIndex, in_place: list[TantivyIndex], added: list[Plan],
                 removed: list[str]) -> SearchEngine:
        """The engine over `index`; when it is this one's with only `added` and `removed` applied in
        place, its plans' metadata is this engine's with those changed, not all read again."""
        if not in_place or in_place[0] is not index or not isinstance(self.plans, dict):
            return SearchEngine(index)
        metas = dict(self.plans)
        for plan_id in [*removed, *(p.plan_id for p in added)]:
            metas.pop(plan_id, None)
        metas.update((p.plan_id, p.meta) for p in added)
        return SearchEngine(index, metas)

    def _recover(self, exc: Exception, broken: TantivyIndex) -> bool:
        """A search failed inside the index: say so once, rebuild it from the plans this snapshot
        holds, and swap it in; False when there is nothing to rebuild from (then the error stands)."""
        if broken.directory is None or (broken.index_plans is None and self._corpus_plans is None):
            return False
        with self._lock:
            if self.index is not broken:  # another thread already rebuilt it
                return True
            log.warning("search index %s is damaged (%s); rebuilding it from the corpus", broken.directory,
                        _why(exc))
            plans = broken.index_plans if broken.index_plans is not None else self._corpus_plans()
            with _index_lock(broken.directory):
                self.index = TantivyIndex.rebuild(broken.directory, plans)
            if not isinstance(self.plans, dict):  # metadata read on demand: from the rebuilt index now
                self.plans = {m.plan_id: m for m in self.index.plans}
            self._seg_total = sum(self.index.words.values()) + sum(self.index.chars.values())
            self._plans.clear()
        return True

    @property
    def lexicon(self) -> Lexicon:
        with self._lock:
            if self._lexicon is None:
                words = self.index.words
                df = {w: self.index.df(w) for w in words}
                self._lexicon = Lexicon(words, df, self.index.meta.get("pinyin", {}))
        return self._lexicon

    # -- public API

    def popular_topics(self, limit: int = 8) -> list[str]:
        """Curated policy terms the corpus mentions most (in the most passages), for empty queries."""
        lex = self.lexicon
        return sorted(lex.policy, key=lambda w: (-lex.df[w], w))[:limit]

    def plans_matching(self, query: str) -> set[str]:
        """The plans a search for `query` answers from (its hits above the cutoff, across all plans):
        a topic's scope, so 攀登计划 covers the plans that hold it, not those sharing 计划."""
        index = self.index
        try:
            result = self._search(query, None, None, None, MAX_LIMIT, 0, snippets=False)
        except INDEX_DAMAGE as exc:
            if not self._recover(exc, index):
                raise
            result = self._search(query, None, None, None, MAX_LIMIT, 0, snippets=False)
        return {h.passage.plan_id for h in result.hits}

    def search(self, query: str | None, city: str | None = None, year: int | None = None,
               plan_id: str | None = None, limit: int = 10, offset: int = 0) -> SearchResult:
        """Ranked passages for `query`. A damaged index (files deleted or flipped under a running
        bot) is rebuilt once, with one WARNING line, and the query answered from the new one."""
        index = self.index
        try:
            return self._search(query, city, year, plan_id, limit, offset)
        except INDEX_DAMAGE as exc:
            if not self._recover(exc, index):
                raise
        return self._search(query, city, year, plan_id, limit, offset)

    def _search(self, query: str | None, city: str | None, year: int | None, plan_id: str | None, limit: int,
                offset: int, snippets: bool = True) -> SearchResult:
        result, parts, english = self._reading(query)
        if not parts:
            return result
        allowed = self._filter(result, city, year, plan_id)
        if result.error in ("unknown_city", "unknown_plan"):
            return result
        plan = self._planned(result, parts, english)
        limit = max(1, min(int(limit or 10), MAX_LIMIT))
        offset = max(0, int(offset or 0))
        ranked, total = self._rank(plan.terms, plan.phrases, allowed, offset + limit, plan.absent)
        result.total = total
        page = ranked[offset:offset + limit]
        if page:
            result.hits.extend(map(self._hit_maker(plan, snippets), page))
        if not total:
            result.error = result.error or "no_match"
            result.suggestions = self._suggest([*plan.phrases, *plan.unknown])
        return result

    def _reading(self, query: str | None) -> tuple[SearchResult, tuple[str, ...], Translation | None]:
        """The query as typed → the result that will carry it, its parts and its English reading; no parts
        means the answer is already there (error "empty", popular topics suggested)."""
        raw = (query or "").strip()
        result = SearchResult(query=raw, normalized="", plans=self.plans)
        if len(raw) > MAX_QUERY_CHARS:
            raw = raw[:MAX_QUERY_CHARS]
            result.error = "too_long"
            result.notice = f"查询过长，只按前{MAX_QUERY_CHARS}个字搜索"
        result.normalized, parts, english = _read_query(raw)
        if not parts:
            result.error = "empty"
            result.suggestions = self.popular_topics()
        return result, parts, english

    def _planned(self, result: SearchResult, parts, english: Translation | None) -> QueryPlan:
        """The query plan for these parts (English read as the Chinese it names), explained on `result`."""
        if english:
            parts = [p for zh in english.terms for p in _PART.findall(zh)] + list(english.rest)
            result.translated = list(english.matches)
        plan = self._plan(parts, report_unknown=not english)
        result.unknown = list(plan.unknown)
        self._explain(result, plan)
        return plan

    def _hit_maker(self, plan: QueryPlan, snippets: bool = True) -> Callable[[Ranked], Hit]:
        """What turns a ranked candidate into a Hit as a reader sees it (passage, excerpt, marks,
        glossary); what every hit of one query shares is worked out once."""
        weights = dict(plan.terms)
        terms = list(weights)
        marking = list(plan.marking)
        glossed = list(plan.glossed)
        glossary = load_glossary()
        passage_at = self.index.passage_at

        def hit(r: Ranked) -> Hit:
            passage = passage_at(r.cand.address, r.doc)
            if not snippets:
                return Hit(passage, r.score, "")
            excerpt, marks = snippet(passage.text, passage.norm, terms, weights, marking)
            return Hit(passage, r.score, excerpt, marks, glossary.gloss(glossed, passage.norm) if glossed else ())

        return hit

    def plan_bests(self, query: str | None, plan_ids: list[str], k: int = 1) -> PlanBests:
        """Each plan's best `k` hits for `query`: what `search(query, plan_id=p, limit=k)` answers for every
        p of `plan_ids`, found batch by batch (TantivyIndex.tops) instead of a search per plan, so a
        comparison or a brief across a national corpus's places costs a few queries. Only the hits a
        caller takes are made (`PlanBests.hit`): an excerpt per place, not per plan. A damaged index is
        rebuilt once, as for `search`."""
        index = self.index
        try:
            return self._plan_bests(query, plan_ids, k)
        except INDEX_DAMAGE as exc:
            if not self._recover(exc, index):
                raise
        return self._plan_bests(query, plan_ids, k)

    def _plan_bests(self, query: str | None, plan_ids: list[str], k: int) -> PlanBests:
        result, parts, english = self._reading(query)
        if not parts:
            return PlanBests(result)
        plan = self._planned(result, parts, english)
        first, rest = _split(plan.terms)
        k = max(1, min(int(k or 1), MAX_LIMIT))
        ranked = {}
        for plan_id, found, total in self.index.tops(first, rest, plan_ids, _CUTOFF, max(k, CANDIDATES)):
            best, _ = self._order(found, total, plan.terms, plan.phrases, k, plan.absent)
            if best:  # without the documents ranking may have read: one per plan of a national corpus adds up
                ranked[plan_id] = [Ranked(r.cand, r.score) for r in best]
        return PlanBests(result, ranked, self._hit_maker(plan))

    # -- query planning

    def _plan(self, parts: list[str], report_unknown: bool = True) -> QueryPlan:
        """The plan for these query parts (pinyin syllables typed apart joined first), from this engine's cache when it was made before.

        Planning (corrections, fuzzy steps, phrase counts, compound parts) depends only on the parts
        and on this snapshot's index, and readers repeat themselves (the popular topics, the next
        page of the same answer), so a plan is kept per engine: an add or remove makes a new engine
        (`updated`) and so a fresh cache, and `_recover` clears it when it swaps the index.
        """
        key = (tuple(parts), report_unknown)
        with self._lock:
            plan = self._plans.get(key)
            if plan is not None:
                self._plans.move_to_end(key)
                return plan
        index = self.index
        plan = self._make_plan(self._join_pinyin(parts), report_unknown)
        with self._lock:
            if self.index is index:  # not planned against an index `_recover` has since replaced
                self._plans[key] = plan
                if len(self._plans) > PLAN_CACHE:
                    self._plans.popitem(last=False)
        return plan

    def _make_plan(self, parts: list[str], report_unknown: bool = True) -> QueryPlan:
        idx = self.index
        terms: dict[str, float] = {}
        final_parts, corrections, expansions, unknown = [], [], [], []
        for part in parts:
            fixed, kind = self._correct(part)
            if kind and not self._credible(part, fixed):
                fixed, kind = part, None
            if kind is None and self._unknown(part):
                # Searching the pieces of a word no plan holds (基因 of 基因编辑) would answer a question
                # nobody asked: the part finds nothing, and the reader is told so.
                if report_unknown:
                    unknown.append(part)
                continue
            final_parts.append(fixed)
            if kind:
                corrections.append((part, fixed, kind))
            for term, weight in self._weighted_terms(fixed):
                terms[term] = max(terms.get(term, 0.0), weight)
            for syn in self._synonyms(fixed):
                expansions.append(syn)
                terms.setdefault(syn, SYNONYM_BOOST)
        phrases = [p for p in final_parts if len(p) >= 2]
        ordered = sorted(terms.items(), key=lambda tw: (-len(tw[0]), tw[0]))
        searched = tuple((t, w) for t, w in ordered if t in idx.vocab)
        # a phrase no passage holds adds no bonus anywhere: ranking need not read candidates to find it
        absent = tuple(p for p in phrases if idx.phrase_absent(p)) if len(searched) > 1 else ()
        # what every page of this plan needs: the marking order, and the glossary entries among its words
        words = [t for t, _ in searched]
        by_zh = load_glossary().by_zh
        glossed = tuple(t for t in dict.fromkeys([*final_parts, *(t.removeprefix(CLAUSE) for t in words)])
                        if t in by_zh)
        return QueryPlan(tuple(final_parts), searched, tuple(phrases), tuple(corrections), tuple(expansions),
                         tuple(unknown), absent, tuple(marking_order(words)), glossed)

    def _credible(self, typed: str, fixed: str) -> bool:
        """A correction stands only when it names a term the plans hold and finds far more than the
        words typed: 县管校骋 → 县管校聘 does, 量子计算 → 量自己算 (a homophone window, no term) does not."""
        lex = self.lexicon
        if not (lex.known(fixed) or fixed in lex.policy_set or self._phrase_present(fixed)):
            return False
        # Counting stops as soon as the answer is known: each count reads the passages it checks.
        if is_cjk(typed[0]) and len(typed) >= 2:
            as_typed = self.index.phrase_count(typed, stop=PHRASE_SCAN // CORRECTION_ADVANTAGE + 1)
        else:
            as_typed = self.index.df(typed)
        need = max(1, as_typed * CORRECTION_ADVANTAGE)
        found = self.index.phrase_count(fixed, stop=need) if is_cjk(fixed[0]) else self.index.df(fixed)
        return found >= need

    def _unknown(self, part: str) -> bool:
        """No plan holds this word as typed, nor all of its pieces (a stray character of a typo that
        nothing corrected counts against it)."""
        if part in self.index.vocab or self.lexicon.known(part):
            return False
        if not is_cjk(part[0]):
            return True
        if len(part) >= 2 and self._phrase_present(part):
            return False
        words = [t for t in self._terms(part) if len(t) >= 2]
        covered = {i for w in words for s in _occurrences(part, w) for i in range(s, s + len(w))}
        # 引力波 is 引力 (of 吸引力) plus 波: a character no searched word explains means the plans do
        # not hold what was asked. Joining characters (双减和课后服务) explain nothing and need not; one
        # stray character beside a policy term is a reader still typing (双减无 → 无锡), not a new subject.
        loose = [i for i, ch in enumerate(part) if i not in covered and ch not in _JOINERS]
        if len(loose) == 1 and any(w in self.lexicon.policy_set for w in words):
            return False
        return not words or bool(loose)

    @staticmethod
    def _english(normalized: str) -> Translation | None:
        """An all-Latin query read through the glossary (double reduction → 双减); pinyin finds no entry
        there and goes on to the homophone step as before."""
        if not normalized.isascii():
            return None
        return load_glossary().translate(normalized)

    def _join_pinyin(self, parts: list[str]) -> list[str]:
        """Syllables typed apart (shuang jian) are one word when joined they read as one."""
        if len(parts) > 1 and all(p.isascii() and p.isalpha() and p not in self.index.vocab for p in parts):
            joined = "".join(parts)
            if self.lexicon.homophone(joined):
                return [joined]
        return parts

    def _synonyms(self, part: str) -> list[str]:
        """Other names of a term the corpus uses, searched whole (their fragments would be noise)."""
        if part not in self.index.vocab:
            return []
        return [s for s in self.lexicon.synonyms(part) if part not in s and s in self.index.vocab]

    def _weighted_terms(self, part: str) -> list[tuple[str, float]]:
        """Terms for one query part and how literal each is.

        The words typed (and bigrams of runs the dictionary lacks) weigh 1.0, in both fields; the
        specific parts of a typed compound (师德师风 → 师德, 师风) PART_WEIGHT; any other piece of a word
        (德师, or 服务 of 课后服务) CLAUSE_WEIGHT.
        """
        if not is_cjk(part[0]):
            return [(t, 1.0) for t in self._terms(part)]
        words, chars = self.index.words, self.index.chars
        pieces = segment_with(part, words, chars, total=self._seg_total)
        whole = {p for p in pieces if len(p) >= 2}
        if len(part) == 2:
            whole.add(part)
        parts = {q for p in whole if len(p) >= 4 for q in compound_parts(p, words, chars, self._seg_total)} - whole
        weight = dict.fromkeys(filter(self._specific, parts), PART_WEIGHT) | dict.fromkeys(whole, 1.0)
        inner = {t for p in whole for t in expand_word(p, words)}
        out = [(t, weight.get(t, CLAUSE_WEIGHT if t in inner else 1.0)) for t in self._terms(part)]
        vocab = self.index.vocab
        out += [(t, weight.get(t[len(CLAUSE):], CLAUSE_WEIGHT)) for t in clause_terms(part) if t in vocab]
        return out

    def _specific(self, term: str) -> bool:
        idx = self.index
        return 0 < idx.df(term) + idx.df(CLAUSE + term) <= SPECIFIC_SHARE * idx.n_docs

    def _terms(self, part: str) -> list[str]:
        if not is_cjk(part[0]):
            return [part] if part in self.index.vocab else []
        pieces = segment_with(part, self.index.words, self.index.chars, total=self._seg_total)
        return query_terms(pieces, self.index.words, self.index.vocab)

    def _correct(self, part: str) -> tuple[str, str | None]:
        """Fuzzy steps in the documented order; returns the part to search and how it was changed."""
        lex = self.lexicon
        if lex.known(part) or (part in self.index.vocab and len(part) >= 2):
            return part, None
        if len(part) >= 2 and is_cjk(part[0]) and self._phrase_present(part):
            return part, None  # what the text literally says is never "corrected" into something else
        if not is_cjk(part[0]):
            fixed = lex.homophone(part) if part.isalpha() else None
            return (fixed, "pinyin") if fixed else (part, None)
        if len(part) >= 3 and self._phrase_present(part):
            return part, None  # it stands in the corpus as typed: never "correct" it to a neighbour
        uncovered = self._uncovered(part)
        if not uncovered:
            if len(part) >= 3:
                near = lex.near(part, policy_only=True)
                if near:
                    return near[0], "near"
                syn = lex.synonyms(part)
                if syn:
                    return syn[0], "synonym"
            return part, None
        fixed = lex.homophone(part)
        if fixed:
            return fixed, "pinyin"
        near = lex.near(part, policy_only=True) or (lex.near(part) if len(part) >= 3 else None)
        if near:
            return near[0], "near"
        window = self._fix_window(part, uncovered)
        if window:
            return window
        syn = lex.synonyms(part)
        return (syn[0], "synonym") if syn else (part, None)

    def _uncovered(self, part: str) -> set[int]:
        """Positions no indexed term explains and that are not ordinary corpus characters (和, 的)."""
        covered = set()
        for term in self._terms(part):
            start = part.find(term)
            while start >= 0:
                covered.update(range(start, start + len(term)))
                start = part.find(term, start + 1)
        chars = self.index.chars
        return {i for i in range(len(part)) if i not in covered and part[i] not in chars}

    def _fix_window(self, part: str, uncovered: set[int]) -> tuple[str, str] | None:
        """Correct the smallest stretch around the unknown characters: homophones first, then near words."""
        lex = self.lexicon
        best = None
        for size in range(min(len(part), 8), 1, -1):
            for start in range(0, len(part) - size + 1):
                if not uncovered & set(range(start, start + size)):
                    continue
                window = part[start:start + size]
                fixed = lex.homophone(window)
                cand = (2, size, -start, fixed, "pinyin") if fixed else None
                if cand is None and size >= 3:
                    near = lex.near(window)
                    cand = (1, size, -start, near[0], "near") if near else None
                if cand and (best is None or cand[:3] > best[0][:3]):
                    best = (cand, start, size)
        if best is None:
            return None
        (_, _, _, word, kind), start, size = best
        return part[:start] + word + part[start + size:], kind

    def _phrase_present(self, phrase: str) -> bool:
        """Whether some passage contains `phrase` verbatim (bot.search.tantivy_index says how)."""
        return self.index.phrase_present(phrase)

    def _explain(self, result: SearchResult, plan: QueryPlan) -> None:
        notes = [result.notice] if result.notice else []
        if result.translated:
            result.corrected = " ".join(plan.parts)
            notes.append("英文" + "".join(f"「{en}」" for en, _ in result.translated) + f"按「{result.corrected}」搜索")
        elif plan.corrections:
            result.corrected = " ".join(plan.parts)
            notes.append(f"按「{result.corrected}」搜索")
        if plan.unknown and plan.parts:
            notes.append("没有找到" + "".join(f"「{u}」" for u in plan.unknown))
        if plan.expansions:
            notes.append("同时搜索同义词" + "".join(f"「{s}」" for s in dict.fromkeys(plan.expansions)))
        result.notice = "；".join(notes) if notes else None

    def _suggest(self, phrases: list[str]) -> list[str]:
        """Two or three policy terms the plans hold: the nearest to what was typed, else the most cited."""
        lex = self.lexicon
        near = []
        for phrase in phrases:
            near.extend(lex.suggestions(phrase, limit=SUGGESTIONS, policy_only=True))
        return list(dict.fromkeys(near + self.popular_topics()))[:SUGGESTIONS]

    # -- filters, ranking, snippets

    def _filter(self, result: SearchResult, city: str | None, year: int | None,
                plan_id: str | None) -> frozenset[str] | None:
        """The plan ids a filtered search may answer from (None: all); places resolve through
        bot.search.places, so a city covers its counties and a province its cities. What the filters
        derive from the plans is kept per list of plans (PlanFilters), and a place's or a year's ids
        are the same set object each time, so the index can keep the filter built from them."""
        if city is None and year is None and plan_id is None:
            return None
        metas = self.index.plans
        with self._lock:
            if self._filters is None or self._filters.metas is not metas:
                self._filters = PlanFilters(metas)
            filters = self._filters
        keep: frozenset[str] | None = None
        if plan_id is not None:
            keep = frozenset({plan_id}) & filters.ids()  # one plan: no set of every id
            if not keep:
                result.error = "unknown_plan"
                result.suggestions = [m.plan_id for m in metas]
        if city:
            covered, names = filters.place(city)
            if covered is None:
                result.error = "unknown_city"
                result.suggestions = list(names)
                return frozenset()
            keep = covered if keep is None else keep & covered
        if year is not None:
            of_year = filters.year(int(year))
            keep = of_year if keep is None else keep & of_year
        return keep

    def _rank(self, terms: list[tuple[str, float]], phrases: list[str], allowed: AbstractSet[str] | None,
              k: int, absent: tuple[str, ...] = ()) -> tuple[list[Ranked], int]:
        """tantivy's BM25 top candidates above the relative cutoff, then orientation and phrase bonus.

        Orientation comes from a fast field; only the phrase bonus needs a passage's text, and it can
        raise a score by PHRASE_BONUS times the share of phrases some passage may hold (`absent`: those
        proven in none) at most, so candidates are read best-first and reading stops once no unread one
        can reach the k-th score found. Without a bonus nothing is read here at all: the caller reads
        the page it shows.
        """
        parts, others = _split(terms)
        found, total = self.index.top(parts, others, allowed, _CUTOFF, max(k, CANDIDATES))
        return self._order(found, total, terms, phrases, k, absent)

    def _order(self, found: list[Candidate], total: int, terms: list[tuple[str, float]], phrases: list[str],
               k: int, absent: tuple[str, ...]) -> tuple[list[Ranked], int]:
        """`_rank`'s final order of what `top` (or `tops`, for one plan) found."""
        if not total:
            return [], 0
        # `top` hands them best first (score, then `ord`), at most max(k, CANDIDATES) of them
        weighed = [(c, c.score * ORIENTATION_WEIGHT[c.orient]) for c in found]
        possible = [p for p in phrases if p not in absent]
        if not (possible and len(terms) > 1):  # no bonus anywhere: each score times 1.0, as below
            weighed.sort(key=lambda r: (-round(r[1], 5), r[0].ord))
            return [Ranked(c, score) for c, score in weighed[:k]], total
        weighed.sort(key=lambda r: -r[1])
        rescored: list[Ranked] = []
        below: list[tuple[float, int]] = []  # the final order's keys read so far (-rounded score, ord)
        wanted = [p.encode("utf-8", "surrogatepass") for p in possible]
        bonus = PHRASE_BONUS * (len(possible) / len(phrases))  # the most, in the same float steps as below
        index = self.index
        read = index.searcher.doc
        for cand, score in weighed:
            if len(below) >= k:
                most = round(score * (1.0 + bonus), 5)
                if most < -below[k - 1][0]:
                    break  # the rest score at most this much, all below the k-th found
                if (-most, cand.ord) > below[k - 1]:
                    continue  # at best a tie with the k-th, which a lower corpus position wins
            doc = read(cand.address)  # kept: the page shown reads its passage from it
            norm = index.norm_bytes(cand.address, doc)
            score *= 1.0 + PHRASE_BONUS * (sum(1 for p in wanted if p in norm) / len(phrases))
            rescored.append(Ranked(cand, score, doc))
            bisect.insort(below, (-round(score, 5), cand.ord))
        rescored.sort(key=lambda r: (-round(r.score, 5), r.cand.ord))
        return rescored[:k], total


class PlanFilters:
    """What filtered searches derive from one list of plans (an index's, so a snapshot's): every id,
    each year's and each place's ids, and the plans as bot.search.places reads them. Built as asked
    and kept: a digest of a topic and a comparison search plan by plan, and a place was resolved over
    every plan on every ask (1.2 s a search at 50,000 plans, where the unfiltered answer is 7 ms)."""

    def __init__(self, metas: list[PlanMeta]) -> None:
        self.metas = metas
        self._lock = threading.Lock()
        self._ids: frozenset[str] | None = None
        self._years: dict[int, frozenset[str]] = {}
        self._places: OrderedDict[str, tuple[frozenset[str] | None, tuple[str, ...]]] = OrderedDict()
        self._view: SimpleNamespace | None = None  # one plan per (city, province), as places reads plans
        self._groups: dict[tuple[str, str], list[str]] = {}  # (city, province) → its plans' ids

    def ids(self) -> frozenset[str]:
        if self._ids is None:
            self._ids = frozenset(m.plan_id for m in self.metas)
        return self._ids

    def year(self, year: int) -> frozenset[str]:
        found = self._years.get(year)
        if found is None:
            found = frozenset(m.plan_id for m in self.metas if m.year == year)
            with self._lock:
                if len(self._years) < PLACE_CACHE:
                    self._years[year] = found
        return found

    def place(self, city: str) -> tuple[frozenset[str] | None, tuple[str, ...]]:
        """The ids of the plans `city` covers (None when no plan's place matches it) and, then, the
        places the plans cover, to suggest."""
        with self._lock:
            found = self._places.get(city)
        if found is not None:
            return found
        from bot.search.places import covered_names, plan_place, resolve_place

        if self._view is None:
            # a plan's place depends only on its (city, province): the resolver reads one plan per pair,
            # in first-appearance order (what it suggests keeps the corpus's order), so a place is
            # resolved over the bureaus (~3,300 nationally), not over every plan (0.7 s at 50,000)
            groups: dict[tuple[str, str], list[str]] = {}
            first: list[PlanMeta] = []
            for m in self.metas:
                ids = groups.get((m.city, m.province))
                if ids is None:
                    ids = groups[(m.city, m.province)] = []
                    first.append(m)
                ids.append(m.plan_id)
            self._groups = groups
            self._view = SimpleNamespace(plans=[SimpleNamespace(meta=m, priorities=[]) for m in first])
        view = self._view
        match = resolve_place(city, view)
        if match is None:
            found = (None, tuple(covered_names(view)))
        else:
            found = (frozenset(pid for p in view.plans if (own := plan_place(p)) and match.place.covers(own)
                               for pid in self._groups[(p.meta.city, p.meta.province)]), ())
        with self._lock:
            self._places[city] = found
            while len(self._places) > PLACE_CACHE:
                self._places.popitem(last=False)
        return found


@dataclass(frozen=True)
class QueryPlan:
    """What a query's parts are searched as: kept in the engine's plan cache and shared by the queries
    that ask the same, so it is immutable (tuples)."""

    parts: tuple[str, ...]
    terms: tuple[tuple[str, float], ...]  # longest first, only terms the index holds
    phrases: tuple[str, ...]
    corrections: tuple[tuple[str, str, str], ...]  # (typed, searched, kind)
    expansions: tuple[str, ...]
    unknown: tuple[str, ...]
    absent: tuple[str, ...] = ()  # phrases proven in no passage (TantivyIndex.phrase_absent)
    marking: tuple[str, ...] = ()  # the searched terms in marking order (`marking_order`)
    glossed: tuple[str, ...] = ()  # the glossary entries among the parts and searched words


@dataclass(slots=True)
class Ranked:
    """A candidate with its final score; its passage is read for the page shown only."""

    cand: Candidate
    score: float
    doc: object = None  # the stored document, when ranking read it (the phrase bonus)


class _RelativeCutoff:
    """The relative cutoff, with a lower bar for what a compound's specific parts found.

    A passage scoring a fifth of the best shares only a common bigram (服务, 建设) with the query: noise
    to a reader who asked about 课后服务, so it is not an answer at all. A passage holding only 师德
    scores a fraction of one holding 师德师风 and its parts; judged on its part evidence against the bar
    scaled by the parts' weight, it stays an answer, while a passage sharing only a fragment (办学 of
    集团化办学, weight CLAUSE_WEIGHT) still falls below. A document's part score never exceeds its
    score, which gives the bounds `sure` and `floor` (bot.search.tantivy_index.Cutoff).
    """

    def keep(self, scores: list[float], part_scores: list[float] | None) -> list[bool]:
        # the scores are tantivy's float32 values; the bars are rounded to float32 as well, so every
        # comparison is the one float32 arithmetic makes (the bounds below depend on it)
        bar = RELATIVE_CUTOFF * max(scores)
        least = _float32(bar)
        if part_scores is None:
            return [s >= least for s in scores]
        least_part = _float32(bar * PART_WEIGHT)
        return [s >= least or p >= least_part for s, p in zip(scores, part_scores, strict=True)]

    # `keep` compares in float32; the bounds are widened by far more than its rounding.
    def sure(self, top: float) -> float:
        return RELATIVE_CUTOFF * top * (1 + 1e-5)

    def floor(self, top: float, parts: bool) -> float:
        return RELATIVE_CUTOFF * top * (PART_WEIGHT if parts else 1.0) * (1 - 1e-5)


_CUTOFF = _RelativeCutoff()
_F32 = struct.Struct("f")


def _float32(value: float) -> float:
    """`value` rounded to the nearest float32, as numpy rounded a Python float compared with float32s."""
    return _F32.unpack(_F32.pack(value))[0]


def _split(terms) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """A query's terms as `top` takes them: the compound's parts, then the rest."""
    return [(t, w) for t, w in terms if w == PART_WEIGHT], [(t, w) for t, w in terms if w != PART_WEIGHT]


@lru_cache(maxsize=4096)
def _read_query(raw: str) -> tuple[str, tuple[str, ...], Translation | None]:
    """A query as typed → normalised text, its parts, and its English reading (an all-Latin query through
    the glossary). Pure and repeated (readers ask the popular topics, and page through an answer), so
    kept like the engine's query plans; opencc's conversion is the bulk of it."""
    normalized = normalize(raw)
    return normalized, tuple(_PART.findall(normalized)), SearchEngine._english(normalized)


def compound_parts(word: str, words: dict[str, int], chars: dict[str, int], total: int | None = None) -> list[str]:
    """The words a compound is made of (集团化办学 → 集团化, 办学), by the dictionary without the compound
    itself; a compound the dictionary cannot split (师德师风) falls back to its aligned two-character halves."""
    pieces = segment_with(word, words, chars, total=total, skip=word)
    if all(len(p) >= 2 for p in pieces) and len(pieces) > 1:
        return pieces
    return [word[i:i + 2] for i in range(0, len(word) - 1, 2)]


def snippet(text: str, norm: str, terms: list[str], weights: dict[str, float] | None = None,
            longest: list[str] | None = None) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The best sentence plus neighbours (~120–200 chars) and the offsets of matched words in it.

    Sentences are weighed by the query weights, so the sentence with the word the reader typed wins
    over one that only has a synonym searched alongside it. `longest` is `terms` in marking order
    (`marking_order`), which a page's caller sorts once for all its passages.
    """
    # only the terms the passage holds can score a sentence or be marked (most of a query's terms are
    # clause fragments or synonyms it lacks): found once, in the query's order, so the same sums
    marked = [t for t in (longest if longest is not None else marking_order(terms)) if t in norm]
    if len(text) <= EXCERPT_MAX:
        return _cut(text, norm, marked, 0, len(text))
    present = [t for t in terms if t in norm]
    spans = _sentences(norm)
    if not spans:
        start, end = 0, len(text)
    else:
        weight = weights or {}
        valued = [(t, len(t) * weight.get(t, 1.0)) for t in present]
        if valued:
            # a sentence scores the value of each term it holds, added in the query's order; a term
            # (no sentence end inside it) lies within one sentence, found from its start by bisection
            starts = [a for a, _ in spans]
            scores: list[float] = [0] * len(spans)
            for term, value in valued:
                size, pos, last = len(term), norm.find(term), -1
                while pos >= 0:
                    i = bisect.bisect_right(starts, pos) - 1
                    if i != last and pos + size <= spans[i][1]:
                        scores[i] += value
                        last = i
                    pos = norm.find(term, pos + 1)
            best = scores.index(max(scores))  # the first of the best-scoring sentences
        else:
            best = 0  # every sentence scores 0: the first
        lo = hi = best
        while True:
            grown = False
            for nxt in (hi + 1, lo - 1):
                if 0 <= nxt < len(spans) and spans[hi][1] - spans[lo][0] < EXCERPT_TARGET:
                    new_lo, new_hi = min(lo, nxt), max(hi, nxt)
                    if spans[new_hi][1] - spans[new_lo][0] <= EXCERPT_MAX:
                        lo, hi, grown = new_lo, new_hi, True
            if not grown:
                break
        start, end = spans[lo][0], spans[hi][1]
        if end - start > EXCERPT_MAX:
            start, end = _window_around(norm, present, start, end)
    return _cut(text, norm, marked, start, end)


def marking_order(terms: list[str]) -> list[str]:
    """The distinct terms, longest first (then by text): the order marks are taken in."""
    return sorted(set(terms), key=_longest_first)


def _longest_first(term: str) -> tuple[int, str]:
    return -len(term), term


def _sentences(norm: str) -> list[tuple[int, int]]:
    """The sentences of `norm` as (start, end): each runs to just past a sentence end, the last to the
    text's end. Found with one `str.find` pass per ending character, which for a passage of a few
    hundred characters costs a third of a regular expression's character-class scan."""
    cuts = []
    for end in _ENDS:
        i = norm.find(end)
        while i >= 0:
            cuts.append(i + 1)
            i = norm.find(end, i + 1)
    cuts.sort()
    spans, prev = [], 0
    for cut in cuts:
        spans.append((prev, cut))
        prev = cut
    if prev < len(norm):
        spans.append((prev, len(norm)))
    return spans


def _window_around(norm: str, terms: list[str], start: int, end: int) -> tuple[int, int]:
    first = min((i for t in terms if (i := norm.find(t, start, end)) >= 0), default=start)
    lo = max(start, min(first - 40, end - EXCERPT_MAX))
    return lo, min(end, lo + EXCERPT_MAX)


def _cut(text: str, norm: str, longest: list[str], start: int, end: int):
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text.rstrip()) else ""
    marks = _taken(norm[start:end], longest)
    shift = len(prefix)
    return prefix + text[start:end] + suffix, tuple((a + shift, b + shift) for a, b in marks)


def _marks(norm: str, terms: list[str]) -> list[tuple[int, int]]:
    """Non-overlapping occurrences, longest terms first, merged when adjacent."""
    return _taken(norm, marking_order(terms))


def _taken(norm: str, longest: list[str]) -> list[tuple[int, int]]:
    """`_marks` for distinct terms already in marking order."""
    present = [t for t in longest if t in norm]
    if not present:
        return []
    # the longest term's occurrences overlap nothing taken before them: each is taken, and the next one
    # that counts starts at its end (one starting inside it overlaps it); later terms check the array
    first, size = present[0], len(present[0])
    found = []
    pos = norm.find(first)
    while pos >= 0:
        found.append((pos, pos + size))
        pos = norm.find(first, pos + size)
    if len(present) > 1:
        taken = bytearray(len(norm))  # 1 where a longer term was already marked
        fill = b"\x01" * size
        for a, b in found:
            taken[a:b] = fill
        for term in present[1:]:
            size = len(term)
            fill = b"\x01" * size
            pos = norm.find(term)
            while pos >= 0:
                end = pos + size
                if taken.find(1, pos, end) < 0:
                    found.append((pos, end))
                    taken[pos:end] = fill
                    pos = norm.find(term, end)
                else:
                    pos = norm.find(term, pos + 1)
    merged: list[tuple[int, int]] = []
    for a, b in sorted(found):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged
