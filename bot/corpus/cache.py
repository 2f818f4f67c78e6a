"""Where the parsed plans are kept (bot.corpus.store) and what a parse depends on.

The key of a parse covers the reader's own code: the source of bot/corpus/*.py plus the shared models
and text normalisation, so editing the reader re-parses every plan exactly like editing a plan's file
re-parses that plan. `PLANBRIEF_CORPUS_CACHE=0` turns the store off (benchmarks of the parser): every
load parses in memory.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

BOT = Path(__file__).resolve().parents[1]
CODE = (BOT / "models.py", BOT / "textnorm.py")
VERSION = 2


def enabled() -> bool:
    return os.environ.get("PLANBRIEF_CORPUS_CACHE", "1") != "0"


def cache_dir() -> Path:
    return Path(os.environ.get("PLANBRIEF_DATA_DIR") or "data") / "corpus"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 over the source of every module the parse runs, so a reader change is a new key."""
    digest = hashlib.sha256(f"v{VERSION}".encode())
    for path in sorted((BOT / "corpus").glob("*.py")) + list(CODE):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
