"""Digest broadcasting with exactly-once delivery per (subscription, period), transport-agnostic.

The Telegram layer supplies `send(chat_id, messages)` and maps PTB's errors onto the exceptions below
(Forbidden/"chat not found" → Blocked, ChatMigrated → Migrated, RetryAfter → RetryLater,
NetworkError/TimedOut → TransientError), plus `build(sub) -> (messages, plan_ids)`.

Exactly once: a period is claimed in the database (INSERT against a unique constraint) *before*
anything is sent and marked sent after, so no path — retries, overlapping sweeps, two processes, a
restart — can send a period twice, except the one unavoidable window below.

Owned, leased claims: every claim records its owner (host:pid:run, see claim_owner) and a lease
(Policy.lease seconds) that the owner renews every lease/3 seconds while its run lasts. Every pass —
start-up catch-up and tick alike — takes over only claims whose lease ran out, so a second process
starting during a broadcast leaves the first one's live claims alone (they used to be taken for a
crashed process's and sent twice). On PostgreSQL the takeover picks rows FOR UPDATE SKIP LOCKED.

Crash policy (Policy.on_stale): a claim left 'sending' by a killed process is ambiguous — the request
may or may not have reached Telegram. Default "resend": once its lease has run out, such a claim
(still within grace) is taken over by whichever process passes next and sent again, so nothing due
is lost; the price is a possible duplicate for digests that were in flight at the moment of the
kill only (Telegram accepted a message, the ledger did not record it yet) — the documented kill
window, at most Policy.concurrency digests. "skip" chooses at-most-once instead: the claim is
recorded as skipped and never resent.

Concurrency: one task per chat (a chat's digests go out in order), at most Policy.concurrency sends
or builds in flight overall. Waiting out a 429 or a backoff happens outside the semaphore, so a
rate-limited chat never holds a slot other chats need.

Finding what is due (catch_up): a pass reads only subscriptions whose stored next_due has come
(Store.due_batch, an index range, Policy.batch rows a page), never every subscription, and judges each
as a full scan would (schedule.missed_on_start against the ledger). The store keeps next_due no later
than the first moment a pass has something to do for a row; a value too early only costs a look, after
which the pass stores the exact one (Store.refresh_next_due).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from bot.digests import schedule
from bot.digests.store import Store
from bot.models import Subscription

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """Base of what `send` may raise; anything else is treated as a bug and not retried here."""


class Blocked(DeliveryError):
    """The bot was blocked, kicked, or the chat no longer exists (403 / chat not found)."""


class Migrated(DeliveryError):
    """The group became a supergroup; Telegram only accepts the new id from now on."""

    def __init__(self, new_chat_id: int):
        super().__init__(f"chat migrated to {new_chat_id}")
        self.new_chat_id = new_chat_id


class RetryLater(DeliveryError):
    """429 flood control for this chat: wait `seconds`, then the same request is expected to work."""

    def __init__(self, seconds: float):
        super().__init__(f"retry after {seconds}s")
        self.seconds = seconds


class TransientError(DeliveryError):
    """Network trouble or a 5xx: worth a few retries with backoff."""


Send = Callable[[int, list[str]], Awaitable[None]]
Build = Callable[[Subscription], "tuple[list[str], list[str]] | Awaitable[tuple[list[str], list[str]]]"]
Sleep = Callable[[float], Awaitable[None]]
RunSync = Callable[..., Awaitable]


@dataclass(frozen=True)
class Policy:
    concurrency: int = 20  # sends/builds in flight across all chats
    transient_retries: int = 3  # retries after the first TransientError
    backoff: float = 2.0  # seconds before the first transient retry, doubled each time
    backoff_cap: float = 60.0
    retry_later_max: int = 5  # 429s tolerated per digest before giving up this run
    max_claim_attempts: int = 5  # runs that may retake a 'failed' period before it stays failed
    on_stale: Literal["resend", "skip"] = "resend"  # crash policy, see module doc
    lease: float = 30.0  # seconds a claim stays ours without renewal; renewed every lease/3
    batch: int = 500  # due subscriptions read per query; the next page is read once this many are left


@dataclass
class Report:
    """Subscription ids per outcome, except `deactivated` (chat ids) and `migrated` (old, new)."""

    sent: list[int] = field(default_factory=list)
    skipped_already: list[int] = field(default_factory=list)  # period already claimed/settled
    failed: list[int] = field(default_factory=list)  # retryable later (claim released/reclaimable)
    deactivated: list[int] = field(default_factory=list)
    migrated: list[tuple[int, int]] = field(default_factory=list)
    empty: list[int] = field(default_factory=list)  # build returned no messages: recorded as skipped
    skipped_late: list[int] = field(default_factory=list)  # missed, outside grace: recorded as skipped
    not_due: list[int] = field(default_factory=list)  # latest occurrence predates the subscription
    stale: list[int] = field(default_factory=list)  # claims found 'sending' after a crash


@dataclass
class _Job:
    sub: Subscription
    period: str
    claimed: bool = False  # True when a stale claim was already taken over


@dataclass
class _Chat:
    chat_id: int
    blocked: bool = False


_CURRENT_JOB: contextvars.ContextVar[tuple[int, str] | None] = contextvars.ContextVar("delivery_job", default=None)


def claim_owner() -> str:
    """Process identity plus a per-run suffix: host and pid say who to look for, the suffix keeps a
    reused pid (or a second run in the same process) from renewing someone else's claims."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def current_job() -> tuple[int, str] | None:
    """(subscription id, period) being delivered in this task, for a `send`/`build` that tracks progress."""
    return _CURRENT_JOB.get()


