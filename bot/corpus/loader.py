"""The corpus: every plan in the seeds folder and the user's plans folder, cleaned, parsed and cut into
citable passages.

Everything the bot says is an excerpt of a passage loaded here, so each passage carries its plan and
section path; ids are positional within a plan's tree, stable while the file is unchanged.

Two folders (`Folders`): the shipped seeds, read only, and the plans the user added, in the data folder
(`$PLANBRIEF_DATA_DIR/plans`, a manifest of its own). `add` and `remove` write only the user's folder,
so the installed package (and a clone's `seeds/`) never changes and an upgrade never mixes with what the
user added. An explicit seeds folder (`--seeds DIR`, `PLANBRIEF_SEEDS`) is the whole corpus and is
written in place, as it always was: it is the user's own.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bot.corpus import cache as corpus_cache
from bot.corpus import store as plan_store
from bot.models import Node, Passage, Plan, PlanMeta, Priority
from bot.textnorm import normalize

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
USER_PLANS = "plans"  # the user's plans: a folder of this name in the data folder
LOCK_FILE = ".manifest.lock"  # beside the manifest, so every process writing this folder shares it
LOCK_WAIT = 60.0  # seconds; an add holds the lock only for its duplicate check and two small writes
PASSAGE_MAX = 300  # a longer item is cut into sentence windows of about WINDOW characters
WINDOW = 220
# A news report without structure is all 导语: a paragraph of several sentences is cut this fine, so a
# sentence that names a topic is not diluted by a long lead around it (a short passage would outrank it).
LEAD_WINDOW = 120
LEAD_SENTENCES = 3
PREAMBLE_LABEL = "导语"
CLOSING_LABEL = "结语"

# Plans whose kind is a review with a plan attached still default to forward for unmarked parts;
# a pure review would be marked by its headings (回顾/总结/完成情况).
DEFAULT_ORIENTATION = "forward"


class CorpusError(Exception):
    """A seeds folder that cannot be read as a corpus; the message is for the operator."""


def default_seeds_dir() -> Path:
    """PLANBRIEF_SEEDS wins; else the project's seeds/ (a source checkout), else ./seeds."""
    env = os.environ.get("PLANBRIEF_SEEDS")
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parents[2] / "seeds"
    if (beside / MANIFEST).exists():
        return beside
    return Path.cwd() / "seeds"


def user_plans_dir() -> Path:
    """Where `add` puts plans by default: beside the caches and the database, in the data folder."""
    return Path(os.environ.get("PLANBRIEF_DATA_DIR") or "data") / USER_PLANS


@dataclass(frozen=True)
class Folders:
    """Where the corpus is read from and where `add`/`remove` write.

    `user` None means `seeds` is itself the writable folder (an explicit --seeds / PLANBRIEF_SEEDS).
    """

    seeds: Path
    user: Path | None = None

    @property
    def target(self) -> Path:
        """The one folder adds and removals write (and lock)."""
        return self.user if self.user is not None else self.seeds

    def read_only(self, folder: Path) -> bool:
        return self.user is not None and folder == self.seeds

    def manifests(self) -> list[Path]:
        return [folder / MANIFEST for folder in (self.seeds, self.user) if folder is not None]


def folders_for(seeds_dir: Path | str | Folders | None = None) -> Folders:
    """An explicit folder (argument or PLANBRIEF_SEEDS) alone; else the shipped seeds plus the user's
    plans in the data folder."""
    if isinstance(seeds_dir, Folders):
        return seeds_dir
    if seeds_dir:
        return Folders(Path(seeds_dir))
    if os.environ.get("PLANBRIEF_SEEDS"):
        return Folders(default_seeds_dir())
    return Folders(default_seeds_dir(), user_plans_dir())


