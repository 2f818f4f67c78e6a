"""The parsed plans, one row a plan, in one SQLite file beside the index (`$PLANBRIEF_DATA_DIR/corpus/plans.sqlite`).

Why: a pickle of the whole parsed corpus per corpus state made every process load every plan at every
start (4.7–7.2 s and 430 MB at 5,000 plans), re-parse everything after one add, and left a file of
hundreds of megabytes per state behind. Here each plan is written once, when it is parsed, and replaced
in place when its file, manifest entry or the reader's code changes:

- `plans` holds per plan (keyed by its folder and id) what start-up and listings need: the file's stat
  (size, mtime_ns, inode), its manifest entry, the source digest (code fingerprint + entry + file bytes),
  the content hash the index keys on, the body key duplicate checks compare, and a small JSON summary
  (metadata, headline priorities, passage count);
- `blobs` holds the parsed outline and passages (zlib'd pickle), keyed by source digest and read only
  when a command needs that plan. A replaced version is kept for `KEEP_DROPPED` seconds, so a running
  bot still answering from the previous snapshot can read it; then it is deleted.

A load trusts a row when the file's stat and entry are as recorded (a file modified within
`RACY_SECONDS` of being recorded is hashed again next time, as git does), hashes the bytes when the stat
changed, and parses only when the bytes did. WAL mode and a busy timeout let several processes start and
write at once; writes are idempotent (the same source gives the same row). A file that SQLite cannot read
is removed and rebuilt: like the index, the store is a cache of the plans on disk, never the only copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pickle
import sqlite3
import sys
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.corpus import cache as corpus_cache
from bot.models import Node, Passage, Plan, PlanMeta, Priority

log = logging.getLogger(__name__)

FILE = "plans.sqlite"
SCHEMA_VERSION = 3
HELD = 64  # parsed plans kept in memory per process (least recently used go), so memory stays flat
KEEP_DROPPED = 600  # seconds a replaced plan's parse stays readable for a snapshot still serving it
RACY_SECONDS = 2  # a file changed this recently may change again within the same mtime tick
BUSY_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS plans (
    folder TEXT NOT NULL,
    plan_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    entry TEXT NOT NULL,
    code TEXT NOT NULL,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    body_key TEXT NOT NULL,
    summary TEXT NOT NULL,
    PRIMARY KEY (folder, plan_id)
);
-- a replaced parse asks whether any plan still uses its source (_drop): without this, a scan of every
-- row for each replaced plan, which made a re-parse of 50,000 plans after a reader change quadratic
CREATE INDEX IF NOT EXISTS plans_source ON plans (source);
CREATE TABLE IF NOT EXISTS blobs (
    source TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    dropped_at REAL
);
CREATE INDEX IF NOT EXISTS blobs_dropped ON blobs (dropped_at);
CREATE TABLE IF NOT EXISTS manifests (
    folder TEXT PRIMARY KEY,
    digest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS derived (
    source TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (source, name)
);
"""


def source_digest(entry_json: str, data: bytes) -> str:
    """What a parse depends on: the reader's code, the manifest entry as read, the file's bytes."""
    digest = hashlib.sha256(corpus_cache.code_fingerprint().encode())
    digest.update(entry_json.encode())
    digest.update(b"\x00")
    digest.update(data)
    return digest.hexdigest()


def entry_json(entry: dict) -> str:
    return json.dumps(entry, ensure_ascii=False, sort_keys=True)


def file_stat(path: Path | str) -> tuple[int, int, int]:
    """(size, mtime_ns, inode), or size -1 when the file changed too recently for its stat to be trusted."""
    st = os.stat(path)
    racy = time.time_ns() - st.st_mtime_ns < RACY_SECONDS * 1_000_000_000
    return (-1 if racy else st.st_size, st.st_mtime_ns, st.st_ino)


@dataclass(frozen=True)
class Row:
    """One plan as recorded: enough to decide whether it is current and to serve listings."""

    folder: str
    plan_id: str
    stat: tuple[int, int, int]
    entry: str
    code: str
    source: str
    content_hash: str
    body_key: str
    summary: str

    def current(self, stat: tuple[int, int, int], entry: str | None) -> bool:
        """Unchanged since recorded: same stat, same reader code, and the same manifest entry (None:
        the whole manifest is the one every row was checked against, see `manifest_digest`)."""
        return (self.stat[0] >= 0 and self.stat == stat and (entry is None or self.entry == entry)
                and self.code == corpus_cache.code_fingerprint())


