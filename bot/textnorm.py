"""One normalisation for corpus text and queries alike, so a match in one is a match in the other.

NFKC folds full-width punctuation and digits (江阴's speech uses them), OpenCC folds traditional
characters (雙減 → 双减), and case folding makes pinyin and Latin acronyms (ESI, IPV6) compare equal.
Every step maps one character to one character for the text we carry, so offsets in the normalised
form are offsets in the displayed form too; `normalize` checks that and falls back per character.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import opencc

_T2S = opencc.OpenCC("t2s")


@lru_cache(maxsize=4096)
def _char(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) != 1:
        return ch.lower() if len(ch.lower()) == 1 else ch
    simplified = _T2S.convert(folded)
    if len(simplified) != 1:
        simplified = folded
    lowered = simplified.lower()
    return lowered if len(lowered) == 1 else simplified


def normalize(text: str) -> str:
    """Length-preserving normal form: position i of the result is character i of `text`."""
    nfkc = unicodedata.normalize("NFKC", text)
    if len(nfkc) == len(text):
        converted = _T2S.convert(nfkc)
        if len(converted) == len(text):
            lowered = converted.lower()
            if len(lowered) == len(text):
                return lowered
    return "".join(_char(ch) for ch in text)


def nfkc(text: str) -> str:
    """Display-safe folding (full-width → half-width) for places that need NFKC but not OpenCC."""
    return unicodedata.normalize("NFKC", text)


_DROP = {"Cc", "Cs", "Co", "Cn"}  # controls, lone surrogates, private use, unassigned


def clean(text: str | None, cap: int | None = None) -> str:
    """User text made safe to quote: no control/surrogate chars, single spaces, at most `cap` chars.

    Format characters (RTL marks, zero-width joiners) are dropped too: quoted back they only make
    the reply render strangely, and they carry no meaning for a search.
    """
    text = text or ""
    kept = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in "\n\t":
            kept.append(" ")
        elif cat in _DROP or cat == "Cf":
            continue
        else:
            kept.append(ch)
    out = " ".join("".join(kept).split())
    if cap is not None and len(out) > cap:
        out = out[: cap - 1].rstrip() + "…"
    return out