def listed_entries(folders: Folders, read: Callable[[Path], list[dict]] | None = None) -> list[tuple[Path, dict]]:
    """Every manifest entry with the folder its file is in: the seeds (whose manifest must exist), then
    the user's plans (no manifest yet = none). A user entry whose id a shipped plan took since (an
    upgrade) is left out rather than shadowing it; its text stays on disk. `read` (default
    `read_manifest`): a caller that has just parsed one of the manifests need not parse it again."""
    read = read or read_manifest
    listed = [(folders.seeds, entry) for entry in read(folders.seeds)]
    if folders.user is not None and (folders.user / MANIFEST).exists():
        taken = {str(entry.get("plan_id")) for _, entry in listed}
        listed += [(folders.user, entry) for entry in read(folders.user)
                   if str(entry.get("plan_id")) not in taken]
    return listed


def read_manifest(seeds_dir: Path) -> list[dict]:
    path = seeds_dir / MANIFEST
    if not path.exists():
        raise CorpusError(f"没有找到清单文件 {path}（seeds 目录需要 {MANIFEST}）")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"清单文件无法读取：{path}: {exc}") from exc
    return decode_manifest(data, path)[0]


def decode_manifest(data: bytes | str, path: Path) -> tuple[list[dict], dict]:
    """A manifest's entries and its whole top-level object, or CorpusError saying what is wrong with it
    (every reader of manifest bytes says it the same way)."""
    try:
        parsed = json.loads(data)
    except ValueError as exc:
        raise CorpusError(f"清单文件无法读取：{path}: {exc}") from exc
    entries = parsed.get("plans") if isinstance(parsed, dict) else None
    if not isinstance(entries, list):
        raise CorpusError(f"清单文件格式不对：{path} 需要 {{\"plans\": [...]}}")
    return entries, parsed


