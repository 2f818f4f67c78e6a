"""The digest tick's due query at 100,000 subscriptions, on a throwaway PostgreSQL and on SQLite.

    .venv/bin/python -m bench.tick_bench [--subs 100000] [--reps 5] [--backend both|postgres|sqlite]

Fills a fresh database through the store's own tables: chats in eight zones, 80 % daily and 20 % weekly
subscriptions, times bunched around the morning (a third at 07:00–09:00 Shanghai time, the rest spread
over the day), 10 % paused, plus one day of ledger history (a 'sent' row per active subscription).
Every active row's next_due is what the store would hold after that day: the next occurrence after T0.

Then it times, at ticks spread over the next day (the 08:00 Shanghai peak among them), each repeated
--reps times, with nothing sent since 00:00 (so later ticks find ever more rows due: the worst case):
- the due query alone: the SELECT a tick runs for one page (Policy.batch = 500 rows);
- `Store.due_batch`: that query plus the ledger lookup for the page and the Subscription objects —
  what a tick pays per page before it sends anything;
- the look for active rows without a next_due that a tick makes first (none here: the partial index);
- the tick before next_due (once per backend, 3 runs): every active subscription and the whole ledger
  read, and schedule.missed_on_start run for each (Store.list_active_subscriptions,
  Store.last_settled_periods — both still in the store).
It prints median and p99 over all ticks × reps, and EXPLAIN for the 08:00 tick, to show the index.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import event, func, insert, select, text

from bot.digests import schedule
from bot.digests.store import ACTIVE, chats, deliveries, open_store, subscriptions
from bot.models import Subscription

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

T0 = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # 00:00 on Dec 2 in Shanghai: yesterday's digests all went out
ZONES = (("Asia/Shanghai", 0.70), ("Asia/Hong_Kong", 0.08), ("Asia/Taipei", 0.05), ("Asia/Tokyo", 0.04),
         ("Europe/Berlin", 0.04), ("Europe/London", 0.03), ("America/New_York", 0.03), ("Australia/Sydney", 0.03))
PAGE = 500  # delivery.Policy().batch
GRACE = timedelta(hours=3)
TICKS = [T0 + timedelta(hours=h, minutes=m) for h, m in
         ((6, 30), (7, 0), (8, 0), (8, 1), (9, 17), (12, 0), (14, 45), (17, 59), (20, 0), (23, 30))]


def _times(rng: random.Random) -> str:
    if rng.random() < 1 / 3:  # the morning peak: 07:00-09:00, on the hour or half hour mostly
        hour, minute = rng.choice((7, 8, 8, 8)), rng.choice((0, 0, 0, 30, 15, 45))
    else:
        hour, minute = rng.randrange(24), rng.randrange(60)
    return f"{hour:02d}:{minute:02d}"


def fill(store, count: int, seed: int = 7) -> dict:
    """Insert `count` subscriptions (and their chats, and one day of ledger) in bulk through the store's tables."""
    rng = random.Random(seed)
    zones, weights = zip(*ZONES, strict=True)
    chat_rows, sub_rows, ledger_rows = [], [], []
    created = T0 - timedelta(days=30)
    chat_id = 50_000_000
    paused = 0
    while len(sub_rows) < count:
        chat_id += 1
        tz = rng.choices(zones, weights)[0]
        chat_rows.append({"chat_id": chat_id, "tz": tz, "language": "zh", "created_at": created})
        for _ in range(1 if rng.random() < 0.9 or len(sub_rows) == count - 1 else 2):  # a tenth hold two
            weekly = rng.random() < 0.2
            sub = Subscription(len(sub_rows) + 1, chat_id, "weekly" if weekly else "daily", _times(rng),
                               weekday=rng.randrange(7) if weekly else None, tz=tz, active_since=created)
            active = rng.random() >= 0.10
            paused += not active
            latest = schedule.last_occurrence(sub, T0)
            sub_rows.append({"id": sub.id, "chat_id": chat_id, "frequency": sub.frequency, "weekday": sub.weekday,
                             "time": sub.time, "city": None, "topic": "双减", "active": active, "created_by": None,
                             "created_at": created, "updated_at": created, "active_since": created,
                             "deactivated_reason": None if active else "paused",
                             "next_due": schedule.next_due(sub, T0, schedule.key_for(sub, latest.local_date))
                             if active else None})
            if active:
                ledger_rows.append({"subscription_id": sub.id, "period_key": schedule.key_for(sub, latest.local_date),
                                    "status": "sent", "attempts": 1, "claimed_at": latest.at,
                                    "sent_at": latest.at, "plan_ids": "[]"})
    with store.engine.begin() as conn:
        for table, rows in ((chats, chat_rows), (subscriptions, sub_rows), (deliveries, ledger_rows)):
            for start in range(0, len(rows), 5000):
                conn.execute(insert(table), rows[start:start + 5000])
        if store.engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('subscriptions', 'id'), :n)"),
                         {"n": len(sub_rows)})
    with store.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return {"chats": len(chat_rows), "subscriptions": len(sub_rows), "paused": paused, "ledger": len(ledger_rows)}


