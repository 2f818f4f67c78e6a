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
as a plan-id set), `place` (a facet /province/city/county), `year`, `ord` (plan sequence, passage
position: it breaks score ties in corpus order, and is indexed so `passage(ord)` can find its document)
and `orient` (fast fields, so ranking weighs orientation without reading a document) complete a
document. The passage itself is stored (`text`, `norm`, `rec`: see `encode_passage`) in tantivy's
compressed doc store: a process answers by reading only its hits' documents, so it need not hold the
parsed corpus (430 MB at ×1000), and a snapshot not bound to any parsed plans still answers. Measured
against a SQLite sidecar keyed by `ord` (×100 seeds, 21,000 passages): SQLite read 10 / 200 random
passages in 0.12 / 1.6 ms, the doc store in 0.15 / 2.5 ms, but SQLite took 23 MB to the store's 8 MB
(lz4 blocks), and ranking now reads a page and a few dozen phrase checks, not 200. The store is
written and deleted in the same commit as the postings, so a searcher never sees a document whose
passage is gone.

The vocabulary the query side needs (segmentation dictionary, single characters, pinyin table) is a
small sidecar, `state.json`, updated per plan together with each plan's content hash; document
frequencies come from tantivy (`Searcher.doc_freq`). A `TantivyIndex` object is one snapshot: `sync`
returns a new one over a new searcher, and queries holding the old one finish on it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import tantivy

from bot.models import Passage, Plan, PlanMeta
from bot.pinyin import warm as warm_readings
from bot.search.fuzzy import words_pinyin
from bot.search.tokenize import CLAUSE, HeadTable, IndexTokenizer, clause_terms, is_cjk, jieba_tokenizer
from bot.textnorm import normalize

FORMAT = 4  # 4: passages stored in the index, orientation as a fast field
log = logging.getLogger(__name__)
HEADING_WEIGHT = 0.5  # a heading word counts half a body word (the baseline's BM25F weight)
PLAN_SHIFT = 20  # ord = plan sequence << PLAN_SHIFT | passage position: corpus order, stable across adds
SCAN = 200  # candidates read per query: the relative cutoff and `total` are computed over these
FILTER_CACHE = 16  # plan filters (a place's or a year's plans) kept per snapshot: see TantivyIndex._only
PLANS_PER_QUERY = 2000  # plans `tops` asks about in one query: their hits, not the corpus's, held at once
FIRST_SCAN = 50  # ... unless the first FIRST_SCAN already fall below the cutoff (the top is clear)
PHRASE_SCAN = 300
QUERY_CACHE = 512  # built unfiltered queries kept per snapshot (the engine's PLAN_CACHE)
PHRASE_FIRST = 10
BULK_HEAP = 256_000_000
SMALL_HEAP = 15_000_000  # tantivy's floor; one plan needs little, and a bigger arena stays resident
# Each add commits a segment of its own, and the merges tantivy schedules after a commit are cancelled
# when the writer is dropped: ×10,000 had 38 segments of 4 documents after 38 adds, every one of them
# read by every query and opened by every start. Once this many small ones (tantivy's LogMergePolicy's
# own threshold, below its 10,000-document first layer) have piled up, the add waits for the merge the
# policy schedules (at ×10,000: ~0.2 s, once every seven adds or so).
SMALL_SEGMENTS = 8
SMALL_SEGMENT_DOCS = 10_000
STATE = "state.json"
META = "meta.json"  # tantivy's own list of the index's segments, replaced at every commit
LOG = "state.log"  # adds since state.json was written, one JSON line each (State.append)
LOG_LIMIT = 8_000_000  # past this the next add writes state.json whole again (and drops the log)
HEADS = "jieba-heads.sqlite"  # jieba's dictionary by first two characters (bot.search.tokenize.HeadTable)


def warm_writer(directory: Path | None = None) -> None:
    """Load what writing a plan needs (jieba's dictionary, pypinyin: about a second) ahead of the first
    plan an editor publishes, so that publish costs only its own plan. With the index `directory`
    holding a current head table, a few plans need neither jieba's dictionary nor jieba."""
    if directory is None or not HeadTable.current(directory / HEADS):
        jieba_tokenizer()
    warm_readings()


class IndexBusy(RuntimeError):
    """Another process holds the index's writer lock; the caller serves what it has and retries."""


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("words", tokenizer_name="ws", index_option="position")
    sb.add_text_field("heading", tokenizer_name="ws", index_option="position")
    sb.add_text_field("plan", tokenizer_name="raw", index_option="basic")
    sb.add_facet_field("place")
    sb.add_integer_field("year", indexed=True, fast=True)
    sb.add_unsigned_field("ord", indexed=True, fast=True)
    sb.add_unsigned_field("orient", fast=True)
    sb.add_bytes_field("text", stored=True)
    sb.add_bytes_field("norm", stored=True)  # only when it differs from the text
    sb.add_bytes_field("rec", stored=True)
    return sb.build()


SCHEMA = _schema()
_WS = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()


def plan_hash(plan: Plan) -> str:
    """What the plan's documents depend on: its metadata and every passage (a /fix re-indexes it).

    The content hash is computed once, when the plan is parsed, and kept in the plan store
    (bot.corpus.store), so a sync of thousands of unchanged plans reads no passage text.
    """
    return f"{FORMAT}:{plan.content_hash}"


ORIENTATIONS = ("forward", "backward", "neutral")  # the `orient` fast field's values, by index


@dataclass(slots=True)
class Candidate:
    """One scored document; `ord` is its corpus position (plan sequence, passage index), `orient` its
    orientation's index in ORIENTATIONS, `address` where this snapshot's searcher finds its passage."""

    ord: int
    score: float
    orient: int = 2
    address: object = field(default=None, repr=False, compare=False)


class Cutoff(Protocol):
    """Which candidates are answers at all, given their scores (the engine's relative cutoff).

    `keep` sees the candidates' scores and, for a compound query, their scores on its parts alone.
    It must be monotone: a document is never kept while one scoring more (on both) is not. `sure(top)`
    is the score at which a document is kept whatever its parts score, `floor(top, parts)` the least
    score a kept document can have; `top` reads fewer candidates, and asks for part scores only for
    those between the two, thanks to these bounds.
    """

    def keep(self, scores: list[float], part_scores: list[float] | None) -> list[bool]: ...

    def sure(self, top: float) -> float: ...

    def floor(self, top: float, parts: bool) -> float: ...


