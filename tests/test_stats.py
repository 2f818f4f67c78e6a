"""`planbrief stats --json` after a scripted day: every number is one the script put in the database.

The day: four subscriptions (one paused), three digests sent today, one failed, one blocked chat, one
sent three days ago, one sent ten days ago (outside the 7-day window); users and chats seen at known
times. Then the real command line reads it, the way an operator would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.digests.state import StateStore
from bot.digests.stats import collect
from bot.digests.store import open_store
from bot.models import Subscription
from bot.telegram.render_stats import stats_text

ROOT = Path(__file__).resolve().parent.parent


def scripted_day(db: str) -> None:
    now = datetime.now(UTC)
    clock = {"now": now - timedelta(days=10)}
    store = open_store(db, clock=lambda: clock["now"])
    state = StateStore(store.engine, clock=lambda: clock["now"])
    subs = [store.add_subscription(Subscription(None, chat, freq, "08:00", weekday=wd, city=city, topic=topic))
            for chat, freq, wd, city, topic in [(1, "daily", None, "无锡", None), (2, "weekly", 2, None, "双减"),
                                                (3, "daily", None, None, None), (4, "daily", None, "苏州", "双减")]]
    store.pause_subscription(4, subs[3].id)
    state.mark_seen("user", 100)  # ten days ago: within 30 days, not 7
    state.mark_seen("chat", 1)
    store.claim_delivery(subs[0].id, "old")
    store.mark_sent(subs[0].id, "old")
    clock["now"] = now - timedelta(days=3)
    store.claim_delivery(subs[0].id, "d-3")
    store.mark_sent(subs[0].id, "d-3")
    clock["now"] = now
    for sub, period in [(subs[0], "today"), (subs[1], "today"), (subs[2], "today")]:
        store.claim_delivery(sub.id, period)
        store.mark_sent(sub.id, period)
    store.claim_delivery(subs[2].id, "retry")
    store.mark_failed(subs[2].id, "retry", "transient: timed out")
    store.claim_delivery(subs[1].id, "gone")
    store.mark_failed(subs[1].id, "gone", "blocked: Forbidden: bot was blocked by the user")
    for user in (100, 101, 102):
        state.mark_seen("user", user)
    state.mark_seen("chat", 1)
    state.mark_seen("chat", -200)
    store.close()


def test_stats_json_matches_the_scripted_day(tmp_path):
    db = str(tmp_path / "data" / "planbrief.sqlite3")
    scripted_day(db)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLANBRIEF_", "TELEGRAM_"))}
    env.update({"PLANBRIEF_DATA_DIR": str(tmp_path / "data"), "PLANBRIEF_TZ": "UTC"})
    done = subprocess.run([sys.executable, "-m", "bot", "stats", "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["subscriptions"] == {"active": 3, "inactive": 1,
                                       "by_kind": {"all": 1, "city": 1, "topic": 1},
                                       "by_frequency": {"daily": 2, "weekly": 1}}
    assert report["digests"]["today"] == {"sent": 3, "failed": 1, "blocked": 1}
    assert report["digests"]["7d"] == {"sent": 4, "failed": 1, "blocked": 1}
    assert report["users_seen"] == {"7d": 3, "30d": 3} and report["chats_seen"] == {"7d": 2, "30d": 2}
    assert report["corpus"]["plans"] > 0 and report["corpus"]["newest"]["plan_id"]
    assert report["next_due"]["subscription_id"] in (1, 2, 3)
    assert set(report) >= {"last_tick", "index", "sources", "generated_at"}
    assert report["sources"]["watched"] == {"total": 0, "by_state": {}, "sources": []}


def test_the_text_view_says_the_same_numbers(tmp_path):
    db = str(tmp_path / "planbrief.sqlite3")
    scripted_day(db)
    store = open_store(db)
    try:
        report = collect(store, None, tz="UTC")
    finally:
        store.close()
    zh, en = stats_text(report, "zh"), stats_text(report, "en", html=False)
    assert "已发 3 · 失败 1 · 被屏蔽 1" in zh and "<b>运行概况</b>" in zh
    assert "sent 3 · failed 1 · blocked 1" in en and "<b>" not in en


def test_next_due_and_counts_agree_with_reading_every_row(tmp_path):
    """The index walk and GROUP BY must give what a scan of every subscription gives, across time zones,
    weekdays, paused rows and rows whose period is owed (next_due in the past)."""
    import random

    from bot.digests import schedule
    from bot.digests.stats import _kind

    rng = random.Random(7)
    base = datetime(2026, 3, 2, 5, 17, tzinfo=UTC)
    clock = {"now": base}
    store = open_store(str(tmp_path / "s.sqlite3"), clock=lambda: clock["now"])
    zones = ["Asia/Shanghai", "UTC", "America/New_York", "Pacific/Kiritimati", "Asia/Kolkata"]
    for chat in range(1, 41):
        store.set_chat_tz(chat, rng.choice(zones))
    for _ in range(300):
        chat = rng.randrange(1, 41)
        freq = rng.choice(["daily", "weekly"])
        sub = store.add_subscription(Subscription(
            None, chat, freq, f"{rng.randrange(24):02d}:{rng.choice([0, 15, 30, 45]):02d}",
            weekday=rng.randrange(7) if freq == "weekly" else None,
            city=rng.choice([None, "", "无锡"]), topic=rng.choice([None, "", "双减"])))
        if rng.random() < 0.2:
            store.pause_subscription(chat, sub.id)
    # later instants leave owed periods' next_due in the past; 2026-03-08 06:00-07:30 UTC straddles New York's
    # spring-forward gap (02:00-03:00 local), where wall times move.
    instants = [base + timedelta(hours=h) for h in (0, 7, 30, 24 * 5 + 3)]
    instants += [datetime(2026, 3, 8, 6, m, tzinfo=UTC) + timedelta(minutes=15 * k) for m in (0, 59) for k in range(6)]
    for now in instants:
        every = store.list_active_subscriptions()
        want = min((schedule.next_occurrence(s, now).at, s.id) for s in every)
        assert store.soonest_occurrence(now) == want
    counts: dict = {}
    for freq, has_city, has_topic, active, n in store.subscription_counts():
        key = (freq, _kind("c" if has_city else None, "t" if has_topic else None), active)
        counts[key] = counts.get(key, 0) + n
    want_counts: dict = {}
    with store.engine.connect() as conn:
        from bot.digests.store import subscriptions
        for row in conn.execute(subscriptions.select()).all():
            key = (row.frequency, _kind(row.city, row.topic), row.active)
            want_counts[key] = want_counts.get(key, 0) + 1
    assert counts == want_counts and sum(counts.values()) > 250  # an identical add returns the existing row
    store.close()