def summary_of(plan: Plan) -> str:
    """What listings, `/city`, digests and stats read of a plan without reading its passages."""
    from bot.corpus.targets import key_targets  # here: only a parse writes a summary

    return json.dumps({"meta": plan.meta.as_dict(), "priorities": [p.as_dict() for p in plan.priorities],
                       "passages": len(plan.passages), "targets": key_targets(plan.passages)},
                      ensure_ascii=False)


@dataclass(frozen=True)
class Prepared:
    """A parsed plan as the store keeps it: small enough to send from a build's worker process, which
    makes it, to the one process that writes the file."""

    plan_id: str
    content_hash: str
    body_key: str
    summary: str
    blob: bytes  # zlib'd pickle of (preamble, tree, passages), what `heavy` reads back
    derived: tuple[tuple[str, str], ...] = ()  # (name, JSON) of each registered derivation, see `derive_when_stored`


Derive = Callable[[Plan], dict[str, Any]]
_DERIVE: list[Derive] = []


def derive_when_stored(derive: Derive) -> None:
    """Have `derive(plan)` (name → JSON-able value, as `StoredPlan.derived` keeps them) computed wherever
    a plan is parsed for the store, a build's worker processes included, and written with it. Issue 20
    asks that digests read per-plan summaries stored when a plan is added: computed on a digest's first
    read instead, the theme counts of 15,000 plans cost that digest 35 s of reading passages back.

    A later room (bot.digests.themes) registers when imported; the corpus never imports it. `derive` must
    be a module-level function, since the workers receive it by reference."""
    if derive not in _DERIVE:
        _DERIVE.append(derive)


def derivations() -> tuple[Derive, ...]:
    """What this process has registered, to hand to a build's worker processes."""
    return tuple(_DERIVE)


def _derived(plan: Plan, derive: tuple[Derive, ...]) -> tuple[tuple[str, str], ...]:
    out = []
    for fn in derive:
        try:
            values = fn(plan)
        except Exception:  # a derivation's bug must not stop plans loading; its reader computes it later
            log.exception("deriving %s for %s failed; left to its first reader", fn.__qualname__, plan.plan_id)
            continue
        out.extend((name, json.dumps(value, ensure_ascii=False)) for name, value in values.items())
    return tuple(out)


def prepare(plan: Plan, body_key: str, derive: tuple[Derive, ...] | None = None) -> Prepared:
    """`derive`: the derivations to store with it (default: this process's, `derivations()`)."""
    blob = zlib.compress(pickle.dumps((plan.preamble, plan.tree, plan.passages), protocol=pickle.HIGHEST_PROTOCOL), 1)
    return Prepared(plan.plan_id, plan.content_hash, body_key, summary_of(plan), blob,
                    _derived(plan, derivations() if derive is None else derive))


