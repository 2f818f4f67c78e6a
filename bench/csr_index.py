"""The hand-written baseline: a BM25 inverted index in flat numpy arrays (bench only).

PlanBrief served from this index until the move to tantivy (bot.search.tantivy_index); it stays here
as the "hand-written core" peer of bench.search_bench, built from the same tokens and timed on the
same term lists. What follows is its original rationale.

Python dicts of postings cost ~100 bytes a posting and a loop a query; CSR arrays (term → slice of
doc ids and precomputed BM25 weights) cost 8 bytes and one vectorised add per query term, which is
what keeps a 342k-passage corpus within milliseconds and a few hundred megabytes. Section headings
count as a weighted field of the same document (BM25F-style) so they lift a passage without becoming
passages of their own.

The big arrays (postings, passage texts) are read with `os.pread`, not memory-mapped: the kernel
keeps page-cache files in large folios and maps a whole folio (2 MB on ext4) on the first touch, so
reading a few hundred scattered passages through a mapping made ~95% of a 96 MB blob resident in
the serving process. A slice read copies only the bytes asked for; the page cache stays shared.
"""

from __future__ import annotations

import json
import os
import shutil
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.search.fuzzy import build_pinyin_table
from bot.search.tokenize import IndexTokenizer, _split_sentences
from bot.textnorm import normalize

K1 = 1.2
B = 0.75
HEADING_WEIGHT = 0.5
FORMAT = 4  # 4: clause-bigram field (bot.search.tokenize.CLAUSE)
SMALL_TABLE = 20_000  # strings decoded once up front below this many (the seed corpus)
SMALL_ARRAY = 1 << 20  # .npy files up to this many bytes are read whole; bigger ones by slices


class NpyFile:
    """A 1-D .npy file read by slices with `os.pread`: nothing of it is mapped into the process.

    Thread-safe (pread has no shared file position). The descriptor closes with the object.
    """

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(f)
            self.start = f.tell()
        if len(shape) != 1 or dtype.hasobject:
            raise ValueError(f"{path}: not a flat array")
        self.path = Path(path)
        self.dtype = dtype
        self.itemsize = dtype.itemsize
        self.size = shape[0]
        self.fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self.fd)

    def __len__(self) -> int:
        return self.size

    def read(self, start: int, end: int) -> np.ndarray:
        count = max(0, min(end, self.size) - start)
        out = np.empty(count, dtype=self.dtype)
        if count:
            want = count * self.itemsize
            if os.preadv(self.fd, [out.view(np.uint8)], self.start + start * self.itemsize) != want:
                raise OSError(f"{self.path}: short read")
        return out

    def read_bytes(self, start: int, end: int) -> bytes:
        data = os.pread(self.fd, end - start, self.start + start * self.itemsize)
        if len(data) != end - start:
            raise OSError(f"{self.path}: short read")
        return data

    def load(self) -> np.ndarray:
        return self.read(0, self.size)


def load_array(path: Path) -> np.ndarray | NpyFile:
    """Small arrays whole in memory (cheap, fast to index); big ones as a pread-backed file."""
    f = NpyFile(path)
    return f.load() if f.size * f.itemsize <= SMALL_ARRAY else f


def _slice(arr: np.ndarray | NpyFile, start: int, end: int) -> np.ndarray:
    return arr.read(start, end) if isinstance(arr, NpyFile) else arr[start:end]


def _save_array(path: Path, arr: np.ndarray | NpyFile) -> None:
    if isinstance(arr, NpyFile):
        shutil.copyfile(arr.path, path)
    else:
        np.save(path, arr)


