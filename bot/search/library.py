"""The corpus and index a running bot answers from, changed by what changed and nothing else.

Plans arrive while the bot runs: an editor publishes one from Telegram, or someone runs `planbrief add`
or `remove` on the same folder from a shell (or another `serve` worker publishes). Every such write
rewrites a manifest (under its lock), so the manifests are the signal: `stale()` compares their stat (and
their bytes only when the stat cannot tell), and `refresh()` works out which entries changed.

Why not reload: a reload stats and checks every listed plan, reads every stored row, re-sorts and
re-diffs the corpus and the index sidecar: seconds at 50,000 plans for one new plan. An add only ever
appends to a manifest (bot.corpus.ingest writes the old text and the new entry after it), so a refresh
first asks whether each manifest still starts with the bytes this snapshot read (one SHA-256 pass over
the file, no JSON): then only the entries after them are new, and only those are read (from the plan
store, where the add recorded its parse; parsed only if it did not). Any other change (a removal, a hand
edit) parses the manifest and compares each entry with the one its stored plan was read from: a plan
whose entry is unchanged is kept by reference, without a stat or a read. Either way the new corpus is
the old one with those plans put in or taken out in place, the index gets only their documents
(`SearchEngine.applied`), and then one reference is replaced: a query holding the old snapshot finishes
on its searcher, a new query gets the new one, and nobody ever sees a half-written index.

A refresh follows the manifests: a plan file edited in place without its entry changing is read again
by the next start (`load_corpus` checks every file's stat), as before. What a refresh cannot do
incrementally (no snapshot yet, plans not from the store, an appended id already taken, the seeds'
own manifest changing under a user folder) goes through `load_corpus` as it always did.

This module (and not bot/corpus/loader.py) holds the refresh so that the reader's code, whose source is
the key of every stored parse (bot.corpus.cache), stays the same: changing it re-parses a national
corpus.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bot.corpus import loader
from bot.corpus import store as plan_store
from bot.corpus.loader import Corpus, CorpusError, Folders, folder_key, folders_for, load_corpus, newest_key
from bot.models import Plan
from bot.search.engine import SearchEngine
from bot.search.tantivy_index import IndexBusy, IndexUnusable, release_heap

log = logging.getLogger(__name__)

_SPACE = b" \t\r\n"


@dataclass(frozen=True)
class Mark:
    """One manifest as a snapshot read it: enough to tell later whether it changed, and whether it
    only grew. `stat` is (size, mtime_ns, inode), size -1 when the file was too fresh for its stat to
    be trusted (bot.corpus.store.file_stat); `body` is how many bytes precede the list's closing
    bracket (0: not a manifest an add appends to), `body_digest` their SHA-256."""

    path: str
    stat: tuple[int, int, int] | None  # None: there was no manifest (or it could not be read)
    digest: str | None
    body: int = 0
    body_digest: str = ""


@dataclass(frozen=True)
class Snapshot:
    corpus: Corpus
    engine: SearchEngine
    version: str  # the manifests' content hash when this snapshot was built
    # The manifests as read no later than the corpus was loaded (so the corpus holds at least what they
    # list); `exact` False: the corpus may be older than the marks (handed in from outside), so the first
    # refresh compares every entry instead of trusting an append.
    marks: tuple[Mark, ...] = ()
    exact: bool = False
    # what the refresh that made this snapshot put in and took out (the bot warms only those)
    added: tuple[Plan, ...] = field(default=(), repr=False)
    removed: tuple[str, ...] = ()
    # SHA-256 running over `corpus.sources` in order, not yet finalized (its hexdigest is the corpus's
    # fingerprint): an add only appends sources, so the next fingerprint hashes the new ones alone
    digest: Any = field(default=None, repr=False, compare=False)


def manifest_version(seeds_dir: Path | Folders) -> str:
    """Content, not mtime: two writes within one timestamp tick must still count as a change. Both
    manifests (the seeds' and the user's plans') count: adds and removals write the user's."""
    return _version(_read_mark(path)[0] for path in folders_for(seeds_dir).manifests())


def _version(marks: Iterable[Mark]) -> str:
    return hashlib.sha256("\0".join(m.digest or "-" for m in marks).encode()).hexdigest()[:16]


def _stat_of(st: os.stat_result) -> tuple[int, int, int]:
    racy = time.time_ns() - st.st_mtime_ns < plan_store.RACY_SECONDS * 1_000_000_000
    return (-1 if racy else st.st_size, st.st_mtime_ns, st.st_ino)


def _body_end(data: bytes) -> int:
    """Where the last entry of `{"plans": [ ... ]}` ends (0: no entry, or not that shape)."""
    i = len(data)
    for closing in (b"}", b"]"):
        while i and data[i - 1] in _SPACE:
            i -= 1
        if not i or data[i - 1] != closing[0]:
            return 0
        i -= 1
    while i and data[i - 1] in _SPACE:
        i -= 1
    return i if i and data[i - 1] == ord("}") else 0


def _read_mark(path: Path, since: Mark | None = None) -> tuple[Mark, bytes | None, bool]:
    """The manifest's mark, its bytes, and whether it still starts with the body `since` read (so it
    only grew): one SHA-256 pass over the file gives all three digests."""
    try:
        st = os.stat(path)
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return Mark(str(path), None, None), None, False
    except OSError:
        return Mark(str(path), None, "unreadable"), None, False
    view = memoryview(data)
    body = _body_end(data)
    grew = False
    if since is not None and since.digest and 0 < since.body <= body:
        running = hashlib.sha256(view[:since.body])
        grew = running.hexdigest() == since.body_digest
        running.update(view[since.body:body])
    else:
        running = hashlib.sha256(view[:body])
    body_digest = running.hexdigest()
    running.update(view[body:])
    return Mark(str(path), _stat_of(st), running.hexdigest(), body, body_digest), data, grew


def _unchanged(mark: Mark) -> tuple[bool, Mark]:
    """Whether the manifest is still the one `mark` read (by its stat when that can be trusted, else
    its bytes), and its mark now (a fresher stat for the same bytes)."""
    try:
        st = os.stat(mark.path)
    except FileNotFoundError:
        return mark.digest is None, mark
    except OSError:
        return False, mark
    if mark.stat is not None and mark.stat[0] >= 0 and (st.st_size, st.st_mtime_ns, st.st_ino) == mark.stat:
        return True, mark
    now = _read_mark(Path(mark.path))[0]
    return now.digest == mark.digest, now if now.digest == mark.digest else mark


@dataclass
class Change:
    corpus: Corpus
    added: list[Plan]  # new or changed plans, as the corpus now holds them
    removed: list[str]  # plan ids gone (a changed plan is in `added` only)
    digest: Any = None  # the running hash of `corpus.sources` (Snapshot.digest), when it was continued


class Incremental(Exception):
    """This change cannot be applied in place (see the module docstring): load the corpus whole."""


class Library:
    def __init__(self, seeds_dir: Path | Folders | None, cache_dir: Path | None, corpus: Corpus | None = None,
                 engine: SearchEngine | None = None):
        self.folders = folders_for(seeds_dir)
        self.seeds_dir = self.folders.seeds
        self.cache_dir = cache_dir
        self._refresh_lock = threading.Lock()  # one rebuild at a time; a second caller waits, then sees it
        self._snapshot: Snapshot | None = None
        if corpus is not None and engine is not None:
            marks = tuple(_read_mark(path)[0] for path in self.folders.manifests())
            self._snapshot = Snapshot(corpus, engine, _version(marks), marks, exact=False)

    @property
    def current(self) -> Snapshot:
        if self._snapshot is None:
            self.refresh()
        assert self._snapshot is not None
        return self._snapshot

    def warm(self) -> None:
        """What the first change after a start would otherwise build (the index sidecar's entries as
        text: about a second at 50,000 plans), done while an editor looks at a preview card."""
        snapshot = self._snapshot
        if snapshot is not None:
            snapshot.engine.index.warm_texts()
            if snapshot.digest is None and self._refresh_lock.acquire(blocking=False):
                try:
                    if self._snapshot is snapshot:
                        self._snapshot = replace(snapshot, digest=_running(snapshot.corpus.sources))
                finally:
                    self._refresh_lock.release()

    def stale(self) -> bool:
        """Cheap enough for the event loop: a stat a manifest (its bytes only when the stat cannot tell:
        a manifest written in the last seconds; once its stat can be trusted it is remembered)."""
        snapshot = self._snapshot
        if snapshot is None:
            return True
        marks = []
        for mark in snapshot.marks:
            same, now = _unchanged(mark)
            if not same:
                return True
            marks.append(now)
        if tuple(marks) != snapshot.marks and self._refresh_lock.acquire(blocking=False):
            try:
                if self._snapshot is snapshot:
                    self._snapshot = replace(snapshot, marks=tuple(marks))
            finally:
                self._refresh_lock.release()
        return False

    def refresh(self, published: Sequence[Any] = ()) -> bool:
        """Apply what changed in the manifests since this snapshot; True when a new snapshot was swapped in.

        `published`: drafts this process just published (bot.corpus.ingest.Draft: entry, text, plan,
        body_key), so their plans need not be read back or parsed again when the plan store did not
        record them. Blocking (it may parse and it writes the index): call it from a worker thread. A
        change that fails to load (a manifest being hand-edited, say) keeps the old snapshot serving
        and is retried next time.
        """
        with self._refresh_lock:
            old = self._snapshot
            paths = self.folders.manifests()
            exact = old is not None and old.exact and len(old.marks) == len(paths)
            since = old.marks if exact else (None,) * len(paths)
            read = [_read_mark(path, mark) for path, mark in zip(paths, since, strict=True)]
            marks = tuple(mark for mark, _, _ in read)
            version = _version(marks)
            if old is not None and version == old.version:
                if old.marks != marks:  # the same bytes, a stat now old enough to trust: stale() stays cheap
                    self._snapshot = replace(old, marks=marks)
                return False
            try:
                if old is None:
                    corpus = load_corpus(self.folders)
                    snapshot = Snapshot(corpus, SearchEngine.from_corpus(corpus, self.cache_dir), version, marks, True)
                    _loaded_whole()
                else:
                    snapshot = self._apply(old, read, version, published)
            except (CorpusError, OSError, ValueError, IndexBusy, IndexUnusable, sqlite3.Error) as exc:
                if old is None:
                    raise
                log.warning("corpus reload failed, still serving the previous one: %s", exc)
                return False
            self._snapshot = snapshot
            log.info("corpus reloaded: %d plans (+%d, -%d)", len(snapshot.corpus.plans), len(snapshot.added),
                     len(snapshot.removed))
            return True

    def _apply(self, old: Snapshot, read: list[tuple[Mark, bytes | None, bool]], version: str,
               published: Sequence[Any]) -> Snapshot:
        marks = tuple(mark for mark, _, _ in read)
        try:
            change = changed_corpus(old.corpus, self.folders, read, old.marks if old.exact else None,
                                    {d.plan.plan_id: d for d in published if getattr(d, "plan", None) is not None},
                                    old.digest)
        except Incremental as why:
            log.info("corpus reload: %s; loading it whole", why)
            corpus = load_corpus(self.folders, reuse=old.corpus)
            snapshot = Snapshot(corpus, old.engine.updated(corpus.plans), version, marks, True)
            _loaded_whole()
            return snapshot
        if change is None:  # the same entries in other bytes (reformatted)
            return Snapshot(old.corpus, old.engine, version, marks, True)
        engine = old.engine.applied(change.added, change.removed, change.corpus.plans)
        return Snapshot(change.corpus, engine, version, marks, True, tuple(change.added), tuple(change.removed),
                        change.digest)


def _loaded_whole() -> None:
    """Hand the memory a whole load freed back to the system: decoding the manifest, the plan store's
    rows and the index sidecar leaves glibc holding ~140 MB of free heap at 50,000 plans, which a
    serving process would otherwise carry for its life (×10,000: RSS after the query list 621 → 488 MB)."""
    release_heap()


# -- the corpus with what changed put in and taken out


def changed_corpus(old: Corpus, folders: Folders, read: list[tuple[Mark, bytes | None, bool]] | None,
                   previous: Sequence[Mark] | None = None, published: dict[str, Any] | None = None,
                   digest: Any = None) -> Change | None:
    """`old` with the manifests' changes applied, reading only the plans that changed (None: nothing
    did). `read`: each manifest's mark, bytes and whether it still starts with what `previous` (the
    marks `old` was read under) read; None when those are not known, and then every entry is compared.
    Raises Incremental when the change must be loaded whole. `digest`: the running hash of `old.sources`
    (Snapshot.digest), if known."""
    published = published or {}
    if read is not None and previous is not None:
        try:
            return _appended(old, folders, read, previous, published, digest)
        except Incremental as why:
            log.info("corpus reload: %s; comparing every entry", why)
    return _compared(old, folders, read, published)


def _folders(folders: Folders) -> list[Path]:
    return [folder for folder in (folders.seeds, folders.user) if folder is not None]


def _appended(old: Corpus, folders: Folders, read: list[tuple[Mark, bytes | None, bool]],
              previous: Sequence[Mark], published: dict[str, Any], digest: Any = None) -> Change | None:
    """Each manifest the same or only grown: only the entries after what `old` read are read."""
    new: list[tuple[Path, dict]] = []
    for folder, (mark, data, grew), before in zip(_folders(folders), read, previous, strict=True):
        if mark.digest == before.digest:
            continue
        if data is None:
            raise Incremental(f"{mark.path} is gone")
        if before.digest is None:  # the first add made it: every entry is new
            entries = _entries_after(data, None)
        elif grew:
            entries = _entries_after(data, before.body)
        else:
            raise Incremental(f"{mark.path} changed other than by an add")
        if entries and folders.user is not None and folder == folders.seeds:
            raise Incremental("the shipped seeds' manifest grew")  # they list before the user's plans
        new += [(folder, entry) for entry in entries]
    if not new:
        return None
    ids = [str(entry.get("plan_id")) for _, entry in new]
    if len(set(ids)) < len(ids) or any(old.plan(pid) is not None for pid in ids):
        raise Incremental("an appended entry's id is already listed")
    store = plan_store.open_store()
    fresh = [_fresh(store, folder, entry, published) for folder, entry in new]
    sources = dict(old.sources)
    sources.update((plan.plan_id, source) for plan, source in fresh)  # new ids: after the old ones
    running = (digest or _running(old.sources)).copy()
    for _, source in fresh:
        running.update(source.encode())
    by_id = dict(old._by_id)
    by_id.update((plan.plan_id, plan) for plan, _ in fresh)
    plans = _inserted(list(old.plans), [plan for plan, _ in fresh])
    return Change(_corpus(old, plans, sources, running, by_id), [plan for plan, _ in fresh], [], running)


def _entries_after(data: bytes, since: int | None) -> list[dict]:
    """The entries of `{"plans": [...]}` after byte `since` (where the previous text's last entry
    ended; None: all of them)."""
    try:
        if since is None:
            parsed = json.loads(data)
            entries = parsed.get("plans") if isinstance(parsed, dict) else None
            if not isinstance(entries, list):
                raise Incremental("the manifest is not a plan list")
        else:
            rest = data[since:_body_end(data)].strip(_SPACE)
            if not rest:
                return []
            if not rest.startswith(b","):
                raise Incremental("the manifest grew in an unexpected shape")
            entries = json.loads(b"[" + rest[1:] + b"]")
    except ValueError as exc:
        raise Incremental(f"the manifest's new entries do not read as JSON ({exc})") from exc
    if not all(isinstance(e, dict) for e in entries):
        raise Incremental("the manifest's new entries are not objects")
    return entries


def _compared(old: Corpus, folders: Folders, read, published: dict[str, Any]) -> Change | None:
    """Every entry compared with the entry its stored plan was read from; only the differing ones read.

    First all at once: those plans' entries, joined and decoded in one call, against the listed ones;
    that holds after a removal or when a manifest was rewritten in another layout with new entries (the
    common cases here). Entry by entry only when it does not (an entry was edited)."""
    listed = _listed(folders, read)
    keys = {folder: folder_key(folder) for folder in _folders(folders)}
    store = plan_store.open_store()
    ids = [str(entry.get("plan_id")) for _, entry in listed]
    held: list[Plan | None] = []
    by_folder: dict[str, dict[str, str]] = {}  # folder key → plan id → source, of the plans held from it
    for (folder, _), plan_id in zip(listed, ids, strict=True):
        had = old.plan(plan_id)
        if had is not None and (store is None or not getattr(had, "folder", "")):
            raise Incremental("plans not from the plan store")
        held.append(had if had is not None and had.folder == keys[folder] else None)
        if held[-1] is not None:
            by_folder.setdefault(keys[folder], {})[plan_id] = had.source
    # the entries they were read with, from their rows (one read a folder; a row replaced since: None)
    recorded = {key: store.entries(key, sources) for key, sources in by_folder.items()}
    origins = [recorded[had.folder].get(pid) if had is not None else None for had, pid in zip(held, ids, strict=True)]
    known = [i for i, origin in enumerate(origins) if origin is not None and ids[i] in old.sources]
    same = len(set(ids)) == len(ids) and \
        json.loads("[" + ", ".join(origins[i] for i in known) + "]") == [listed[i][1] for i in known]
    sources: dict[str, str] = {}
    fresh: list[tuple[Plan, str]] = []
    keep: set[str] = set()
    for (folder, entry), plan_id, origin in zip(listed, ids, origins, strict=True):
        if origin is not None and plan_id not in keep and plan_id in old.sources \
                and (same or origin == plan_store.entry_json(entry)):
            keep.add(plan_id)
            sources[plan_id] = old.sources[plan_id]
            continue
        plan, source = _fresh(store, folder, entry, published)
        fresh.append((plan, source))
        sources[plan_id] = source
    removed = [p.plan_id for p in old.plans if p.plan_id not in sources]
    if not fresh and not removed:
        return None
    gone = set(removed) | {plan.plan_id for plan, _ in fresh}
    plans = _inserted([p for p in old.plans if p.plan_id not in gone], [plan for plan, _ in fresh])
    if store is not None and removed:  # their rows and parses go, as a load would drop them: after the swap
        threading.Thread(target=_forget, args=(store, keys, listed), name="forget-withdrawn", daemon=True).start()
    running = _running(sources)  # the fingerprint's hash, kept for the next add
    return Change(_corpus(old, plans, sources, running), [plan for plan, _ in fresh], removed, running)


def _forget(store: plan_store.PlanStore, keys: dict[Path, str], listed: list[tuple[Path, dict]]) -> None:
    for folder, key in keys.items():
        with contextlib.suppress(sqlite3.Error):
            store.forget(key, {str(e.get("plan_id")) for f, e in listed if f == folder})


def _listed(folders: Folders, read) -> list[tuple[Path, dict]]:
    """`loader.listed_entries`, from the bytes the marks were taken of when there are some."""
    if read is None:
        return loader.listed_entries(folders)
    by_folder: dict[Path, list[dict]] = {}
    for folder, (mark, data, _) in zip(_folders(folders), read, strict=True):
        if data is None:
            if folder == folders.seeds:
                raise CorpusError(f"没有找到清单文件 {mark.path}（seeds 目录需要 {loader.MANIFEST}）")
            continue
        by_folder[folder] = loader.decode_manifest(data, mark.path)[0]
    listed = [(folders.seeds, e) for e in by_folder.get(folders.seeds, [])]
    if folders.user is not None:
        taken = {str(e.get("plan_id")) for _, e in listed}
        listed += [(folders.user, e) for e in by_folder.get(folders.user, []) if str(e.get("plan_id")) not in taken]
    return listed


def _fresh(store: plan_store.PlanStore | None, folder: Path, entry: dict,
           published: dict[str, Any]) -> tuple[Plan, str]:
    """One new or changed plan: the plan store's row when it is current (an add records its parse
    there), else the draft this process just published, else a parse; with its source digest."""
    path = loader._entry_file(folder, entry)
    plan_id, key, as_json = str(entry.get("plan_id")), folder_key(folder), plan_store.entry_json(entry)
    try:
        stat = plan_store.file_stat(path)
    except OSError as exc:
        raise CorpusError(f"无法读取 {entry.get('file')}: {exc}") from exc
    row = _row(store, key, plan_id)
    if row is not None and row.current(stat, as_json):
        return store.plan(row), row.source
    data = loader._read(path, entry)
    source = plan_store.source_digest(as_json, data)
    if row is not None and row.source == source:
        if stat[0] >= 0:
            row = store.touch(row, stat)
        return store.plan(row), source
    text = loader._decode(data, path)
    draft = published.get(plan_id)
    if draft is not None and plan_store.entry_json(draft.entry) == as_json and draft.text == text:
        plan, body_key = draft.plan, draft.body_key
    else:
        plan, body_key = loader.parse_plan(entry, text)
    if store is not None:
        with contextlib.suppress(sqlite3.Error):
            (row,) = store.put_many([(key, plan, stat, as_json, source, body_key)])
            return store.plan(row), source
    return plan, source


_ROW = ("SELECT folder, plan_id, size, mtime_ns, ino, entry, code, source, content_hash, body_key, summary "
        "FROM plans WHERE folder=? AND plan_id=?")


def _row(store: plan_store.PlanStore | None, key: str, plan_id: str) -> plan_store.Row | None:
    """One plan's row by its primary key (`PlanStore.row` reads the whole folder's). Read here, not
    in bot/corpus/store.py, whose source is part of every stored parse's key."""
    if store is None:
        return None
    with store._lock:
        found = store._db.execute(_ROW, (key, plan_id)).fetchone()
    return plan_store.Row(found[0], found[1], (found[2], found[3], found[4]), *found[5:]) if found else None


