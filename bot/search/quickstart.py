"""A `planbrief search` that answers without loading the corpus, when nothing changed since the last load.

Why: a fresh CLI process used to load every plan's stored summary, build its metadata, read the index
sidecar's plan list twice and diff it against the corpus, all before the first answer (1.5 s at ×1000,
growing with the number of plans). When a full load has just found every plan current and the index
synced to exactly those plans, the next start only has to prove that nothing moved since:

- the reader's code (its fingerprint) is the same;
- every manifest and every listed plan file has the same stat (size, mtime_ns, inode); one that was
  too fresh to trust its stat then (see bot.corpus.store.file_stat) has the same bytes instead (SHA-256
  of the bytes the load read);
- the index sidecar, its log of adds and tantivy's meta.json have the same stat (the sidecar and meta
  are replaced by rename on write, the log grows by appends).

Then the index answers alone: its lexicon comes from the stamp written after that load, and a hit's
citation fields (city, year, title) are read from the plan store for the plans it cites only. A plan
edited behind the store's back changes its stat, so the full load runs (and re-reads it), exactly as
before. The stamp (`start.stamp` beside the index folder) is written by the CLI after a full load that
synced the index, and carried over by `add`; a filter (--city, --year, --plan) reads the plans' metadata from the sidecar.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import threading
from array import array
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from bot.corpus import cache as corpus_cache
from bot.corpus import store as plan_store
from bot.models import PlanMeta
from bot.search.paths import cache_root

# The engine and the index (tantivy: a third of a start) are imported inside the functions, so
# that a start reads the stamp and sets the plan files' check going before it pays for them.
if TYPE_CHECKING:
    from bot.corpus.loader import Corpus, Folders
    from bot.search.engine import SearchEngine
    from bot.search.tantivy_index import State, TantivyIndex

log = logging.getLogger(__name__)

STAMP = "start.stamp"  # see encode_stamp
VERSION = 5  # 5: binary file list; 4: beside the index folder (found before the index code); 3: the add log


def stamp_path(cache_dir: Path | str | None = None) -> Path:
    """The stamp, beside the index folder rather than in it: its place does not depend on the index
    FORMAT (the stamp says which format it vouches for), so it is found without importing the index."""
    return cache_root(cache_dir) / STAMP


def _stat(path: Path | str) -> list[int]:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _index_stats(directory: Path) -> dict:
    """The index files a stamp vouches for: the sidecar, its log of adds (None: none), tantivy's meta."""
    from bot.search.tantivy_index import LOG, META, STATE

    try:
        log_stat = _stat(directory / LOG)
    except FileNotFoundError:
        log_stat = None
    return {"state": _stat(directory / STATE), "log": log_stat, "tantivy": _stat(directory / META)}


def _same_index(stamp: dict, directory: Path) -> bool:
    return all(stamp[k] == v for k, v in _index_stats(directory).items())


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


def _folders(folders: Folders) -> list[str | None]:
    """Absolute, so `--seeds seeds` run from another directory is another corpus."""
    return [os.path.abspath(folders.seeds), os.path.abspath(folders.user) if folders.user is not None else None]


def _store_path() -> str:
    return str((corpus_cache.cache_dir() / plan_store.FILE).absolute())


def remember(corpus: Corpus, engine: SearchEngine) -> bool:
    """Write the stamp after a full load whose plans the index now holds (True when written).

    Under the index lock, so the sidecar it vouches for is the one on disk: its plan list must be the
    corpus's plans and hashes in order, else (another process synced meanwhile) nothing is written.
    """
    from bot.search.engine import _index_lock
    from bot.search.tantivy_index import FORMAT, IndexUnusable, State, plan_hash

    checked = corpus.checked
    directory = engine.index.directory
    if checked is None or directory is None or not corpus_cache.enabled() or corpus.folders is None:
        return False
    try:
        with _index_lock(directory):
            index_stats = _index_stats(directory)
            state = State.load(directory)
            if state is None or [(p["meta"]["plan_id"], p["hash"]) for p in state.plans] != \
                    [(p.plan_id, plan_hash(p)) for p in corpus.plans]:
                return False
            if _index_stats(directory) != index_stats:
                return False
            manifests = {}
            for path, digest in checked.manifests.items():
                mark = manifests[os.path.abspath(path)] = _manifest_mark(path, digest)
                if mark is None:
                    return False
            if any("\n" in path for path, _, _ in checked.files):
                return False
            stats = array("q")
            racy = {}
            for i, (_, stat, digest) in enumerate(checked.files):
                stats.extend(stat)
                if stat[0] < 0:
                    if digest is None:
                        return False
                    racy[str(i)] = digest
            stamp = {"version": VERSION, "format": FORMAT, "code": checked.code, "folders": _folders(corpus.folders),
                     "store": _store_path(), "keys": checked.keys, "manifests": manifests,
                     "paths": "\n".join(os.path.abspath(path) for path, _, _ in checked.files),
                     "stats": stats, "racy": racy,
                     **index_stats,
                     "words": state.words, "chars": state.chars, "pinyin": state.pinyin,
                     "df": _doc_freqs(directory, state)}
            _write_stamp(stamp_path(directory.parent), stamp)
            return True
    except (OSError, IndexUnusable) as exc:  # a read-only or vanished folder: the next start loads the corpus
        log.debug("start stamp not written: %s", exc)
        return False