def write_manifest(seeds_dir: Path, entries: list[dict]) -> None:
    """Atomic replace, so a crash mid-write never leaves a half manifest. Call it under manifest_lock."""
    seeds_dir.mkdir(parents=True, exist_ok=True)
    path = seeds_dir / MANIFEST
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"plans": entries}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@contextmanager
def manifest_lock(seeds_dir: Path, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Serialise every read–modify–write of the manifest across processes.

    Without it two adds each read the manifest, each write their own version, and one plan is lost
    with its text orphaned. Holding the lock also makes it safe to sweep `*.tmp` files: only a writer
    killed mid-write can have left one, since a live writer holds the lock while its temp file exists.
    """
    import filelock  # here: only writers lock, and importing it costs a start that only reads

    lock = filelock.FileLock(str(seeds_dir / LOCK_FILE), timeout=wait)
    try:
        seeds_dir.mkdir(parents=True, exist_ok=True)  # the user's plans folder, on the first add
        lock.acquire()
    except filelock.Timeout as exc:
        raise CorpusError(f"语料目录正被另一个进程写入，{wait:.0f} 秒后仍未释放：{seeds_dir}") from exc
    except OSError as exc:
        raise CorpusError(f"语料目录不可写：{seeds_dir}（{exc.strerror or exc}）") from exc
    try:
        for stale in seeds_dir.glob("*.tmp"):
            stale.unlink(missing_ok=True)
        yield
    finally:
        lock.release()


def plan_meta(entry: dict) -> PlanMeta:
    from bot.corpus import regions

    city = str(entry["city"])
    place = regions.find_place(city, within=entry.get("province"))
    province = entry.get("province") or (place.province if place else "")
    parent = entry.get("parent_city") or (place.parent_city if place else None)
    level = entry.get("admin_level") or (place.level if place else "unknown")
    return PlanMeta(
        plan_id=str(entry["plan_id"]),
        city=city,
        province=province,
        parent_city=parent,
        admin_level=level,
        year=int(entry["year"]),
        kind=str(entry.get("kind", "工作要点")),
        title=str(entry["title"]),
        issuer=str(entry.get("issuer", "")),
        date=str(entry.get("date", entry["year"])),
        source_site=str(entry.get("source_site", "")),
        source_file=str(entry["file"]),
        short_title=str(entry.get("short_title") or _short_title(entry)),
    )


def _short_title(entry: dict) -> str:
    title = str(entry["title"])
    return title if len(title) <= 20 else f"{entry['year']}年{entry.get('kind', '工作要点')}"


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", normalize(text))


def _strip_title(preamble: list[str], title: str) -> list[str]:
    """A docx extract glues the title to the first sentence ("…工作要点2023年，全市…")."""
    if not preamble:
        return preamble
    first = preamble[0]
    key = _squash(title)
    squashed = _squash(first)
    if key and squashed.startswith(key) and len(squashed) > len(key):
        consumed, seen = 0, 0
        while seen < len(key) and consumed < len(first):
            if not first[consumed].isspace():
                seen += 1
            consumed += 1
        return [first[consumed:].lstrip(), *preamble[1:]]
    return preamble


def sentence_windows(text: str, size: int = WINDOW) -> list[str]:
    """Cut a long item at sentence ends into windows of about `size` characters."""
    from bot.corpus.clean import TERMINAL

    sentences = re.findall(rf"[^{TERMINAL}]+[{TERMINAL}]?[”’」』）)]*", text)
    windows: list[str] = []
    current = ""
    for sentence in sentences:
        if current and len(current) + len(sentence) > size:
            windows.append(current)
            current = ""
        current += sentence
    if current.strip():
        if windows and len(current) < 60:
            windows[-1] += current  # a short tail reads better with its neighbour
        else:
            windows.append(current)
    return [w.strip() for w in windows if w.strip()]


def _passages_for(plan_id: str, nodes: list[Node], path: tuple[str, ...]) -> list[Passage]:
    out: list[Passage] = []
    for node in nodes:
        here = path + ((node.heading,) if node.heading else ())
        body = node.text
        if node.kind == "item" or (node.kind == "paragraph" and body):
            cite = here if here else (CLOSING_LABEL,)
            out.extend(_cut(plan_id, node, cite, body))
        elif body:  # a section heading that carries text of its own
            out.extend(_cut(plan_id, node, here, body))
        out.extend(_passages_for(plan_id, node.children, here))
    return out


def line_windows(text: str, size: int = 120) -> list[str]:
    """A list (one entry a line, no full stops) is cut between entries, a handful at a time."""
    windows: list[str] = []
    for line in text.split("\n"):
        if windows and len(windows[-1]) + len(line) < size:
            windows[-1] += "\n" + line
        else:
            windows.append(line)
    return windows


def _cut(plan_id: str, node: Node, section: tuple[str, ...], body: str, lead: bool = False) -> list[Passage]:
    from bot.corpus.clean import TERMINAL

    if "\n" in body:
        pieces = line_windows(body)
    elif lead and len(body) > LEAD_WINDOW and len(re.findall(rf"[{TERMINAL}]", body)) >= LEAD_SENTENCES:
        pieces = sentence_windows(body, LEAD_WINDOW)
    else:
        pieces = [body] if len(body) <= PASSAGE_MAX else sentence_windows(body)
    result = []
    for n, piece in enumerate(pieces, 1):
        suffix = f"w{n}" if len(pieces) > 1 else ""
        pid = f"{plan_id}:{node.id}{('.' + suffix) if suffix else ''}"
        result.append(Passage(pid, plan_id, section, piece, normalize(piece), node.orientation, node.id))
    return result


def build_plan(entry: dict, raw: str) -> Plan:
    return parse_plan(entry, raw)[0]


def body_key_of(cleaned_paragraphs: list[str]) -> str:
    """Identity of a plan's body: the same text saved as a page, a .docx or a PDF has the same key."""
    return hashlib.sha256(normalize("".join(cleaned_paragraphs)).encode()).hexdigest()


def parse_plan(entry: dict, raw: str) -> tuple[Plan, str]:
    """The plan and its body key (what duplicate checks compare), from one cleaning of the text.

    The reader's modules (cleaning, outline, enumerations, regions) are imported here and not at the top:
    a start that finds every plan stored parses nothing and need not load (or, without bytecode,
    compile) them."""
    from bot.corpus.clean import clean
    from bot.corpus.outline import parse, priorities

    meta = plan_meta(entry)
    cleaned = clean(raw)
    # a review (工作总结, 工作汇报材料) looks back in every part unless a part says it plans
    outline = parse(cleaned.paragraphs, "backward" if meta.kind == "工作总结" else DEFAULT_ORIENTATION)
    preamble = _strip_title(outline.preamble, meta.title)
    pre_node = Node("paragraph", "", "", "", "neutral", id="pre")
    passages: list[Passage] = []
    for n, para in enumerate(preamble, 1):
        pre_node.id = f"pre{n}"
        passages.extend(_cut(meta.plan_id, pre_node, (PREAMBLE_LABEL,), para, lead=not outline.tree))
    passages.extend(_passages_for(meta.plan_id, outline.tree, ()))
    heads = priorities(outline.tree) or _inline_heads(preamble, outline.tree, meta.year)
    return Plan(meta, "\n".join(preamble), outline.tree, passages, heads), body_key_of(cleaned.paragraphs)


def _inline_heads(preamble: list[str], tree: list[Node], year: int) -> list[Priority]:
    """A report or speech without numbered headings lists its priorities inside paragraphs.

    Only asked when the headings gave none, so a plan whose outline names its priorities keeps
    exactly those; paragraphs under a review heading are never searched.
    """
    from bot.corpus.enumerations import inline_priorities
    from bot.corpus.outline import is_framing

    paragraphs = list(preamble)
    for root in tree:
        for node in root.walk():
            if node.orientation != "backward" and node.text and node.kind != "item" and not is_framing(node):
                paragraphs.append(node.text)
    return [Priority(item.title, ()) for item in inline_priorities(paragraphs, year or None)]


def read_text(path: Path) -> str:
    return _decode(path.read_bytes(), path)


def _decode(data: bytes, path: Path) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CorpusError(f"无法识别文件编码：{path}")


@dataclass(frozen=True)
class Checked:
    """What a load through the store found current: the reader's code, each manifest's digest (None:
    absent), and every listed file's stat in listing order. A stat taken too soon after the file was
    written to be trusted (size -1, see store.file_stat) comes with the SHA-256 of the bytes the store
    holds the parse of, so a later check compares those instead."""

    code: str
    manifests: dict[str, str | None]
    files: list[tuple[str, tuple[int, int, int], str | None]]
    keys: list[str]  # the store's folder keys, the seeds' first (a plan id resolves there first)


@dataclass
class Corpus:
    """The plans of a corpus, newest first. Plans loaded through the store (bot.corpus.store) hold
    their metadata and headline priorities; their outline and passages are read when first used."""

    seeds_dir: Path
    plans: list[Plan]
    fingerprint: str
    # plan id → digest of the reader's code, its manifest entry and file bytes: what a later load may
    # reuse the parsed plan for
    sources: dict[str, str] = field(default_factory=dict, repr=False)
    folders: Folders | None = field(default=None, repr=False)  # None: `seeds_dir` alone
    # what this load checked through the plan store (None: parsed without it): a later start that finds
    # all of it unchanged may answer without loading the corpus (bot.search.quickstart)
    checked: Checked | None = field(default=None, repr=False)
    _by_id: dict[str, Plan] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.folders is None:
            self.folders = Folders(self.seeds_dir)
        self._by_id = {p.plan_id: p for p in self.plans}

    @property
    def passages(self) -> list[Passage]:
        """Every passage of every plan: reads every plan (tests, benchmarks); counts use passage_count."""
        return [psg for p in self.plans for psg in p.passages]

    @property
    def passage_count(self) -> int:
        return sum(p.passage_count for p in self.plans)

    def plan(self, plan_id: str) -> Plan | None:
        return self._by_id.get(plan_id)

    def passage(self, passage_id: str) -> Passage | None:
        """The passage with this id, reading only its plan (ids are `plan_id:node`)."""
        cut = passage_id.find(":")
        while cut > 0:
            plan = self._by_id.get(passage_id[:cut])
            if plan is not None:
                lookup = getattr(plan, "passage", None)
                if lookup is not None:
                    return lookup(passage_id)
                return next((p for p in plan.passages if p.id == passage_id), None)
            cut = passage_id.find(":", cut + 1)
        return None


def newest_first(plans: list[Plan]) -> list[Plan]:
    """Newest year and date first; a bare year ("2023") sorts after dated plans of that year."""
    by_id = sorted(plans, key=lambda p: p.plan_id)
    return sorted(by_id, key=lambda p: newest_key(p.meta.year, p.meta.date), reverse=True)


def newest_key(year: int, date: str) -> tuple[int, str]:
    """The corpus order's key (descending; ties by plan id ascending), for whoever orders plans known
    only by their metadata (the index's sidecar, adding one plan without loading the others)."""
    return (int(year), date if len(date) > 4 else "")


def load_corpus(seeds_dir: Path | str | Folders | None = None, reuse: Corpus | None = None) -> Corpus:
    """The corpus of the seeds (and the user's plans, see `folders_for`).

    Through the plan store (bot.corpus.store) when the data folder can hold it: each listed file is
    checked by its stat (hashed only when that changed) and only plans whose file, entry or reader code
    changed are parsed; the others come back as stored plans that read their passages on first use.
    Plans of `reuse` (the corpus a running bot holds) with the same source are taken as they are.
    Without the store (PLANBRIEF_CORPUS_CACHE=0, an unwritable folder) every plan is parsed in memory.
    """
    folders = folders_for(seeds_dir)
    listed = listed_entries(folders)
    store = plan_store.open_store()
    if store is not None:
        try:
            return _load_stored(folders, listed, store, reuse)
        except sqlite3.OperationalError as exc:  # busy past the timeout, read-only: parse, keep the file
            log.warning("plan store %s unusable now (%s); parsing plans in memory", store.path, exc)
        except sqlite3.DatabaseError as exc:  # damaged underneath: rebuilt
            store = plan_store.rebuild(store, exc)
            if store is not None:
                with contextlib.suppress(sqlite3.Error):
                    return _load_stored(folders, listed, store, reuse)
    return _load_parsed(folders, listed, reuse)


FLUSH = 100  # parsed plans written to the store together (a first load of thousands stays flat in memory)


def _entry_file(folder: Path, entry: dict) -> Path:
    try:
        return folder / entry["file"]
    except (KeyError, TypeError) as exc:
        raise CorpusError(f"清单条目缺少字段 {exc}: {entry}") from exc


def _read(path: Path, entry: dict) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"无法读取 {entry.get('file')}: {exc}") from exc


