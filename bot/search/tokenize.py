"""Segmentation shared by the index (jieba) and the query side (the index's own vocabulary).

jieba's HMM guesser splits the same unknown term differently from sentence to sentence, and its
dictionary does not know the policy vocabulary (推进集团化办学和县管校聘 → 和县/管校聘), so the index
uses jieba with HMM off plus the curated `data/policy_dict.txt`. Each word is then expanded the way
`cut_for_search` does, plus every inner character bigram, so a partial word (五育, 校聘) still hits
without indexing the cross-word bigrams (和县) that are pure noise.

A second field holds every character bigram that straddles a word boundary inside a clause, spelled
with the `CLAUSE` prefix (修/师/德 → ~修师 ~师德): a term the reader types then matches where it stands
in the text even when jieba cut it differently, while the word field keeps its precision (the query
side weighs that field by how literal the bigram is, see bot.search.engine).

Queries never load jieba (about a second of dictionary building): only words present in the index can
match anyway, so the query is segmented by max-probability over the index's word list
(`segment_with`), which reproduces jieba's choice on the same text.

Indexing one plan need not load it either: jieba only ever looks up substrings of the text it cuts, so
the entries of its dictionary (words, policy terms, and the zero-frequency prefixes jieba keeps) whose
first two characters occur in the text give the same cut. `HeadTable` keeps the dictionary grouped by
those two characters in a small SQLite file beside the index, written whenever the full dictionary
was loaded anyway (a build); an add reads the few thousand groups its plan needs.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
POLICY_DICT = DATA_DIR / "policy_dict.txt"
SYNONYMS = DATA_DIR / "synonyms.txt"

CLAUSE = "~"  # prefix of clause-bigram terms; the query parser never lets "~" through, so no clash
POLICY_FREQ = 50_000  # above ordinary jieba words, so a policy term wins over splits like 和县/管校聘

_CJK = re.compile(r"[\u3400-\u9fff]")
_ALNUM = re.compile(r"[0-9a-z]+(?:[.+][0-9a-z]+)*")
_LOCK = threading.Lock()
_TOKENIZER = None


def is_cjk(ch: str) -> bool:
    return bool(_CJK.match(ch))


def _data_lines(path: Path) -> list[str]:
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


@lru_cache(maxsize=1)
def policy_terms() -> dict[str, int]:
    """Curated term → jieba frequency, in file order (the order is the suggestion order)."""
    terms: dict[str, int] = {}
    for line in _data_lines(POLICY_DICT):
        parts = line.split()
        terms[parts[0]] = int(parts[1]) if len(parts) > 1 else POLICY_FREQ
    return terms


@lru_cache(maxsize=1)
def synonym_groups() -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(line.split()) for line in _data_lines(SYNONYMS))


def jieba_tokenizer():
    """One shared jieba.Tokenizer with the policy terms; built once, under a lock (it is not re-entrant)."""
    global _TOKENIZER
    with _LOCK:
        if _TOKENIZER is None:
            import jieba

            jieba.setLogLevel(60)
            tk = jieba.Tokenizer()
            tk.initialize()
            for term, freq in policy_terms().items():
                tk.add_word(term, freq)
            _TOKENIZER = tk
    return _TOKENIZER


HEADS_VERSION = 1
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _heads_fingerprint() -> str:
    """What the table's entries depend on: jieba's code and dictionary file (found without importing
    jieba: its import alone costs a few hundred milliseconds), the policy terms."""
    from importlib.util import find_spec

    spec = find_spec("jieba")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("jieba is not installed")
    home = Path(spec.submodule_search_locations[0])
    digest = hashlib.sha256(f"{HEADS_VERSION}:{POLICY_FREQ}:".encode())
    for name in ("__init__.py", "dict.txt"):
        st = (home / name).stat()
        digest.update(f"{name}:{st.st_size}:{st.st_mtime_ns}:".encode())
    digest.update(POLICY_DICT.read_bytes())
    return digest.hexdigest()


# jieba 0.42's own block patterns (jieba.re_han_default, re_skip_default, re_eng), for `_HeadCut`
_HAN = re.compile("([\u4E00-\u9FD5a-zA-Z0-9+#&\\._%\\-]+)", re.U)
_SKIP = re.compile("(\r\n|\\s)", re.U)
_ENG = re.compile("[a-zA-Z0-9]", re.U)


class _HeadCut:
    """jieba.Tokenizer.cut(sentence, HMM=False), line for line, over a given prefix dictionary: the
    index cuts with it when the dictionary comes from a HeadTable, so an add imports no jieba.
    tests/test_tokenize_heads.py holds it to jieba's own cut on every seed text."""

    def __init__(self, freq: dict[str, int], total: int) -> None:
        self.FREQ = freq  # noqa: N815 - jieba's name, read the same way
        self.total = total

    def cut(self, sentence: str, HMM: bool = False) -> Iterator[str]:  # noqa: N803 - jieba's signature
        for blk in _HAN.split(sentence):
            if not blk:
                continue
            if _HAN.match(blk):
                yield from self._cut_block(blk)
            else:
                for x in _SKIP.split(blk):
                    if _SKIP.match(x):
                        yield x
                    else:
                        yield from x

    def _cut_block(self, sentence: str) -> Iterator[str]:
        freq = self.FREQ
        n = len(sentence)
        dag: dict[int, list[int]] = {}
        for k in range(n):
            ends = []
            i = k
            frag = sentence[k]
            while i < n and frag in freq:
                if freq[frag]:
                    ends.append(i)
                i += 1
                frag = sentence[k:i + 1]
            dag[k] = ends or [k]
        route: dict[int, tuple] = {n: (0, 0)}
        log_total = math.log(self.total)
        for idx in range(n - 1, -1, -1):
            route[idx] = max((math.log(freq.get(sentence[idx:x + 1]) or 1) - log_total + route[x + 1][0], x)
                             for x in dag[idx])
        x = 0
        buf = ""
        while x < n:
            y = route[x][1] + 1
            word = sentence[x:y]
            if _ENG.match(word) and len(word) == 1:
                buf += word
            else:
                if buf:
                    yield buf
                    buf = ""
                yield word
            x = y
        if buf:
            yield buf


