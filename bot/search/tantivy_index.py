"""The passage index on tantivy: one document a passage, changed one plan at a time.

Why tantivy: the hand-written CSR index (now bench/csr_index.py, the benchmark's baseline) rebuilt
everything when one plan arrived, scored every candidate of a common bigram, and grew to hundreds of
megabytes on disk; tantivy gives segments, deletes by term, block-max pruning top-k and compressed
postings.

Documents carry the project's own tokens, space-joined and indexed with tantivy's whitespace tokenizer
so tantivy never re-segments Chinese: `words` holds the word-field terms and the clause bigrams (their
`~` prefix keeps the two apart, as in bot.search.tokenize; one tantivy field so both share one length
norm, as they did in the baseline), with positions; `heading` holds the section path's tokens and is
boosted by HEADING_WEIGHT at query time. `plan` (raw, for deletes and the --plan/--city/--year filter
as a plan-id set), `place` (a facet /province/city/county), `year` and `ord` (fast fields) complete a
document. Nothing is stored: `ord` (plan sequence, passage position) points into the parsed corpus the
process holds anyway (bot.corpus.cache), so answers read no document store and the index stays a
third of the size; it also breaks score ties in corpus order.

The vocabulary the query side needs (segmentation dictionary, single characters, pinyin table) is a
small sidecar, `state.json`, updated per plan together with each plan's content hash; document
frequencies come from tantivy (`Searcher.doc_freq`). A `TantivyIndex` object is one snapshot: `sync`
returns a new one over a new searcher, and queries holding the old one finish on it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import tantivy

from bot.models import Passage, Plan, PlanMeta
from bot.search.fuzzy import word_pinyin
from bot.search.tokenize import CLAUSE, IndexTokenizer, clause_terms, is_cjk, jieba_tokenizer
from bot.textnorm import normalize

FORMAT = 3
log = logging.getLogger(__name__)
HEADING_WEIGHT = 0.5  # a heading word counts half a body word (the baseline's BM25F weight)
PLAN_SHIFT = 20  # ord = plan sequence << PLAN_SHIFT | passage position: corpus order, stable across adds
SCAN = 200  # candidates read per query: the relative cutoff and `total` are computed over these
PHRASE_SCAN = 300
BULK_HEAP = 256_000_000
SMALL_HEAP = 15_000_000  # tantivy's floor; one plan needs little, and a bigger arena stays resident
STATE = "state.json"


def warm_writer() -> None:
    """Load what writing a plan needs (jieba's dictionary, pypinyin: about a second) ahead of the first
    plan an editor publishes, so that publish costs only its own plan."""
    jieba_tokenizer()
    word_pinyin("预热")


class IndexBusy(RuntimeError):
    """Another process holds the index's writer lock; the caller serves what it has and retries."""


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("words", tokenizer_name="ws", index_option="position")
    sb.add_text_field("heading", tokenizer_name="ws", index_option="position")
    sb.add_text_field("plan", tokenizer_name="raw", index_option="basic")
    sb.add_facet_field("place")
    sb.add_integer_field("year", indexed=True, fast=True)
    sb.add_unsigned_field("ord", fast=True)
    return sb.build()


SCHEMA = _schema()
_WS = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()


def plan_hash(plan: Plan) -> str:
    """What the plan's documents depend on: its metadata and every passage (a /fix re-indexes it).

    The content hash is computed once, when the plan is parsed, and kept in the plan store
    (bot.corpus.store), so a sync of thousands of unchanged plans reads no passage text.
    """
    return f"{FORMAT}:{plan.content_hash}"


@dataclass
class Candidate:
    """One scored document; `ord` is its corpus position (plan sequence, passage index)."""

    ord: int
    score: float


@dataclass
class State:
    """The sidecar: plans in corpus order with their hash and sequence, and the query-side lexicon."""

    plans: list[dict] = field(default_factory=list)  # {"meta": PlanMeta dict, "hash": str, "seq": int}
    words: dict[str, int] = field(default_factory=dict)
    chars: dict[str, int] = field(default_factory=dict)
    pinyin: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path) -> State | None:
        try:
            data = json.loads((directory / STATE).read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                return None
            return cls(list(data["plans"]), dict(data["words"]), dict(data["chars"]), dict(data["pinyin"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def save(self, directory: Path) -> None:
        """Beside and rename: a reader in another process never sees half a file."""
        data = {"format": FORMAT, "plans": self.plans, "words": self.words, "chars": self.chars,
                "pinyin": self.pinyin}
        tmp = directory / f"{STATE}.tmp{os.getpid()}.{threading.get_ident()}"
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        tmp.replace(directory / STATE)

    def add_words(self, words: dict[str, int], chars: dict[str, int]) -> None:
        """Grow the lexicon by a plan's words (the pinyin table gains only the new ones)."""
        for word, freq in words.items():
            if word not in self.words:
                self.words[word] = freq
                if 2 <= len(word) <= 8 and all(is_cjk(c) for c in word):
                    bucket = self.pinyin.setdefault(word_pinyin(word), [])
                    bucket.append(word)
                    bucket.sort()
        for ch, freq in chars.items():
            self.chars.setdefault(ch, freq)


class Vocabulary:
    """`term in vocab` for the query planner: a term some live document holds (asked of tantivy)."""

    def __init__(self, index: TantivyIndex) -> None:
        self._index = index

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self._index.df(term) > 0


class TantivyIndex:
    """One snapshot of the on-disk index: a searcher plus the sidecar as of the same commit."""

    def __init__(self, directory: Path | None, index: tantivy.Index, state: State,
                 plans: list[Plan] | None = None) -> None:
        self.directory = directory
        self._index = index
        self.state = state
        self.searcher = index.searcher()
        self.words = state.words
        self.chars = state.chars
        self.meta = {"pinyin": state.pinyin}
        self.plans = [PlanMeta(**p["meta"]) for p in state.plans]
        seq = {p["meta"]["plan_id"]: p["seq"] for p in state.plans}
        self._by_seq = {seq[p.plan_id]: p for p in plans or ()}  # the plans `ord` points into
        self.bound = plans is not None
        self.index_plans = plans  # what a rebuild needs, when this snapshot turns out damaged
        self.n_docs = self.searcher.num_docs
        self.vocab = Vocabulary(self)
        self._df: dict[str, int] = {}

    # -- opening and changing

    @classmethod
    def open(cls, directory: Path | None) -> TantivyIndex:
        """The index at `directory` (created empty when missing or of another format); None: in memory.

        It is a cache of the corpus: one that cannot be read is said in one WARNING line and rebuilt.
        A location that cannot hold an index at all (a file, a read-only folder) is IndexUnusable."""
        state = State.load(directory) if directory is not None else None
        if directory is not None:
            usable_folder(directory)
        index = _open_existing(directory) if state is not None else None
        if index is None:
            if directory is not None:
                if _has_content(directory):
                    log.warning("search index %s could not be read (%s); rebuilding it from the corpus",
                                directory, "no readable state.json" if state is None else "tantivy cannot open it")
                _clear(directory)
            index = tantivy.Index(SCHEMA, path=str(directory) if directory is not None else None)
            state = State()
            if directory is not None:
                state.save(directory)
        index.register_tokenizer("ws", _WS)
        return cls(directory, index, state)

    @classmethod
    def rebuild(cls, directory: Path, plans: list[Plan]) -> TantivyIndex:
        """A fresh index of `plans` in place of a damaged one (callers hold the folder's lock)."""
        usable_folder(directory)
        _clear(directory)
        return cls.open(directory).sync(plans)

    def sync(self, plans: list[Plan]) -> TantivyIndex:
        """Make the index hold exactly `plans`: only added, changed or removed plans are touched.

        Returns self when nothing changed, else a new snapshot (the old one keeps its searcher). The
        diff is against the sidecar on disk, not this snapshot's copy, so a process that was behind
        (another one synced the folder meanwhile) never adds a plan twice; callers hold the folder's
        lock. Raises IndexBusy when another writer holds tantivy's lock anyway.
        """
        base = State.load(self.directory) if self.directory is not None else self.state
        if base is None:  # the folder was wiped under us: start it again
            return TantivyIndex.open(self.directory).sync(plans)
        have = {p["meta"]["plan_id"]: p for p in base.plans}
        want = {p.plan_id: plan_hash(p) for p in plans}
        removed = [pid for pid, p in have.items() if want.get(pid) != p["hash"]]
        added = [p for p in plans if have.get(p.plan_id, {}).get("hash") != want[p.plan_id]]
        order = [p["meta"]["plan_id"] for p in base.plans] != [p.plan_id for p in plans]
        if not removed and not added and not order and base.plans == self.state.plans:
            return self if self.bound else TantivyIndex(self.directory, self._index, self.state, plans)
        state = State(words=dict(base.words), chars=dict(base.chars),
                      pinyin={k: list(v) for k, v in base.pinyin.items()})
        seq = {pid: p["seq"] for pid, p in have.items() if pid not in removed}
        if removed or added:
            self._write(removed, added, seq, state)
        state.plans = [{"meta": p.meta.as_dict(), "hash": want[p.plan_id], "seq": seq[p.plan_id]} for p in plans]
        if self.directory is not None:
            state.save(self.directory)
        self._index.reload()
        return TantivyIndex(self.directory, self._index, state, plans)

    def _write(self, removed: list[str], added: list[Plan], seq: dict[str, int], state: State) -> None:
        bulk = len(added) > 20
        try:
            writer = self._index.writer(heap_size=BULK_HEAP if bulk else SMALL_HEAP, num_threads=2 if bulk else 1)
        except Exception as exc:  # tantivy-py reports a held lock as a plain ValueError/RuntimeError
            raise IndexBusy(str(exc)) from exc
        try:
            for plan_id in dict.fromkeys(removed + [p.plan_id for p in added]):
                writer.delete_documents_by_term("plan", plan_id)  # an added plan's too: never twice
            tokenizer = IndexTokenizer()
            headings: dict[tuple[str, ...], str] = {}
            next_seq = max(seq.values(), default=-1) + 1
            for plan in added:
                seq[plan.plan_id] = next_seq
                place = _PlanFields(plan.meta.plan_id, tantivy.Facet.from_string(_place_path(plan.meta)),
                                    int(plan.meta.year))
                for i, passage in enumerate(plan.passages):
                    heading = headings.get(passage.section)
                    if heading is None:
                        heading = headings[passage.section] = tokenizer.text(normalize("\n".join(passage.section)))
                    writer.add_document(_document(place, passage, next_seq << PLAN_SHIFT | i,
                                                  tokenizer.text(passage.norm), heading))
                next_seq += 1
            writer.commit()
            if bulk:
                writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise
        finally:
            del writer
            _release_arenas()
        state.add_words(tokenizer.words, tokenizer.chars)

    # -- reading

    def df(self, term: str) -> int:
        """Passages holding `term` in their text or heading (the baseline's one combined document):
        the two fields' counts added, so a passage with it in both counts twice, and deleted passages
        count until their segment is merged away. Membership and the lexicon's ranking need no more."""
        found = self._df.get(term)
        if found is None:
            found = 0
            if term and not any(c.isspace() for c in term):
                found = self.searcher.doc_freq("words", term) + self.searcher.doc_freq("heading", term)
            self._df[term] = found
        return found

    def top(self, first: list[tuple[str, float]], rest: list[tuple[str, float]], allowed: set[str] | None,
            keep: Callable[[np.ndarray, np.ndarray | None], np.ndarray], need: int) -> tuple[list[Candidate], int]:
        """The best `need` documents for first + rest that `keep` (the relative cutoff) lets through,
        and how many it let through.

        `keep(scores, part_scores)` sees the scores of the SCAN best candidates and, when `first` (a
        compound's parts) is given, their scores on `first` alone (every document the parts find also
        matches the whole query, so it is among the candidates unless SCAN better ones exist). Counting
        every match would defeat tantivy's pruning, so the count is of the candidates read: `total` is
        at most SCAN. Documents tied with the last one kept come along, so ties never depend on `need`.
        """
        terms = first + rest
        hits = self._search(terms, allowed, SCAN) if terms else []
        if not hits:
            return [], 0
        part_scores = None
        if first:
            parts = {self._key(a): s for s, a in self._search(first, allowed, SCAN)}
            part_scores = np.array([parts.get(self._key(a), 0.0) for _, a in hits], dtype=np.float32)
        scores = np.array([s for s, _ in hits], dtype=np.float32)
        chosen = [hit for hit, ok in zip(hits, keep(scores, part_scores), strict=True) if ok]
        chosen.sort(key=lambda h: -h[0])
        end = min(need, len(chosen))
        while 0 < end < len(chosen) and chosen[end][0] == chosen[end - 1][0]:
            end += 1
        ords = self.searcher.fast_field_values("ord", [a for _, a in chosen[:end]]) if end else []
        return [Candidate(int(o), float(s)) for (s, _), o in zip(chosen[:end], ords, strict=True)], len(chosen)

    @staticmethod
    def _key(address) -> tuple[int, int]:
        return address.segment_ord, address.doc

    def _search(self, terms: list[tuple[str, float]], allowed: set[str] | None, limit: int) -> list:
        subs = []
        for term, weight in terms:
            subs.append((tantivy.Occur.Should, tantivy.Query.boost_query(
                tantivy.Query.term_query(SCHEMA, "words", term), weight)))
            subs.append((tantivy.Occur.Should, tantivy.Query.boost_query(
                tantivy.Query.term_query(SCHEMA, "heading", term), weight * HEADING_WEIGHT)))
        query = tantivy.Query.boolean_query(subs)
        if allowed is not None:
            if not allowed:
                return []
            only = tantivy.Query.const_score_query(tantivy.Query.term_set_query(SCHEMA, "plan", sorted(allowed)), 0.0)
            query = tantivy.Query.boolean_query([(tantivy.Occur.Must, query), (tantivy.Occur.Must, only)])
        return self.searcher.search(query, limit=limit, count=False).hits

    def passage(self, ord_: int) -> Passage:
        """The passage a document stands for, from the plans this snapshot was synced with."""
        return self._by_seq[ord_ >> PLAN_SHIFT].passages[ord_ & ((1 << PLAN_SHIFT) - 1)]

    def phrase_present(self, phrase: str) -> bool:
        """Whether some passage contains `phrase` verbatim: every bigram of the text is a word-field
        or clause-field term, so the passages holding its rarest bigram are the candidates."""
        return self.phrase_count(phrase, stop=1) > 0

    def phrase_count(self, phrase: str, stop: int | None = None) -> int:
        """How many passages (among the PHRASE_SCAN holding its rarest bigram) contain `phrase`
        verbatim; `stop` ends the count early once reached."""
        bigrams = [t[len(CLAUSE):] for t in clause_terms(phrase)]
        if not bigrams:
            return 0
        rarest = min(bigrams, key=lambda b: (self.df(b) + self.df(CLAUSE + b), b))
        if not self.df(rarest) + self.df(CLAUSE + rarest):
            return 0
        hits = self._search([(rarest, 1.0), (CLAUSE + rarest, 1.0)], None, PHRASE_SCAN)
        ords = self.searcher.fast_field_values("ord", [a for _, a in hits]) if hits else []
        count = 0
        for o in ords:
            if phrase in self.passage(int(o)).norm:
                count += 1
                if stop is not None and count >= stop:
                    break
        return count


def _release_arenas() -> None:
    """Hand the writer threads' freed memory back to the system (glibc keeps a per-thread arena at its
    high-water mark otherwise: a bot taking plans in and out grew ~50 MB before levelling off)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        _libc().malloc_trim(0)


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


@dataclass(frozen=True)
class _PlanFields:
    """What every document of one plan shares (built once a plan, not once a passage)."""

    plan_id: str
    place: tantivy.Facet
    year: int


def _document(plan: _PlanFields, passage: Passage, ord_: int, words: str, heading: str) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_text("words", words)
    doc.add_text("heading", heading)
    doc.add_text("plan", plan.plan_id)
    doc.add_facet("place", plan.place)
    doc.add_integer("year", plan.year)
    doc.add_unsigned("ord", ord_)
    return doc


def _place_path(meta: PlanMeta) -> str:
    """/province/parent city/city: a facet query on a prefix covers the places under it."""
    chain = [meta.province, meta.parent_city, meta.city]
    parts = [c.replace("/", "／") for c in dict.fromkeys(c for c in chain if c)]
    return "/" + "/".join(parts) if parts else "/"


def _open_existing(directory: Path | None) -> tantivy.Index | None:
    """The index in `directory`, or None when there is none or it cannot be read (then it is rebuilt:
    it is a cache of the corpus, never the only copy of anything)."""
    if directory is None or not tantivy.Index.exists(str(directory)):
        return None
    try:
        return tantivy.Index.open(str(directory))
    except ValueError:
        return None


def _clear(directory: Path) -> None:
    """An index of another format (or half-written, or damaged) is removed before a fresh one is
    created there."""
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _has_content(directory: Path) -> bool:
    return any(child.name not in (".tantivy-meta.lock", ".tantivy-writer.lock") for child in directory.iterdir())


class IndexUnusable(Exception):
    """The index location cannot hold an index (a file, a folder we may not write): one line, since
    no rebuild can help; the operator fixes PLANBRIEF_DATA_DIR."""


def usable_folder(directory: Path) -> None:
    """Create `directory` if needed and prove it writable, or raise IndexUnusable with one line."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".probe-{os.getpid()}-{threading.get_ident()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise IndexUnusable(f"搜索索引目录不可用：{directory}（{exc.strerror or type(exc).__name__}）；"
                            "请检查 PLANBRIEF_DATA_DIR") from exc