def folder_key(folder: Path) -> str:
    return str(folder.resolve())


@contextmanager
def _collector_paused(pause: bool) -> Iterator[None]:
    """Python's cyclic collector paused while a load builds its stored plans: it runs a full pass every
    so many allocations, and a start of 50,000 plans allocates millions of objects that all live on,
    so the passes were 55-60 % of building the plans at ×10,000 (2.4-3.8 s, 1.0-1.4 s without). A
    load makes no cyclic garbage worth collecting meanwhile; a build, parsing thousands of plans in
    this process's writer loop for minutes, keeps its collector."""
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _load_stored(folders: Folders, listed: list[tuple[Path, dict]], store: plan_store.PlanStore,
                 reuse: Corpus | None) -> Corpus:
    names = {folder: folder_key(folder) for folder in (folders.seeds, folders.user) if folder is not None}
    with _collector_paused(True):  # a row a plan: 50,000 objects that live on
        rows = store.rows(list(names.values()))
    # a manifest byte for byte as at the last full check: its entries need no comparing one by one
    manifests = {folder: _manifest_digest(folder) for folder in names}
    trusted = {folder: manifests[folder] is not None and store.manifest_digest(key) == manifests[folder]
               for folder, key in names.items()}
    plans: list[Plan] = []
    sources: dict[str, str] = {}
    pending: list[tuple[int, tuple]] = []

    def flush() -> None:
        for (slot, _), row in zip(pending, store.put_many([record for _, record in pending]), strict=True):
            plans[slot] = store.plan(row)
        pending.clear()

    files: list[tuple[str, tuple[int, int, int], str | None]] = []
    # a first build, or the first load after a reader change (thousands of plans the store has never
    # seen, or saw parsed by other code), parses them in worker processes
    code = corpus_cache.code_fingerprint()

    def unparsed(row: plan_store.Row | None) -> bool:
        return row is None or row.code != code

    apart = parse_workers(sum(unparsed(rows.get((names[folder], str(entry.get("plan_id")))))
                              for folder, entry in listed))
    deferred: list[tuple] = []
    with _collector_paused(not apart):  # stored plans by the ten thousand (a build parses apart)
        for folder, entry in listed:
            path = _entry_file(folder, entry)
            plan_id, key = str(entry.get("plan_id")), names[folder]
            as_json = None if trusted[folder] else plan_store.entry_json(entry)
            try:
                stat = plan_store.file_stat(path)
            except OSError as exc:
                raise CorpusError(f"无法读取 {entry.get('file')}: {exc}") from exc
            files.append((str(path), stat, None))
            row = rows.get((key, plan_id))
            if apart and unparsed(row):
                # parsed in a worker process below; its source digest keeps its place in listing order
                deferred.append((len(plans), len(files) - 1, key, folder, entry, stat,
                                 as_json or plan_store.entry_json(entry)))
                sources[plan_id] = ""
                plans.append(None)
                continue
            if row is None or not row.current(stat, as_json):
                as_json = as_json or plan_store.entry_json(entry)
                data = _read(path, entry)
                source = plan_store.source_digest(as_json, data)
                if stat[0] < 0:
                    files[-1] = (str(path), stat, hashlib.sha256(data).hexdigest())
                if row is None or row.source != source:
                    plan, body_key = parse_plan(entry, _decode(data, path))
                    sources[plan.plan_id] = source
                    pending.append((len(plans), (key, plan, stat, as_json, source, body_key)))
                    plans.append(plan)
                    if len(pending) >= FLUSH:
                        flush()
                    continue
                if stat[0] >= 0:
                    row = store.touch(row, stat)
            sources[plan_id] = row.source
            plans.append(_reusable(reuse, plan_id, row.source) or store.plan(row))
        flush()
    if deferred:
        _store_apart(deferred, apart, store, plans, sources, files)
    for folder, key in names.items():
        store.forget(key, {str(e.get("plan_id")) for f, e in listed if f == folder})
        if manifests[folder] is not None and not trusted[folder]:
            store.set_manifest_digest(key, manifests[folder])
    checked = Checked(corpus_cache.code_fingerprint(),
                      {str(folder / MANIFEST): manifests[folder] for folder in names}, files, list(names.values()))
    return Corpus(folders.seeds, newest_first(plans), _fingerprint(sources), sources, folders, checked)


