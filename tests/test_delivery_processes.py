"""Two bot processes, one database, 200 due digests: nothing lost, nothing twice (issue 10, item 2).

Each worker is a real child process (tests/support/digest_worker.py: store + DigestService + PTB over
HTTP) sending to the in-process fake Bot API server, which counts what "Telegram" accepted. The parent
decides when each worker's first pass starts, so the interleavings are the ones named in the issue:
a start-up during a tick, a tick during a start-up, and kill -9 of one worker plus its restart.

The one allowed exception is the documented kill window (README, "Exactly once"): a digest Telegram
accepted in the instant before the kill, before the ledger recorded it, is sent again after its
lease runs out. Duplicates are therefore checked to be exactly such digests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.digests.store import open_store
from bot.models import Subscription
from tests.support.botapi import BotApiServer
from tests.support.postgres import create_database

ROOT = Path(__file__).resolve().parent.parent
CHATS = 200
FIRST_CHAT = 20_000_001
LEASE = 2.0
CONCURRENCY = 20  # delivery.Policy().concurrency: digests in flight at once per process
KILL_WINDOW = 2.0  # seconds between Telegram accepting a digest and the ledger recording it, at most


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "shared.sqlite3")
    return create_database(request.getfixturevalue("postgres_url"))


@pytest.fixture
def server():
    with BotApiServer(latency=0.05) as srv:
        yield srv


def seed(db: str) -> None:
    """CHATS daily subscriptions due two minutes ago, created an hour ago (so the occurrence is owed)."""
    now = datetime.now(UTC)
    due = (now - timedelta(minutes=2)).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M")
    store = open_store(db, clock=lambda: now - timedelta(hours=1))
    try:
        for chat_id in range(FIRST_CHAT, FIRST_CHAT + CHATS):
            store.add_subscription(Subscription(None, chat_id, "daily", due))
    finally:
        store.close()


class Worker:
    """A digest worker child; `go()` starts its first pass (start-up catch-up or tick)."""

    def __init__(self, db: str, server: BotApiServer, first: str):
        cmd = [sys.executable, "-m", "tests.support.digest_worker", "--db", db, "--api", server.root_url,
               "--token", server.token, "--first", first, "--lease", str(LEASE)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def go(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def kill(self) -> float:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        return time.monotonic()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def delivered_chats(server: BotApiServer) -> set[int]:
    return {int(c.params["chat_id"]) for c in server.deliveries("sendMessage")}


def wait_delivered(server: BotApiServer, count: int, timeout: float = 60.0) -> None:
    server.wait_for(lambda s: len(s.deliveries("sendMessage")) >= count, timeout=timeout,
                    what=f"{count} digests accepted")


def settle(server: BotApiServer) -> None:
    """Every chat served, then long enough for any wrongly abandoned claim to be retaken and resent."""
    server.wait_for(lambda s: len(delivered_chats(s)) >= CHATS, timeout=90, what="every chat served")
    time.sleep(LEASE * 2 + 1)


def by_chat(server: BotApiServer) -> dict[int, list]:
    sends: dict[int, list] = {}
    for call in server.deliveries("sendMessage"):
        sends.setdefault(int(call.params["chat_id"]), []).append(call)
    return sends


def assert_exactly_once(server: BotApiServer) -> None:
    sends = by_chat(server)
    lost = sorted(set(range(FIRST_CHAT, FIRST_CHAT + CHATS)) - set(sends))
    twice = sorted(chat for chat, calls in sends.items() if len(calls) > 1)
    assert (lost, twice) == ([], [])


def run_pair(db: str, server: BotApiServer, first_a: str, first_b: str) -> None:
    seed(db)
    a, b = Worker(db, server, first_a), Worker(db, server, first_b)
    try:
        a.go()
        wait_delivered(server, 40)  # A's pass is well under way: B's first pass starts in the middle of it
        b.go()
        settle(server)
    finally:
        a.stop()
        b.stop()
    assert_exactly_once(server)


def test_a_start_up_during_a_tick_sends_every_digest_once(db, server):
    run_pair(db, server, "tick", "startup")


def test_a_tick_during_a_start_up_sends_every_digest_once(db, server):
    run_pair(db, server, "startup", "tick")


def test_kill_9_and_restart_of_one_process_loses_nothing_and_repeats_only_the_kill_window(db, server):
    seed(db)
    a, b = Worker(db, server, "startup"), Worker(db, server, "startup")
    restarted = None
    try:
        a.go()
        wait_delivered(server, 30)
        b.go()  # B starts up while A sends: it must leave A's live claims alone
        wait_delivered(server, 80)
        killed_at = a.kill()
        restarted = Worker(db, server, "startup")
        restarted.go()
        settle(server)
    finally:
        for worker in (a, b, restarted):
            if worker is not None:
                worker.stop()
    sends = by_chat(server)
    assert sorted(set(range(FIRST_CHAT, FIRST_CHAT + CHATS)) - set(sends)) == []  # no loss
    repeated = {chat: calls for chat, calls in sends.items() if len(calls) > 1}
    assert len(repeated) <= CONCURRENCY
    for calls in repeated.values():  # each repeat is the kill window: in flight or just accepted at the kill
        first, *again = calls
        assert first.started <= killed_at and first.finished >= killed_at - KILL_WINDOW
        assert len(again) == 1 and again[0].started > killed_at