@dataclass
class State:
    """The sidecar: plans in corpus order with their hash and sequence, and the query-side lexicon."""

    plans: list[dict] = field(default_factory=list)  # {"meta": PlanMeta dict, "hash": str, "seq": int}
    words: dict[str, int] = field(default_factory=dict)
    chars: dict[str, int] = field(default_factory=dict)
    pinyin: dict[str, list[str]] = field(default_factory=dict)
    # Each entry of `plans` as JSON text, in the same order, when known (`TantivyIndex.applied` keeps
    # them): a save joins them rather than encoding 50,000 entries again for one new plan. Not saved.
    texts: list[str] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def load(cls, directory: Path) -> State | None:
        """The sidecar with the adds logged since it was written (`append`)."""
        try:
            data, stat, logged = _read_sidecar(directory)
            parsed = json.loads(data.decode("utf-8"))
            if parsed.get("format") != FORMAT:
                return None
            state = cls(list(parsed["plans"]), dict(parsed["words"]), dict(parsed["chars"]), dict(parsed["pinyin"]))
            if logged is not None:
                state._replay(logged, stat)
            return state
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    @classmethod
    def load_lexicon(cls, directory: Path) -> tuple[State, int] | None:
        """The sidecar's lexicon (its plan list left empty) and the next free plan sequence number,
        without parsing the plans (95 % of a 28 MB file at ×10,000): what an add needs. None when the
        sidecar is not laid out as `save` writes it (an older one): the caller loads it whole."""
        try:
            data, stat, logged = _read_sidecar(directory)
            cut = data.rfind(b', "plans": [')  # the last top-level key: no string can hold unescaped quotes
            head = json.loads(data[:cut].decode("utf-8") + "}") if cut > 0 else {}
            if head.get("format") != FORMAT or not isinstance(head.get("next_seq"), int):
                return None
            state = cls([], dict(head["words"]), dict(head["chars"]), dict(head["pinyin"]))
            next_seq = head["next_seq"]
            if logged is not None:
                state._replay(logged, stat)
                next_seq = max([next_seq] + [p["seq"] + 1 for p in state.plans])
                state.plans = []
            return state, next_seq
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def _replay(self, log_bytes: bytes, stat: list[int]) -> None:
        """Apply the logged adds whose header names this sidecar file; a torn last line (a writer killed
        mid-append) is not a line yet, and is left out."""
        lines = log_bytes.split(b"\n")[:-1]  # the part after the last newline is never complete
        if not lines or json.loads(lines[0]).get("state") != stat:
            return
        by_id: dict[str, dict] = {}
        for line in lines[1:]:
            add = json.loads(line)
            by_id.update((p["meta"]["plan_id"], p) for p in add["plans"])
            self._replay_lexicon(add)
        if by_id:
            self._merge(list(by_id.values()))

    def _replay_lexicon(self, add: dict) -> None:
        """What one logged add grew the lexicon by (`add_words`' return), folded in."""
        for word, freq in add["words"].items():
            self.words.setdefault(word, freq)
        for ch, freq in add["chars"].items():
            self.chars.setdefault(ch, freq)
        for key, words in add["pinyin"].items():
            bucket = self.pinyin.get(key, [])  # a new list: a copied State shares the old ones
            self.pinyin[key] = sorted([*bucket, *(w for w in words if w not in bucket)])

    def _merge(self, plans: list[dict]) -> None:
        """Plans added (or replaced, by id) into the list, which stays in corpus order."""
        ids = {p["meta"]["plan_id"] for p in plans}
        self.texts = None  # no longer entry for entry
        self.plans = _in_corpus_order([p for p in self.plans if p["meta"]["plan_id"] not in ids] + plans)

    def save(self, directory: Path) -> None:
        """Beside and rename: a reader in another process never sees half a file. The log of adds goes
        (the sidecar now holds them). The lexicon is written before the plans, with the next sequence
        number, so an add reads only that much (`load_lexicon`). The entries already encoded (`texts`,
        kept by `TantivyIndex.applied`) are joined, not encoded again: the bytes json.dumps writes."""
        head = json.dumps({"format": FORMAT, "next_seq": max((p["seq"] for p in self.plans), default=-1) + 1})
        if self.texts is not None and len(self.texts) == len(self.plans):
            plans = ', "plans": [' + ", ".join(self.texts) + "]"
        else:
            plans = f', "plans": {json.dumps(self.plans, ensure_ascii=False)}'
        parts = [head[:-1]] + [f', "{name}": {json.dumps(value, ensure_ascii=False)}' for name, value in
                               (("words", self.words), ("chars", self.chars), ("pinyin", self.pinyin))]
        tmp = directory / f"{STATE}.tmp{os.getpid()}.{threading.get_ident()}"
        with open(tmp, "w", encoding="utf-8") as f:
            for piece in [*parts, plans, "}"]:  # piece by piece: no second copy of a 20 MB text
                f.write(piece)
        tmp.replace(directory / STATE)
        (directory / LOG).unlink(missing_ok=True)

    def append(self, directory: Path, plans: list[dict], added: dict, merged: bool = False) -> None:
        """Record an add (its plans' entries, the lexicon it `added`, already in this state's lexicon)
        as one line of the sidecar's log, instead of writing the whole sidecar again (28 MB at
        ×10,000); `plans` are not merged into this object's list (no caller reads it again; `merged`:
        the caller already put them in, in corpus order), except when a log grown past LOG_LIMIT is
        folded into a whole new sidecar. Under the index lock; a log of another sidecar (a writer
        killed between `save`'s two steps) is started again."""
        path = directory / LOG
        stat = _identity(os.stat(directory / STATE))
        header = json.dumps({"state": stat}).encode("utf-8") + b"\n"
        try:
            old = path.read_bytes()
        except FileNotFoundError:
            old = b""
        if old and not old.startswith(header):
            old = b""
        if len(old) > LOG_LIMIT:
            if not merged:
                self._merge(plans)
            self.save(directory)
            return
        line = json.dumps({"plans": plans, **added}, ensure_ascii=False).encode("utf-8") + b"\n"
        if not old or not old.endswith(b"\n"):  # new, or a torn last line: write it whole again
            keep = old[:old.rfind(b"\n") + 1] if old else header
            tmp = directory / f"{LOG}.tmp{os.getpid()}.{threading.get_ident()}"
            tmp.write_bytes(keep + line)
            tmp.replace(path)
            return
        with open(path, "ab") as f:
            f.write(line)

    def add_words(self, words: dict[str, int], chars: dict[str, int]) -> dict:
        """Grow the lexicon by a plan's words (the pinyin table gains only the new ones); returns what
        was new, as `append` logs it."""
        added: dict = {"words": {}, "chars": {}, "pinyin": {}}
        read: list[str] = []
        for word, freq in words.items():
            if word not in self.words:
                self.words[word] = added["words"][word] = freq
                if 2 <= len(word) <= 8 and all(is_cjk(c) for c in word):
                    read.append(word)
        for word, key in zip(read, words_pinyin(read), strict=True):  # asked at once: maybe of a helper
            self.pinyin[key] = sorted([*self.pinyin.get(key, ()), word])  # a new list: a copied State shares them
            added["pinyin"].setdefault(key, []).append(word)
        for ch, freq in chars.items():
            if ch not in self.chars:
                self.chars[ch] = added["chars"][ch] = freq
        return added