POOL_MIN = 200  # new plans a load parses in worker processes rather than alone (seeds, tests, adds: alone)
POOL_CHUNK = 8  # plans a worker parses per task: few enough that the ones in flight stay small
WORKERS_ENV = "PLANBRIEF_PARSE_WORKERS"  # how many (0: none); unset: one per core, when POOL_MIN are new


def parse_workers(new: int) -> int:
    """Worker processes to parse `new` plans with: none for a handful, where starting them costs more
    than they save."""
    asked = os.environ.get(WORKERS_ENV, "").strip()
    if asked.isdigit():
        return int(asked) if new else 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cores, 8) if cores > 1 and new >= POOL_MIN else 0


def parse_files(jobs: list[tuple[str, dict, str, bool]], derive: tuple[plan_store.Derive, ...] = ()
                ) -> list[tuple[plan_store.Prepared, str, str | None]]:
    """A worker's share of a build: each plan's file read, digested and parsed, and made ready for the
    store there (pickled and compressed, `derive`'s values computed), so what comes back is small and
    the writer only inserts it. A job is (folder, manifest entry, entry as JSON, whether the bytes'
    SHA-256 is wanted too)."""
    out = []
    for folder, entry, as_json, want_sha in jobs:
        path = _entry_file(Path(folder), entry)
        data = _read(path, entry)
        plan, body_key = parse_plan(entry, _decode(data, path))
        out.append((plan_store.prepare(plan, body_key, derive), plan_store.source_digest(as_json, data),
                    hashlib.sha256(data).hexdigest() if want_sha else None))
    return out