class Broadcaster:
    """Holds the collaborators so each step below stays a small function; one instance per run."""

    def __init__(
        self,
        store: Store,
        send: Send,
        build: Build,
        policy: Policy = Policy(),
        *,
        sleep: Sleep = asyncio.sleep,
        run_sync: RunSync = asyncio.to_thread,
    ):
        self.store = store
        self.send = send
        self.build = build
        self.policy = policy
        self.sleep = sleep
        self.db = run_sync
        self.report = Report()
        self.owner = claim_owner()
        self.slots = asyncio.Semaphore(policy.concurrency)
        # Claims run only a little ahead of sends, so a crash leaves few 'sending' claims to resolve.
        self.admission = asyncio.Semaphore(policy.concurrency * 4)
        self._waiting = 0  # jobs handed to chat tasks and not finished yet (run_pages' read-ahead)
        self._finished = asyncio.Event()

    # ----------------------------------------------------------------------------------- running

    async def run(self, jobs: Iterable[_Job]) -> Report:
        by_chat = _by_chat(jobs)
        renewer = asyncio.create_task(self._renew_leases())
        try:
            await asyncio.gather(*(self._chat(chat_id, chat_jobs) for chat_id, chat_jobs in by_chat.items()))
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        return self.report

    async def run_pages(self, pages: AsyncIterator[list[_Job]]) -> Report:
        """Like run, for jobs that arrive page by page: the next page is read when the last is mostly done.

        A chat whose jobs span two pages gets them in order (its second task waits for its first), and
        its blocked/migrated state carries over. A tick over 100,000 due subscriptions thus holds a
        page or two in memory, not the whole list, and sends without a pause between pages.
        """
        renewer = asyncio.create_task(self._renew_leases())
        tails: dict[int, asyncio.Task] = {}
        chats: dict[int, _Chat] = {}
        try:
            async for jobs in pages:
                for chat_id, chat_jobs in _by_chat(jobs).items():
                    chat = chats.setdefault(chat_id, _Chat(chat_id))
                    self._waiting += len(chat_jobs)
                    tails[chat_id] = asyncio.create_task(self._chat_after(tails.get(chat_id), chat, chat_jobs))
                for chat_id in [c for c, task in tails.items() if task.done()]:
                    tails.pop(chat_id).result()  # a BaseException (a crash) stops the run here
                    chats.pop(chat_id, None)
                while self._waiting > self.policy.batch:
                    self._finished.clear()
                    await self._finished.wait()
            await asyncio.gather(*tails.values())
        except BaseException:
            for task in tails.values():
                task.cancel()
            await asyncio.gather(*tails.values(), return_exceptions=True)
            raise
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        return self.report

    async def _chat_after(self, before: asyncio.Task | None, chat: _Chat, jobs: list[_Job]) -> None:
        try:
            if before is not None:
                await before
            await self._chat(chat.chat_id, jobs, chat)
        finally:
            self._waiting -= len(jobs)
            self._finished.set()

    async def _renew_leases(self) -> None:
        """Keep this run's claims ours while it works (a real sleep: the injected one may not wait)."""
        while True:
            await asyncio.sleep(self.policy.lease / 3)
            try:
                await self.db(self.store.renew_leases, self.owner, self.policy.lease)
            except Exception:  # a missed renewal only risks a takeover if the next one fails too
                log.warning("renewing digest claim leases failed", exc_info=True)

    async def _chat(self, chat_id: int, jobs: list[_Job], chat: _Chat | None = None) -> None:
        chat = chat or _Chat(chat_id)
        for job in jobs:
            if chat.blocked:  # its subscriptions were just deactivated; settle a retaken claim only
                if job.claimed:
                    await self.db(self.store.mark_failed, job.sub.id, job.period, "chat blocked")
                continue
            token = _CURRENT_JOB.set((job.sub.id, job.period))
            try:
                async with self.admission:
                    await self._job(chat, job)
            except Exception:  # a store failure for one chat must not abort the whole broadcast
                log.exception("digest for subscription %s (%s) crashed", job.sub.id, job.period)
                self.report.failed.append(job.sub.id)
            finally:
                _CURRENT_JOB.reset(token)

    async def _job(self, chat: _Chat, job: _Job) -> None:
        sub, period = job.sub, job.period
        if not job.claimed and not await self.db(
            self.store.claim_delivery, sub.id, period, max_attempts=self.policy.max_claim_attempts,
            owner=self.owner, lease=self.policy.lease, due_move=_due_move(sub, period),
        ):
            self.report.skipped_already.append(sub.id)
            return
        content = await self._build(sub, period)
        if content is None:
            return
        messages, plan_ids = content
        error = await self._send(chat, messages)
        await self._settle(chat, sub, period, plan_ids, error)

    async def _build(self, sub: Subscription, period: str) -> tuple[list[str], list[str]] | None:
        """Build after claiming so no work is spent on periods already sent; nothing sent on failure."""
        try:
            async with self.slots:
                result = self.build(sub)
                messages, plan_ids = await result if inspect.isawaitable(result) else result
        except Exception:
            log.exception("building digest for subscription %s failed", sub.id)
            await self.db(self.store.release, sub.id, period)
            self.report.failed.append(sub.id)
            return None
        if not messages:
            await self.db(self.store.mark_skipped, sub.id, period, "nothing to send")
            self.report.empty.append(sub.id)
            return None
        return list(messages), list(plan_ids)

    async def _settle(
        self, chat: _Chat, sub: Subscription, period: str, plan_ids: list[str], error: str | None
    ):
        if error is None:
            await self.db(self.store.mark_sent, sub.id, period, plan_ids)
            self.report.sent.append(sub.id)
            return
        await self.db(self.store.mark_failed, sub.id, period, error)
        if not chat.blocked:
            self.report.failed.append(sub.id)

    # ----------------------------------------------------------------------------------- sending

    async def _send(self, chat: _Chat, messages: list[str]) -> str | None:
        """Send with this chat's retries; returns None on success, else why it was given up."""
        tries = {"transient": 0, "later": 0, "migrated": 0}
        while True:
            try:
                async with self.slots:
                    await self.send(chat.chat_id, messages)
                return None
            except Blocked as exc:
                return await self._blocked(chat, exc)
            except Migrated as exc:
                tries["migrated"] += 1
                if tries["migrated"] > 1:
                    return "migrated twice in one send"
                await self._migrated(chat, exc.new_chat_id)
            except RetryLater as exc:
                tries["later"] += 1
                if tries["later"] > self.policy.retry_later_max:
                    return f"rate limited {tries['later']} times"
                await self.sleep(max(0.0, float(exc.seconds)))
            except TransientError as exc:
                tries["transient"] += 1
                if tries["transient"] > self.policy.transient_retries:
                    return f"transient: {exc}"
                await self.sleep(self._backoff(tries["transient"]))
            except Exception as exc:  # unknown: may have reached Telegram, so no blind retry now
                log.exception("sending to chat %s failed", chat.chat_id)
                return f"error: {exc!r}"[:500]

    def _backoff(self, attempt: int) -> float:
        return min(self.policy.backoff_cap, self.policy.backoff * 2 ** (attempt - 1))

    async def _blocked(self, chat: _Chat, exc: Blocked) -> str:
        reason = f"blocked: {exc}"[:200]
        await self.db(self.store.deactivate_chat, chat.chat_id, reason)
        chat.blocked = True
        self.report.deactivated.append(chat.chat_id)
        log.info("chat %s deactivated (%s)", chat.chat_id, reason)
        return reason

    async def _migrated(self, chat: _Chat, new_chat_id: int) -> None:
        await self.db(self.store.migrate_chat, chat.chat_id, new_chat_id)
        self.report.migrated.append((chat.chat_id, new_chat_id))
        log.info("chat %s migrated to %s", chat.chat_id, new_chat_id)
        chat.chat_id = new_chat_id

    # ----------------------------------------------------------------------------------- catch-up

    async def stale_jobs(self, now_utc: datetime, grace: timedelta, claimed_before: datetime | None) -> list[_Job]:
        """Take over abandoned claims (lease run out), apply the crash policy, return those to resend."""
        jobs = []
        claims = await self.db(self.store.take_over_abandoned, self.owner, self.policy.lease, claimed_before)
        for claim in claims:
            self.report.stale.append(claim.subscription_id)
            job = await self._stale_job(claim, now_utc, grace)
            if job is not None:
                jobs.append(job)
        return jobs

    async def _stale_job(self, claim, now_utc: datetime, grace: timedelta) -> _Job | None:
        """The claim is already ours here, so settling it as skipped cannot race another taker."""
        sub = await self.db(self.store.get_subscription, claim.subscription_id)
        reason = self._stale_skip_reason(sub, claim, now_utc, grace)
        if reason is not None:
            await self.db(self.store.mark_skipped, claim.subscription_id, claim.period_key, reason)
            return None
        return _Job(sub, claim.period_key, claimed=True)

    def _stale_skip_reason(self, sub, claim, now_utc: datetime, grace: timedelta) -> str | None:
        if sub is None or not sub.active:
            return "stale claim: subscription inactive"
        if self.policy.on_stale == "skip":
            return "stale claim after crash: assumed delivered (at-most-once policy)"
        if now_utc - claim.claimed_at > grace:
            return "stale claim after crash: beyond grace"
        return None

    async def due_pages(
        self, now_utc: datetime, grace: timedelta, exclude: set[tuple[int, str]]
    ) -> AsyncIterator[list[_Job]]:
        """Jobs for the latest occurrence of each due subscription that is owed and within grace, a page
        (Policy.batch rows of the next_due index) at a time.

        Only subscriptions whose stored next_due has come are read; each is judged exactly as a scan of
        all subscriptions would judge it (schedule.missed_on_start, then a skip record when it is owed
        but too old). A row read with nothing to do gets its exact next_due back, so it leaves the due
        range. Pages follow (next_due, id), and a row seen once in this pass is not taken again (a
        period failed and due again waits for the next pass, as before).
        """
        unscheduled = await self.db(self.store.unscheduled)
        if unscheduled:
            log.warning("%d active subscriptions had no next due time; computing it", len(unscheduled))
        for start in range(0, len(unscheduled), self.policy.batch):
            await self.db(self.store.refresh_next_due, unscheduled[start:start + self.policy.batch], now_utc)
        cursor, seen = None, set()
        while True:
            page = await self.db(self.store.due_batch, now_utc, limit=self.policy.batch, after=cursor)
            if not page.subs:
                return
            cursor, jobs, idle = page.cursor, [], []
            for sub in page.subs:
                if sub.id in seen:
                    continue
                seen.add(sub.id)
                settled = page.settled.get(sub.id)
                occ = schedule.missed_on_start(sub, now_utc, settled, grace)
                if occ is not None:
                    key = schedule.period_key(sub, occ)
                    if (sub.id, key) not in exclude:
                        jobs.append(_Job(sub, key))
                elif not await self._log_if_missed(sub, now_utc, settled):
                    idle.append(sub.id)
            if idle:
                await self.db(self.store.refresh_next_due, idle, now_utc)
            if jobs:
                yield jobs

    async def _log_if_missed(self, sub: Subscription, now_utc: datetime, settled: str | None) -> bool:
        """Record an owed period that is past grace as skipped; True when this call recorded it."""
        occ = schedule.last_occurrence(sub, now_utc)
        key = schedule.key_for(sub, occ.local_date)
        since = schedule.owed_since(sub)
        if key == settled or (since is not None and occ.at < since):
            return False
        if await self.db(self.store.record_skipped, sub.id, key, "missed: outside grace window"):
            log.info("subscription %s missed %s (outside grace): skipped", sub.id, key)
            self.report.skipped_late.append(sub.id)
            return True
        return False