class StoredPlan(Plan):
    """A plan whose metadata, headline priorities and counts are in memory and whose outline and
    passages are read from the store on first use (and dropped again when others are read)."""

    def __new__(cls, *args, **fields):
        """`dataclasses.replace(stored, passages=…)` builds the plain plan with those changes."""
        if "meta" in fields:
            return Plan(**fields)
        return super().__new__(cls)

    def __init__(self, store: PlanStore, source: str, content_hash: str, summary: dict, folder: str = "") -> None:
        # Plan's own fields that stay in memory; tree, passages and preamble are properties below
        meta = summary["meta"]
        for name in SHARED_META:  # one string for every plan of the same province, city, issuer …
            if isinstance(meta.get(name), str):
                meta[name] = sys.intern(meta[name])
        self.meta = PlanMeta(**meta)
        self._raw_priorities: list[dict] | None = summary["priorities"]
        self._priorities: list[Priority] | None = None
        self._count = int(summary["passages"])
        found = summary.get("targets")
        self.stored_targets: tuple[str, ...] | None = tuple(found) if found is not None else None
        self._hash = content_hash
        self.source = source
        self.folder = sys.intern(folder)  # the plan store's key of its folder ("": not from a folder)
        self._store = store

    def recorded_entry(self) -> str | None:
        """The manifest entry (as JSON) this plan was read with, from its row while the row still
        holds this version (not kept in memory: ~540 bytes a plan, read only when a plan is parsed
        again or a refresh compares entries one by one); None when the row is gone or newer."""
        if not self.folder:
            return None
        for store in dict.fromkeys(s for s in (self._store, open_store()) if s is not None):
            with contextlib.suppress(sqlite3.Error):
                found = store.entries(self.folder, {self.plan_id: self.source}).get(self.plan_id)
                if found is not None:
                    return found
        return None

    @property
    def priorities(self) -> list[Priority]:
        """Built on first use: a start of 50,000 plans built them all (1 s at ×10,000) for the few a
        listing or a digest shows."""
        found = self._priorities
        if found is None:
            with _PRIORITIES_LOCK:  # the bot reads plans from worker threads: build once, drop the raw
                found = self._priorities
                if found is None:
                    found = [Priority(p["title"], tuple(p["items"])) for p in self._raw_priorities or ()]
                    self._priorities, self._raw_priorities = found, None
        return found

    @property
    def tree(self) -> list[Node]:
        return self._store.heavy(self).tree

    @property
    def passages(self) -> list[Passage]:
        return self._store.heavy(self).passages

    @property
    def preamble(self) -> str:
        return self._store.heavy(self).preamble

    @property
    def passage_count(self) -> int:
        return self._count

    @property
    def content_hash(self) -> str:
        return self._hash

    def passage(self, passage_id: str) -> Passage | None:
        return self._store.heavy(self).by_id.get(passage_id)

    def derived(self, name: str, compute: Callable[[Plan], Any]) -> Any:
        """A JSON-able value later rooms derive from this plan (a digest's theme counts): computed once
        per plan version and `name` (which should carry whatever else it depends on) and kept beside
        the plan, so a digest of a province does not read every plan's passages each time."""
        found = self._store.get_derived(self.source, name)
        if found is not None:
            return found
        value = compute(self)
        self._store.put_derived(self.source, name, value)
        return value

    def __reduce__(self):
        """Pickled (a process boundary, a cache) as the plain plan it stands for."""
        return (Plan, (self.meta, self.preamble, self.tree, self.passages, self.priorities))

    def __repr__(self) -> str:
        return f"StoredPlan({self.plan_id!r}, passages={self._count})"


_PRIORITIES_LOCK = threading.Lock()

# PlanMeta fields many plans share (interned as a plan is read); titles, ids and file names are each plan's own
SHARED_META = ("city", "province", "parent_city", "admin_level", "kind", "issuer", "date", "source_site")


@dataclass(frozen=True)
class Heavy:
    preamble: str
    tree: list[Node]
    passages: list[Passage]

    @property
    def by_id(self) -> dict[str, Passage]:
        return {p.id: p for p in self.passages}


class StoreError(Exception):
    """The store cannot be used (a data folder we may not write); the loader parses in memory instead."""