def _parsed_apart(jobs: list[tuple[str, dict, str, bool]], workers: int) -> Iterator[list[tuple]]:
    """`parse_files` of every chunk of jobs, with this process's derivations, in order, on `workers`
    worker processes (bot.corpus.build_workers)."""
    from bot.corpus.build_workers import run_chunks

    derive = plan_store.derivations()
    return run_chunks(iter([(jobs[i:i + POOL_CHUNK], derive) for i in range(0, len(jobs), POOL_CHUNK)]), workers)


def _store_apart(deferred: list[tuple], workers: int, store: plan_store.PlanStore, plans: list,
                 sources: dict[str, str], files: list) -> None:
    """Parse the deferred plans in worker processes and write them to the store, FLUSH at a time,
    filling their places in `plans`, `sources` and `files`."""
    jobs = [(str(folder), entry, as_json, stat[0] < 0) for _, _, _, folder, entry, stat, as_json in deferred]
    batch: list[tuple[int, tuple]] = []

    def write() -> None:
        for (slot, _), row in zip(batch, store.put_prepared([record for _, record in batch]), strict=True):
            plans[slot] = store.plan(row)
        batch.clear()

    done = 0
    for results in _parsed_apart(jobs, workers):
        for ready, source, sha in results:
            slot, at, key, _, _, stat, as_json = deferred[done]
            done += 1
            if sha is not None:
                files[at] = (files[at][0], stat, sha)
            sources[ready.plan_id] = source
            batch.append((slot, (key, stat, as_json, source, ready)))
        if len(batch) >= FLUSH:
            write()
    write()


