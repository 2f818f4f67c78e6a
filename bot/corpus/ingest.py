"""`planbrief add`: bring new plans (.txt, .html, .docx, .pdf; one file, several, or a folder) into the user's plans folder without risking the rest.

Where plans are written is `Folders.target` (loader): the user's plans in the data folder, never the
shipped seeds; an explicit seeds folder is written in place. Ids read like the seeds' own
(`changzhou-2024-workpoints`: place, year, kind), with -2, -3 when one is taken; an id once given is
kept, so plans added under the older hash-suffixed ids (`changzhou-2024-ccfb6e`) keep theirs.

Metadata is read from the text where it states it (title line, 发布日期/成文日期, issuing body, the city in
the title); what cannot be found must be given on the command line, so a plan never enters the corpus
with a guessed city. The new file and manifest are written only after the plan parses, and the
manifest is replaced atomically, so a failed add leaves the corpus exactly as it was.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import marshal
import os
import re
import sqlite3
import struct
import threading
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path

from bot.corpus import cache as corpus_cache
from bot.corpus import formats, regions
from bot.corpus import store as plan_store
from bot.corpus.clean import clean
from bot.corpus.limits import (
    Deadline,
    LimitError,
    Limits,
    check_file,
    check_text,
    check_zip_members,
    parse_deadline,
)
from bot.corpus.loader import (
    MANIFEST,
    CorpusError,
    Folders,
    _manifest_digest,
    body_key_of,
    build_plan,
    decode_manifest,
    folder_key,
    folders_for,
    listed_entries,
    manifest_lock,
    plan_meta,
    read_manifest,
    read_text,
    write_manifest,
)
from bot.corpus.metadata import (
    KIND_HALF_YEAR,
    KIND_NEWS,
    KIND_PLAN,
    KIND_POINTS,
    KIND_REVIEW,
    KIND_SPEECH,
    detect,
    kind_of,
)
from bot.models import Plan
from bot.pinyin import readings
from bot.textnorm import normalize

MIN_YEAR = 1980  # the oldest work plans bureaus still publish online are from the 1990s


def max_year() -> int:
    """Next year's plans appear late in the year, so next year is the latest a plan can be for."""
    return datetime.date.today().year + 1


def valid_year(year) -> bool:
    try:
        return MIN_YEAR <= int(year) <= max_year()
    except (TypeError, ValueError):
        return False


class AddError(Exception):
    """A clear, one-line reason an add was refused; nothing was written. `en` is the English line
    where one exists (the command line picks by the user's locale)."""

    def __init__(self, message: str, en: str | None = None) -> None:
        super().__init__(message)
        self.en = en or message


def extract_text(path: Path, limits: Limits | None = None) -> str:
    limits = limits or Limits.from_env()
    try:
        if path.exists():
            check_file(path, limits)
            if path.suffix.lower() == ".docx":
                check_zip_members(path, limits)
        text = formats.extract_text(path, limits)
        check_text(text, path.name, limits)
        return text
    except (formats.FormatError, LimitError) as exc:
        raise AddError(exc.zh, exc.en) from exc
    except Exception as exc:  # noqa: BLE001 - any parser failure means "unreadable", said plainly
        raise AddError(f"文件无法读取（{type(exc).__name__}）：{path.name}",
                       f"cannot read {path.name} ({type(exc).__name__})") from exc


def batch_files(paths: list[Path]) -> list[Path]:
    """The files a batch add covers: each file given, and each plan-like file in a folder given
    (what we read, and what we can tell how to convert), in name order; hidden files are skipped."""
    known = formats.SUPPORTED | set(formats.CONVERTIBLE)
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir()
                            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in known)
        else:
            files.append(path)
    return files


# the seeds' own words for each kind (wuxi-2023-conference, jiangyin-2023-speech, suzhou-2023-workpoints)
UNNAMED = "unnamed"  # a provisional id's first part, never a place's pinyin (those are places)
KIND_SLUGS = {KIND_POINTS: "workpoints", KIND_PLAN: "workplan", KIND_HALF_YEAR: "review-plan",
              KIND_REVIEW: "review", KIND_SPEECH: "speech", KIND_NEWS: "conference"}


def readable_id(city: str, year: int, kind: str) -> str:
    """place-year-kind, the shape people already type for the seeds: 常州 2024 工作要点 → changzhou-2024-workpoints."""
    name = readings([regions.short_name(city)])[0]
    name = re.sub(r"[^a-z0-9]+", "", name.lower()) or "plan"
    return f"{name}-{year}-{KIND_SLUGS.get(kind, 'plan')}"


def unique_id(base: str, taken: set[str]) -> str:
    """`base`, or base-2, base-3, … : the first one no listed plan has."""
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


