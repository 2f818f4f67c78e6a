"""200 due digests under two `planbrief serve` workers, one killed with -9 mid-broadcast (issue 21).

The same proof as tests/test_delivery_processes.py (kill -9 of a digest worker), but with the real
service: two `planbrief serve` processes on one throwaway PostgreSQL, each running its own start-up
catch-up and one-minute tick, sending to the in-process fake Bot API server that counts what
"Telegram" accepted. Worker A is killed while it holds claims; B's next tick takes them over once
their lease has run out. The lease and the tick are the service's own settings
(PLANBRIEF_DIGEST_LEASE_SECONDS, PLANBRIEF_DIGEST_TICK_SECONDS), shortened here so that recovery
takes seconds, not the default 30 s lease plus up to a 60 s tick.

The one allowed exception is the documented kill window (README, "Exactly once"): a digest Telegram
accepted in the instant before the kill, before the ledger recorded it, is sent again after its
lease runs out — at most one per digest in flight (Policy.concurrency), each at most once more.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.config import ConfigError, load_settings
from bot.digests.store import deliveries, open_store
from bot.models import Subscription
from tests.support import postgres as pg
from tests.support.botapi import BotApiServer
from tests.test_service_workers import HOOK, ROOT, SECRET, Postgres, Worker

needs_postgres = pytest.mark.skipif(pg.unavailable_reason() is not None, reason=str(pg.unavailable_reason()))

CHATS = 200
FIRST_CHAT = 30_000_001
CONCURRENCY = 20  # delivery.Policy().concurrency: digests in flight at once per process
KILL_WINDOW = 2.0  # seconds between Telegram accepting a digest and the ledger recording it, at most
LEASE = 4.0  # PLANBRIEF_DIGEST_LEASE_SECONDS (default 30)
TICK = 2.0  # PLANBRIEF_DIGEST_TICK_SECONDS (default 60)


def seed(url: str) -> None:
    """CHATS daily subscriptions due two minutes ago, created an hour ago (so the occurrence is owed)."""
    now = datetime.now(UTC)
    due = (now - timedelta(minutes=2)).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M")
    store = open_store(url, clock=lambda: now - timedelta(hours=1))
    try:
        for chat_id in range(FIRST_CHAT, FIRST_CHAT + CHATS):
            store.add_subscription(Subscription(None, chat_id, "daily", due))
    finally:
        store.close()


def claims_held_by(store, pid: int) -> int:
    """'sending' claims whose owner is this process (owner is host:pid:run, see delivery.claim_owner)."""
    with store.engine.connect() as conn:
        owners = conn.execute(select(deliveries.c.owner).where(deliveries.c.status == "sending")).scalars()
        return sum(1 for owner in owners if owner and owner.split(":")[-2] == str(pid))


def wait_until_sending(api: BotApiServer, store, pid: int, timeout: float = 90) -> int:
    """Block until some digests went out and this worker holds claims: the middle of its broadcast."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(by_chat(api)) >= 40:
            held = claims_held_by(store, pid)
            if held:
                return held
        time.sleep(0.05)
    raise AssertionError(f"worker {pid} never held claims mid-broadcast ({len(by_chat(api))} chats served)")


def by_chat(api: BotApiServer) -> dict[int, list]:
    sends: dict[int, list] = {}
    for call in api.deliveries("sendMessage"):
        chat = int(call.params["chat_id"])
        if FIRST_CHAT <= chat < FIRST_CHAT + CHATS:
            sends.setdefault(chat, []).append(call)
    return sends


