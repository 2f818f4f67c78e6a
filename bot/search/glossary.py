"""English queries and English glosses through a reviewed glossary (bot/data/glossary_en.tsv).

Why a glossary and not machine translation: readers type the policy's English names (double reduction,
after-school services), and a plan says them one way in Chinese (双减, 课后服务); a curated table maps one
to the other exactly, offline, and the same table tells an English reader what a Chinese term in an
excerpt means. Matching is on word sequences with case, hyphens, apostrophes, plural -s and small words
ignored, longest match first, so "Double-Reduction" and "county managed school hired" both resolve.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

GLOSSARY = Path(__file__).resolve().parents[1] / "data" / "glossary_en.tsv"
MAX_WORDS = 12
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset({"a", "an", "the", "of", "and", "for", "in", "on", "to", "with", "by", "at", "from"})
_IRREGULAR = {"children": "child", "people": "person", "women": "woman", "men": "man"}
_KEEP_S = ("ss", "us", "is", "ics")


@dataclass(frozen=True)
class Entry:
    """One glossary line: the Chinese term, its English wordings (first is shown) and where they come from."""

    zh: str
    en: tuple[str, ...]
    source: str

    @property
    def english(self) -> str:
        return self.en[0]


@dataclass(frozen=True)
class Translation:
    """How an English query was read: (typed English, Chinese term) pairs, plus words left untranslated."""

    matches: tuple[tuple[str, str], ...]
    rest: tuple[str, ...]

    @property
    def terms(self) -> list[str]:
        return [zh for _, zh in self.matches]


def singular(word: str) -> str:
    """A plain English singular (services → service, activities → activity): good enough for keys,
    since both the glossary and the query pass through the same rule."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(_KEEP_S):
        return word[:-1]
    return word


def key_words(text: str) -> tuple[str, ...]:
    """The words of an English phrase as matched: lower case, apostrophes dropped, singular, no small words."""
    words = _WORD.findall(text.lower().replace("'", "").replace("\u2019", ""))
    return tuple(singular(w) for w in words if w not in _STOP)


class Glossary:
    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries
        self.by_zh = {e.zh: e for e in entries}
        self.by_key: dict[tuple[str, ...], Entry] = {}
        for e in entries:
            for wording in e.en:
                self.by_key.setdefault(key_words(wording), e)

    def translate(self, text: str) -> Translation | None:
        """Chinese terms for an English query, longest wording first; None when nothing matched."""
        words = key_words(text)
        matches, rest, i = [], [], 0
        while i < len(words):
            for j in range(min(len(words), i + MAX_WORDS), i, -1):
                entry = self.by_key.get(words[i:j])
                if entry:
                    matches.append((" ".join(words[i:j]), entry.zh))
                    i = j
                    break
            else:
                rest.append(words[i])
                i += 1
        return Translation(tuple(matches), tuple(rest)) if matches else None

    def gloss(self, terms: list[str], text: str) -> tuple[tuple[str, str], ...]:
        """(Chinese, English) for the glossary terms among `terms` that `text` holds, in text order."""
        found = {t: text.find(t) for t in dict.fromkeys(terms) if t in self.by_zh}
        present = sorted((pos, t) for t, pos in found.items() if pos >= 0)
        return tuple((t, self.by_zh[t].english) for _, t in present)


def parse_line(line: str) -> Entry:
    zh, en, source = (part.strip() for part in line.split("\t"))
    wordings = tuple(w.strip() for w in en.split("|") if w.strip())
    if not zh or not wordings or not source:
        raise ValueError(f"glossary line needs 中文, english and a source: {line!r}")
    return Entry(zh, wordings, source)


@lru_cache(maxsize=1)
def load_glossary(path: Path = GLOSSARY) -> Glossary:
    lines = path.read_text(encoding="utf-8").splitlines()
    return Glossary([parse_line(line) for line in lines if line.strip() and not line.startswith("#")])