class PlanStore:
    """One process's connection to the store file; thread-safe (the bot reads plans from worker threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._held: OrderedDict[str, Heavy] = OrderedDict()
        self.reads = 0  # plans read back from disk (tests and benchmarks count them)
        self._db = self._connect()

    # -- opening

    def _connect(self) -> sqlite3.Connection:
        """Open (and create) the file. One SQLite cannot read as a database is rebuilt; one it cannot
        use now (locked past the busy timeout, read-only, a folder we may not write) is StoreError."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                db = self._open()
            except sqlite3.OperationalError:
                raise
            except sqlite3.DatabaseError as exc:
                log.warning("plan store %s could not be read (%s); rebuilding it from the plans", self.path, exc)
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)
                db = self._open()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(str(exc)) from exc
        with contextlib.suppress(OSError):
            _sweep_legacy(self.path.parent)
        return db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=BUSY_MS / 1000, check_same_thread=False, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout={BUSY_MS}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                db.executescript("DROP TABLE IF EXISTS plans; DROP TABLE IF EXISTS blobs; "
                                 "DROP TABLE IF EXISTS derived; DROP TABLE IF EXISTS manifests;")
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.execute("SELECT count(*) FROM plans").fetchone()  # a damaged file fails here, not later
        except BaseException:
            db.close()
            raise
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- rows

    def rows(self, folders: list[str], summaries: bool = True) -> dict[tuple[str, str], Row]:
        """Every recorded plan of these folders (without their summaries, `summary` empty: a duplicate
        check, which needs only stats and body keys)."""
        marks = ",".join("?" * len(folders))
        summary = "summary" if summaries else "''"
        with self._lock:
            found = self._db.execute(
                "SELECT folder, plan_id, size, mtime_ns, ino, entry, code, source, content_hash, body_key, "
                f"{summary} FROM plans WHERE folder IN ({marks})", folders).fetchall()
        return {(r[0], r[1]): Row(r[0], r[1], (r[2], r[3], r[4]), *r[5:]) for r in found}

    def body_keys(self, folders: list[str]) -> dict[tuple[str, str], tuple[tuple[int, int, int], str, str]]:
        """(folder, plan id) → (stat, reader code, body key) of every recorded plan of these folders: a
        duplicate check of a manifest the store vouches for needs no more (plain tuples: 50,000 rows
        as Row objects cost 0.4 s)."""
        marks = ",".join("?" * len(folders))
        with self._lock:
            found = self._db.execute(f"SELECT folder, plan_id, size, mtime_ns, ino, code, body_key FROM plans "
                                     f"WHERE folder IN ({marks})", folders).fetchall()
        return {(r[0], r[1]): ((r[2], r[3], r[4]), r[5], r[6]) for r in found}

    def row(self, folder: str, plan_id: str) -> Row | None:
        return self.rows([folder]).get((folder, plan_id)) if folder else None

    def summary(self, folder: str, plan_id: str) -> dict | None:
        """One plan's recorded summary (metadata, headline priorities, counts), by its primary key:
        what an answer needs of the few plans it cites, without reading every row."""
        with self._lock:
            found = self._db.execute("SELECT summary FROM plans WHERE folder=? AND plan_id=?",
                                     (folder, plan_id)).fetchone()
        return json.loads(found[0]) if found else None

    def entries(self, folder: str, sources: dict[str, str] | None = None) -> dict[str, str]:
        """Plan id → recorded manifest entry (JSON) of the folder's rows; with `sources` (plan id →
        source digest), only those plans, and only while their row holds that source."""
        with self._lock:
            found = self._db.execute("SELECT plan_id, source, entry FROM plans WHERE folder=?"
                                     if sources is None or len(sources) > 1 else
                                     "SELECT plan_id, source, entry FROM plans WHERE folder=? AND plan_id=?",
                                     (folder,) if sources is None or len(sources) > 1 else
                                     (folder, next(iter(sources)))).fetchall()
        return {pid: entry for pid, source, entry in found if sources is None or sources.get(pid) == source}

    def manifest_digest(self, folder: str) -> str | None:
        """The digest of the folder's manifest at the last load that checked every entry against its row."""
        with self._lock:
            found = self._db.execute("SELECT digest FROM manifests WHERE folder=?", (folder,)).fetchone()
        return found[0] if found else None

    def set_manifest_digest(self, folder: str, digest: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO manifests (folder, digest) VALUES (?, ?)", (folder, digest))

    def touch(self, row: Row, stat: tuple[int, int, int]) -> Row:
        """Record a new stat for unchanged bytes (a copy, a `touch`): the next load trusts it again."""
        with self._lock:
            self._db.execute("UPDATE plans SET size=?, mtime_ns=?, ino=? WHERE folder=? AND plan_id=? AND source=?",
                             (*stat, row.folder, row.plan_id, row.source))
        return Row(row.folder, row.plan_id, stat, *_rest(row))

    def put_many(self, records: list[tuple[str, Plan, tuple[int, int, int], str, str, str]]) -> list[Row]:
        """Write parsed plans: (folder, plan, stat, entry json, source, body key) each, in one transaction."""
        return self.put_prepared([(folder, stat, entry, source, prepare(plan, body_key))
                                  for folder, plan, stat, entry, source, body_key in records])

    def put_prepared(self, records: list[tuple[str, tuple[int, int, int], str, str, Prepared]]) -> list[Row]:
        """Write plans made ready for the store where they were parsed (`prepare`): (folder, stat, entry
        json, source, prepared) each, in one transaction."""
        rows, now = [], time.time()
        code = corpus_cache.code_fingerprint()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for folder, stat, entry, source, ready in records:
                    row = Row(folder, ready.plan_id, stat, entry, code, source, ready.content_hash, ready.body_key,
                              ready.summary)
                    old = self._db.execute("SELECT source FROM plans WHERE folder=? AND plan_id=?",
                                           (folder, ready.plan_id)).fetchone()
                    self._db.execute("INSERT INTO blobs (source, data, dropped_at) VALUES (?, ?, NULL) "
                                     "ON CONFLICT(source) DO UPDATE SET data=excluded.data, dropped_at=NULL",
                                     (source, ready.blob))
                    self._db.execute(
                        "INSERT OR REPLACE INTO plans (folder, plan_id, size, mtime_ns, ino, entry, code, source,"
                        " content_hash, body_key, summary) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        (folder, ready.plan_id, *stat, *_rest(row)))
                    self._db.executemany("INSERT OR REPLACE INTO derived (source, name, data) VALUES (?, ?, ?)",
                                         [(source, name, data) for name, data in ready.derived])
                    if old and old[0] != source:
                        self._drop(old[0], now)
                    rows.append(row)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return rows

    def forget(self, folder: str, keep: set[str]) -> int:
        """Remove the rows of `folder` whose plans are no longer listed (a removal); their parses are
        kept a while for a snapshot still serving them, then swept with other dropped ones."""
        now = time.time()
        with self._lock:
            gone = [(pid, src) for pid, src in self._db.execute(
                "SELECT plan_id, source FROM plans WHERE folder=?", (folder,)) if pid not in keep]
            if gone:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for plan_id, source in gone:
                        self._db.execute("DELETE FROM plans WHERE folder=? AND plan_id=?", (folder, plan_id))
                        self._drop(source, now)
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            self._sweep(now)
        return len(gone)

    def get_derived(self, source: str, name: str) -> Any:
        try:
            with self._lock:
                row = self._db.execute("SELECT data FROM derived WHERE source=? AND name=?", (source, name)).fetchone()
        except sqlite3.Error:
            return None
        return json.loads(row[0]) if row else None

    def put_derived(self, source: str, name: str, value: Any) -> None:
        with contextlib.suppress(sqlite3.Error), self._lock:
            self._db.execute("INSERT OR REPLACE INTO derived (source, name, data) VALUES (?, ?, ?)",
                             (source, name, json.dumps(value, ensure_ascii=False)))

    def _drop(self, source: str, now: float) -> None:
        still = self._db.execute("SELECT 1 FROM plans WHERE source=? LIMIT 1", (source,)).fetchone()
        if not still:
            self._db.execute("UPDATE blobs SET dropped_at=? WHERE source=? AND dropped_at IS NULL", (now, source))

    def _sweep(self, now: float) -> None:
        """Delete parses replaced more than KEEP_DROPPED seconds ago (a read when there are none, so a
        load that changed nothing writes nothing)."""
        old = [r[0] for r in self._db.execute(
            "SELECT source FROM blobs WHERE dropped_at IS NOT NULL AND dropped_at < ?", (now - KEEP_DROPPED,))]
        if not old:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for source in old:
                self._db.execute("DELETE FROM blobs WHERE source=? AND dropped_at IS NOT NULL", (source,))
                self._db.execute("DELETE FROM derived WHERE source=? AND source NOT IN (SELECT source FROM blobs)",
                                 (source,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    # -- parsed plans

    def plan(self, row: Row) -> StoredPlan:
        return StoredPlan(self, row.source, row.content_hash, json.loads(row.summary), row.folder)

    def heavy(self, plan: StoredPlan) -> Heavy:
        """The outline and passages of `plan`: from memory when recently read, else from the file; if
        the store lost it (rebuilt underneath, swept long after a replacement), from the current store
        or by parsing the plan's file again while it still has the same bytes."""
        with self._lock:
            found = self._held.get(plan.source)
            if found is not None:
                self._held.move_to_end(plan.source)
                return found
        found = self._read(plan.source)
        if found is None:
            current = open_store()
            found = current._read(plan.source) if current is not None and current is not self else None
        if found is None:
            found = _reparse(plan)
        with self._lock:
            self.reads += 1
            self._held[plan.source] = found
            while len(self._held) > HELD:
                self._held.popitem(last=False)
        return found

    def _read(self, source: str) -> Heavy | None:
        try:
            with self._lock:
                data = self._db.execute("SELECT data FROM blobs WHERE source=?", (source,)).fetchone()
        except sqlite3.Error:
            return None
        if data is None:
            return None
        preamble, tree, passages = pickle.loads(zlib.decompress(data[0]))
        return Heavy(preamble, tree, passages)


def _reparse(plan: StoredPlan) -> Heavy:
    from bot.corpus.loader import _decode, parse_plan

    for as_json in _entries_of(plan):
        entry = json.loads(as_json)
        path = Path(plan.folder) / entry["file"]
        with contextlib.suppress(OSError):
            data = path.read_bytes()
            if source_digest(as_json, data) == plan.source:
                parsed = parse_plan(entry, _decode(data, path))[0]
                return Heavy(parsed.preamble, parsed.tree, parsed.passages)
    raise LookupError(f"plan {plan.plan_id} changed on disk and its earlier parse is gone")


def _entries_of(plan: StoredPlan):
    """The manifest entries `plan` may have been read with: its row's, else (the store rebuilt or the
    row replaced underneath) the one its folder's manifest lists now; the source digest decides."""
    if not plan.folder:
        return
    recorded = plan.recorded_entry()
    if recorded is not None:
        yield recorded
    from bot.corpus.loader import MANIFEST

    with contextlib.suppress(OSError, ValueError, AttributeError, TypeError):
        listed = json.loads((Path(plan.folder) / MANIFEST).read_bytes()).get("plans", [])
        for entry in listed:
            if isinstance(entry, dict) and str(entry.get("plan_id")) == plan.plan_id and "file" in entry:
                as_json = entry_json(entry)
                if as_json != recorded:
                    yield as_json


def _rest(row: Row) -> tuple:
    return (row.entry, row.code, row.source, row.content_hash, row.body_key, row.summary)


def _sweep_legacy(directory: Path) -> None:
    """The per-state pickles of the cache this store replaced (hundreds of megabytes each) go."""
    for old in list(directory.glob("corpus-*.pickle")) + list(directory.glob(".corpus-*")):
        old.unlink(missing_ok=True)


_STORES: OrderedDict[Path, PlanStore] = OrderedDict()
_STORES_LOCK = threading.Lock()
OPEN_STORES = 4  # data folders with an open store per process (a test run switches folders hundreds of times)


def open_store() -> PlanStore | None:
    """This process's store for the current data folder; None when turned off
    (PLANBRIEF_CORPUS_CACHE=0) or the folder cannot hold it (then plans are parsed in memory)."""
    if not corpus_cache.enabled():
        return None
    path = (corpus_cache.cache_dir() / FILE).absolute()
    with _STORES_LOCK:
        store = _STORES.get(path)
        if store is not None and path.exists():
            _STORES.move_to_end(path)
            return store
        try:
            store = PlanStore(path)
        except StoreError as exc:
            log.warning("plan store %s unusable (%s); parsing plans in memory", path, exc)
            return None
        _STORES[path] = store
        while len(_STORES) > OPEN_STORES:  # its plans still read: from the current store, or their files
            _, evicted = _STORES.popitem(last=False)
            with contextlib.suppress(sqlite3.Error):
                evicted.close()
        return store


def rebuild(store: PlanStore, exc: Exception) -> PlanStore | None:
    """A store that failed mid-use (its file damaged or replaced underneath): said in one line, its
    files removed, and a fresh one opened in their place."""
    log.warning("plan store %s could not be read (%s); rebuilding it from the plans", store.path, exc)
    with _STORES_LOCK:
        _STORES.pop(store.path, None)
    with contextlib.suppress(sqlite3.Error):
        store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store.path}{suffix}").unlink(missing_ok=True)
    return open_store()


def reset() -> None:
    """Close every open store (tests that damage or delete the file underneath)."""
    with _STORES_LOCK:
        for store in _STORES.values():
            store.close()
        _STORES.clear()
