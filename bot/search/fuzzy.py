"""Query correction against the corpus's own vocabulary, in a fixed order the reader can follow.

Order: exact vocabulary hit → pinyin homophone (IME typos 双剑 → 双减, pure pinyin shuangjian) →
rapidfuzz near-phrase (集团办学 → 集团化办学, 县管校骋 → 县管校聘) → synonym table (减负 ↔ 双减).
Candidates always come from words the index holds, so a correction can never point at nothing, and
ties break on (policy term, document frequency, word) so the same query always gets the same answer.
"""

from __future__ import annotations

import importlib.util
import itertools
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path

from bot.pinyin import readings
from bot.search.tokenize import is_cjk, policy_terms, synonym_groups

NEAR_CUTOFF = 74.0  # rapidfuzz ratio; 县管校骋 vs 县管校聘 is 75, 双减课后 vs 课后服务 is 50
POLICY_NEAR_CUTOFF = 79.0  # for queries made of known words: 集团办学 → 集团化办学 (88.9), 课后延时服务 (80)
PINYIN_NEAR_CUTOFF = 90.0
MAX_COMBOS = 32


@lru_cache(maxsize=1)
def _char_pinyin() -> dict[int, str]:
    """pypinyin's single-character table, loaded without the package (whose import costs ~0.3 s)."""
    spec = importlib.util.find_spec("pypinyin")
    path = Path(spec.origin).with_name("pinyin_dict.py")
    loader_spec = importlib.util.spec_from_file_location("_planbrief_pinyin_dict", path)
    module = importlib.util.module_from_spec(loader_spec)
    loader_spec.loader.exec_module(module)
    return module.pinyin_dict


def _toneless(syllable: str) -> str:
    decomposed = unicodedata.normalize("NFD", syllable).replace("u\u0308", "v")
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def char_readings(ch: str) -> list[str]:
    raw = _char_pinyin().get(ord(ch))
    if not raw:
        return []
    return list(dict.fromkeys(_toneless(s) for s in raw.split(",")))


def pinyin_keys(text: str) -> list[str]:
    """Every toneless reading of `text` (heteronyms multiplied out, capped), for homophone lookup."""
    options = []
    for ch in text:
        readings = char_readings(ch) if is_cjk(ch) else [ch]
        if not readings:
            return []
        options.append(readings[:4])
    keys = []
    for combo in itertools.islice(itertools.product(*options), MAX_COMBOS):
        keys.append("".join(combo))
    return keys


def word_pinyin(word: str) -> str:
    """The reading a word is most likely typed as (pypinyin's phrase-aware choice), for the index."""
    return words_pinyin([word])[0]


def words_pinyin(words: list[str]) -> list[str]:
    """`word_pinyin` of each word, asked at once (bot.pinyin may ask a helper process)."""
    return [r.replace("ü", "v") for r in readings(words)]


class Lexicon:
    """The corpus vocabulary arranged for correction; built once per index, read-only afterwards."""

    def __init__(self, words: dict[str, int], df: dict[str, int], pinyin: dict[str, list[str]]) -> None:
        policy = policy_terms()
        self.df = df
        self.words = {w: f for w, f in words.items() if df.get(w)}
        self.policy = [w for w in policy if df.get(w)]
        self.policy_set = frozenset(self.policy)
        self.pinyin = pinyin
        self._rank = {w: (0 if w in policy else 1, -df.get(w, 0), w) for w in self.words}
        self._choices: list[str] | None = None
        self._pool: list[str] | None = None
        self._lock = threading.Lock()

    def rank(self, word: str) -> tuple:
        return self._rank.get(word, (2, 0, word))

    def choices(self) -> list[str]:
        with self._lock:
            return self.choices_unlocked()

    def choices_unlocked(self) -> list[str]:
        if self._choices is None:
            self._choices = sorted((w for w in self.words if is_cjk(w[0]) and 2 <= len(w) <= 10), key=self.rank)
        return self._choices

    def known(self, text: str) -> bool:
        return bool(self.df.get(text))

    # -- the steps, in order

    def homophone(self, text: str) -> str | None:
        """A corpus word read the same way as `text` (Chinese typed with the wrong character, or pinyin)."""
        keys = pinyin_keys(text) if is_cjk(text[0]) else ["".join(text.split())]
        found = {w for key in keys for w in self.pinyin.get(key, ()) if w != text}
        if len(text) >= 2 and not found and not is_cjk(text[0]) and len(keys[0]) >= 5:
            found = set(self._near_pinyin(keys[0]))
        return min(found, key=self.rank) if found else None

    def _near_pinyin(self, key: str) -> list[str]:
        from rapidfuzz import fuzz, process

        best = process.extract(key, list(self.pinyin), scorer=fuzz.ratio, limit=3,
                               score_cutoff=PINYIN_NEAR_CUTOFF)
        return [w for k, _, _ in best for w in self.pinyin[k][:1]]

    def near(self, text: str, policy_only: bool = False) -> tuple[str, float] | None:
        """The closest corpus word by edit similarity; never a piece of the query itself."""
        from rapidfuzz import fuzz, process

        choices = self.policy if policy_only else self.choices()
        cutoff = POLICY_NEAR_CUTOFF if policy_only else NEAR_CUTOFF
        found = process.extract(text, choices, scorer=fuzz.ratio, limit=8, score_cutoff=cutoff)
        found = [(w, s) for w, s, _ in found if w not in text and len(w) >= 2]
        if not found:
            return None
        word, score = min(found, key=lambda ws: (-round(ws[1], 3), self.rank(ws[0])))
        return word, score

    def synonyms(self, text: str) -> list[str]:
        """Members of `text`'s synonym groups that the corpus actually contains, in table order."""
        out: list[str] = []
        for group in synonym_groups():
            if text in group:
                out.extend(w for w in group if w != text and self.known(w) and w not in out)
        return out

    def _suggestion_pool(self) -> list[str]:
        with self._lock:
            if self._pool is None:
                policy = set(self.policy)
                self._pool = self.policy + [w for w in self.choices_unlocked() if w not in policy][:3000]
        return self._pool

    def suggestions(self, text: str, limit: int = 5, policy_only: bool = False) -> list[str]:
        """Nearest policy terms (and, unless `policy_only`, words) for a query that found nothing."""
        from rapidfuzz import fuzz, process

        if not text:
            return []
        pool = self.policy if policy_only else self._suggestion_pool()
        found = process.extract(text, pool, scorer=fuzz.partial_ratio, limit=limit * 3, score_cutoff=50)
        ranked = sorted(found, key=lambda f: (-round(f[1], 3), self.rank(f[0])))
        return list(dict.fromkeys(w for w, _, _ in ranked))[:limit]


def build_pinyin_table(words: dict[str, int]) -> dict[str, list[str]]:
    """pinyin key → corpus words, for the index cache (computed at build time, not per query)."""
    table: dict[str, list[str]] = {}
    read = [w for w in sorted(words) if 2 <= len(w) <= 8 and all(is_cjk(c) for c in w)]
    for word, key in zip(read, words_pinyin(read), strict=True):
        table.setdefault(key, []).append(word)
    return table
