"""The corpus and index a running bot answers from, replaced whole when the seeds folder changes.

Plans arrive while the bot runs: an editor publishes one from Telegram, or someone runs `planbrief add`
or `remove` on the same folder from a shell. Every such write rewrites the manifest (under its lock), so
the manifest's identity is the signal. A refresh reads the new corpus (the plan store makes that cheap:
a stat a plan, and a parse only of a file nobody stored), applies only the plans that were added, changed or
removed to the live tantivy index
(`SearchEngine.updated`), and then replaces one reference: a query holding the old snapshot finishes on
its searcher, a new query gets the new one, and nobody ever sees a half-written index.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from bot.corpus.loader import Corpus, CorpusError, Folders, folders_for, load_corpus
from bot.search.engine import SearchEngine
from bot.search.tantivy_index import IndexBusy, IndexUnusable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    corpus: Corpus
    engine: SearchEngine
    version: str  # the manifest's content hash when this snapshot was built


def manifest_version(seeds_dir: Path | Folders) -> str:
    """Content, not mtime: two writes within one timestamp tick must still count as a change. Both
    manifests (the seeds' and the user's plans') count: adds and removals write the user's."""
    digest = hashlib.sha256()
    for manifest in folders_for(seeds_dir).manifests():
        try:
            digest.update(manifest.read_bytes())
        except OSError:
            digest.update(b"-")
    return digest.hexdigest()[:16]


class Library:
    def __init__(self, seeds_dir: Path | Folders, cache_dir: Path | None, corpus: Corpus | None = None,
                 engine: SearchEngine | None = None):
        self.folders = folders_for(seeds_dir)
        self.seeds_dir = self.folders.seeds
        self.cache_dir = cache_dir
        self._refresh_lock = threading.Lock()  # one rebuild at a time; a second caller waits, then sees it
        self._snapshot: Snapshot | None = None
        if corpus is not None and engine is not None:
            self._snapshot = Snapshot(corpus, engine, manifest_version(self.folders))

    @property
    def current(self) -> Snapshot:
        if self._snapshot is None:
            self.refresh()
        assert self._snapshot is not None
        return self._snapshot

    def stale(self) -> bool:
        return self._snapshot is None or manifest_version(self.folders) != self._snapshot.version

    def refresh(self) -> bool:
        """Rebuild if the manifest changed; True when a new snapshot was swapped in.

        Blocking (it parses and indexes): call it from a worker thread. A corpus that fails to load
        (a manifest being hand-edited, say) keeps the old snapshot serving and is retried next time.
        """
        with self._refresh_lock:
            version = manifest_version(self.folders)
            if self._snapshot is not None and version == self._snapshot.version:
                return False
            try:
                corpus = load_corpus(self.folders, reuse=self._snapshot.corpus if self._snapshot else None)
                engine = self._engine_for(corpus)
            except (CorpusError, OSError, ValueError, IndexBusy, IndexUnusable) as exc:
                if self._snapshot is None:
                    raise
                log.warning("corpus reload failed, still serving the previous one: %s", exc)
                return False
            self._snapshot = Snapshot(corpus, engine, version)
            log.info("corpus reloaded: %d plans, %d passages", len(corpus.plans), corpus.passage_count)
            return True

    def _engine_for(self, corpus: Corpus) -> SearchEngine:
        """The live engine with the changed plans applied; the first load opens (or builds) the index."""
        if self._snapshot is None:
            return SearchEngine.from_corpus(corpus, self.cache_dir)
        return self._snapshot.engine.updated(corpus.plans)
