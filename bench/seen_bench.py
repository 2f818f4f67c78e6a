"""What a digest sent to many chats writes, at national scale: `python -m bench.seen_bench`.

    .venv/bin/python -m bench.seen_bench [--plans 50000] [--chats 200] [--db URL | --postgres] [--json FILE]

An unscoped subscription's digest knows every plan (its scope), and the store remembers which plans a
chat was sent, so that the next digest can say what is new. Each chat here is sent a digest of `--plans`
plan ids (day 1), then one with a plan more (day 2), through the store's real `claim_delivery` and
`mark_sent`, as the delivery path calls them. Reported: the median time of each, of reading a chat's
seen plans back, and the database's growth per chat (SQLite file; on PostgreSQL the tables' size); then
the store's `prune` once both days are past the ledger's retention.
No corpus is needed: plan ids are all the store sees.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text


def _size_mb(store, path: Path | None) -> float:
    if path is not None:
        return sum(f.stat().st_size for f in path.parent.iterdir() if f.name.startswith(path.name)) / 1e6
    with store.engine.connect() as conn:
        return conn.execute(text("SELECT pg_database_size(current_database())")).scalar() / 1e6


def _rows(store, table: str) -> int:
    with store.engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()


def run(plans: int, chats: int, db: str | None) -> dict:
    from bot.digests.store import DELIVERIES_KEPT, open_store
    from bot.models import Subscription

    path = None if db else Path(tempfile.mkdtemp(prefix="seen-bench-")) / "store.sqlite3"
    now = datetime.now(UTC)
    store = open_store(db or path, clock=lambda: now - timedelta(hours=1))
    subs = [store.add_subscription(Subscription(None, 5_000_000 + i, "daily", "08:00")) for i in range(chats)]
    before = _size_mb(store, path)
    ids = [f"plan-{i:06d}-{'x' * 20}" for i in range(plans)]  # plan ids run to ~30 characters
    out: dict = {"plans": plans, "chats": chats, "backend": store.engine.dialect.name}
    for day, sent in (("2026-12-01", ids), ("2026-12-02", [*ids, "plan-new"])):
        marks, reads = [], []
        for sub in subs:
            store.claim_delivery(sub.id, day)
            t = time.perf_counter()
            store.mark_sent(sub.id, day, sent)
            marks.append(time.perf_counter() - t)
            t = time.perf_counter()
            seen = store.plans_sent_to_chat(sub.chat_id)
            reads.append(time.perf_counter() - t)
            assert len(seen) == len(set(sent)), "the store lost plans"
        out[day] = {"mark_sent_ms": statistics.median(marks) * 1000, "seen_read_ms": statistics.median(reads) * 1000}
    out["db_mb_per_chat"] = (_size_mb(store, path) - before) / chats
    out["rows"] = {t: _rows(store, t) for t in ("chat_plans", "chat_seen", "plan_sets")}
    # past the ledger's retention: both days' deliveries are history, and the first day's set no chat names
    t = time.perf_counter()
    out["prune"] = store.prune(now + DELIVERIES_KEPT + timedelta(days=3))
    out["prune_ms"] = (time.perf_counter() - t) * 1000
    out["rows_after_prune"] = {t: _rows(store, t) for t in ("deliveries", "chat_seen", "plan_sets")}
    assert all(len(store.plans_sent_to_chat(s.chat_id)) == plans + 1 for s in subs[:3]), "prune lost plans"
    store.close()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plans", type=int, default=50_000)
    ap.add_argument("--chats", type=int, default=200)
    ap.add_argument("--db", help="a database URL (default: a fresh SQLite file)")
    ap.add_argument("--postgres", action="store_true", help="a throwaway local PostgreSQL server (as the tests')")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    if args.postgres:
        from tests.support import postgres as pg

        with pg.postgres_server() as server:
            res = run(args.plans, args.chats, pg.create_database(server))
    else:
        res = run(args.plans, args.chats, args.db)
    first, second = res["2026-12-01"], res["2026-12-02"]
    print(f"{res['chats']} chats, each sent a digest of {res['plans']:,} plans, then one more ({res['backend']})")
    print(f"  mark_sent, day 1 / day 2 (median): {first['mark_sent_ms']:.1f} / {second['mark_sent_ms']:.1f} ms")
    print(f"  a chat's seen plans read back (median): {first['seen_read_ms']:.1f} / {second['seen_read_ms']:.1f} ms")
    print(f"  database growth per chat: {res['db_mb_per_chat']:.3f} MB; rows {res['rows']}")
    print(f"  prune after the retention: {res['prune_ms']:.0f} ms, dropped {res['prune']}; "
          f"rows left {res['rows_after_prune']}")
    per_100k = second["mark_sent_ms"] * 100_000 / 1000 / 60
    print(f"  100,000 such chats: {per_100k:.0f} min of mark_sent a day, against ~56 min of sending at 30 msg/s")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