class HeadTable:
    """jieba's dictionary (with the policy terms) as read for one text: `cover(text)` loads every entry
    whose first two characters (or only character) occur in `text`, so `freq` answers exactly as the
    full dictionary does for any substring of the texts covered, which is all jieba's cut asks."""

    def __init__(self, path: Path) -> None:
        """Raises ValueError when the table is missing, unreadable or of another dictionary."""
        try:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            meta = dict(self._db.execute("SELECT key, value FROM meta"))
        except sqlite3.Error as exc:
            raise ValueError(f"no head table: {exc}") from exc
        if meta.get("fingerprint") != _heads_fingerprint():
            self._db.close()
            raise ValueError("head table of another dictionary")
        self.total = int(meta["total"])
        self.freq: dict[str, int] = {}
        self._seen: set[str] = set()

    def cover(self, text: str) -> None:
        heads = set(text)
        heads.update(text[i:i + 2] for i in range(len(text) - 1))
        heads -= self._seen
        if not heads:
            return
        self._seen |= heads
        wanted = [h for h in heads if not _SURROGATE.search(h)]  # no dictionary entry holds one
        for (entries,) in self._db.execute("SELECT entries FROM heads WHERE head IN (SELECT value FROM json_each(?))",
                                           (json.dumps(wanted, ensure_ascii=False),)):
            self.freq.update(json.loads(entries))

    def tokenizer(self) -> _HeadCut:
        """jieba's cut over `freq` (filled as texts are covered), without loading its dictionary."""
        return _HeadCut(self.freq, self.total)

    @staticmethod
    def open(path: Path) -> HeadTable | None:
        try:
            return HeadTable(path)
        except (ValueError, OSError):
            return None

    @staticmethod
    def current(path: Path) -> bool:
        table = HeadTable.open(path)
        if table is None:
            return False
        table._db.close()
        return True

    @staticmethod
    def write(path: Path) -> None:
        """The table of the full dictionary (loads it: call where it is loaded anyway), written beside and
        renamed into place."""
        tk = jieba_tokenizer()
        groups: dict[str, dict[str, int]] = {}
        with _LOCK:
            for word, freq in tk.FREQ.items():
                groups.setdefault(word[:2], {})[word] = freq
            total = tk.total
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}.{threading.get_ident()}")
        tmp.unlink(missing_ok=True)
        try:
            db = sqlite3.connect(tmp)
            with db:
                db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
                db.execute("CREATE TABLE heads (head TEXT PRIMARY KEY, entries TEXT) WITHOUT ROWID")
                db.executemany("INSERT INTO meta VALUES (?, ?)",
                               [("fingerprint", _heads_fingerprint()), ("total", str(total))])
                db.executemany("INSERT INTO heads VALUES (?, ?)",
                               ((head, json.dumps(entries, ensure_ascii=False, separators=(",", ":")))
                                for head, entries in groups.items() if not _SURROGATE.search(head)))
            db.close()
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def word_freq(word: str) -> int:
    """jieba's frequency for a word (0 when unknown), for the query-side segmenter's dictionary."""
    return int(jieba_tokenizer().FREQ.get(word) or 0)