def _read_sidecar(directory: Path) -> tuple[bytes, list[int], bytes | None]:
    """The sidecar's bytes and identity, and its log's bytes (None: no log). The log is opened before
    the sidecar is read, so a writer replacing both meanwhile (`State.save`) leaves this reader the old
    log (which `_replay` applies only to the sidecar it extends) or none (the new sidecar holds it all)."""
    try:
        log_file = open(directory / LOG, "rb")  # noqa: SIM115 - closed below, opened first on purpose
    except OSError:
        log_file = None
    try:
        with open(directory / STATE, "rb") as f:
            stat = _identity(os.fstat(f.fileno()))
            data = f.read()
        return data, stat, log_file.read() if log_file is not None else None
    finally:
        if log_file is not None:
            log_file.close()


def _identity(st: os.stat_result) -> list[int]:
    """(size, mtime_ns, inode): what tells one written file from another (each write renames a new one)."""
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _in_corpus_order(entries: list[dict]) -> list[dict]:
    """Sidecar entries newest first, as the loader orders plans (ties by plan id)."""
    from bot.corpus.loader import newest_key

    entries.sort(key=lambda p: p["meta"]["plan_id"])
    entries.sort(key=lambda p: newest_key(p["meta"]["year"], p["meta"]["date"]), reverse=True)
    return entries


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
        self._metas: list[PlanMeta] | None = None
        self._state_on_disk = False  # `state` holds the lexicon only: its plans are read on first use
        self.bound = plans is not None  # answers read the stored passages; the plans serve a rebuild
        self.index_plans = plans  # what a rebuild needs, when this snapshot turns out damaged
        self.n_docs = self.searcher.num_docs
        self.vocab = Vocabulary(self)
        self._df: dict[str, int] = {}
        self._queries: dict[tuple, tuple[tantivy.Query | None, bool]] = {}  # see `_prepared`
        self._queries_lock = threading.Lock()
        self._filters: dict[frozenset[str], tantivy.Query] = {}  # see `_only`
        self._next_seq: int | None = None  # opened for an add only (`open_for_add`): the plans are not read
        # the sidecar's, its log's and tantivy's meta.json's stats when this snapshot's state was read or
        # written under the folder's lock: `applied` writes in place only while the folder is as it left it
        self._disk: tuple | None = None
        # plan id → sequence number of every entry of `state.plans`, when known (`applied` keeps it)
        self._seqs: dict[str, int] | None = None
        self._plan_seqs: dict[str, int] | None = None  # the same, read for `tops` (`plan_seqs`)

    @property
    def plans(self) -> list[PlanMeta]:
        """The plans' metadata in corpus order (filters, listings); built when first asked for, so an
        answer that needs only its hits' plans never builds thousands."""
        if self._metas is None:
            source = self.state.plans
            bound = self.index_plans
            if bound is not None and len(bound) == len(source) and \
                    all(p.plan_id == e["meta"]["plan_id"] for p, e in zip(bound, source, strict=True)):
                # the corpus's own metadata, in the same order: equal to the sidecar's (a plan's hash
                # covers it), and not a second copy of 50,000 of them
                self._metas = [p.meta for p in bound]
                return self._metas
            source = self._entries()
            if self._state_on_disk and self._seqs is None and self._plan_seqs is None:  # read once for both
                self._plan_seqs = {p["meta"]["plan_id"]: p["seq"] for p in source}
            self._metas = [PlanMeta(**p["meta"]) for p in source]
        return self._metas

    # -- opening and changing

    @classmethod
    def reopen(cls, directory: Path, lexicon: State) -> TantivyIndex:
        """The index as a start that checked it is current finds it (bot.search.quickstart): opened
        read-only, no lock, no sync; `lexicon` is the sidecar's query-side part, its plans read from
        the sidecar only if a filter asks for them. Raises ValueError when tantivy cannot open it."""
        index = tantivy.Index.open(str(directory))
        index.register_tokenizer("ws", _WS)
        opened = cls(directory, index, lexicon)
        opened._state_on_disk = True
        return opened

    @classmethod
    def open(cls, directory: Path | None) -> TantivyIndex:
        """The index at `directory` (created empty when missing or of another format); None: in memory.

        It is a cache of the corpus: one that cannot be read is said in one WARNING line and rebuilt.
        A location that cannot hold an index at all (a file, a read-only folder) is IndexUnusable."""
        disk = _disk_mark(directory)
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
            disk = _disk_mark(directory)
        index.register_tokenizer("ws", _WS)
        opened = cls(directory, index, state)
        opened._disk = disk
        return opened

    @classmethod
    def open_for_add(cls, directory: Path) -> TantivyIndex:
        """`open`, for `add` only: the sidecar's lexicon and next sequence number are read, not its plan
        list (State.load_lexicon); an older sidecar, or one that cannot be read, is opened as `open`
        does. Callers hold the folder's lock."""
        loaded = State.load_lexicon(directory)
        index = _open_existing(directory) if loaded is not None else None
        if index is None:
            return cls.open(directory)
        usable_folder(directory)
        index.register_tokenizer("ws", _WS)
        opened = cls(directory, index, loaded[0])
        opened._next_seq = loaded[1]
        return opened

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
        disk = _disk_mark(self.directory)
        base = State.load(self.directory) if self.directory is not None else self.state
        if base is None:  # the folder was wiped under us: start it again
            return TantivyIndex.open(self.directory).sync(plans)
        have = {p["meta"]["plan_id"]: p for p in base.plans}
        want = {p.plan_id: plan_hash(p) for p in plans}
        removed = [pid for pid, p in have.items() if want.get(pid) != p["hash"]]
        added = [p for p in plans if have.get(p.plan_id, {}).get("hash") != want[p.plan_id]]
        order = [p["meta"]["plan_id"] for p in base.plans] != [p.plan_id for p in plans]
        if not removed and not added and not order:
            if base.plans == self.state.plans:
                if not self.bound:
                    _share_metas(self.state, plans)
                same = self if self.bound else TantivyIndex(self.directory, self._index, self.state, plans)
                same._disk = disk
                return same
            # Another process (`planbrief add`) brought the index up to these plans: its sidecar is right
            # as it is (a plan's hash covers its metadata), so adopt it rather than write it again.
            self._index.reload()
            _share_metas(base, plans)
            adopted = TantivyIndex(self.directory, self._index, base, plans)
            adopted._disk = disk
            return adopted
        state = State(words=dict(base.words), chars=dict(base.chars),
                      pinyin={k: list(v) for k, v in base.pinyin.items()})
        seq = {pid: p["seq"] for pid, p in have.items() if pid not in removed}
        if removed or added:
            self._write(removed, added, seq, state)
        state.plans = [{"meta": p.meta.as_dict(), "hash": want[p.plan_id], "seq": seq[p.plan_id]} for p in plans]
        if self.directory is not None:
            state.save(self.directory)
        self._index.reload()
        synced = TantivyIndex(self.directory, self._index, state, plans)
        synced._disk = _disk_mark(self.directory)
        return synced

    def applied(self, added: list[Plan], removed: list[str], plans: list[Plan]) -> TantivyIndex | None:
        """This snapshot with `added` (new or changed plans) written and `removed` deleted, reading and
        diffing no other plan: the running bot's refresh, which knows what changed (`plans`, the whole
        corpus after it, only serves a rebuild). A new snapshot; this one keeps its searcher and state.

        None when the folder is not as this snapshot read or wrote it (another process wrote it since):
        then the caller syncs the whole corpus, which diffs against the sidecar on disk. Callers hold
        the folder's lock.
        """
        if self.directory is not None and (self._disk is None or self._disk != _disk_mark(self.directory)):
            return None
        base = self.state
        # shallow copies: the words and pinyin lists this snapshot's queries read are never changed in place
        state = State(words=dict(base.words), chars=dict(base.chars), pinyin=dict(base.pinyin))
        have = self._seqs if self._seqs is not None else {p["meta"]["plan_id"]: p["seq"] for p in base.plans}
        gone = set(removed) | {p.plan_id for p in added if p.plan_id in have}
        seq = {pid: s for pid, s in have.items() if pid not in gone} if gone else dict(have)
        gained = self._write(sorted(gone), added, seq, state)
        texts = base.texts if base.texts is not None and len(base.texts) == len(base.plans) else \
            [json.dumps(p, ensure_ascii=False) for p in base.plans]  # once: the next change reuses them
        kept = [i for i, p in enumerate(base.plans) if p["meta"]["plan_id"] not in gone] if gone else None
        entries = list(base.plans) if kept is None else [base.plans[i] for i in kept]
        texts = list(texts) if kept is None else [texts[i] for i in kept]
        metas = None if self._metas is None else \
            [m for m in self._metas if m.plan_id not in gone] if gone else list(self._metas)
        logged = []
        for plan in added:
            entry = {"meta": plan.meta.as_dict(), "hash": plan_hash(plan), "seq": seq[plan.plan_id]}
            logged.append(entry)
            at = _position(entries, plan.meta)
            entries.insert(at, entry)
            texts.insert(at, json.dumps(entry, ensure_ascii=False))
            if metas is not None:
                metas.insert(at, plan.meta)
        state.plans, state.texts = entries, texts
        if self.directory is not None and not gone:
            # New plans only: logged as `planbrief add` logs them (State.append), not the whole sidecar
            # (28 MB at ×10,000) written again; `load` and `adopted` read the log, `_disk` takes its stat.
            state.append(self.directory, logged, gained, merged=True)
        elif self.directory is not None:
            state.save(self.directory)
        self._index.reload()
        changed = TantivyIndex(self.directory, self._index, state, plans)
        changed._metas = metas
        changed._disk = _disk_mark(self.directory)
        changed._seqs = seq  # `_write` gave the added plans theirs: every entry of `entries`
        return changed

    def warm_texts(self) -> None:
        """Encode the sidecar's entries, and map their ids to their sequence numbers, once ahead of the
        first change (`applied` keeps both after it)."""
        state = self.state
        if state.texts is None or len(state.texts) != len(state.plans):
            state.texts = [json.dumps(p, ensure_ascii=False) for p in state.plans]
        if self._seqs is None and not self._state_on_disk:
            self._seqs = {p["meta"]["plan_id"]: p["seq"] for p in state.plans}

    def adopted(self, added: list[Plan], plans: list[Plan]) -> TantivyIndex | None:
        """The folder as another process left it, when what it did is exactly `added` (new plans: a
        `planbrief add` or another worker's publish): then the sidecar is the one this snapshot read
        or wrote, and its log (State.append) holds this snapshot's entries as they are plus those plans
        with the hashes they have here. Only the log is read. A new snapshot over the reloaded searcher;
        None when the folder holds anything else (the caller syncs). Callers hold the folder's lock."""
        if self.directory is None or not added or self._disk is None:
            return None
        disk = _disk_mark(self.directory)
        if disk is None or disk[0] != self._disk[0]:  # the sidecar itself was written again
            return None
        try:
            lines = (self.directory / LOG).read_bytes().split(b"\n")[:-1]
            if not lines or json.loads(lines[0]).get("state") != list(disk[0]):
                return None
            logged = [json.loads(line) for line in lines[1:]]
        except (OSError, ValueError, AttributeError):
            return None
        base = self.state
        have = {p["meta"]["plan_id"]: p for p in base.plans}
        want = {p.plan_id: plan_hash(p) for p in added}
        news: dict[str, dict] = {}
        for add in logged:
            for entry in add["plans"]:
                pid = entry["meta"]["plan_id"]
                if pid in have and pid not in news:
                    if entry != have[pid]:
                        return None  # a plan this snapshot holds was changed by the other process
                else:
                    news[pid] = entry
        if set(news) != set(want) or any(news[pid]["hash"] != h for pid, h in want.items()):
            return None
        state = State(list(base.plans), dict(base.words), dict(base.chars), dict(base.pinyin))
        state.texts = list(base.texts) if base.texts is not None and len(base.texts) == len(base.plans) else \
            [json.dumps(p, ensure_ascii=False) for p in base.plans]
        metas = None if self._metas is None else list(self._metas)
        for add in logged:  # the lexicon each logged add grew (setdefault: the ones already here stay)
            state._replay_lexicon(add)
        for plan in added:
            entry = news[plan.plan_id]
            at = _position(state.plans, plan.meta)
            state.plans.insert(at, entry)
            state.texts.insert(at, json.dumps(entry, ensure_ascii=False))
            if metas is not None:
                metas.insert(at, plan.meta)
        self._index.reload()
        adopted = TantivyIndex(self.directory, self._index, state, plans)
        adopted._metas = metas
        adopted._disk = disk
        return adopted

    def add(self, plans: list[Plan]) -> None:
        """Index plans just added to the corpus, without reading or diffing the others (`planbrief
        add`: it costs the new plans only, at any corpus size). The sidecar gains them in corpus order,
        so the next `sync` of the whole corpus finds nothing to do; a plan of the same id already
        indexed is replaced. Call it on a snapshot just opened, holding the folder's lock (the sidecar
        read by `open` is the one on disk); the snapshot is spent after it."""
        state = self.state
        if self._next_seq is not None:  # plans not read: each is written (a plan of the same id is
            have: dict = {}             # replaced all the same: its documents deleted, its entry by id)
        else:
            have = {p["meta"]["plan_id"]: p for p in state.plans}
        fresh = [p for p in {p.plan_id: p for p in plans}.values()
                 if have.get(p.plan_id, {}).get("hash") != plan_hash(p)]
        if not fresh:
            return
        removed = [p.plan_id for p in fresh if p.plan_id in have]
        seq = {pid: p["seq"] for pid, p in have.items() if pid not in removed}
        added = self._write(removed, fresh, seq, state, self._next_seq)
        new = [{"meta": p.meta.as_dict(), "hash": plan_hash(p), "seq": seq[p.plan_id]} for p in fresh]
        if self.directory is not None:
            state.append(self.directory, new, added)  # readers fold it in, in corpus order (State.load)
        else:
            state._merge(new)
        self._index.reload()

    def _write(self, removed: list[str], added: list[Plan], seq: dict[str, int], state: State,
               first_seq: int | None = None) -> dict:
        """Delete `removed`, index `added` (given the next sequence numbers in `seq`, from `first_seq`
        on when given, else after the highest in `seq`), grow `state`'s lexicon; returns what the
        lexicon gained (State.add_words)."""
        bulk = len(added) > 20
        try:
            writer = self._index.writer(heap_size=BULK_HEAP if bulk else SMALL_HEAP, num_threads=2 if bulk else 1)
        except Exception as exc:  # tantivy-py reports a held lock as a plain ValueError/RuntimeError
            raise IndexBusy(str(exc)) from exc
        try:
            for plan_id in dict.fromkeys(removed + [p.plan_id for p in added]):
                writer.delete_documents_by_term("plan", plan_id)  # an added plan's too: never twice
            heads = HeadTable.open(self.directory / HEADS) if self.directory is not None and not bulk else None
            tokenizer = IndexTokenizer(heads)
            headings: dict[tuple[str, ...], str] = {}
            next_seq = max(seq.values(), default=-1) + 1 if first_seq is None else first_seq
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
            if bulk or self._small_segments() >= SMALL_SEGMENTS:
                writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise
        finally:
            del writer
            release_heap()
        gained = state.add_words(tokenizer.words, tokenizer.chars)
        if heads is None and self.directory is not None and added:  # the dictionary is loaded now
            try:
                if not HeadTable.current(self.directory / HEADS):
                    HeadTable.write(self.directory / HEADS)
            except (OSError, sqlite3.Error) as exc:  # an add without it loads the dictionary, as before
                log.warning("jieba head table not written: %s", exc)
        return gained

    def _small_segments(self) -> int:
        """How many of the index's segments hold fewer than SMALL_SEGMENT_DOCS documents (meta.json;
        0 for an index in memory or unreadable meta)."""
        if self.directory is None:
            return 0
        try:
            meta = json.loads((self.directory / META).read_bytes())
            return sum(1 for seg in meta["segments"] if int(seg["max_doc"]) < SMALL_SEGMENT_DOCS)
        except (OSError, ValueError, KeyError, TypeError):
            return 0

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

    def known_counts(self, counts: dict[str, int]) -> None:
        """`df` answers taken as given: counted earlier in these very index files (the quick-start stamp
        vouches for them), so a start need not ask tantivy word by word."""
        self._df.update(counts)

    def top(self, first: list[tuple[str, float]], rest: list[tuple[str, float]], allowed: AbstractSet[str] | None,
            cutoff: Cutoff, need: int) -> tuple[list[Candidate], int]:
        """The best `need` documents for first + rest that `cutoff` lets through, and how many it let
        through.

        One query scores first + rest (a compound's parts in `first`: every document the parts find
        also matches the whole query). Unless a word typed whole is in many passages, it reads
        FIRST_SCAN candidates, and SCAN only when the last of those could still pass the cutoff, so
        `total` is what SCAN candidates would give (counting every match would defeat tantivy's
        pruning, so `total` is at most SCAN). A document's score on
        the parts alone matters only between `cutoff.floor` and `cutoff.sure`; for those few a second,
        narrow query (the parts, restricted to their `ord`s) gives it. Among documents tied with the
        last one kept, the lowest `ord`s win; the candidates come best first (score, then `ord`).
        """
        terms = first + rest
        query, broad = self._prepared(terms, allowed) if terms else (None, False)
        if query is None:
            return [], 0
        limit = SCAN if broad else min(SCAN, max(need, FIRST_SCAN))
        hits = self.searcher.search(query, limit=limit, count=False).hits
        if not hits:
            return [], 0
        floor = cutoff.floor(hits[0][0], bool(first))
        if len(hits) == limit < SCAN and hits[-1][0] >= floor:
            hits = self.searcher.search(query, limit=SCAN, count=False).hits
        parts = self._part_scores(first, hits, floor, cutoff.sure(hits[0][0])) if first else None
        return self._select(hits, parts, cutoff, need)

    def _select(self, hits: list, part_scores: list[float] | None, cutoff: Cutoff, need: int,
                carried: bool = False) -> tuple[list[Candidate], int]:
        """`top`'s choice among `hits` (best first, as tantivy hands them): the cutoff, the run of ties at
        the last one taken, the best `need` by score then `ord`. `carried`: each hit is (score, address,
        ord, orient), read already (`tops`), rather than tantivy's (score, address)."""
        # tantivy's scores are float32, exact as Python floats: plain lists, not numpy, whose import
        # alone was 0.2 s of every CLI start (a few hundred numbers need no arrays)
        scores = [h[0] for h in hits]
        # tantivy returns hits best first (ties by address), so the kept ones are already in that order
        keep = cutoff.keep(scores, part_scores)
        if part_scores is None:  # a monotone cutoff over hits best first keeps a prefix of them
            chosen = hits[:sum(keep)]
            kept = scores[:len(chosen)]
        else:
            at = [i for i, k in enumerate(keep) if k]
            chosen = [hits[i] for i in at]
            kept = [scores[i] for i in at]
        end = min(need, len(chosen))
        if 0 < end < len(chosen) and kept[end] == kept[end - 1]:
            # every document tied with the last one taken (copies tie by the hundred): best first, so
            # the run of equal scores ends at the first lower one
            last = kept[end - 1]
            while end < len(kept) and kept[end] == last:
                end += 1
        if not end:
            return [], len(chosen)
        tied = chosen[:end]
        ords = [h[2] for h in tied] if carried else self.searcher.fast_field_values("ord", [h[1] for h in tied])
        # the best `need` by score, then corpus position: ties decided by `ord` (unique), not by where
        # tantivy keeps a document, so the answer does not depend on segment layout (only these become
        # objects)
        best = sorted(range(end), key=lambda i: (-kept[i], ords[i]))[:need]
        if carried:
            orients = [tied[i][3] for i in best]
        else:
            orients = self.searcher.fast_field_values("orient", [tied[i][1] for i in best])
        return [Candidate(int(ords[i]), tied[i][0], int(r), tied[i][1]) for i, r in zip(best, orients, strict=True)], \
            len(chosen)

    def tops(self, first: list[tuple[str, float]], rest: list[tuple[str, float]], plan_ids: list[str],
             cutoff: Cutoff, need: int) -> Iterator[tuple[str, list[Candidate], int]]:
        """(plan id, `top(first, rest, {plan_id}, cutoff, need)`) for each of `plan_ids` that has a match,
        from a few queries over PLANS_PER_QUERY plans at a time instead of one query per plan; yielded a
        batch at a time, so a caller that keeps less than the candidates holds one batch's at most.

        A comparison wants each plan's own best passage, judged as a search of that plan alone judges
        it (its cutoff relative to its own best, its own candidates). One query per plan was ~0.8 ms,
        40 s for a national corpus. A filtered document's score does not depend on the filter (the
        filter scores 0), and tantivy orders hits by score then address, so a batch's hits taken plan by
        plan are, in order, what each plan's own query returns; each plan's list is then cut and chosen
        exactly as `top` does, the compound's part scores asked once per batch.
        """
        terms = first + rest
        seqs = self.plan_seqs()
        wanted = sorted({p for p in plan_ids if p in seqs}, key=seqs.__getitem__)
        if not terms or not wanted:
            return
        broad = self._broad(terms)
        limit = SCAN if broad else min(SCAN, max(need, FIRST_SCAN))
        words = self._prepared(terms, None)[0]
        read = self.searcher.fast_field_values
        for at in range(0, len(wanted), PLANS_PER_QUERY):
            batch = wanted[at:at + PLANS_PER_QUERY]
            only = tantivy.Query.const_score_query(tantivy.Query.term_set_query(SCHEMA, "plan", batch), 0.0)
            query = tantivy.Query.boolean_query([(tantivy.Occur.Must, words), (tantivy.Occur.Must, only)])
            found = self.searcher.search(query, limit=1, count=True).count
            if not found:
                continue
            hits = self.searcher.search(query, limit=found, count=False).hits
            addresses = [a for _, a in hits]
            by_plan: dict[int, list] = {}
            # best first, ties by address: each plan's list in its own query's order
            for (score, address), o, r in zip(hits, read("ord", addresses), read("orient", addresses), strict=True):
                by_plan.setdefault(o >> PLAN_SHIFT, []).append((score, address, o, r))
            lists = {}
            for seq, own in by_plan.items():
                taken = own[:limit]
                floor = cutoff.floor(taken[0][0], bool(first))
                if len(taken) == limit < SCAN and taken[-1][0] >= floor:
                    taken = own[:SCAN]
                lists[seq] = (taken, floor, cutoff.sure(taken[0][0]))
            # the compound's part scores, for the hits some plan's cutoff cannot decide without them
            undecided = [h[2] for taken, floor, sure in lists.values() for h in taken if floor <= h[0] < sure]
            parts = self._parts_only(first, undecided) if first and undecided else {}
            ids = {seqs[p]: p for p in batch}
            for seq, (taken, floor, sure) in lists.items():
                scores = None
                if first:
                    scores = [parts.get(self._key(h[1]), 0.0) if floor <= h[0] < sure else 0.0 for h in taken]
                yield ids[seq], *self._select(taken, scores, cutoff, need, carried=True)

    def _parts_only(self, first: list[tuple[str, float]], ords: list[int]) -> dict[tuple[int, int], float]:
        """The score on the compound's parts alone of each document of `ords` that has one, by address
        key: one query restricted to those documents (`_part_scores`, and `tops` for a batch of plans)."""
        only = tantivy.Query.const_score_query(tantivy.Query.term_set_query(SCHEMA, "ord", [int(o) for o in ords]), 0.0)
        query = tantivy.Query.boolean_query([(tantivy.Occur.Must, self._terms_query(first)),
                                             (tantivy.Occur.Must, only)])
        return {self._key(a): s for s, a in self.searcher.search(query, limit=len(ords), count=False).hits}

    def plan_seqs(self) -> dict[str, int]:
        """Each plan's sequence number (the high bits of its passages' `ord`), read from the sidecar once."""
        if self._seqs is not None:
            return self._seqs
        if self._plan_seqs is None:
            self._plan_seqs = {p["meta"]["plan_id"]: p["seq"] for p in self._entries()}
        return self._plan_seqs

    def _entries(self) -> list[dict]:
        """The sidecar's plan entries of this snapshot: read from disk when it was opened with its lexicon
        only (a quick start), not kept, since a listing needs them once."""
        if self._state_on_disk and self.directory is not None:
            return (State.load(self.directory) or self.state).plans
        return self.state.plans

    def _part_scores(self, first: list[tuple[str, float]], hits: list, floor: float, sure: float) -> list[float]:
        """Each hit's score on the parts alone, asked only for the hits it can decide (between `floor`
        and `sure`); the others get 0, which their own score makes irrelevant."""
        out = [0.0] * len(hits)
        undecided = [a for s, a in hits if floor <= s < sure]
        if not undecided:
            return out
        parts = self._parts_only(first, self.searcher.fast_field_values("ord", undecided))
        for i, (_, address) in enumerate(hits):
            out[i] = parts.get(self._key(address), 0.0)
        return out

    @staticmethod
    def _key(address) -> tuple[int, int]:
        return address.segment_ord, address.doc

    @staticmethod
    def _terms_query(terms: list[tuple[str, float]]) -> tantivy.Query:
        subs = []
        for term, weight in terms:
            subs.append((tantivy.Occur.Should, tantivy.Query.boost_query(
                tantivy.Query.term_query(SCHEMA, "words", term), weight)))
            subs.append((tantivy.Occur.Should, tantivy.Query.boost_query(
                tantivy.Query.term_query(SCHEMA, "heading", term), weight * HEADING_WEIGHT)))
        return tantivy.Query.boolean_query(subs)

    def _prepared(self, terms: list[tuple[str, float]], allowed: AbstractSet[str] | None) -> tuple[tantivy.Query | None, bool]:
        """The query for `terms` and whether it is broad (a word typed whole that many passages hold: read
        SCAN at once). Unfiltered ones are kept per snapshot, as the engine keeps its query plans: a
        query of thirty term clauses costs tens of microseconds to build, and readers repeat themselves."""
        if allowed is not None:
            return self._query(terms, allowed), self._broad(terms)
        key = tuple(terms)
        found = self._queries.get(key)
        if found is None:
            found = (self._query(terms, None), self._broad(terms))
            with self._queries_lock:
                self._queries[key] = found
                if len(self._queries) > QUERY_CACHE:
                    self._queries.pop(next(iter(self._queries)))
        return found

    def _broad(self, terms: list[tuple[str, float]]) -> bool:
        return sum(self.df(t) for t, w in terms if w >= 1.0) > FIRST_SCAN

    def _query(self, terms: list[tuple[str, float]], allowed: AbstractSet[str] | None) -> tantivy.Query | None:
        query = self._terms_query(terms)
        if allowed is not None:
            if not allowed:
                return None
            query = tantivy.Query.boolean_query([(tantivy.Occur.Must, query), (tantivy.Occur.Must, self._only(allowed))])
        return query

    def _only(self, allowed: AbstractSet[str]) -> tantivy.Query:
        """The filter to `allowed` plans, kept for the last few sets: a province or a year is tens of
        thousands of plans at national scale, and sorting them into a term set cost ~50 ms a search.
        The engine hands the same set object for the same place or year, so the lookup is cheap."""
        if not isinstance(allowed, frozenset):  # a caller's own set: hashable as a copy
            allowed = frozenset(allowed)
        with self._queries_lock:
            found = self._filters.get(allowed)
        if found is None:
            found = tantivy.Query.const_score_query(tantivy.Query.term_set_query(SCHEMA, "plan", sorted(allowed)), 0.0)
            with self._queries_lock:
                self._filters[allowed] = found
                if len(self._filters) > FILTER_CACHE:
                    self._filters.pop(next(iter(self._filters)))
        return found

    def passage_at(self, address, doc=None) -> Passage:
        """The passage stored with a document this snapshot's searcher returned (`doc`: that document,
        when the caller has already read it for `norm_bytes`)."""
        if doc is None:
            doc = self.searcher.doc(address)
        text, rec = doc.get_first("text"), doc.get_first("rec")
        if text is None or rec is None:
            raise KeyError(f"document {self._key(address)} has no stored passage")
        norm = doc.get_first("norm")
        return decode_passage({"text": text, "rec": rec} if norm is None else {"text": text, "norm": norm, "rec": rec})

    def norm_bytes(self, address, doc=None) -> bytes:
        """A document's normalised text as stored (UTF-8), for substring tests that need no decoding."""
        if doc is None:
            doc = self.searcher.doc(address)
        data = doc.get_first("norm")
        if data is None:
            data = doc.get_first("text")
        if data is None:
            raise KeyError(f"document {self._key(address)} has no stored passage")
        return data

    def passage(self, ord_: int) -> Passage:
        """The passage at corpus position `ord_` (KeyError when no live document has it)."""
        hits = self.searcher.search(tantivy.Query.term_query(SCHEMA, "ord", ord_), limit=1, count=False).hits
        if not hits:
            raise KeyError(ord_)
        return self.passage_at(hits[0][1])

    def phrase_present(self, phrase: str) -> bool:
        """Whether some passage contains `phrase` verbatim."""
        return self.phrase_count(phrase, stop=1) > 0

    def phrase_count(self, phrase: str, stop: int | None = None) -> int:
        """How many passages (among PHRASE_SCAN candidates) contain `phrase` verbatim; `stop` ends the
        count early once reached.

        Every bigram of a clause is a word-field term or a clause term (bot.search.tokenize), so a
        passage holding the phrase holds each of its bigrams one way or the other: the candidates are
        the passages holding all of them, and only those are read and checked. A small `stop` is
        usually reached among the few best passages of the rarest bigram, a far cheaper query than the
        conjunction of common bigrams (a millisecond at ×1000), so those are tried first.
        """
        bigrams = list(dict.fromkeys(t[len(CLAUSE):] for t in clause_terms(phrase)))
        if not bigrams or any(not self.df(b) + self.df(CLAUSE + b) for b in bigrams):
            return 0
        wanted = _utf8(phrase)
        if stop is not None and stop <= PHRASE_FIRST:
            rarest = min(bigrams, key=lambda b: (self.df(b) + self.df(CLAUSE + b), b))
            hits = self.searcher.search(self._either(rarest), limit=PHRASE_FIRST, count=False).hits
            if sum(1 for _, address in hits if wanted in self.norm_bytes(address)) >= stop:
                return stop
        each = [(tantivy.Occur.Must, self._either(b)) for b in bigrams]
        query = each[0][1] if len(each) == 1 else tantivy.Query.boolean_query(each)
        count = 0
        for _, address in self.searcher.search(query, limit=PHRASE_SCAN, count=False).hits:
            if wanted in self.norm_bytes(address):
                count += 1
                if stop is not None and count >= stop:
                    break
        return count

    def phrase_absent(self, phrase: str) -> bool:
        """Whether it is proven that no live passage holds `phrase` verbatim: one of its bigrams is in no
        passage, or the passages holding all of them are fewer than PHRASE_SCAN and none of them holds
        it (each was read). False when some passage holds it, or when too many hold its bigrams to read:
        the caller must then assume any passage may (ranking skips the phrase bonus's reads only for a
        phrase proven absent, such as a whole typed sentence that no plan says word for word)."""
        bigrams = list(dict.fromkeys(t[len(CLAUSE):] for t in clause_terms(phrase)))
        if not bigrams:
            return False  # not a CJK run: no bigram covers it, nothing is proven
        if any(not self.df(b) + self.df(CLAUSE + b) for b in bigrams):
            return True
        if self.searcher.doc_freq("words", phrase):
            return False  # a word of some passage's text (or of a deleted one: then it is merely not proven)
        each = [(tantivy.Occur.Must, self._either(b)) for b in bigrams]
        query = each[0][1] if len(each) == 1 else tantivy.Query.boolean_query(each)
        hits = self.searcher.search(query, limit=PHRASE_SCAN, count=False).hits
        if len(hits) >= PHRASE_SCAN:
            return False  # more passages hold every bigram than are read here
        wanted = _utf8(phrase)
        return not any(wanted in self.norm_bytes(address) for _, address in hits)

    @staticmethod
    def _either(bigram: str) -> tantivy.Query:
        """A bigram in the text, as a word-field term or as a clause term."""
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, tantivy.Query.term_query(SCHEMA, "words", bigram)),
                                            (tantivy.Occur.Should, tantivy.Query.term_query(SCHEMA, "words",
                                                                                            CLAUSE + bigram))])


