"""Where the search index lives, without importing the index: `bot.search.quickstart` finds its stamp
here before tantivy is imported (it checks the plan files while they load)."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    return Path(os.environ.get("PLANBRIEF_DATA_DIR", "data")) / "search"


def cache_root(cache_dir: Path | str | None) -> Path:
    """The folder holding the index folder (`engine.index_dir`) and the quick-start stamp."""
    return Path(cache_dir) if cache_dir is not None else default_cache_dir()