def cut_words(norm: str) -> list[str]:
    """Base segmentation of normalised text: jieba, HMM off, policy dictionary loaded."""
    tk = jieba_tokenizer()
    with _LOCK:
        return list(tk.cut(norm, HMM=False))


def expand_word(word: str, known: Mapping[str, int]) -> list[str]:
    """Index terms for one segmented word: the word, inner 3-grams that are words, inner bigrams.

    `known` decides which 3-grams count as words (jieba's dictionary at index time, the index
    vocabulary at query time), which keeps both sides emitting the same terms for the same word.
    """
    if _ALNUM.fullmatch(word):
        return [word] if len(word) >= 2 else []
    if len(word) < 2 or not all(is_cjk(ch) for ch in word):
        return _cjk_runs_bigrams(word)
    out = [word]
    if len(word) > 3:
        out.extend(tri for tri in _ngrams(word, 3) if known.get(tri))
    if len(word) > 2:
        out.extend(_ngrams(word, 2))
    return out


def _ngrams(word: str, n: int) -> list[str]:
    seen: dict[str, None] = {}
    for i in range(len(word) - n + 1):
        seen.setdefault(word[i : i + n], None)
    return list(seen)


def _cjk_runs_bigrams(word: str) -> list[str]:
    """Mixed tokens (rare: jieba keeps 互联网+教育 style runs) fall back to CJK bigrams and alnum runs."""
    out: list[str] = []
    for run in re.findall(r"[\u3400-\u9fff]{2,}", word):
        out.extend(_ngrams(run, 2))
    out.extend(m for m in _ALNUM.findall(word) if len(m) >= 2)
    return out


class IndexTokenizer:
    """Index-time tokenizer with a per-sentence cache: synthetic or repeated text is cut only once.
    With `heads`, jieba's dictionary is read only for the texts given (same tokens, see HeadTable)."""

    def __init__(self, heads: HeadTable | None = None) -> None:
        self._heads = heads
        self._tk = heads.tokenizer() if heads is not None else jieba_tokenizer()
        self._freq = self._tk.FREQ
        self._cache: dict[str, tuple[str, ...]] = {}
        self._joined: dict[str, str] = {}
        self.words: dict[str, int] = {}  # every base word seen (len ≥ 2 or alnum) → jieba frequency
        self.chars: dict[str, int] = {}

    def tokens(self, norm: str) -> tuple[str, ...]:
        if self._heads is not None:
            self._heads.cover(norm)
        out: list[str] = []
        for sentence in _split_sentences(norm):
            cached = self._cache.get(sentence)
            if cached is None:
                cached = self._tokens_uncached(sentence)
                if len(self._cache) < 2_000_000:
                    self._cache[sentence] = cached
            out.extend(cached)
        return tuple(out)

    def text(self, norm: str) -> str:
        """`tokens` space-joined, as the tantivy index takes them (bot.search.tantivy_index); each
        sentence's joined tokens are cached, so a build joins a few strings a passage, not hundreds."""
        if self._heads is not None:
            self._heads.cover(norm)
        parts = []
        for sentence in _split_sentences(norm):
            joined = self._joined.get(sentence)
            if joined is None:
                joined = " ".join(self._tokens_uncached(sentence))
                if len(self._joined) < 2_000_000:
                    self._joined[sentence] = joined
            if joined:
                parts.append(joined)
        return " ".join(parts)

    def _tokens_uncached(self, sentence: str) -> tuple[str, ...]:
        out: list[str] = []
        words = list(self._tk.cut(sentence, HMM=False))
        for word in words:
            if len(word) == 1:
                if is_cjk(word):
                    self.chars.setdefault(word, int(self._freq.get(word) or 1))
                continue
            expanded = expand_word(word, self._freq)
            for term in expanded:
                if term == word or (len(term) == 3 and self._freq.get(term)):
                    self.words.setdefault(term, int(self._freq.get(term) or 1))
            out.extend(expanded)
        out.extend(boundary_bigrams(words))
        return tuple(out)