def _due_move(sub: Subscription, period: str) -> tuple[datetime, datetime] | None:
    """(next_due as read, the occurrence after `period`) for claim_delivery, computed here, outside
    the store's write transaction; None leaves the computing to the store."""
    if sub.next_due is None:
        return None
    try:
        occ = schedule.occurrence_of(sub, period)
        return (sub.next_due, schedule.next_run(sub, occ.at)) if occ is not None else None
    except (ValueError, TypeError, KeyError):
        return None


def _by_chat(jobs: Iterable[_Job]) -> dict[int, list[_Job]]:
    by_chat: dict[int, list[_Job]] = {}
    for job in jobs:
        by_chat.setdefault(job.sub.chat_id, []).append(job)
    return by_chat


async def _pages(first: list[_Job], rest: AsyncIterator[list[_Job]]) -> AsyncIterator[list[_Job]]:
    if first:
        yield first
    async for page in rest:
        yield page


def _jobs_for(subs: Iterable[Subscription], now_utc: datetime, report: Report) -> list[_Job]:
    jobs = []
    for sub in subs:
        if not sub.active:
            continue
        occ = schedule.last_occurrence(sub, now_utc)
        since = schedule.owed_since(sub)
        if since is not None and occ.at < since:
            report.not_due.append(sub.id)
            continue
        jobs.append(_Job(sub, schedule.key_for(sub, occ.local_date)))
    return jobs


