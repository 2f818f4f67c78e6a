"""Broadcasting against a real SQLite store with a scripted transport and a fake sleep (no real waits)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from bot.digests.delivery import (
    Blocked,
    Migrated,
    Policy,
    RetryLater,
    TransientError,
    broadcast,
    catch_up,
)
from bot.digests.store import open_store
from bot.models import Subscription

CREATED = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # 08:00 Shanghai on the 25th
DUE = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)  # 08:00 Shanghai on the 26th
NOW = DUE + timedelta(seconds=30)
GRACE = timedelta(hours=2)
DEFAULT_POLICY = Policy()


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Crash(BaseException):
    """Stands for kill -9: escapes every `except Exception` and leaves the claim as it is."""


class Transport:
    """Records sends; per-chat scripts of exceptions are raised in order before succeeding."""

    def __init__(self):
        self.sent: list[tuple[int, list[str]]] = []
        self.script: dict[int, list[BaseException]] = defaultdict(list)
        self.calls: dict[int, int] = defaultdict(int)
        self.in_flight = 0
        self.max_in_flight = 0

    async def send(self, chat_id: int, messages: list[str]) -> None:
        self.calls[chat_id] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)  # let other chats interleave
            if self.script[chat_id]:
                raise self.script[chat_id].pop(0)
            self.sent.append((chat_id, messages))
        finally:
            self.in_flight -= 1

    def chats_sent(self) -> list[int]:
        return [chat for chat, _ in self.sent]


class Sleeper:
    def __init__(self):
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


def build(sub: Subscription):
    return [f"digest {sub.id}"], [f"plan-{sub.id}"]


@pytest.fixture
def clock():
    return Clock(CREATED)


@pytest.fixture
def store(tmp_path, clock):
    s = open_store(tmp_path / "db.sqlite3", clock=clock)
    yield s
    s.close()


@pytest.fixture
def transport():
    return Transport()


@pytest.fixture
def sleeper():
    return Sleeper()


def add(store, chat_id: int, time: str = "08:00") -> Subscription:
    return store.add_subscription(Subscription(id=None, chat_id=chat_id, frequency="daily", time=time))


async def run_broadcast(store, transport, sleeper, subs=None, now=NOW, policy=DEFAULT_POLICY):
    store.clock.now = now
    subs = store.list_active_subscriptions() if subs is None else subs
    return await broadcast(
        subs, now, store=store, send=transport.send, build=build, policy=policy, sleep=sleeper
    )


async def run_catch_up(store, transport, sleeper, now, **kw):
    store.clock.now = now
    return await catch_up(store, now, GRACE, send=transport.send, build=build, sleep=sleeper, **kw)


# ------------------------------------------------------------------------------------- broadcast


async def test_broadcast_sends_once_and_records_plans(store, transport, sleeper):
    subs = [add(store, chat) for chat in (1, 2, 3)]
    report = await run_broadcast(store, transport, sleeper)
    assert sorted(report.sent) == [s.id for s in subs]
    assert sorted(transport.chats_sent()) == [1, 2, 3]
    assert store.get_delivery(subs[0].id, "2026-11-26").status == "sent"
    assert store.plans_sent_to_chat(1) == {f"plan-{subs[0].id}"}

    again = await run_broadcast(store, transport, sleeper, now=NOW + timedelta(minutes=5))
    assert sorted(again.skipped_already) == [s.id for s in subs]
    assert len(transport.sent) == 3


async def test_blocked_migrated_and_rate_limited_chats_are_handled_independently(store, transport):
    blocked_a, blocked_b = add(store, 10), add(store, 10, "07:00")
    migrating = add(store, -20)
    limited = add(store, 30)
    fine = [add(store, chat) for chat in range(40, 45)]
    transport.script[10] = [Blocked("Forbidden: bot was blocked by the user")]
    transport.script[-20] = [Migrated(-1_000_020)]
    transport.script[30] = [RetryLater(30)]

    others_done = asyncio.Event()
    waits: list[float] = []

    async def sleep(seconds):  # the 429 wait only ends once every other chat went out
        waits.append(seconds)
        await others_done.wait()

    async def watch():
        while not {-1_000_020, *range(40, 45)} <= set(transport.chats_sent()):
            await asyncio.sleep(0)
        others_done.set()

    watcher = asyncio.create_task(watch())
    report = await asyncio.wait_for(run_broadcast(store, transport, sleep), timeout=10)
    await watcher

    assert report.deactivated == [10]
    assert transport.calls[10] == 1  # no second digest attempted to a chat that blocked us
    assert all(not store.get_subscription(s.id).active for s in (blocked_a, blocked_b))
    assert store.get_subscription(blocked_a.id).deactivated_reason.startswith("blocked")
    assert report.migrated == [(-20, -1_000_020)]
    assert store.get_subscription(migrating.id).chat_id == -1_000_020
    assert waits == [30]
    assert set(report.sent) == {migrating.id, limited.id, *(s.id for s in fine)}
    assert transport.chats_sent()[-1] == 30  # the rate-limited chat finished last, others not stalled
    assert report.failed == []


async def test_transient_errors_back_off_then_fail_and_a_later_run_retries(store, transport, sleeper):
    s = add(store, 1)
    transport.script[1] = [TransientError("timeout")] * 4
    report = await run_broadcast(store, transport, sleeper)
    assert report.failed == [s.id]
    assert sleeper.waits == [2.0, 4.0, 8.0]
    assert store.get_delivery(s.id, "2026-11-26").status == "failed"

    later = await run_broadcast(store, transport, sleeper, now=NOW + timedelta(minutes=1))
    assert later.sent == [s.id]
    assert transport.chats_sent() == [1]


async def test_repeated_429_gives_up_without_blocking_forever(store, transport, sleeper):
    s = add(store, 1)
    transport.script[1] = [RetryLater(1)] * 3
    report = await run_broadcast(store, transport, sleeper, policy=Policy(retry_later_max=2))
    assert report.failed == [s.id]
    assert sleeper.waits == [1, 1]


async def test_build_failure_releases_the_claim(store, transport, sleeper):
    s = add(store, 1)

    def broken(sub):
        raise RuntimeError("index not loaded")

    store.clock.now = NOW
    report = await broadcast([s], NOW, store=store, send=transport.send, build=broken, sleep=sleeper)
    assert report.failed == [s.id]
    assert store.get_delivery(s.id, "2026-11-26") is None
    assert (await run_broadcast(store, transport, sleeper)).sent == [s.id]


async def test_async_build_and_empty_digest(store, transport, sleeper):
    s = add(store, 1)

    async def nothing_new(sub):
        return [], []

    store.clock.now = NOW
    report = await broadcast([s], NOW, store=store, send=transport.send, build=nothing_new, sleep=sleeper)
    assert report.empty == [s.id]
    assert transport.sent == []
    assert store.get_delivery(s.id, "2026-11-26").status == "skipped"


async def test_subscription_created_after_the_occurrence_is_not_due(store, transport, sleeper, clock):
    clock.now = DUE + timedelta(minutes=1)
    s = add(store, 1)
    report = await run_broadcast(store, transport, sleeper, now=DUE + timedelta(minutes=2))
    assert report.not_due == [s.id]
    assert transport.sent == []


class MeetingTransport(Transport):
    """Holds the first send until a second one is in flight (or a generous deadline passes).

    The store's claims run in threads, so on a loaded machine each claim can finish just after the
    previous chat's send did: a send that only yields once may never overlap another. Waiting for a
    peer makes overlap observable whenever the broadcast allows it, and a serial broadcast still
    fails (after one deadline, not sixty).
    """

    def __init__(self):
        super().__init__()
        self.met = asyncio.Event()
        self.gave_up = False

    async def send(self, chat_id: int, messages: list[str]) -> None:
        if self.in_flight >= 1:
            self.met.set()
        if not (self.met.is_set() or self.gave_up):
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await asyncio.wait_for(self.met.wait(), timeout=10)
            except TimeoutError:
                self.gave_up = True
            finally:
                self.in_flight -= 1
        await super().send(chat_id, messages)


async def test_concurrency_is_bounded(store, sleeper):
    transport = MeetingTransport()
    for chat in range(60):
        add(store, chat)
    report = await run_broadcast(store, transport, sleeper, policy=Policy(concurrency=5))
    assert len(report.sent) == 60
    assert 1 < transport.max_in_flight <= 5


async def test_two_overlapping_broadcasts_from_two_processes_send_each_period_once(
    tmp_path, transport, sleeper
):
    path = tmp_path / "shared.sqlite3"
    first, second = open_store(path, clock=Clock(CREATED)), open_store(path, clock=Clock(CREATED))
    for chat in range(20):
        add(first, chat)
    try:
        reports = await asyncio.gather(
            run_broadcast(first, transport, sleeper), run_broadcast(second, transport, sleeper)
        )
    finally:
        first.close()
        second.close()
    assert sorted(transport.chats_sent()) == list(range(20))
    assert len(reports[0].sent) + len(reports[1].sent) == 20
    assert len(reports[0].skipped_already) + len(reports[1].skipped_already) == 20


# --------------------------------------------------------------------------------------- catch-up


async def test_catch_up_within_grace_sends_and_outside_grace_records_a_skip(store, transport, sleeper):
    early = add(store, 1, "08:00")  # due 00:00 UTC
    late = add(store, 2, "05:00")  # due 21:00 UTC the day before: 3h ago at NOW
    report = await run_catch_up(store, transport, sleeper, DUE + timedelta(minutes=30))
    assert report.sent == [early.id]
    assert report.skipped_late == [late.id]
    assert store.get_delivery(late.id, "2026-11-26").status == "skipped"
    assert transport.chats_sent() == [1]

    again = await run_catch_up(store, transport, sleeper, DUE + timedelta(minutes=31), startup=False)
    assert (again.sent, again.skipped_late, again.skipped_already) == ([], [], [])


async def test_catch_up_as_a_periodic_tick_delivers_each_occurrence_once(store, transport, sleeper):
    add(store, 1, "08:00")
    tick = DUE - timedelta(minutes=3)
    for _ in range(10):  # a minute tick across the due time
        await run_catch_up(store, transport, sleeper, tick, startup=False)
        tick += timedelta(minutes=1)
    assert transport.chats_sent() == [1]


async def crash_after_claim(tmp_path, transport, sleeper) -> tuple[Subscription, object]:
    """First process claims, starts sending and dies before mark_sent; returns the subscription."""
    path = tmp_path / "crash.sqlite3"
    first = open_store(path, clock=Clock(CREATED))
    s = add(first, 1)
    transport.script[1] = [Crash()]
    with pytest.raises(Crash):
        await run_broadcast(first, transport, sleeper)
    first.close()
    assert transport.sent == []
    return s, path


@pytest.mark.parametrize("restart_after", [timedelta(minutes=1), timedelta(hours=3)])
async def test_crash_then_restart_resends_within_grace(tmp_path, transport, sleeper, restart_after):
    s, path = await crash_after_claim(tmp_path, transport, sleeper)
    restarted = open_store(path, clock=Clock(NOW))
    try:
        assert restarted.get_delivery(s.id, "2026-11-26").status == "sending"
        report = await run_catch_up(restarted, transport, sleeper, NOW + restart_after)
        status = restarted.get_delivery(s.id, "2026-11-26").status
    finally:
        restarted.close()
    assert report.stale == [s.id]
    if restart_after < GRACE:
        assert (report.sent, transport.chats_sent(), status) == ([s.id], [1], "sent")
    else:
        assert (report.sent, transport.sent, status) == ([], [], "skipped")


async def test_crash_then_restart_with_at_most_once_policy_does_not_resend(tmp_path, transport, sleeper):
    s, path = await crash_after_claim(tmp_path, transport, sleeper)
    restarted = open_store(path, clock=Clock(NOW))
    try:
        report = await run_catch_up(
            restarted, transport, sleeper, NOW + timedelta(minutes=1), policy=Policy(on_stale="skip")
        )
        delivery = restarted.get_delivery(s.id, "2026-11-26")
    finally:
        restarted.close()
    assert (report.stale, report.sent, transport.sent) == ([s.id], [], [])
    assert delivery.status == "skipped" and "assumed delivered" in delivery.error


async def test_claims_of_a_running_sweep_are_not_stale_for_a_non_startup_tick(store, transport, sleeper):
    s = add(store, 1)
    store.clock.now = NOW
    assert store.claim_delivery(s.id, "2026-11-26")  # in flight elsewhere
    report = await run_catch_up(store, transport, sleeper, NOW + timedelta(seconds=5), startup=False)
    assert (report.sent, report.stale, transport.sent) == ([], [], [])