def boundary_bigrams(words: list[str]) -> list[str]:
    """Clause-field terms: CJK bigrams whose two characters jieba put in different words.

    Bigrams inside a word are already word-field terms, so the two fields partition every bigram of a
    clause; punctuation and Latin runs end a clause, so nothing is paired across them.
    """
    out: list[str] = []
    prev = ""
    for word in words:
        if not word:
            continue
        if prev and is_cjk(prev) and is_cjk(word[0]):
            out.append(CLAUSE + prev + word[0])
        prev = word[-1]
    return out


def clause_terms(part: str) -> list[str]:
    """Every bigram of a CJK query part as clause-field terms (both fields may hold its bigrams)."""
    return [CLAUSE + bigram for bigram in _ngrams(part, 2)] if len(part) >= 2 and all(map(is_cjk, part)) else []


_SENTENCE_END = re.compile(r"(?<=[。；！？;!?\n])")


def _split_sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s]


def segment_with(text: str, words: Mapping[str, int], chars: Mapping[str, int], max_len: int = 12,
                 total: int | None = None, skip: str = "") -> list[str]:
    """jieba's max-probability route over a given dictionary (no HMM): same text, same cut.

    Runs of Latin letters and digits stay whole, as jieba keeps them. `total` (the dictionary's
    frequency sum) may be passed in so a query does not re-add the whole vocabulary; `skip` is one word
    to treat as absent (how a compound is cut into its parts).
    """
    if total is None:
        total = sum(words.values()) + sum(chars.values())
    if skip:
        words = _Without(words, skip)
    total = max(1, total)
    log_total = math.log(total)
    pieces: list[str] = []
    for chunk in re.findall(r"[\u3400-\u9fff]+|[0-9a-z]+(?:[.+][0-9a-z]+)*", text):
        if not is_cjk(chunk[0]):
            pieces.append(chunk)
            continue
        pieces.extend(_route(chunk, words, chars, log_total, max_len))
    return pieces


class _Without(Mapping):
    """A read-only view of a dictionary minus one word, without copying the dictionary."""

    def __init__(self, words: Mapping[str, int], skip: str) -> None:
        self._words, self._skip = words, skip

    def __getitem__(self, key: str) -> int:
        if key == self._skip:
            raise KeyError(key)
        return self._words[key]

    def get(self, key, default=None):
        return default if key == self._skip else self._words.get(key, default)

    def __iter__(self):
        return (w for w in self._words if w != self._skip)

    def __len__(self) -> int:
        return len(self._words) - (self._skip in self._words)


def _route(chunk: str, words: Mapping[str, int], chars: Mapping[str, int], log_total: float, max_len: int) -> list[str]:
    n = len(chunk)
    best: list[tuple[float, int]] = [(0.0, n)] * (n + 1)
    for i in range(n - 1, -1, -1):
        cand = (math.log(chars.get(chunk[i]) or 1) - log_total + best[i + 1][0], i + 1)
        for j in range(i + 2, min(n, i + max_len) + 1):
            freq = words.get(chunk[i:j])
            if freq:
                score = math.log(freq) - log_total + best[j][0]
                if score > cand[0]:
                    cand = (score, j)
        best[i] = cand
    out, i = [], 0
    while i < n:
        j = best[i][1]
        out.append(chunk[i:j])
        i = j
    return out


def query_terms(pieces: Iterable[str], words: Mapping[str, int], vocab: Mapping[str, int]) -> list[str]:
    """Index terms for a segmented query: each word's expansion, plus bigrams across single characters.

    A run of single characters (a word the dictionary lacks, such as 校聘 typed alone) is matched by its
    bigrams, which the index holds whenever that run sits inside a longer indexed word.
    """
    out: dict[str, None] = {}
    run = ""
    for piece in list(pieces) + [""]:
        if len(piece) == 1 and is_cjk(piece):
            run += piece
            continue
        for bigram in _ngrams(run, 2) if len(run) >= 2 else ():
            out.setdefault(bigram, None)
        run = ""
        for term in expand_word(piece, words) if piece else ():
            out.setdefault(term, None)
    return [t for t in out if t in vocab]
