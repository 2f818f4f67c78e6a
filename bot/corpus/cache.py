"""The parsed corpus (plans, outlines, passages) cached beside the search index.

Why: parsing every text at every start grows with the corpus (4–6 s at 500 plans) and every CLI call,
bot start and reload paid it. An unchanged corpus is now read back in one pickle load instead. The key
covers everything the parse depends on: the manifest as written, each file's bytes (SHA-256), and the
source of the corpus code itself (bot/corpus/*.py plus the shared models and text normalisation), so
editing the reader invalidates the cache exactly like editing a plan does.

The cache is this process's own output in the operator's data folder; a file that fails to load for
any reason is ignored and rebuilt. `PLANBRIEF_CORPUS_CACHE=0` turns it off (benchmarks of the parser).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from bot.models import Plan

BOT = Path(__file__).resolve().parents[1]
CODE = (BOT / "models.py", BOT / "textnorm.py")
VERSION = 1
KEEP = 8  # cached corpora kept per folder; older keys are removed on save


@dataclass(frozen=True)
class Cached:
    """What a load needs besides the folder: the parsed plans and the corpus fingerprint (index key)."""

    plans: list[Plan]
    fingerprint: str
    sources: dict[str, str] = field(default_factory=dict)  # plan id → digest of entry and text


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


def corpus_key(manifest: bytes, files: list[tuple[str, bytes]]) -> str:
    """The cache key of one corpus state: code, manifest bytes, and each listed file's content hash."""
    digest = hashlib.sha256(code_fingerprint().encode())
    digest.update(hashlib.sha256(manifest).digest())
    for name, data in files:
        digest.update(name.encode())
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()[:32]


def key_for(manifests: list[Path], listed: list[tuple[Path, dict]]) -> str | None:
    """The key of the corpus as it is on disk now (each manifest, present or not, and each listed file);
    None when a file cannot be read (the loader then reports that file as it always has)."""
    try:
        folders = {m.parent: n for n, m in enumerate(manifests)}
        manifest = b"".join(b"%d:" % n + (m.read_bytes() if m.exists() else b"-") for n, m in enumerate(manifests))
        files = [(f"{folders.get(folder, folder)}/{e['file']}", (folder / e["file"]).read_bytes())
                 for folder, e in listed]
        return corpus_key(manifest, files)
    except (KeyError, TypeError, OSError):
        return None


def load(key: str | None) -> Cached | None:
    if key is None or not enabled():
        return None
    path = cache_dir() / f"corpus-{key}.pickle"
    try:
        with open(path, "rb") as f:
            cached = pickle.load(f)
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - a damaged or foreign cache file is rebuilt, never fatal
        return None
    return cached if isinstance(cached, Cached) else None


def save(key: str | None, cached: Cached) -> None:
    """Write beside and rename (a concurrent starter never reads half a file); failures are ignored."""
    if key is None or not enabled():
        return
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".corpus-", dir=directory)
        with os.fdopen(fd, "wb") as f:
            pickle.dump(cached, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, directory / f"corpus-{key}.pickle")
        _prune(directory)
    except OSError:
        return


def _prune(directory: Path) -> None:
    """Keep the newest KEEP caches: a folder edited over time must not fill the disk with old parses."""
    files = sorted(directory.glob("corpus-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[KEEP:]:
        old.unlink(missing_ok=True)