def _manifest_mark(path: str, digest: str | None) -> dict | None:
    """How a later start recognises the manifest the load read (its `digest`; None: there was none): its
    stat when that can be trusted, else its digest; None when it changed since the load read it."""
    if digest is None:
        return {"absent": True} if not os.path.exists(path) else None
    try:
        before = plan_store.file_stat(Path(path))
        if _digest(path) != digest or plan_store.file_stat(Path(path)) != before:
            return None
    except OSError:
        return None
    return {"stat": list(before)} if before[0] >= 0 else {"digest": digest}


def _written_mark(path: str, digest: str, left: tuple[int, int, int] | None) -> dict | None:
    """`_manifest_mark` of a manifest an add has just written (its bytes' `digest`; `left`, its stat as
    the add left it): while its stat is too fresh to trust and still the one the add left (another
    writer replaces the file, a new inode), the mark is that digest, which the next start checks
    against the file's bytes whatever happens meanwhile, so the file need not be hashed here too (32 MB
    at ×10,000: ~0.025 s of every add). Else it is checked as `_manifest_mark` checks it."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if left is not None and (st.st_size, st.st_mtime_ns, st.st_ino) == tuple(left) \
            and plan_store.file_stat(Path(path))[0] < 0:
        return {"digest": digest}
    return _manifest_mark(path, digest)


def _manifest_same(path: str, mark: dict) -> bool:
    if mark.get("absent"):
        return not os.path.exists(path)
    if "stat" in mark:
        try:
            return _stat(path) == mark["stat"]
        except OSError:
            return False
    return _digest(path) == mark["digest"]


def index_added(plans: list, folders: Folders, written: list, cache_dir: Path | str | None = None) -> bool:
    """`SearchEngine.index_added` for `planbrief add`, carrying the stamp over to the corpus with these
    plans (True when carried), so the next `search` starts quick without anyone loading the corpus.

    The stamp is carried only when it was current just before this add changed anything: the index
    files as it recorded them (checked under the index lock, before the add), each manifest this add
    wrote as it recorded it before the write (`written`: what `publish` saw under the manifest lock,
    in order), every other manifest and plan file as it recorded them (checked after). The old files
    keep the stats the stamp had (never re-read ones: an edit in between must still show); the new
    ones are vouched for by the bytes this add wrote. Anything else (another writer in between, an
    edit behind its back) leaves the stamp stale, and the next start takes the full load as before.
    """
    from bot.search.engine import _index_lock, index_dir
    from bot.search.tantivy_index import FORMAT, STATE, TantivyIndex

    directory = index_dir(cache_dir)
    if not (directory / STATE).exists():
        return False
    with _index_lock(directory):
        index = TantivyIndex.open_for_add(directory)
        try:
            stamp = read_stamp(cache_dir)
            carry = stamp.get("version") == VERSION and stamp.get("format") == FORMAT and _same_index(stamp, directory)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            carry = False
        index.add(plans)
        if not carry or len(written) != len(plans):
            return False
        try:
            return _carry(stamp, folders, written, directory, index.state)
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            log.debug("start stamp not carried over the add: %s", exc)
            return False


def _carry(stamp: dict, folders: Folders, written: list, directory: Path, state: State) -> bool:
    if stamp["folders"] != _folders(folders) or stamp["store"] != _store_path() or \
            stamp["code"] != corpus_cache.code_fingerprint():
        return False
    manifests: dict[str, dict] = stamp["manifests"]
    wrote: dict[str, str] = {}
    for w in written:
        path = os.path.abspath(w.manifest)
        mark = manifests.get(path)
        if mark is None:
            return False
        if path in wrote:
            same = w.before_digest == wrote[path]
        elif mark.get("absent"):
            same = w.before_stat is None
        elif "stat" in mark:
            same = w.before_stat is not None and list(w.before_stat) == mark["stat"]
        else:
            same = w.before_digest == mark["digest"]
        if not same:
            return False
        wrote[path] = w.after_digest
    if not all(_manifest_same(path, mark) for path, mark in manifests.items() if path not in wrote):
        return False
    paths = stamp["paths"].split("\n") if stamp["paths"] else []
    stats = array("q", stamp["stats"])
    racy = dict(stamp["racy"])
    # the plan files as the publish saw them under the manifest lock, before it wrote: enough to show
    # the stamp was current then, and an edit since still shows at the next start (the old files keep
    # the stamp's stats, which such an edit no longer matches)
    known = next((w.listed_stats for w in reversed(written) if getattr(w, "listed_stats", None) is not None), None)
    if not _current(stamp, folders, directory, check_index=False, check_manifests=False, known=known):
        return False
    _settle(paths, stats, racy)
    left = {os.path.abspath(w.manifest): getattr(w, "after_stat", None) for w in written}
    for path, digest in wrote.items():
        mark = _written_mark(path, digest, left.get(path))
        if mark is None:
            return False
        manifests[path] = mark
    for w in written:
        path = os.path.abspath(w.file)
        if "\n" in path or path in paths:
            return False
        seen = _vouch(w.file, w.file_digest)
        if seen is None:
            return False
        if seen[0] < 0:
            racy[str(len(paths))] = w.file_digest
        paths.append(path)
        stats.extend(seen)
    stamp.update(manifests=manifests, paths="\n".join(paths), stats=stats,
                 racy=racy, **_index_stats(directory),
                 words=state.words, chars=state.chars, pinyin=state.pinyin, df=_doc_freqs(directory, state))
    _write_stamp(stamp_path(directory.parent), stamp)
    return True


def _settle(paths: list[str], stats: array, racy: dict[str, str]) -> None:
    """Files the stamp vouches for by their bytes (written too recently for their stat: each add's own
    file) whose stat can vouch for them now: their stat replaces the digest. Else every add left one
    more file that each start and add hashed again, until a full load rewrote the stamp."""
    for key, digest in list(racy.items()):
        n = int(key)
        seen = _vouch(Path(paths[n]), digest)
        if seen is not None and seen[0] >= 0:
            stats[3 * n:3 * n + 3] = array("q", seen)
            del racy[key]


def _doc_freqs(directory: Path, state: State) -> dict[str, int]:
    """Each lexicon word's passage count in the index on disk (TantivyIndex.df, read through a snapshot
    opened now: an add's own snapshot is spent). The engine's lexicon asks it for every word on a start's
    first plan (~3,000 words, 6,000 tantivy lookups: ~0.1 s at ×10,000); the stamp vouches for the index
    files they were counted in, so a quick start takes them from it."""
    from bot.search.tantivy_index import TantivyIndex

    try:
        index = TantivyIndex.reopen(directory, state)
        return {w: index.df(w) for w in state.words}
    except (OSError, ValueError) as exc:  # none then: a start counts them itself, as before
        log.debug("passage counts not kept in the start stamp: %s", exc)
        return {}


def _vouch(path: Path, digest: str) -> tuple[int, int, int] | None:
    """The file's stat (size -1 when too fresh to trust, see store.file_stat) if it holds exactly the
    bytes of `digest` and did not change while being read; else None."""
    before = plan_store.file_stat(path)
    if _digest(str(path)) != digest or plan_store.file_stat(path) != before:
        return None
    return before


def _write_stamp(path: Path, stamp: dict) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(encode_stamp(stamp))
    tmp.replace(path)


def encode_stamp(stamp: dict) -> bytes:
    """One line of JSON (everything but the file list), then the plan files' paths (UTF-8, one a line)
    and their stats (int64 triples, this machine's byte order): at ×10,000 those are 50,000 paths and
    150,000 numbers, which as JSON strings (the paths, the stats in base64) took ~70 ms to decode per
    start; as bytes they split in a few."""
    paths = stamp["paths"].encode("utf-8")
    stats = stamp["stats"].tobytes()
    head = {k: v for k, v in stamp.items() if k not in ("paths", "stats")}
    head.update(layout={"paths": len(paths), "stats": len(stats), "byteorder": sys.byteorder})
    return json.dumps(head, ensure_ascii=False).encode("utf-8") + b"\n" + paths + stats


def decode_stamp(raw: bytes) -> dict:
    """`encode_stamp`'s bytes → the stamp ("paths": the joined paths, "stats": an array). ValueError
    when they are not laid out so (another version's stamp, a torn file)."""
    end = raw.index(b"\n")
    stamp = json.loads(raw[:end])
    layout = stamp.pop("layout")
    if layout["byteorder"] != sys.byteorder or end + 1 + layout["paths"] + layout["stats"] != len(raw):
        raise ValueError("a stamp of another layout")
    cut = end + 1 + layout["paths"]
    stats = array("q")
    stats.frombytes(raw[cut:])
    return dict(stamp, paths=raw[end + 1:cut].decode("utf-8"), stats=stats)


def read_stamp(cache_dir: Path | str | None = None) -> dict:
    return decode_stamp(stamp_path(cache_dir).read_bytes())


def forget(cache_dir: Path | str | None = None) -> None:
    """Drop the stamp (tests; an operator who wants the next start to check everything)."""
    stamp_path(cache_dir).unlink(missing_ok=True)


def _current(stamp: dict, folders: Folders, directory: Path, check_index: bool = True,
             check_manifests: bool = True, files: _FilesCheck | None = None,
             known: Mapping[str, tuple[int, int, int]] | None = None) -> bool:
    """The stamp still vouches for the corpus and (`check_index`) the index; `files`: the plan files'
    check already under way (else it runs here, taking the stats in `known` as the files')."""
    from bot.search.tantivy_index import FORMAT

    if stamp.get("version") != VERSION or stamp.get("format") != FORMAT:
        return False
    if stamp["folders"] != _folders(folders) or stamp["store"] != _store_path():
        return False
    if stamp["code"] != corpus_cache.code_fingerprint():
        return False
    if check_index and not _same_index(stamp, directory):
        return False
    if files is not None:  # the manifests and the plan files, checked meanwhile
        return files.result()
    if check_manifests and not _manifests_same(stamp):
        return False
    return _files_same(stamp, known)


def _manifests_same(stamp: dict) -> bool:
    return all(_manifest_same(path, mark) for path, mark in stamp["manifests"].items())


def _files_same(stamp: dict, known: Mapping[str, tuple[int, int, int]] | None = None,
                share: tuple[int, int] = (0, 1)) -> bool:
    """Every plan file the stamp lists has the stat it recorded; one too fresh then, the same bytes.
    `known`: stats just taken by the caller (path → size, mtime_ns, inode), used instead of a stat (all
    at once when it has `in_order`, bot.corpus.ingest.ListedStats's, for these paths);
    `share` (k, n): only the k-th of n equal runs of the files (the rest are checked elsewhere)."""
    paths = stamp["paths"].split("\n") if stamp["paths"] else []
    want = stamp["stats"]
    if len(want) != 3 * len(paths):
        return False
    lo, hi = len(paths) * share[0] // share[1], len(paths) * (share[0] + 1) // share[1]
    # the caller's stats of these very files, in this order (an add's duplicate check lists them so)
    in_order = getattr(known, "in_order", None)
    run = in_order(stamp["paths"]) if in_order is not None and share == (0, 1) else None
    if run is not None:
        got = array("q", run)
    else:
        got = array("q")
        stat, get = os.stat, (known or {}).get
        for path in paths[lo:hi]:
            seen = get(path)
            if seen is None:
                st = stat(path)
                seen = (st.st_size, st.st_mtime_ns, st.st_ino)
            got.extend(seen)
    for i, digest in stamp["racy"].items():
        n = int(i)
        if not lo <= n < hi:
            continue
        if _digest(paths[n]) != digest:
            return False
        got[3 * (n - lo):3 * (n - lo) + 3] = want[3 * n:3 * n + 3]
    return got == want[3 * lo:3 * hi]


class _FilesCheck:
    """`_manifests_same` and `_files_same` set going as soon as the stamp is read, while the main
    thread imports the engine and opens the index (which a start needs whatever the answer). Their cost
    is a stat per plan file (50,000 at ×10,000: ~0.3 s, two thirds of it in the kernel) and, for a
    manifest written less than RACY_SECONDS before its stamp (the search right after an add), the
    SHA-256 of its bytes (32 MB at ×10,000: ~70 ms).

    Where the platform has fork and this process no other thread (the CLI, at its start), a forked
    child takes the manifests and the first half of the files on the other core and sends back one
    byte, while a thread here takes the second half: one thread alone took the whole 0.3 s, and a start
    at ×10,000 waited for it. Else one thread takes it all. `result()` waits for them; an error (a file
    gone), or a child that died without a word, is a no."""

    def __init__(self, stamp: dict) -> None:
        self._stamp = stamp
        self._same: bool | None = None
        self._child: tuple[int, int] | None = None  # pid, the read end of its pipe
        self._share = (0, 1)
        if hasattr(os, "fork") and threading.active_count() == 1:
            self._child = self._fork()
            if self._child is not None:
                self._share = (1, 2)
        self._thread: threading.Thread | None = threading.Thread(target=self._run, name="planbrief-start-check")
        try:
            self._thread.start()
        except RuntimeError:  # no thread to be had: checked when asked
            self._thread = None

    def _fork(self) -> tuple[int, int] | None:
        try:
            read, write = os.pipe()
        except OSError:
            return None
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            return None
        if pid == 0:  # the child: check, say yes or no, and leave without running the parent's exit code
            try:
                os.close(read)
                os.write(write, b"1" if self._check(manifests=True, share=(0, 2)) else b"0")
            finally:
                os._exit(0)
        os.close(write)
        return pid, read

    def _check(self, manifests: bool, share: tuple[int, int]) -> bool:
        try:
            return (not manifests or _manifests_same(self._stamp)) and _files_same(self._stamp, share=share)
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            log.debug("quick start not possible: %s", exc)
            return False

    def _run(self) -> None:
        self._same = self._check(manifests=self._child is None, share=self._share)

    def _child_said(self) -> bool:
        pid, read = self._child
        self._child = None
        try:
            return os.read(read, 1) == b"1"
        except OSError:
            return False
        finally:
            os.close(read)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)

    def result(self) -> bool:
        if self._thread is None:
            self._thread = threading.current_thread()
            self._run()
        elif self._thread is not threading.current_thread():
            self._thread.join()
        if self._child is not None:
            self._same = self._child_said() and bool(self._same)
        return bool(self._same)


def quick_engine(folders: Folders, corpus_plans=None, cache_dir: Path | str | None = None) -> SearchEngine | None:
    """An engine over the index as it is, when the stamp proves the corpus unchanged; else None (and the
    caller loads the corpus). `corpus_plans` loads the plans should the index prove damaged."""
    if not corpus_cache.enabled():
        return None
    try:
        stamp = read_stamp(cache_dir)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.debug("quick start not possible: %s", exc)
        return None
    if not isinstance(stamp, dict) or stamp.get("version") != VERSION:
        return None
    files = _FilesCheck(stamp)
    try:
        from bot.search.engine import SearchEngine, index_dir
        from bot.search.tantivy_index import State, TantivyIndex

        directory = index_dir(cache_dir)
        if not _current(stamp, folders, directory, files=files):
            return None
        index = TantivyIndex.reopen(directory, State(words=stamp["words"], chars=stamp["chars"],
                                                     pinyin=stamp["pinyin"]))
        index.known_counts(stamp.get("df") or {})  # see _doc_freqs
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:  # a stamp of other code
        log.debug("quick start not possible: %s", exc)
        return None
    finally:
        files.result()  # a start that will load the corpus instead leaves no thread statting behind it
    return SearchEngine(index, StoredMetas(stamp["keys"], index), corpus_plans)


class StoredMetas(Mapping):
    """Plan id → metadata, read from the plan store one plan at a time (an answer cites a handful);
    iterating, or a plan the store does not hold, falls back to every plan in the index sidecar."""

    def __init__(self, keys: list[str], index: TantivyIndex) -> None:
        self._keys = keys
        self._index = index
        self._found: dict[str, PlanMeta] = {}
        self._every: dict[str, PlanMeta] | None = None

    def __getitem__(self, plan_id: str) -> PlanMeta:
        meta = self._found.get(plan_id)
        if meta is None:
            meta = self._stored(plan_id) or self._all()[plan_id]
            self._found[plan_id] = meta
        return meta

    def _stored(self, plan_id: str) -> PlanMeta | None:
        store = plan_store.open_store()
        if store is None:
            return None
        try:
            for key in self._keys:
                summary = store.summary(key, plan_id)
                if summary is not None:
                    return PlanMeta(**summary["meta"])
        except (plan_store.sqlite3.Error, ValueError, KeyError, TypeError):
            return None
        return None

    def _all(self) -> dict[str, PlanMeta]:
        if self._every is None:
            self._every = {m.plan_id: m for m in self._index.plans}
        return self._every

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())