def _disk_mark(directory: Path | None) -> tuple | None:
    """The sidecar's and meta.json's (size, mtime_ns, inode): each is replaced by rename at every write;
    and the sidecar's log's (None while there is none), which an add appends to."""
    if directory is None:
        return None
    out = []
    for name in (STATE, META):
        try:
            out.append(tuple(_identity(os.stat(directory / name))))
        except OSError:
            return None
    try:
        out.append(tuple(_identity(os.stat(directory / LOG))))
    except OSError:
        out.append(None)
    return tuple(out)


def _share_metas(state: State, plans: list[Plan]) -> None:
    """The sidecar's entries of `plans` (the same plans, in the same order, with the same hashes,
    hence the same metadata) given metadata dicts over the corpus's own strings: the sidecar's
    decoded copies of every title, issuer and file name go (tens of megabytes at ×10,000)."""
    for entry, plan in zip(state.plans, plans, strict=True):
        entry["meta"] = plan.meta.as_dict()


def _position(entries: list[dict], meta: PlanMeta) -> int:
    """Where a plan goes among the sidecar's entries (corpus order: newest first, then plan id)."""
    from bot.corpus.loader import newest_key

    key = newest_key(meta.year, meta.date)
    lo, hi = 0, len(entries)
    while lo < hi:
        mid = (lo + hi) // 2
        other = entries[mid]["meta"]
        theirs = newest_key(other["year"], other["date"])
        if theirs > key or (theirs == key and other["plan_id"] < meta.plan_id):
            lo = mid + 1
        else:
            hi = mid
    return lo