async def broadcast(
    subs: Iterable[Subscription],
    now_utc: datetime,
    *,
    store: Store,
    send: Send,
    build: Build,
    policy: Policy = Policy(),
    sleep: Sleep = asyncio.sleep,
) -> Report:
    """Send each active subscription's latest occurrence (≤ now_utc) at most once.

    For delivering a chosen set of subscriptions now (catch_up is the scheduled path). Periods already claimed are reported
    in skipped_already, so calling this twice — or from two processes — is harmless.
    """
    broadcaster = Broadcaster(store, send, build, policy, sleep=sleep)
    jobs = _jobs_for(subs, schedule.require_aware(now_utc), broadcaster.report)
    return await broadcaster.run(jobs)


async def catch_up(
    store: Store,
    now_utc: datetime,
    grace: timedelta,
    *,
    send: Send,
    build: Build,
    policy: Policy = Policy(),
    startup: bool = True,
    claimed_before: datetime | None = None,
    sleep: Sleep = asyncio.sleep,
) -> Report:
    """Send every owed occurrence still within `grace`; log (record as skipped) older missed ones.

    Every call first takes over claims whose lease ran out (their owner died) and puts them through
    Policy.on_stale. With startup=True, claims without a lease made before `claimed_before` (default
    now_utc: rows from before leases existed) count as abandoned too. The same call with
    startup=False is a complete scheduler tick: running it every minute is enough to deliver every
    digest, independent of APScheduler's DST handling.
    """
    now_utc = schedule.require_aware(now_utc)
    broadcaster = Broadcaster(store, send, build, policy, sleep=sleep)
    cut_off = (claimed_before or now_utc) if startup else None
    jobs = await broadcaster.stale_jobs(now_utc, grace, cut_off)
    retaken = {(job.sub.id, job.period) for job in jobs}
    return await broadcaster.run_pages(_pages(jobs, broadcaster.due_pages(now_utc, grace, retaken)))