def due_query(store, now: datetime):
    """The statement Store.due_batch runs for a tick's first page (no cursor yet)."""
    return (store._select_subs()
            .where(ACTIVE, subscriptions.c.next_due <= now)
            .order_by(subscriptions.c.next_due, subscriptions.c.id).limit(PAGE))


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def time_ticks(store, reps: int) -> dict:
    query_s, batch_s, repair_s, due_counts = [], [], [], {}
    with store.engine.connect() as conn:  # warm the pool and the caches once, as a running bot has them
        conn.execute(due_query(store, TICKS[0])).all()
    for _ in range(reps):
        for now in TICKS:
            with store.engine.connect() as conn:
                started = time.perf_counter()
                rows = conn.execute(due_query(store, now)).all()
                query_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            page = store.due_batch(now, limit=PAGE)
            batch_s.append(time.perf_counter() - started)
            assert len(page.subs) == len(rows)
            started = time.perf_counter()
            assert store.unscheduled() == []
            repair_s.append(time.perf_counter() - started)
    with store.engine.connect() as conn:
        for now in TICKS:
            due_counts[now] = conn.scalar(select(func.count()).select_from(subscriptions).where(
                ACTIVE, subscriptions.c.next_due <= now))
    return {"query": _ms(query_s), "batch": _ms(batch_s), "repair": _ms(repair_s), "due": due_counts}


def time_old_scan(store, runs: int = 3) -> tuple[float, float]:
    now = TICKS[2]
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subs = store.list_active_subscriptions()
        settled = store.last_settled_periods()
        owed = sum(1 for s in subs if schedule.missed_on_start(s, now, settled.get(s.id), GRACE) is not None)
        samples.append(time.perf_counter() - started)
    assert owed > 0
    return _ms(samples)


def time_stats(store, runs: int = 3) -> tuple[float, float]:
    """The operator's /stats (`stats.collect`, no corpus) at the 08:00 tick: counts by GROUP BY, next due by
    walking the next_due index — before, it built every active Subscription and its next occurrence."""
    from bot.digests.stats import collect

    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        report = collect(store, None, now=TICKS[2])
        samples.append(time.perf_counter() - started)
    assert report["subscriptions"]["active"] > 0 and report["next_due"]
    return _ms(samples)


def explain(store) -> list[str]:
    """The plan of the very statement due_batch sends (caught on its way to the driver), with its values."""
    seen = []
    listen = lambda conn, cursor, statement, params, context, many: seen.append((statement, params))  # noqa: E731
    event.listen(store.engine, "before_cursor_execute", listen)
    try:
        store.due_batch(TICKS[2], limit=PAGE)
        store.unscheduled()
    finally:
        event.remove(store.engine, "before_cursor_execute", listen)
    lines = []
    with store.engine.connect() as conn:
        for marker in ("next_due <=", "next_due IS NULL"):
            statement, params = next((sql, p) for sql, p in seen if marker in sql)
            lines.append(f"-- the {'due page' if '<=' in marker else 'rows without a time'} query")
            if store.engine.dialect.name == "sqlite":
                lines += [str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]
            else:
                lines += [r[0] for r in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)]
    return lines


def run_backend(name: str, url: str, subs: int, reps: int) -> dict:
    store = open_store(url)
    try:
        started = time.perf_counter()
        filled = fill(store, subs)
        fill_s = time.perf_counter() - started
        ticks = time_ticks(store, reps)
        old = time_old_scan(store)
        stats = time_stats(store)
        plan = explain(store)
    finally:
        store.close()
    return {"backend": name, **filled, "fill_s": fill_s, **ticks, "old": old, "stats": stats, "plan": plan}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subs", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--backend", choices=("both", "postgres", "sqlite"), default="both")
    args = parser.parse_args(argv)
    results = []
    if args.backend in ("both", "postgres"):
        from tests.support import postgres as pg

        reason = pg.unavailable_reason()
        if reason:
            print(f"PostgreSQL skipped: {reason}")
        else:
            with pg.postgres_server() as server:
                results.append(run_backend("postgresql", pg.create_database(server), args.subs, args.reps))
    if args.backend in ("both", "sqlite"):
        with tempfile.TemporaryDirectory(prefix="tick-bench-") as tmp:
            results.append(run_backend("sqlite", str(Path(tmp) / "tick.sqlite3"), args.subs, args.reps))
    for r in results:
        print(f"\n{r['backend']}: {r['subscriptions']:,} subscriptions ({r['paused']:,} paused) in "
              f"{r['chats']:,} chats, {r['ledger']:,} ledger rows; filled in {r['fill_s']:.1f} s")
        print("  rows due at each tick (none sent since 00:00): " + ", ".join(
            f"{now.astimezone(ZoneInfo('Asia/Shanghai')):%H:%M}→{count:,}" for now, count in r["due"].items()))
        print("  EXPLAIN (08:00 Shanghai):")
        for line in r["plan"]:
            print("    " + line)
    ticks = len(TICKS) * args.reps
    print("\n| backend | subscriptions | due query p50 / p99 (ms) | due_batch page p50 / p99 (ms) "
          "| rows without a time p50 / p99 (ms) | old full scan p50 / max (ms) | /stats p50 / max (ms) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['backend']} | {r['subscriptions']:,} | {r['query'][0]:.1f} / {r['query'][1]:.1f} "
              f"| {r['batch'][0]:.1f} / {r['batch'][1]:.1f} | {r['repair'][0]:.1f} / {r['repair'][1]:.1f} "
              f"| {r['old'][0]:,.0f} / {r['old'][1]:,.0f} | {r['stats'][0]:,.0f} / {r['stats'][1]:,.0f} |")
    print(f"\n({ticks} samples per cell: {len(TICKS)} tick instants x {args.reps} reps; a page is "
          f"{PAGE} rows; old full scan and /stats: 3 runs at 08:00)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