def release_heap() -> None:
    """Hand freed memory back to the system, which glibc otherwise keeps: writer threads' arenas at their
    high-water mark (a bot taking plans in and out grew ~50 MB before levelling off), and what a whole
    corpus load decoded (~140 MB at ×10,000)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        _libc().malloc_trim(0)


@lru_cache(maxsize=1)
def _libc():
    import ctypes  # here: ctypes.util imports subprocess, ~10 ms of every CLI start that never trims
    import ctypes.util

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
    doc.add_unsigned("orient", _ORIENT_INDEX.get(passage.orientation, 2))
    for name, value in encode_passage(passage).items():
        doc.add_bytes(name, value)
    return doc


_ORIENT_INDEX = {name: i for i, name in enumerate(ORIENTATIONS)}


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate from a damaged source survives


def encode_passage(passage: Passage) -> dict[str, bytes]:
    """A passage as stored fields: `text` and `norm` as UTF-8 (`norm` left out when it equals `text`,
    as it does for a third of passages), the rest as a short JSON array.

    The texts stay raw bytes so ranking can test a phrase in a candidate without decoding anything
    (UTF-8 is self-synchronising: a substring of the bytes is a substring of the text), which is most
    of what reading a passage cost when it was one JSON record.
    """
    fields = {"text": _utf8(passage.text),
              "rec": _utf8(json.dumps([passage.id, passage.plan_id, list(passage.section), passage.orientation,
                                       passage.node_id], ensure_ascii=False, separators=(",", ":")))}
    if passage.norm != passage.text:
        fields["norm"] = _utf8(passage.norm)
    return fields


# json.loads without its wrapper (whitespace and trailing-data checks, ~1.3 µs of a page's ten passages'
# ~2.3 µs each): what encode_passage wrote is read by the scanner alone, anything else by json.loads
_SCAN = json.JSONDecoder().scan_once


def _record(rec: str) -> list:
    try:
        value, end = _SCAN(rec, 0)
    except StopIteration:
        return json.loads(rec)  # raises json's own error
    return value if end == len(rec) else json.loads(rec)


def decode_passage(fields: dict[str, bytes]) -> Passage:
    id_, plan_id, section, orientation, node_id = _record(fields["rec"].decode("utf-8", "surrogatepass"))
    text = fields["text"].decode("utf-8", "surrogatepass")
    norm = fields.get("norm")
    return Passage(id_, plan_id, tuple(section), text,
                   text if norm is None else norm.decode("utf-8", "surrogatepass"), orientation, node_id)


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