class ListedStats(Mapping):
    """The plan files the duplicate check statted (`_refuse_duplicate`), in the order it listed them: a
    mapping path → (size, mtime_ns, inode) of those it could stat, built when first asked, and
    `in_order`, the numbers as one array for a caller holding the same paths in the same order (the
    quick-start stamp: one comparison of 50,000 stats instead of a lookup each)."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.stats = array("q")
        self._by_path: dict[str, tuple[int, int, int]] | None = None

    def extend(self, paths: list[str], found: array) -> None:
        self.paths += paths
        self.stats.extend(found)
        self._by_path = None

    def in_order(self, joined: str) -> array | None:
        """The stats, 3 numbers per file (`_UNKNOWN` where none), when `joined` is these files' paths
        joined by newlines; else None."""
        return self.stats if len(joined) >= len(self.paths) and "\n".join(self.paths) == joined else None

    def _mapping(self) -> dict[str, tuple[int, int, int]]:
        if self._by_path is None:
            stats = self.stats
            self._by_path = {path: (size, mtime, ino) for path, size, mtime, ino
                             in zip(self.paths, stats[0::3], stats[1::3], stats[2::3], strict=True)
                             if size != _UNKNOWN[0]}
        return self._by_path

    def __getitem__(self, path: str) -> tuple[int, int, int]:
        return self._mapping()[path]

    def __iter__(self):
        return iter(self._mapping())

    def __len__(self) -> int:
        return len(self._mapping())


@dataclass(frozen=True)
class Written:
    """What one `publish` changed, as it saw it under the manifest lock: the manifest before (its stat
    and SHA-256; None when there was none) and after, and the plan file with the bytes it holds. A
    quick-start stamp (bot.search.quickstart) may vouch for them only if nobody else wrote in between."""

    manifest: Path
    before_stat: tuple[int, int, int] | None
    before_digest: str | None
    after_digest: str
    file: Path
    file_digest: str
    # path → (size, mtime_ns, inode) of the plan files the duplicate check stat'ed under the lock, before
    # anything was written: the stamp's carry-over compares these instead of statting 50,000 files again
    listed_stats: ListedStats | None = None
    # the manifest's (size, mtime_ns, inode) as this publish left it: another writer since moves it
    after_stat: tuple[int, int, int] | None = None


@dataclass
class Draft:
    """A plan read and parsed but not yet in the corpus: what a preview shows and what publish writes.

    Splitting add into prepare and publish lets an editor see what the reader understood (and fix the
    place, year or title) before anything is written.
    """

    entry: dict
    text: str
    plan: Plan
    body_key: str
    warnings: list[str]  # codes: "no_priorities", "city_from_body"
    city_guess: dict | None = None  # the place read from the text: where, the words, a sentence in zh and en
    named: bool = True  # False: a provisional id, `publish` names it (prepare_plan's `named`)
    written: Written | None = field(default=None, repr=False)  # set by `publish`: what it changed on disk

    def summary(self) -> dict:
        """The `add --json` contract: the manifest entry plus what the parse found."""
        extra = {"city_guess": self.city_guess} if self.city_guess else {}
        return {**self.entry, "passages": len(self.plan.passages),
                "priorities": [p.as_dict() for p in self.plan.priorities], **extra}


def prepare_plan(
    file: Path,
    *,
    city: str | None = None,
    year: int | None = None,
    title: str | None = None,
    kind: str | None = None,
    issuer: str | None = None,
    date: str | None = None,
    source_site: str | None = None,
    original_name: str | None = None,
    named: bool = True,
) -> Draft:
    """Read, detect metadata, validate and parse; writes nothing. Raises AddError with the reason.
    `named=False` leaves the readable id (pypinyin: half a second to load) to `publish`, for a
    sandbox child that would load it for one place name while its parent has it loaded anyway."""
    limits = Limits.from_env()
    try:
        with parse_deadline(limits.max_parse_seconds, file.name) as deadline:
            return _prepare(file, limits, deadline, city=city, year=year, title=title, kind=kind, issuer=issuer,
                            date=date, source_site=source_site, original_name=original_name, named=named)
    except LimitError as exc:
        raise AddError(exc.zh, exc.en) from exc


def _prepare(file: Path, limits: Limits, deadline: Deadline, *, city, year, title, kind, issuer, date,
             source_site, original_name, named=True) -> Draft:
    text = extract_text(file, limits)
    deadline.check()
    if not normalize(text).strip():
        raise AddError(f"文件是空的：{file.name}", f"the file is empty: {file.name}")
    cleaned = clean(text)
    if sum(len(p) for p in cleaned.paragraphs) < 50:
        raise AddError(f"文件里没有可用的正文（清理后不足 50 字）：{file.name}",
                       f"no usable text in {file.name} (under 50 characters once cleaned)")
    found = detect(text)
    deadline.check()
    city_given = city is not None
    city = city or found.city
    year = year if year is not None else found.year
    title = title or found.title
    missing = [name for name, value in (("--city", city), ("--year", year), ("--title", title)) if value in (None, "")]
    if "--city" in missing:  # refused only when no place at all is named anywhere in the text
        raise AddError("文本中找不到任何地名（标题、导语和正文都没有），请用 --city 指定，如 --city 无锡市",
                       "no place is named anywhere in the text (title, lead or body): give it with --city, "
                       "e.g. --city 无锡市")
    if missing:
        raise AddError("无法从文本中识别 " + "、".join(missing) + "，请在命令行上指定",
                       "cannot find " + ", ".join(missing) + " in the text: give it on the command line")
    if regions.find_place(city) is None:
        raise AddError(f"未知地名「{city}」：请用行政区划名称，如 无锡市、江阴市",
                       f"unknown place '{city}': use an official name such as 无锡市 or 江阴市")
    if not valid_year(year):
        raise AddError(f"年份不合理：{year}（应在 {MIN_YEAR}–{max_year()} 之间）",
                       f"implausible year {year} (expected {MIN_YEAR}-{max_year()})")

    body_key = body_key_of(cleaned.paragraphs)
    kind = kind or (found.kind if title == found.title else kind_of(title))
    # publish adds -2, -3 if the corpus has it by then
    plan_id = readable_id(city, int(year), kind) if named else f"{UNNAMED}-{int(year)}-{KIND_SLUGS.get(kind, 'plan')}"
    place = regions.find_place(city)
    entry = {
        "plan_id": plan_id,
        "file": f"{plan_id}.txt",
        "city": city,
        "province": place.province,
        "parent_city": place.parent_city,
        "admin_level": place.level,
        "year": int(year),
        "kind": kind,
        "title": title,
        "issuer": issuer or found.issuer or "",
        "date": date or found.date or str(year),
        "source_site": source_site or "",
        "original_file": original_name or file.name,
        "added_by": "planbrief add",
    }
    plan = build_plan(entry, text)  # parse before writing anything
    deadline.check()
    if not plan.passages:
        raise AddError(f"解析后没有任何段落：{file.name}", f"no passages after parsing {file.name}")
    warnings = [] if plan.priorities else ["no_priorities"]
    if not city_given and regions.short_name(city) not in title:
        warnings.append("city_from_body")
    return Draft(entry, text, plan, body_key, warnings, None if city_given else _city_guess(city, found), named)


_GUESS_FROM = {"title": ("标题", "the title"), "lead": ("导语", "the lead"), "body": ("正文", "the body")}


def _city_guess(city: str, found) -> dict:
    """What `add` guessed for the place and why, so the person adding can check it."""
    where = found.city_from or "body"
    zh_where, en_where = _GUESS_FROM.get(where, _GUESS_FROM["body"])
    said = f"：「{found.city_evidence}」" if found.city_evidence else ""
    said_en = f": “{found.city_evidence}”" if found.city_evidence else ""
    return {"city": city, "from": where, "evidence": found.city_evidence,
            "zh": f"地方推断为 {city}，依据{zh_where}{said}",
            "en": f"place guessed as {city}, from {en_where}{said_en}"}


def duplicate_of(folders: Path | Folders, draft: Draft) -> str | None:
    """The id of the plan this draft duplicates, if any (a preview's check; publish checks again)."""
    try:
        _refuse_duplicate(listed_entries(folders_for(folders)), draft.body_key, draft.entry["city"],
                          draft.entry["year"], draft.entry["title"])
    except _Duplicate as dup:
        return dup.plan_id
    return None


def publish_plan(folders: Path | Folders, draft: Draft) -> dict:
    """Write the draft's text and manifest entry into the writable folder, under its manifest lock;
    refuses duplicates of any plan, shipped or added, and gives the draft an id no plan has."""
    return publish(folders, draft).summary()


def publish(folders: Path | Folders, draft: Draft) -> Draft:
    """`publish_plan`, returning the draft as published (its final id, and the plan under that id:
    what the caller indexes)."""
    folders = folders_for(folders)
    target = folders.target
    try:
        with manifest_lock(target):
            own = _read_own(target)  # under the lock: another process may just have added
            listed = listed_entries(folders, lambda f: own.entries if f == target and own.stat else read_manifest(f))
            seen = ListedStats()
            verified: dict[Path, array] = {}
            _refuse_duplicate(listed, draft.body_key, draft.entry["city"], draft.entry["year"],
                              draft.entry["title"], {target: own.digest}, seen,
                              {target: own.stats} if own.stats is not None else None, verified)
            base = draft.entry["plan_id"] if draft.named else \
                readable_id(draft.entry["city"], int(draft.entry["year"]), draft.entry["kind"])
            draft = _with_id(draft, unique_id(base, {str(e.get("plan_id")) for _, e in listed}))
            trusted = _manifest_trusted(target, own.entries, own.digest)
            wrote = _write_plan(target, own.entries, draft.entry, draft.text, own)
            # the bytes just written, hashed as written (reading 27 MB back was 0.08 s at 50,000 plans),
            # while the plan store records the plan
            hashing = _Digest(*wrote) if wrote is not None else None
            recorded = _record(target, draft)
            after = hashing.result() if hashing is not None else _manifest_digest(target)
            if recorded and trusted:
                _trust_manifest(target, after)
            if after is not None:
                _keep_entries(target, own, draft.entry, after, verified.get(target))
                draft = replace(draft, written=Written(
                    target / MANIFEST, own.stat, own.digest, after, target / draft.entry["file"],
                    hashlib.sha256(draft.text.encode("utf-8")).hexdigest(), seen, _stat_of(str(target / MANIFEST))))
    except CorpusError as exc:
        raise AddError(str(exc)) from exc
    return draft


class _Digest:
    """The SHA-256 of `parts` joined, hashed in a thread: hashlib lets go of the GIL on a big buffer, so
    a 27 MB manifest (0.07 s) is hashed while this thread reads or writes something else. Without a
    thread to be had, hashed when asked."""

    def __init__(self, *parts: bytes | memoryview) -> None:
        self._parts = parts
        self._hex: str | None = None
        self._thread: threading.Thread | None = threading.Thread(target=self._run, name="planbrief-digest")
        try:
            self._thread.start()
        except RuntimeError:
            self._thread = None

    def _run(self) -> None:
        digest = hashlib.sha256()
        for part in self._parts:
            digest.update(part)
        self._hex = digest.hexdigest()

    def result(self) -> str:
        if self._thread is not None:
            self._thread.join()
        if self._hex is None:  # no thread, or it failed: here
            self._run()
        return self._hex


@dataclass(frozen=True)
class _Own:
    """The writable folder's manifest as read once under its lock: entries, bytes, stat, digest, and
    whether its top-level object holds nothing but "plans" (then appending an entry is a splice).
    `kept`: the entries are the add's own copy of what it reads of them (`_read_kept`), not the
    manifest parsed, and `appended` how many entries that copy has had appended since written whole;
    `stats`, the copy's stats of the entries' files as the duplicate check last found them to agree
    with the plan store (`_refuse_duplicate`), 3 numbers per entry, `_UNKNOWN` where it could not say."""

    entries: list[dict]
    data: bytes
    stat: tuple[int, int, int] | None  # None: no manifest; (-1, -1, -1): it changed while being read
    digest: str | None
    plans_only: bool
    kept: bool = False
    appended: int = 0
    stats: array | None = None


def _read_own(folder: Path) -> _Own:
    path = folder / MANIFEST
    try:
        st = path.stat()
        data = path.read_bytes()
        after = path.stat()
    except FileNotFoundError:
        return _Own([], b"", None, None, True)
    except OSError as exc:
        raise CorpusError(f"清单文件无法读取：{path}: {exc}") from exc
    stat = (st.st_size, st.st_mtime_ns, st.st_ino)
    steady = stat == (after.st_size, after.st_mtime_ns, after.st_ino)
    hashing = _Digest(data) if steady else None  # while the kept copy is read (27 MB: 0.07 s each)
    kept = _read_kept(folder) if steady and data.endswith(_TAIL.encode("utf-8")) else None
    digest = hashing.result() if hashing is not None else ""
    if kept is not None and kept[2] == digest and _manifest_trusted(folder, [], digest):
        # these very bytes parsed before, by an add: what it needs of them
        return _Own(kept[0], data, stat, digest, True, kept=True, appended=kept[1], stats=kept[3])
    entries, parsed = decode_manifest(data, path)
    return _Own(entries, data, stat if steady else (-1, -1, -1), digest, set(parsed) == {"plans"})


# What an add reads of the writable manifest's entries (the duplicate check, the ids taken), kept beside
# the plan store under the manifest's SHA-256: parsing a 27 MB manifest of 50,000 plans was 0.5-0.9 s of
# every add, reading these 0.06 s. Only bytes once parsed whole have a copy (a damaged manifest is
# never one of them: it is parsed, and refused, as before), and only a manifest the store vouches for
# entry by entry (`_manifest_trusted`) is read from it, since a check that compares entries with their
# rows needs them whole. Each add appends its entry under the new digest (a record of a few hundred
# bytes); every `_KEPT_REWRITE` appends, or after any other writer, the copy is written whole again.
# The copy also keeps, beside the entries, the stats of their files that the duplicate check found equal to
# the store's rows (`_refuse_duplicate`): a file still at that stat is as the store recorded it, so the next
# check compares 50,000 stats with one array comparison instead of fetching every row's (0.25 s).
_KEPT_KEYS = ("plan_id", "file", "city", "year", "title")  # what _refuse_duplicate and unique_id read
_KEPT_FORMAT = f"planbrief-add-entries/2/marshal{marshal.version}"
_UNKNOWN = (-2, -2, -2)  # a kept stat that says nothing: the store is asked for that plan's
_KEPT_REWRITE = 1000
_LENGTH = struct.Struct("<I")


def _kept_path(folder: Path) -> Path:
    name = hashlib.sha256(folder_key(folder).encode("utf-8")).hexdigest()[:24]
    return corpus_cache.cache_dir() / f"add-entries-{name}.bin"


def _read_kept(folder: Path) -> tuple[list[dict], int, str, array | None] | None:
    """The kept copy as it is: its entries, how many records were appended to them, the SHA-256 of the
    manifest they are (its last record's), and the entries' kept stats (`_UNKNOWN` for the appended
    ones; None: none kept); None when there is none, or it is damaged or not ours. Whether that manifest
    is the one on disk, and vouched for, is the caller's to check."""
    if not corpus_cache.enabled():
        return None
    try:
        data = _kept_path(folder).read_bytes()
        records, at = [], 0
        while at < len(data):
            (size,) = _LENGTH.unpack_from(data, at)
            if at + 4 + size > len(data):
                return None  # torn by a crash mid-append
            records.append(data[at + 4:at + 4 + size])
            at += 4 + size
        kind, first, entries, raw = marshal.loads(records[0])
        if kind != _KEPT_FORMAT:
            return None
        stats = array("q", raw) if raw and len(raw) == 24 * len(entries) else None
        last = first
        for record in records[1:]:
            last, entry = marshal.loads(record)
            entries.append(entry)
    except (OSError, EOFError, ValueError, TypeError, IndexError, AttributeError, struct.error):
        return None  # not ours, or damaged: the manifest is parsed
    if not isinstance(last, str) or not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return None
    if stats is not None:
        stats.extend(_UNKNOWN * (len(records) - 1))
    return entries, len(records) - 1, last, stats


def _kept_of(entry: dict) -> dict:
    return {key: entry[key] for key in _KEPT_KEYS if key in entry}


def _keep_entries(folder: Path, own: _Own, entry: dict, digest: str, stats: array | None = None) -> None:
    """After an add wrote the manifest whose SHA-256 is `digest` (`own`'s entries and `entry`): append
    `entry` to the kept copy when that copy was `own`'s, else write the copy whole, with `stats` (the
    duplicate check's verified stats of `own`'s entries) when given. Best effort (under the manifest
    lock): a copy not written leaves the next add parsing the manifest, as before."""
    if not corpus_cache.enabled() or not own.plans_only or not all(isinstance(e, dict) for e in own.entries):
        return
    path = _kept_path(folder)
    try:
        if own.kept and own.appended < _KEPT_REWRITE:
            with open(path, "ab") as f:
                record = marshal.dumps((digest, _kept_of(entry)))
                f.write(_LENGTH.pack(len(record)) + record)
            return
        kept = own.entries if own.kept else [_kept_of(e) for e in own.entries]
        raw = b""
        if stats is not None and len(stats) == 3 * len(kept):
            raw = (stats + array("q", _UNKNOWN)).tobytes()
        record = marshal.dumps((_KEPT_FORMAT, digest, [*kept, _kept_of(entry)], raw))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        tmp.write_bytes(_LENGTH.pack(len(record)) + record)
        os.replace(tmp, path)
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            path.unlink()


def _manifest_trusted(folder: Path, entries: list[dict], digest: str | None = None) -> bool:
    """Whether the plan store vouches for every entry of this folder's manifest as it is now (its
    digest was recorded by a load that compared every entry with its row; no manifest: nothing to vouch
    for). Call it under the manifest lock."""
    store = plan_store.open_store()
    if store is None:
        return False
    digest = digest or _manifest_digest(folder)
    try:
        return (digest is None and not entries) or (
            digest is not None and store.manifest_digest(folder_key(folder)) == digest)
    except sqlite3.Error:
        return False


def _trust_manifest(folder: Path, digest: str | None = None) -> None:
    """After a write that changed only entries whose rows it recorded: the new manifest is vouched for
    too, so the next load (the CLI, the bot's refresh) does not compare thousands of entries again."""
    store = plan_store.open_store()
    digest = digest or _manifest_digest(folder)
    if store is None or digest is None:
        return
    with contextlib.suppress(sqlite3.Error):
        store.set_manifest_digest(folder_key(folder), digest)


def _record(folder: Path, draft: Draft) -> bool:
    """Put the plan just written into the plan store, parsed as it is, so the next load (this process,
    the bot, the next CLI call) parses nothing. Best effort: without it the next load parses this plan.
    True when it was recorded."""
    store = plan_store.open_store()
    if store is None:
        return False
    path = folder / draft.entry["file"]
    try:
        data = path.read_bytes()
        if data.decode("utf-8-sig") != draft.text:  # what a load would read differs: let it parse
            return False
        as_json = plan_store.entry_json(draft.entry)
        store.put_many([(folder_key(folder), draft.plan, plan_store.file_stat(path), as_json,
                         plan_store.source_digest(as_json, data), draft.body_key)])
    except (OSError, UnicodeDecodeError, sqlite3.Error):
        return False
    return True


def _with_id(draft: Draft, plan_id: str) -> Draft:
    """The draft under another id (the corpus has a plan of that place, year and kind, or the draft's
    id was provisional); its passages carry the id, renamed without parsing the text again."""
    if plan_id == draft.entry["plan_id"] and draft.named:
        return draft
    entry = {**draft.entry, "plan_id": plan_id, "file": f"{plan_id}.txt"}
    return replace(draft, entry=entry, plan=renamed(draft.plan, entry), named=True)


def add_plan(folders: Path | Folders, file: Path, **metadata) -> dict:
    """Validate, then write the text and manifest entry; returns the new manifest entry (`add --json`)."""
    return publish_plan(folders, prepare_plan(file, **metadata))


def renamed(plan: Plan, entry: dict) -> Plan:
    """`plan` as `build_plan(entry, its text)` gives it when only the entry's id (and file) differ:
    passage ids carry the plan id, nothing else of a parse does, so nothing is parsed again (the text
    may be hostile: it was parsed once, in the sandbox)."""
    old, new = plan.plan_id, str(entry["plan_id"])
    passages = [replace(p, id=new + p.id[len(old):], plan_id=new) for p in plan.passages]
    return Plan(plan_meta(entry), plan.preamble, plan.tree, passages, plan.priorities)


class _Duplicate(AddError):
    def __init__(self, message: str, en: str, plan_id: str):
        super().__init__(message, en)
        self.plan_id = plan_id


_BODY_KEYS: dict[str, str] = {}  # sha256 of a stored file's bytes → its body key (cleaning is the cost)


def _stored_body_key(path: Path | str, row: plan_store.Row | None = None, entry: dict | None = None,
                     trusted: bool = False) -> str | None:
    """From the plan store when the file is as it recorded (no read at all); else memoised on the
    file's bytes, so a running bot checks each publish against thousands of plans without cleaning
    every one of them again; a changed file is a new entry. None: the file is not there. `trusted`: the
    store vouches for the manifest's entries (`_manifest_trusted`), so they need no comparing."""
    try:
        stat = plan_store.file_stat(path)
    except OSError:
        return None
    if row is not None and entry is not None and row.current(stat, None if trusted else plan_store.entry_json(entry)):
        return row.body_key
    path = Path(path)
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    key = _BODY_KEYS.get(digest)
    if key is None:
        key = _BODY_KEYS[digest] = body_key_of(clean(read_text(path)).paragraphs)
    return key


def _store_rows(keys: list[str]) -> dict[tuple[str, str], plan_store.Row]:
    store = plan_store.open_store()
    if store is None or not keys:
        return {}
    try:
        return store.rows(keys, summaries=False)
    except sqlite3.Error:
        return {}


# The add's own index on the plan store: it lives here, not in store.py's schema, because store.py is
# part of the parse key (`cache.code_fingerprint`): editing it re-parses a national corpus.
_KEY_INDEX = ("CREATE INDEX IF NOT EXISTS plans_add_check "
              "ON plans (folder, body_key, code, size, plan_id, mtime_ns, ino)")
_CANDIDATES = ("SELECT plan_id, size, mtime_ns, ino, code, body_key, entry, source FROM plans "
               "WHERE folder=? AND body_key=? "
               "UNION SELECT plan_id, size, mtime_ns, ino, code, body_key, entry, source FROM plans "
               "WHERE folder=? AND (code != ? OR size < 0)")
_SETTLE = "UPDATE plans SET size=?, mtime_ns=?, ino=? WHERE folder=? AND plan_id=? AND source=? AND size < 0"
_STATS = "SELECT plan_id, size, mtime_ns, ino FROM plans WHERE folder=?"


def _store_candidates(key: str, body_key: str) -> dict[str, tuple[tuple[int, int, int], str, str, str, str]] | None:
    """What a duplicate check of one folder needs of the store, from one covering index (made once,
    0.5 s at 50,000 rows) rather than every row's code and body key (0.4 s at 50,000, at every add):
    plan id → (stat, reader code, body key, entry json, source digest) of the candidates, the plans
    recorded with this body key and those whose recorded key cannot be relied on (recorded by other
    reader code, or with a stat too recent to trust). None when the store cannot answer: then every
    file is checked against its row."""
    store = plan_store.open_store()
    if store is None:
        return None
    code = corpus_cache.code_fingerprint()
    try:
        with store._lock:
            store._db.execute(_KEY_INDEX)
            found = store._db.execute(_CANDIDATES, (key, body_key, key, code)).fetchall()
    except sqlite3.Error:
        return None
    return {r[0]: ((r[1], r[2], r[3]), r[4], r[5], r[6], r[7]) for r in found}


def _recorded_stats(key: str, plan_ids: list[str] | None = None) -> dict[str, tuple[int, int, int]]:
    """plan id → the stat the store recorded: every row's of the folder `key` (0.25 s at 50,000 with the
    dict), or only `plan_ids`' rows, when the add's kept copy answers for the rest. Empty when the store
    cannot answer (every file is then read as moved)."""
    store = plan_store.open_store()
    if store is None:
        return {}
    queries = [(_STATS, (key,))] if plan_ids is None else [
        (f"{_STATS} AND plan_id IN ({','.join('?' * len(chunk))})", (key, *chunk))
        for chunk in (plan_ids[at:at + 500] for at in range(0, len(plan_ids), 500))]
    out: dict[str, tuple[int, int, int]] = {}
    try:
        with store._lock:
            for query, params in queries:
                out.update((r[0], r[1:]) for r in store._db.execute(query, params).fetchall())
    except sqlite3.Error:
        return {}
    return out


def _settled_body_key(key: str, plan_id: str, path: str, known: tuple) -> str | None:
    """The recorded body key of a plan recorded too recently for its stat to be trusted (an add records
    its own plan so, a moment after writing it), when the file's bytes are still those recorded (its
    source digest says so: no cleaning, which re-reading each such plan cost at every later add). Once
    the file is old enough for its stat, the row gets that stat (`_SETTLE`), so later adds and loads
    trust it by its stat again; before, these rows stayed until a full load, and every add read all of
    them. None: the file is not as recorded (the caller reads it)."""
    try:
        before = plan_store.file_stat(path)
        data = Path(path).read_bytes()
        after = plan_store.file_stat(path)
    except OSError:
        return None
    if plan_store.source_digest(known[3], data) != known[4]:
        return None
    store = plan_store.open_store()
    if store is not None and before == after and before[0] >= 0:
        with contextlib.suppress(sqlite3.Error), store._lock:
            store._db.execute(_SETTLE, (*before, key, plan_id, known[4]))
    return known[2]


def _refuse_duplicate(listed: list[tuple[Path, dict]], body_key: str, city: str, year: int, title: str,
                      digests: dict[Path, str | None] | None = None,
                      seen: ListedStats | None = None,
                      kept_stats: dict[Path, array] | None = None, verified: dict[Path, array] | None = None) -> None:
    """Refuse a text already in the corpus, or the same place, year and title (the latter from the
    manifest entries, all of them).

    The text: in a folder whose manifest the store vouches for (`_manifest_trusted`), each file costs a
    stat against its recorded stat (one covering index scan gives them all) and nothing more while they
    agree: its recorded body key is not ours, or the plan is one of the store's candidates
    (`_store_candidates`: recorded with our body key, or by other reader code, or with a stat too
    recent to trust), whose key is taken from its row only when the file is as recorded. A file whose
    stat moved (edited behind the store's back) is read again, so a text edited into an old plan's file
    is still a duplicate, and one edited out of it no longer is. A folder the store does not vouch for
    (or no store) has every file checked by its stat against its full row, read when they differ.
    `seen` gets the raw stat of each file statted here, by absolute path (see Written.listed_stats).
    `kept_stats` (folder → the add's kept stats of its entries) stands in for the store's stats where
    it says something (`_moved`); `verified` gets, per folder checked against the store, the stats to
    keep for the next check."""
    by_folder: dict[Path, list[dict]] = {}
    last: Path | None = None
    for folder, entry in listed:  # listed is grouped by folder: a Path's hash per entry is 0.15 s at 50,000
        if folder is not last:
            group = by_folder.setdefault(folder, [])
            last = folder
        group.append(entry)
    folders = list(by_folder)
    keys = {folder: folder_key(folder) for folder in folders}
    digests = digests or {}
    trusted = {folder: _manifest_trusted(folder, by_folder.get(folder, []), digests.get(folder)) for folder in folders}
    candidates = {f: _store_candidates(keys[f], body_key) if trusted[f] else None for f in folders}
    rows = _store_rows(sorted({keys[f] for f in folders if candidates[f] is None}))
    code = corpus_cache.code_fingerprint()
    wanted_title = normalize(title)
    def check(entry: dict, found: str | None) -> None:
        if found == body_key:
            raise _Duplicate(f"重复：这份文件已在语料中（{entry['plan_id']}）",
                             f"duplicate: this text is already in the corpus ({entry['plan_id']})",
                             entry["plan_id"])
        if str(entry.get("city")) == city and int(entry.get("year", 0)) == year \
                and normalize(entry.get("title", "")) == wanted_title:
            raise _Duplicate(f"重复：{city} {year}「{title}」已在语料中（{entry['plan_id']}）",
                             f"duplicate: {city} {year} '{title}' is already in the corpus ({entry['plan_id']})",
                             entry["plan_id"])

    for folder in folders:
        key, home, chosen, entries = keys[folder], str(folder), candidates[folder], by_folder[folder]
        if chosen is None:
            for entry in entries:
                check(entry, _stored_body_key(os.path.join(home, entry["file"]),
                                              rows.get((key, str(entry.get("plan_id")))), entry, trusted[folder]))
            continue
        # Each pass below is one comprehension over the entries, and only the few entries that can be
        # a duplicate are looked at one by one, in manifest order (the first found is the one named):
        # the store's candidates, files whose stat moved, plans of the same place. One loop doing all
        # of it per entry cost 0.3 s at 50,000 plans, besides the stats themselves.
        ids = [str(e.get("plan_id")) for e in entries]
        look = {i for i, plan_id in enumerate(ids) if plan_id in chosen}  # the store's candidates
        prefix = os.path.join(os.path.abspath(home), "")
        names = [e["file"] for e in entries]
        paths = [name if name[:1] == "/" else prefix + name for name in names]  # os.path.join: 0.1 s
        found = _stat_all(paths)
        if seen is not None:
            seen.extend(paths, found)
        moved, keep = _moved(key, ids, paths, found, look, (kept_stats or {}).get(folder))
        if verified is not None:
            verified[folder] = keep
        cities = [e.get("city") for e in entries]  # str() of each only where it is not a str already
        near = [i for i, c in enumerate(cities) if c == city or (c.__class__ is not str and str(c) == city)]
        for i in sorted({*look, *moved, *near}):
            entry = entries[i]
            if i in look:  # the row's stat and code decide, as Row.current does
                known, path = chosen[ids[i]], os.path.join(home, entry["file"])
                try:
                    same = known[0][0] >= 0 and known[1] == code and plan_store.file_stat(path) == known[0]
                except OSError:
                    same = False
                found = known[2] if same else None
                if found is None and known[0][0] < 0 and known[1] == code:
                    found = _settled_body_key(key, ids[i], path, known)
                if found is None:
                    found = _stored_body_key(path)
            else:  # recorded with another body key by this code: only a file changed since is read
                found = _stored_body_key(moved[i]) if i in moved else None
            check(entry, found)


def _moved(key: str, ids: list[str], paths: list[str], found: array, look: set[int],
           kept: array | None) -> tuple[dict[int, str], array]:
    """The entries (index → path) of the folder `key` not among the store's candidates (`look`) whose
    file's stat (`found`,
    `_stat_all`'s) is not the one the store recorded, and the stats to keep for the next check: each
    entry's stat where it agreed with the store's, `_UNKNOWN` elsewhere.

    With `kept` (the last check's such stats, aligned with these entries) the store is asked only for
    the entries it says nothing of, or whose file moved since: a file still at its kept stat is as the
    store recorded it (a row changes only when its file's stat does, or with the reader's code, and
    then it is a candidate). Without, every row's stat is fetched."""
    found = array("q", found)  # the kept stats are made from a copy
    if kept is not None and len(kept) == len(found):
        probe = array("q", found)
        unknown = [i for i, size in enumerate(kept[0::3]) if size == _UNKNOWN[0]]
        for i in (*unknown, *look):
            probe[3 * i:3 * i + 3] = kept[3 * i:3 * i + 3]
        ask = sorted({*unknown, *_differences(probe, kept)} - look)
        stored = _recorded_stats(key, [ids[i] for i in ask])
    else:
        ask = [i for i in range(len(ids)) if i not in look]
        stored = _recorded_stats(key)
    moved = {i: paths[i] for i in ask if found[3 * i] == _UNKNOWN[0] or tuple(found[3 * i:3 * i + 3]) != stored.get(ids[i])}
    for i in (*look, *moved):
        found[3 * i:3 * i + 3] = array("q", _UNKNOWN)
    return moved, found


def _differences(a: array, b: array, block: int = 3 * 1024) -> list[int]:
    """The entries (3 numbers each) where two equally long arrays differ: a block at a time."""
    out: list[int] = []
    for at in range(0, len(a), block):
        if a[at:at + block] != b[at:at + block]:
            out += [(at + j) // 3 for j in range(0, min(block, len(a) - at), 3) if a[at + j:at + j + 3] != b[at + j:at + j + 3]]
    return out


_FORK_FROM = 4000  # files: fewer are not worth a second process


def _stat_all(paths: list[str]) -> array:
    """Each file's (size, mtime_ns, inode), `_UNKNOWN` where it cannot be statted. A stat is ~6 µs here,
    two thirds of it in the kernel, and the add's duplicate check stats every plan file (0.3 s at
    50,000), so where this process can fork safely (no other thread: the command line, under the
    manifest lock) a forked child stats the second half on the other core and hands back its numbers
    (0.2 s in all). A child that fails leaves its half to be statted here."""
    half = len(paths) // 2
    child = _StatChild(paths[half:]) if len(paths) >= _FORK_FROM and hasattr(os, "fork") \
        and threading.active_count() == 1 else None
    if child is None or not child.started:
        return _stats_of(paths)
    found = _stats_of(paths[:half])
    rest = child.result()
    found.extend(rest if rest is not None else _stats_of(paths[half:]))
    return found


def _stats_of(paths: list[str]) -> array:
    return array("q", chain.from_iterable([_stat_of(path) or _UNKNOWN for path in paths]))


def _stat_of(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


class _StatChild:
    """`_stats_of(paths)` in a forked child, its numbers sent back through a pipe."""

    def __init__(self, paths: list[str]) -> None:
        self._count, self._pid, self._read = len(paths), None, None
        try:
            read, write = os.pipe()
        except OSError:
            return
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            return
        if pid == 0:  # the child: its numbers, then out, whatever happens (no exit handlers of ours)
            try:
                os.close(read)
                data = memoryview(_stats_of(paths).tobytes())
                while data:
                    data = data[os.write(write, data):]
            finally:
                os._exit(0)
        os.close(write)
        self._pid, self._read = pid, read

    @property
    def started(self) -> bool:
        return self._pid is not None

    def result(self) -> array | None:
        """The child's numbers, or None when it did not send them all."""
        chunks: list[bytes] = []
        try:
            while chunk := os.read(self._read, 1 << 20):
                chunks.append(chunk)
        except OSError:
            chunks = []
        finally:
            os.close(self._read)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
        data = b"".join(chunks)
        if len(data) != 24 * self._count:
            return None
        found = array("q")
        found.frombytes(data)
        return found


_TAIL = "\n  ]\n}\n"  # how `write_manifest` ends a manifest with entries


def _append_manifest(folder: Path, entries: list[dict], entry: dict,
                     own: _Own | None = None) -> tuple[memoryview, bytes] | None:
    """`write_manifest(folder, [*entries, entry])`, byte for byte, serialising only the new entry: the
    others are the file's own text (an indented dump of 50,000 entries is json's pure-Python encoder:
    seconds, at every add). A file of another shape (edited by hand) is written whole, as before.

    `own`, the file as just read (its `entries`): when its top-level object holds only "plans" and it
    ends in `_TAIL`, that "]" closes the plans list, so the splice is that list plus the entry and
    needs no parsing again (0.3 s at 50,000 entries). Returns the bytes written, as the file's old text
    up to its tail and the new tail (None: written whole): the file is written from those two parts,
    since joining them into one 31 MB bytes object copied it twice (0.06 s of every add)."""
    path = folder / MANIFEST
    try:
        old = (own.data if own is not None else path.read_bytes()) if entries else b""
    except OSError:
        old = b""
    tail = _TAIL.encode("utf-8")
    if old.endswith(tail):  # spliced as bytes: decoding and encoding 27 MB again cost 0.2 s
        one = json.dumps({"plans": [entry]}, ensure_ascii=False, indent=2)
        head = memoryview(old)[:-len(tail)]
        added = (",\n" + one[one.index("[") + 2:-len(_TAIL) + 1] + _TAIL).encode("utf-8")
        try:
            same = (own is not None and own.plans_only) or \
                json.loads((bytes(head) + added).decode("utf-8")) == {"plans": [*entries, entry]}
        except ValueError:
            same = False
        if same:
            tmp = path.with_suffix(".json.tmp")
            with open(tmp, "wb") as f:
                f.write(head)
                f.write(added)
            os.replace(tmp, path)
            return head, added
    if own is not None and own.kept:  # the add's copy holds only what it reads: the file's entries whole
        entries = decode_manifest(own.data, path)[0]
    write_manifest(folder, [*entries, entry])
    return None


def _write_plan(seeds_dir: Path, entries: list[dict], entry: dict, text: str,
                own: _Own | None = None) -> tuple[memoryview, bytes] | None:
    """Text first, then the manifest that names it: a crash between them leaves an unlisted file, never
    a listed plan without its text. The manifest's bytes as `_append_manifest` returns them (two parts)."""
    target = seeds_dir / entry["file"]
    tmp = target.with_suffix(".txt.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
        return _append_manifest(seeds_dir, entries, entry, own)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        raise AddError(f"写入失败：{seeds_dir}（{exc.strerror or exc}）") from exc



class RemoveError(Exception):
    """A clear, one-line reason a removal was refused; nothing was changed."""

    def __init__(self, message: str, *, not_found: bool = False, en: str | None = None):
        super().__init__(message)
        self.not_found = not_found
        self.en = en or message


def _some_ids(listed: list[tuple[Path, dict]], shown: int = 5) -> tuple[str, str]:
    """A few existing ids as a hint (Chinese, English); a corpus of hundreds must not make the refusal
    hundreds long."""
    ids = [str(e.get("plan_id")) for _, e in listed]
    if not ids:
        return "语料为空", "the corpus is empty"
    more = f" 等 {len(ids)} 份，用 planbrief plans 查看全部" if len(ids) > shown else ""
    more_en = f" and {len(ids) - shown} more; planbrief plans lists them" if len(ids) > shown else ""
    return "现有：" + "、".join(ids[:shown]) + more, "there are: " + ", ".join(ids[:shown]) + more_en


def removable(folders: Path | Folders, plan_id: str) -> tuple[Path, dict]:
    """The folder and entry of a plan that may be withdrawn; RemoveError saying why not otherwise.

    A shipped plan is refused rather than hidden: the seeds are read only, and a plan that silently
    vanished from the corpus on one machine would be harder to explain than a one-line refusal.
    """
    folders = folders_for(folders)
    listed = listed_entries(folders)
    found = [(folder, e) for folder, e in listed if e.get("plan_id") == plan_id]
    if not found:
        zh, en = _some_ids(listed)
        raise RemoveError(f"没有这份规划：{plan_id}（{zh}）", not_found=True, en=f"no such plan: {plan_id} ({en})")
    folder, entry = found[0]
    if folders.read_only(folder):
        raise RemoveError(f"{plan_id} 是随附的规划，不能撤下：只能撤下自己加入的规划",
                          en=f"{plan_id} ships with PlanBrief and cannot be removed: only plans you added can")
    return folder, entry


def remove_plan(folders: Path | Folders, plan_id: str) -> dict:
    """Withdraw a plan as if it had never been added: its manifest entry and its text go.

    The manifest is rewritten first, so a crash in between leaves an unlisted text file (ignored by the
    corpus, swept by nothing but harmless) rather than a listed plan whose text is gone.
    """
    folders = folders_for(folders)
    target = folders.target
    try:
        removable(folders, plan_id)  # a shipped plan is refused before anything is created or locked
        with manifest_lock(target):
            folder, entry = removable(folders, plan_id)
            try:
                own = read_manifest(target)
                trusted = _manifest_trusted(target, own)
                write_manifest(target, [e for e in own if e.get("plan_id") != plan_id])
                if corpus_cache.enabled():  # the add's copy of the entries no longer matches: not left stale
                    _kept_path(target).unlink(missing_ok=True)
                if trusted:  # the entries left are each as their row recorded them
                    _trust_manifest(target)
                (folder / entry["file"]).unlink(missing_ok=True)
            except OSError as exc:
                raise RemoveError(f"写入失败：{target}（{exc.strerror or exc}）") from exc
    except CorpusError as exc:
        raise RemoveError(str(exc)) from exc
    return entry
