"""One check round: list pages → new items → triage → drafts → proposals (or publications).

What a round promises:
- The first successful check of a source records what is already listed as the baseline and proposes
  nothing (unless the source asked for `--backfill N` pages, read on that first round only).
- An item is new when neither its normalised URL nor its title was seen on this source. New items
  are recorded (`pending`) before anything else happens, so a crash mid-round loses nothing and the
  next round carries on with them.
- Only titles triage keeps are fetched; the item page (or the PDF/DOCX it merely links) goes through
  the corpus room's `prepare_plan` in the reading sandbox (a limited child process), exactly like an
  editor's upload, and is checked for duplicates against the corpus (same text) and earlier
  candidates (same body hash).
- `propose`: the candidate waits for an editor (收录 / 取消 from Telegram, accept / reject from a
  shell). `auto`: a candidate whose card has no warnings is published at once; one with warnings is
  proposed like any other.
- An error is never news: a failing fetch changes no item and counts toward the source's backoff.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from bot.corpus import ingest, sandbox
from bot.corpus.fetch import FetchError, NotModified
from bot.corpus.loader import Folders, folders_for
from bot.corpus.sandbox import read_untrusted
from bot.sources import pages
from bot.sources.listing import key_of, normalise_url, title_key
from bot.sources.poller import Disallowed, Poller, WatchPolicy
from bot.sources.store import Item, Source, SourceStore
from bot.sources.triage import triage

THIN_PAGE = 400  # characters: an item page with less text than this is a cover for its attachment


@dataclass
class SourceReport:
    source: Source
    status: str  # ok | baseline | not_modified | failed | disallowed
    http_status: int | None = None
    items_seen: int = 0
    new_items: int = 0
    candidates: list[Item] = field(default_factory=list)
    error: str | None = None

    def as_json(self) -> dict:
        """The `sources check --json` contract: id, url, status, http_status, items_seen, new_items,
        candidates [{id, title, url, kind, status}]."""
        return {"id": self.source.id, "url": self.source.url, "status": self.status,
                "http_status": self.http_status, "items_seen": self.items_seen, "new_items": self.new_items,
                "candidates": [c.as_candidate() for c in self.candidates], "error": self.error,
                "state": self.source.state}


@dataclass
class RoundReport:
    sources: list[SourceReport]
    requests: int = 0
    not_modified: int = 0

    @property
    def published(self) -> list[Item]:
        return [c for s in self.sources for c in s.candidates if c.status == "published"]

    def as_json(self) -> dict:
        return {"sources": [s.as_json() for s in self.sources], "requests": self.requests,
                "not_modified": self.not_modified}


class CandidateError(Exception):
    pass


class Watcher:
    """What a round needs: the store, the corpus folders `add` writes to (the user's plans, never the
    shipped seeds), a folder for candidate files."""

    def __init__(self, store: SourceStore, seeds_dir: Path | Folders, data_dir: Path,
                 policy: WatchPolicy | None = None, *, allow_private: bool = False):
        self.store = store
        self.seeds_dir = folders_for(seeds_dir)
        self.files_dir = Path(data_dir) / "sources"
        self.policy = policy or WatchPolicy()
        self.allow_private = allow_private  # PLANBRIEF_ALLOW_PRIVATE_URLS: every source may

    # ---------------------------------------------------------------------------------- round

    def run_round(self, source_ids: list[int] | None = None, *, due_only: bool = False,
                  poller: Poller | None = None) -> RoundReport:
        if source_ids:
            chosen = [s for s in (self.store.get_source(i) for i in source_ids) if s is not None]
        elif due_only:
            chosen = self.store.due_sources()
        else:
            chosen = [s for s in self.store.list_sources() if s.state != "paused"]
        poller = poller or Poller(self.policy)
        chosen = _interleave_hosts(chosen)
        with ThreadPoolExecutor(max_workers=max(1, min(self.policy.concurrency * 2, len(chosen) or 1))) as pool:
            reports = list(pool.map(lambda s: self.check_source(s, poller), chosen))
        return RoundReport(reports, poller.requests, poller.not_modified)

    def run_round_apart(self, *, due_only: bool = True) -> int:
        """`run_round` in a child process of the reading sandbox, which talks only to the database:
        the bot's event loop and search threads keep the GIL while 50 columns are read (in a thread of
        the bot, the round's own Python work held the GIL for up to the interpreter's 5 ms switch
        interval at a time, /topic's p99). The child and every fetch and read it makes run in the
        background (SCHED_IDLE): on 2 cores, niced children still took turns on the core answering
        `/topic`. Returns how many were published."""
        limits = replace(sandbox.SandboxLimits.from_env(), seconds=ROUND_SECONDS, cpu_seconds=ROUND_CPU_SECONDS,
                         workers=1, background=True)
        url = self.store.engine.url.render_as_string(hide_password=False)  # pickled to the child, never logged
        return sandbox.run_apart(_round_in_child, url, self.seeds_dir, self.files_dir.parent, self.policy,
                           self.allow_private, due_only, limits=limits, name="source check round")

    def check_source(self, source: Source, poller: Poller) -> SourceReport:
        allow = source.allow_private or self.allow_private
        conditional = source.baseline_done
        try:  # fetched and read in one sandbox child
            fetched, page = poller.get_and_read(source.url, pages.read_list_file, source.selector,
                                                allow_private=allow, etag=source.etag if conditional else None,
                                                last_modified=source.last_modified if conditional else None)
        except NotModified:
            updated = self.store.record_success(source, status="not_modified", etag=None, last_modified=None)
            report = SourceReport(updated, "not_modified", 304)
            report.candidates = self._process_pending(updated, poller)  # a crashed round's leftovers
            return report
        except Disallowed as exc:
            return self._failed(source, "disallowed", str(exc), None)
        except FetchError as exc:
            return self._failed(source, "failed", str(exc), exc.status)
        except ingest.AddError as exc:  # not a list page we can read (a bad selector, a page over the limits)
            return self._failed(source, "failed", str(exc), None)
        fetched.path.unlink(missing_ok=True)
        try:
            listed = list(page.items)
            if not source.baseline_done and source.backfill > 0:
                next_url, read_pages = page.next_url, 1
                while next_url and read_pages < source.backfill + 1:
                    more, extra = poller.get_and_read(next_url, pages.read_list_file, source.selector,
                                                      allow_private=allow)
                    more.path.unlink(missing_ok=True)
                    listed += extra.items
                    next_url, read_pages = extra.next_url, read_pages + 1
        except (ingest.AddError, FetchError) as exc:
            return self._failed(source, "failed", str(exc), getattr(exc, "status", None))
        seen_urls, seen_titles = self.store.known_keys(source.id)
        rows, fresh = [], set()
        for item in listed:
            u_key, t_key = key_of(normalise_url(item.url)), title_key(item.title)
            if u_key in seen_urls or t_key in seen_titles or u_key in fresh:
                continue
            fresh.add(u_key)
            rows.append((item.url, u_key, item.title, t_key, item.date))
        baseline = not source.baseline_done and source.backfill == 0
        new = self.store.record_items(source.id, rows, "baseline" if baseline else "pending")
        if not source.baseline_done:
            self.store.update_source(source.id, baseline_done=True)
        updated = self.store.record_success(source, status="baseline" if baseline else "ok",
                                            etag=fetched.etag or None, last_modified=fetched.last_modified or None)
        report = SourceReport(updated, "baseline" if baseline else "ok", 200, len(listed), 0 if baseline else new)
        report.candidates = self._process_pending(updated, poller)
        return report

    def _failed(self, source: Source, status: str, error: str, http_status: int | None) -> SourceReport:
        retry = self.policy.retry_in(source.failures + 1)
        updated = self.store.record_failure(source, error, status, retry_in=min(retry, source.interval_s * 4),
                                            failing_after=self.policy.failing_after)
        return SourceReport(updated, status, http_status, error=error)

    # ---------------------------------------------------------------------------------- items

    def _process_pending(self, source: Source, poller: Poller) -> list[Item]:
        done = []
        for item in self.store.items_with_status("pending", source.id):
            verdict = triage(item.title)
            if not verdict.candidate:
                done.append(self.store.set_item(item.id, status="ignored", why=verdict.why))
                continue
            self.store.set_item(item.id, kind=verdict.kind, why=verdict.why)
            done.append(self._candidate(source, self.store.get_item(item.id), verdict.year, poller))
        return done

    def _candidate(self, source: Source, item: Item, year: int | None, poller: Poller) -> Item:
        try:
            path, final_url = self._download(source, item, poller)
        except (FetchError, CandidateError) as exc:
            return self.store.set_item(item.id, status="failed", error=str(exc)[:1000])
        overrides: dict = {}
        try:
            draft, overrides = _prepare(path, final_url, source, item, year)
        except ingest.AddError as exc:
            path.unlink(missing_ok=True)
            return self.store.set_item(item.id, status="failed", error=str(exc)[:1000])
        duplicate = ingest.duplicate_of(self.seeds_dir, draft)
        earlier = self.store.hash_seen(draft.body_key, item.id)
        if duplicate or earlier:
            path.unlink(missing_ok=True)
            why = f"duplicate of plan {duplicate}" if duplicate else f"duplicate of candidate {earlier.id}"
            return self.store.set_item(item.id, status="duplicate", content_hash=draft.body_key, error=why,
                                       plan_id=duplicate or earlier.plan_id)
        item = self.store.set_item(item.id, content_hash=draft.body_key, file=str(path), overrides=overrides)
        if source.mode == "auto" and not draft.warnings:
            try:
                summary = ingest.publish_plan(self.seeds_dir, draft)
            except ingest.AddError as exc:
                path.unlink(missing_ok=True)
                return self.store.set_item(item.id, status="duplicate" if "重复" in str(exc) else "failed",
                                           error=str(exc)[:1000])
            path.unlink(missing_ok=True)
            return self.store.set_item(item.id, status="published", plan_id=summary["plan_id"], file=None,
                                       kind=summary["kind"])
        return self.store.set_item(item.id, status="proposed", kind=draft.entry["kind"])

    def _download(self, source: Source, item: Item, poller: Poller) -> tuple[Path, str]:
        """The item page; if it is a thin cover for a PDF/DOCX attachment, the attachment instead."""
        allow = source.allow_private or self.allow_private
        try:  # read in the fetching child, like the list page: one child, and no parsing here
            fetched, (attachment, unreadable, length) = poller.get_and_read(item.url, pages.item_facts,
                                                                            allow_private=allow)
        except ingest.AddError as exc:  # the child was stopped (deadline, CPU, memory)
            raise CandidateError(str(exc)) from exc
        self.files_dir.mkdir(parents=True, exist_ok=True)
        target = self.files_dir / f"item-{item.id}{fetched.path.suffix}"
        shutil.move(fetched.path, target)
        if target.suffix != ".html":
            return target, fetched.url
        thin = length < THIN_PAGE
        if thin and attachment:
            doc = poller.get(attachment, allow_private=allow)
            target.unlink(missing_ok=True)
            target = self.files_dir / f"item-{item.id}{doc.path.suffix}"
            shutil.move(doc.path, target)
            return target, doc.url
        if thin and unreadable:
            target.unlink(missing_ok=True)
            raise CandidateError(f"附件为 {PurePosixPath(urlsplit(unreadable).path).suffix} 格式，无法转换："
                                 f"请另存为 .docx 或 .pdf 后用 add 收录（{unreadable}）")
        return target, fetched.url

    # ---------------------------------------------------------------------------------- editors

    def accept(self, item_id: int) -> Item:
        """Publish a proposed candidate (收录 / `sources accept`); raises CandidateError with the reason."""
        item = self.store.get_item(item_id)
        if item is None:
            raise CandidateError(f"没有这个候选：{item_id}")
        if item.status != "proposed":
            raise CandidateError(f"候选 {item_id} 的状态是 {item.status}，不能收录")
        if not item.file or not Path(item.file).exists():
            self.store.set_item(item.id, status="failed", error="draft file is gone")
            raise CandidateError(f"候选 {item_id} 的文件已不在：请重新检查来源")
        try:
            draft = read_untrusted(Path(item.file), original_name=item.url,
                                        source_site=urlsplit(item.url).hostname, **item.overrides)
            summary = ingest.publish_plan(self.seeds_dir, draft)
        except ingest.AddError as exc:
            if "重复" in str(exc):
                self.store.claim_item(item.id, "proposed", "duplicate", error=str(exc)[:1000])
            raise CandidateError(str(exc)) from exc
        if not self.store.claim_item(item.id, "proposed", "published", plan_id=summary["plan_id"], file=None,
                                     notified=True):  # an editor's own press: nothing to tell
            raise CandidateError(f"候选 {item_id} 已由别人处理")
        Path(item.file).unlink(missing_ok=True)
        return self.store.get_item(item.id)

    def fix(self, item_id: int, name: str, value) -> tuple[Item, ingest.Draft]:
        """An editor's `/fix city|year|title …` on a proposed candidate: re-read with the correction
        added to what was already corrected; kept for 收录, which replays the same overrides."""
        item = self.store.get_item(item_id)
        if item is None or item.status != "proposed":
            raise CandidateError(f"候选 {item_id} 的状态是 {item.status if item else '—'}，不能修改")
        if not item.file or not Path(item.file).exists():
            raise CandidateError(f"候选 {item_id} 的文件已不在：请重新检查来源")
        overrides = {**(item.overrides or {}), name: value}
        try:
            draft = read_untrusted(Path(item.file), original_name=item.url,
                                   source_site=urlsplit(item.url).hostname, **overrides)
        except ingest.AddError as exc:
            raise CandidateError(str(exc)) from exc
        return self.store.set_item(item.id, overrides=overrides, kind=draft.entry["kind"]), draft

    def reject(self, item_id: int) -> Item:
        item = self.store.get_item(item_id)
        if item is None:
            raise CandidateError(f"没有这个候选：{item_id}")
        if not self.store.claim_item(item.id, "proposed", "rejected", file=None):
            raise CandidateError(f"候选 {item_id} 的状态是 {item.status}，不能取消")
        if item.file:
            Path(item.file).unlink(missing_ok=True)
        return self.store.get_item(item.id)

    def draft_of(self, item: Item) -> ingest.Draft | None:
        """The candidate re-read for its preview card (the file is kept until 收录 or 取消)."""
        if not item.file or not Path(item.file).exists():
            return None
        try:
            return read_untrusted(Path(item.file), original_name=item.url,
                                       source_site=urlsplit(item.url).hostname, **item.overrides)
        except ingest.AddError:
            return None


ROUND_SECONDS = 3600.0  # a round killed at this is resumed by the next (new items are recorded first)
ROUND_CPU_SECONDS = 900.0


def _round_in_child(database_url: str, seeds_dir, data_dir: Path, policy: WatchPolicy, allow_private: bool,
                    due_only: bool) -> int:
    store = SourceStore.open(database_url)
    try:
        watcher = Watcher(store, seeds_dir, data_dir, policy, allow_private=allow_private)
        return len(watcher.run_round(due_only=due_only).published)
    finally:
        store.close()


def _interleave_hosts(chosen: list[Source]) -> list[Source]:
    """One host's columns spread through the round (a, b, c, a, b, c…), so the workers wait on the
    per-host spacing of different hosts at once instead of queueing behind one host."""
    by_host: dict[str, list[Source]] = {}
    for source in chosen:
        by_host.setdefault(urlsplit(source.url).netloc.lower(), []).append(source)
    queues = list(by_host.values())
    mixed = []
    for n in range(max((len(q) for q in queues), default=0)):
        mixed += [q[n] for q in queues if n < len(q)]
    return mixed


def _prepare(path: Path, url: str, source: Source, item: Item, year: int | None) -> tuple[ingest.Draft, dict]:
    """The add pipeline as an upload gets it; what the text does not state is taken from the source
    (its place) and the list (the title, the year it names or the date printed beside it)."""
    site = urlsplit(url).hostname
    try:
        return read_untrusted(path, original_name=url, source_site=site), {}
    except ingest.AddError as exc:
        message = str(exc)
        if "--" not in message:
            raise
        overrides: dict = {}
        if "--city" in message:
            overrides["city"] = source.city
        if "--year" in message:
            guess = year or (int(item.list_date[:4]) if item.list_date else None)
            if guess is None:
                raise
            overrides["year"] = guess
        if "--title" in message:
            overrides["title"] = item.title
        return read_untrusted(path, original_name=url, source_site=site, **overrides), overrides
