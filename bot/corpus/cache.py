"""Where the parsed plans are kept (bot.corpus.store) and what a parse depends on.

The key of a parse covers the reader's own code: the source of bot/corpus/*.py plus the shared models
and text normalisation, so editing the reader re-parses every plan exactly like editing a plan's file
re-parses that plan. The modules only `add` runs (reading a new file's format, the sandbox, fetching,
guessing its metadata: `ADD_ONLY`) are left out: a load never runs them, and editing them must not
re-parse a national corpus (an hour at 50,000 plans). `PLANBRIEF_CORPUS_CACHE=0` turns the store off (benchmarks of the parser): every
load parses in memory.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

BOT = Path(__file__).resolve().parents[1]
CODE = (BOT / "models.py", BOT / "textnorm.py")
# what a load never imports (tests/test_add_and_cli.py checks it): the manifest entry and the file's
# bytes, both in the key, are all an add hands to the load
ADD_ONLY = frozenset({"ingest.py", "sandbox.py", "sandbox_preload.py", "fetch.py", "formats.py", "limits.py",
                      "metadata.py"})
VERSION = 2


def enabled() -> bool:
    return os.environ.get("PLANBRIEF_CORPUS_CACHE", "1") != "0"


def cache_dir() -> Path:
    return Path(os.environ.get("PLANBRIEF_DATA_DIR") or "data") / "corpus"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 over the source of every module the parse runs, so a reader change is a new key."""
    digest = hashlib.sha256(f"v{VERSION}".encode())
    for path in sorted(p for p in (BOT / "corpus").glob("*.py") if p.name not in ADD_ONLY) + list(CODE):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