def _before(a: Plan, b: Plan) -> bool:
    """Corpus order (`loader.newest_first`): newest first, then plan id."""
    ka, kb = newest_key(a.meta.year, a.meta.date), newest_key(b.meta.year, b.meta.date)
    return ka > kb or (ka == kb and a.plan_id < b.plan_id)


def _inserted(plans: list[Plan], new: list[Plan], before: Callable[[Plan, Plan], bool] = _before) -> list[Plan]:
    """`plans` (in corpus order) with `new` put where `newest_first` would put them."""
    for plan in new:
        lo, hi = 0, len(plans)
        while lo < hi:
            mid = (lo + hi) // 2
            if before(plans[mid], plan):
                lo = mid + 1
            else:
                hi = mid
        plans.insert(lo, plan)
    return plans


def _running(sources: dict[str, str]) -> Any:
    """`loader._fingerprint`'s hash, not finalized, so more sources can be appended to it."""
    digest = hashlib.sha256()
    for source in sources.values():
        digest.update(source.encode())
    return digest


def _corpus(old: Corpus, plans: list[Plan], sources: dict[str, str], running: Any = None,
            by_id: dict[str, Plan] | None = None) -> Corpus:
    """The changed corpus; given `running` (the hash of `sources`, `_running`) and `by_id` (its plans by
    id), neither is computed again over 50,000 plans."""
    fingerprint = running.hexdigest()[:16] if running is not None else loader._fingerprint(sources)
    if by_id is None:
        return Corpus(old.seeds_dir, plans, fingerprint, sources, old.folders)
    corpus = Corpus(old.seeds_dir, [], fingerprint, sources, old.folders)
    corpus.plans, corpus._by_id = plans, by_id  # what __post_init__ would have built from `plans`
    return corpus