@dataclass
class StringTable:
    """Many strings in one UTF-8 buffer plus offsets: cheap to save, mmap and slice one at a time."""

    blob: np.ndarray
    offsets: np.ndarray
    _small: list[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Plain views: memmap's __getitem__ costs microseconds a call, too much for a hot path.
        self.blob = self.blob.view(np.ndarray)
        self.offsets = self.offsets.view(np.ndarray)
        self._mv = memoryview(self.blob)
        if len(self.offsets) <= SMALL_TABLE:
            self._small = [self._decode(i) for i in range(len(self.offsets) - 1)]

    @classmethod
    def of(cls, strings: list[str]) -> StringTable:
        encoded = [s.encode("utf-8") for s in strings]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        blob = np.frombuffer(b"".join(encoded), dtype=np.uint8) if encoded else np.zeros(0, np.uint8)
        return cls(blob, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str:
        if self._small is not None:
            return self._small[i]
        return self._decode(i)

    def many(self, indices) -> list[str]:
        return [self[int(i)] for i in indices]

    def _decode(self, i: int) -> str:
        start, end = int(self.offsets[i]), int(self.offsets[i + 1])
        return str(self._mv[start:end], "utf-8")

    def save(self, directory: Path, name: str) -> None:
        np.save(directory / f"{name}.blob.npy", self.blob)
        np.save(directory / f"{name}.off.npy", self.offsets)

    @classmethod
    def load(cls, directory: Path, name: str) -> StringTable | FileStringTable:
        """Small tables decoded up front; big ones read one string at a time from the files."""
        offsets = NpyFile(directory / f"{name}.off.npy")
        blob = NpyFile(directory / f"{name}.blob.npy")
        if len(offsets) - 1 <= SMALL_TABLE:
            return cls(blob.load(), offsets.load())
        return FileStringTable(blob, offsets)


class FileStringTable:
    """A saved StringTable whose offsets are in memory (8 bytes a string) and whose UTF-8 blob is
    read with one pread a string, or one a cluster of nearby strings (`many`)."""

    GAP = 16 << 10  # read across a gap this small rather than issue another pread

    def __init__(self, blob: NpyFile, offsets: NpyFile) -> None:
        self.blob = blob
        self._offsets_file = offsets
        self.offsets = offsets.load()

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str:
        if not 0 <= i < len(self):
            raise IndexError(i)
        start, end = self.offsets[i:i + 2].tolist()
        return str(self.blob.read_bytes(start, end), "utf-8")

    def many(self, indices) -> list[str]:
        """The strings at `indices` (in that order), nearby ones fetched by a single read."""
        want = sorted({int(i) for i in indices})
        if want and not (want[0] >= 0 and want[-1] < len(self)):
            raise IndexError(want[0] if want[0] < 0 else want[-1])
        rows = np.array(want, dtype=np.int64)
        starts, ends = self.offsets[rows].tolist(), self.offsets[rows + 1].tolist()
        got: dict[int, str] = {}
        k = 0
        while k < len(want):
            last = k
            while last + 1 < len(want) and starts[last + 1] - ends[last] <= self.GAP:
                last += 1
            base = starts[k]
            data = self.blob.read_bytes(base, ends[last])
            for j in range(k, last + 1):
                got[want[j]] = str(data[starts[j] - base:ends[j] - base], "utf-8")
            k = last + 1
        return [got[int(i)] for i in indices]

    def save(self, directory: Path, name: str) -> None:
        shutil.copyfile(self.blob.path, directory / f"{name}.blob.npy")
        shutil.copyfile(self._offsets_file.path, directory / f"{name}.off.npy")


@dataclass
class Index:
    terms: list[str]
    offsets: np.ndarray  # int64, len(terms)+1 (in memory: a few KB a thousand terms)
    docs: np.ndarray | NpyFile  # int32 doc ids, ascending within a term (a file once loaded)
    weights: np.ndarray | NpyFile  # float32 BM25 contribution of (term, doc)
    n_docs: int
    words: dict[str, int]  # query-side segmentation dictionary (words seen in the corpus → jieba freq)
    chars: dict[str, int]
    meta: dict = field(default_factory=dict)
    vocab: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.vocab:
            self.vocab = {t: i for i, t in enumerate(self.terms)}

    def df(self, term: str) -> int:
        tid = self.vocab.get(term)
        return 0 if tid is None else int(self.offsets[tid + 1] - self.offsets[tid])

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        tid = self.vocab.get(term)
        if tid is None:
            return _EMPTY_DOCS, _EMPTY_WEIGHTS
        start, end = int(self.offsets[tid]), int(self.offsets[tid + 1])
        return _slice(self.docs, start, end), _slice(self.weights, start, end)

    def postings_head(self, term: str, limit: int) -> np.ndarray:
        """The first `limit` doc ids of a term (reads no more than that)."""
        tid = self.vocab.get(term)
        if tid is None:
            return _EMPTY_DOCS
        start, end = int(self.offsets[tid]), int(self.offsets[tid + 1])
        return _slice(self.docs, start, min(end, start + limit))

    def scores(self, weighted_terms: list[tuple[str, float]]) -> tuple[np.ndarray, np.ndarray]:
        """Dense BM25 scores and the candidate doc ids (sorted) that matched at least one term."""
        scores, candidates, _ = self.scores_split([], weighted_terms)
        return scores, candidates

    def scores_split(self, first: list[tuple[str, float]], rest: list[tuple[str, float]]):
        """Like `scores` over first + rest, plus the scores of `first` alone (None when `first` is
        empty): a snapshot taken mid-way, so a sub-query's scores cost one copy, not a second pass
        over its postings."""
        scores = np.zeros(self.n_docs, dtype=np.float32)
        hit_lists: list[np.ndarray] = []
        self._add(scores, first, hit_lists)
        first_scores = scores.copy() if first else None
        self._add(scores, rest, hit_lists)
        return scores, self._candidates(scores, hit_lists), first_scores

    def _add(self, scores: np.ndarray, weighted_terms: list[tuple[str, float]], hit_lists: list) -> None:
        for term, boost in weighted_terms:
            docs, weights = self.postings(term)
            if len(docs):
                scores[docs] += weights * np.float32(boost)
                hit_lists.append(docs)

    def _candidates(self, scores: np.ndarray, hit_lists: list[np.ndarray]) -> np.ndarray:
        if not hit_lists:
            return _EMPTY_DOCS
        total = sum(len(d) for d in hit_lists)
        if total * 8 < self.n_docs:
            # Sort and drop repeats by hand: np.unique (hash-based since numpy 2.3) takes ~20× longer.
            merged = np.sort(np.concatenate(hit_lists))
            return merged[np.concatenate(([True], merged[1:] != merged[:-1]))]
        return np.flatnonzero(scores != 0)  # a bool mask scans ~2× faster than floats

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "offsets.npy", self.offsets)
        _save_array(directory / "docs.npy", self.docs)
        _save_array(directory / "weights.npy", self.weights)
        info = {"format": FORMAT, "n_docs": self.n_docs, "terms": self.terms, "words": self.words,
                "chars": self.chars, "meta": self.meta}
        _write_json(directory / "index.json", info)

    @classmethod
    def load(cls, directory: Path) -> Index | None:
        try:
            info = json.loads((directory / "index.json").read_text(encoding="utf-8"))
            if info.get("format") != FORMAT:
                return None
            return cls(
                terms=info["terms"],
                offsets=np.load(directory / "offsets.npy"),
                docs=load_array(directory / "docs.npy"),
                weights=load_array(directory / "weights.npy"),
                n_docs=info["n_docs"], words=info["words"], chars=info["chars"], meta=info["meta"],
            )
        except (OSError, ValueError, KeyError):
            return None


_EMPTY_DOCS = np.zeros(0, dtype=np.int32)
_EMPTY_WEIGHTS = np.zeros(0, dtype=np.float32)


def _write_json(path: Path, data: dict) -> None:
    """Write beside and rename, so a reader in another process never sees half a file."""
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


class IndexBuilder:
    """Collects documents as term-id arrays, cutting each distinct sentence once."""

    def __init__(self) -> None:
        self.tokenizer = IndexTokenizer()
        self.vocab: dict[str, int] = {}
        self._sentence_ids: dict[str, np.ndarray] = {}
        self._term_ids: list[np.ndarray] = []
        self._chunk_doc: list[int] = []  # per appended chunk; expanded with np.repeat at build time
        self._chunk_w: list[float] = []
        self.n_docs = 0

    def _ids(self, sentence: str) -> np.ndarray:
        ids = self._sentence_ids.get(sentence)
        if ids is None:
            vocab = self.vocab
            tokens = self.tokenizer._tokens_uncached(sentence)
            ids = np.fromiter((vocab.setdefault(t, len(vocab)) for t in tokens), dtype=np.int32,
                              count=len(tokens))
            self._sentence_ids[sentence] = ids
        return ids

    def add(self, norm: str, heading_norm: str = "") -> int:
        doc = self.n_docs
        self.n_docs += 1
        for text, weight in ((norm, 1.0), (heading_norm, HEADING_WEIGHT)):
            for sentence in _split_sentences(text) if text else ():
                ids = self._ids(sentence)
                if len(ids):
                    self._term_ids.append(ids)
                    self._chunk_doc.append(doc)
                    self._chunk_w.append(weight)
        return doc

    def build(self, meta: dict | None = None) -> Index:
        terms = [""] * len(self.vocab)
        for term, tid in self.vocab.items():
            terms[tid] = term
        n, v = self.n_docs, len(terms)
        if not self._term_ids:
            return Index(terms, np.zeros(v + 1, np.int64), _EMPTY_DOCS, _EMPTY_WEIGHTS, n,
                         dict(self.tokenizer.words), dict(self.tokenizer.chars), meta or {})
        lens = np.fromiter((len(a) for a in self._term_ids), dtype=np.int64, count=len(self._term_ids))
        term_ids = np.concatenate(self._term_ids).astype(np.int64)
        doc_ids = np.repeat(np.array(self._chunk_doc, dtype=np.int32), lens)
        field_w = np.repeat(np.array(self._chunk_w, dtype=np.float32), lens)
        self._term_ids, self._chunk_doc, self._chunk_w = [], [], []
        doc_len = np.bincount(doc_ids, weights=field_w, minlength=n)
        keys, inverse = np.unique(term_ids * n + doc_ids, return_inverse=True)
        del term_ids
        tf = np.bincount(inverse, weights=field_w, minlength=len(keys))
        del inverse, field_w, doc_ids
        post_terms = keys // n
        post_docs = (keys % n).astype(np.int32)
        df = np.bincount(post_terms, minlength=v)
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        avgdl = float(doc_len.mean()) or 1.0
        norm = K1 * (1 - B + B * doc_len[post_docs] / avgdl)
        weights = (idf[post_terms] * tf * (K1 + 1) / (tf + norm)).astype(np.float32)
        offsets = np.zeros(v + 1, dtype=np.int64)
        np.cumsum(df, out=offsets[1:])
        return Index(terms, offsets, post_docs, weights, n, dict(self.tokenizer.words),
                     dict(self.tokenizer.chars), meta or {}, dict(self.vocab))


def build_index(passages, fingerprint: str = "") -> Index:
    """Segment every passage (heading path as a weighted field) into the CSR index."""
    builder = IndexBuilder()
    headings: dict[tuple[str, ...], str] = {}
    for p in passages:
        heading = headings.get(p.section)
        if heading is None:
            heading = headings[p.section] = normalize("\n".join(p.section))
        builder.add(p.norm, heading)
    index = builder.build({"fingerprint": fingerprint})
    index.meta["pinyin"] = build_pinyin_table(index.words)
    return index


def top_k(scores: np.ndarray, cand: np.ndarray, k: int) -> np.ndarray:
    """The k best candidates, score descending then passage order: ties never depend on partitioning."""
    vals = scores[cand]
    if len(cand) > k:
        kth = np.partition(vals, len(vals) - k)[len(vals) - k]
        above = cand[vals > kth]
        equal = cand[vals == kth][: k - len(above)]
        cand = np.concatenate([above, equal])
        vals = scores[cand]
    order = np.lexsort((cand, -vals))
    return cand[order]