@pytest.fixture
def service(tmp_path):
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    db = Postgres()
    api = BotApiServer(latency=0.25).start()  # slow enough that the kill lands inside the broadcast
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLANBRIEF_", "TELEGRAM_"))}
    env.update({"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.root_url,
                "PLANBRIEF_WEBHOOK_URL": "https://bot.example.org" + HOOK, "PLANBRIEF_WEBHOOK_SECRET": SECRET,
                "PLANBRIEF_WEBHOOK_LISTEN": "127.0.0.1", "PLANBRIEF_DATABASE_URL": db.url,
                "PLANBRIEF_DATA_DIR": str(tmp_path / "data"), "PLANBRIEF_SEEDS": str(tmp_path / "seeds"),
                "PLANBRIEF_DIGEST_LEASE_SECONDS": str(LEASE), "PLANBRIEF_DIGEST_TICK_SECONDS": str(TICK)})
    workers = [Worker(env, "a", tmp_path), Worker(env, "b", tmp_path)]
    try:
        yield {"api": api, "db": db, "workers": workers}
    finally:
        for worker in workers:
            worker.stop()
        api.stop()
        db.close()


@needs_postgres
def test_kill_9_of_a_serve_worker_mid_broadcast_loses_nothing_and_repeats_only_the_kill_window(service):
    api, db, (a, b) = service["api"], service["db"], service["workers"]
    a.start()  # builds the index and migrates; nothing is due yet, so its catch-up sends nothing
    a.stop()
    seed(db.url)
    a.launch()  # both start together: their start-up catch-ups race for the same 200 claims
    b.launch()
    a.wait_ready()
    b.wait_ready()
    store = open_store(db.url)
    try:
        held = wait_until_sending(api, store, a.proc.pid)
    finally:
        store.close()
    os.kill(a.proc.pid, signal.SIGKILL)
    a.proc.wait()
    killed_at = time.monotonic()
    served_at_kill = len(by_chat(api))
    # B's tick retakes A's claims once their lease ran out: lease + one tick + the sends themselves
    api.wait_for(lambda s: len(by_chat(s)) >= CHATS, timeout=LEASE + TICK + 60, what="every chat served")
    time.sleep(LEASE + 2 * TICK)  # a wrongly abandoned claim would be retaken and resent by now
    sends = by_chat(api)
    repeated = {chat: calls for chat, calls in sends.items() if len(calls) > 1}
    print(f"\nkill -9 under serve: A held {held} claims at the kill, {served_at_kill} chats served before it; "
          f"sent {sum(map(len, sends.values()))}, chats {len(sends)}, duplicates {len(repeated)}, "
          f"lost {CHATS - len(sends)}, {time.monotonic() - killed_at:.1f} s from kill to settled")
    assert sorted(set(range(FIRST_CHAT, FIRST_CHAT + CHATS)) - set(sends)) == []  # no loss
    assert len(repeated) <= CONCURRENCY
    for calls in repeated.values():  # each repeat is the kill window: in flight or just accepted at the kill
        first, *again = calls
        assert first.started <= killed_at and first.finished >= killed_at - KILL_WINDOW
        assert len(again) == 1 and again[0].started > killed_at
    assert b.proc.poll() is None  # B carried on through A's death


def test_the_digest_tick_and_lease_are_settings_with_safe_bounds():
    base = {"TELEGRAM_BOT_TOKEN": "123456:test-token"}
    defaults = load_settings(base)
    assert (defaults.digest_tick_seconds, defaults.digest_lease_seconds) == (60.0, 30.0)
    short = load_settings({**base, "PLANBRIEF_DIGEST_TICK_SECONDS": "2", "PLANBRIEF_DIGEST_LEASE_SECONDS": "4"})
    assert (short.digest_tick_seconds, short.digest_lease_seconds) == (2.0, 4.0)
    for name, value in (("PLANBRIEF_DIGEST_TICK_SECONDS", "0.5"), ("PLANBRIEF_DIGEST_TICK_SECONDS", "300"),
                        ("PLANBRIEF_DIGEST_LEASE_SECONDS", "1"), ("PLANBRIEF_DIGEST_LEASE_SECONDS", "soon")):
        with pytest.raises(ConfigError, match=name):
            load_settings({**base, name: value})