def _manifest_digest(folder: Path) -> str | None:
    try:
        return hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest()
    except OSError:
        return None


def _load_parsed(folders: Folders, listed: list[tuple[Path, dict]], reuse: Corpus | None) -> Corpus:
    plans, sources = [], {}
    for folder, entry in listed:
        path = _entry_file(folder, entry)
        data = _read(path, entry)
        source = plan_store.source_digest(plan_store.entry_json(entry), data)
        plan = _reusable(reuse, str(entry.get("plan_id")), source) or build_plan(entry, _decode(data, path))
        sources[plan.plan_id] = source
        plans.append(plan)
    return Corpus(folders.seeds, newest_first(plans), _fingerprint(sources), sources, folders)


def _fingerprint(sources: dict[str, str]) -> str:
    """The corpus state: every plan's source, in listing order (pictures and digests key on it)."""
    digest = hashlib.sha256()
    for plan_id in sources:
        digest.update(sources[plan_id].encode())
    return digest.hexdigest()[:16]


def _reusable(reuse: Corpus | None, plan_id: str, source: str) -> Plan | None:
    """The already parsed plan for this entry, when it was parsed from the very same entry and bytes
    by the same code (a corpus built by other code is never handed in: it lives in one process)."""
    if reuse is None or reuse.sources.get(plan_id) != source:
        return None
    return reuse.plan(plan_id)


def plan_summary(plan: Plan) -> dict:
    """The `plans --json` shape (a contract: add fields, never rename or drop)."""
    return {**plan.meta.as_dict(), "passages": plan.passage_count}
