"""Broadcast benchmark: one digest to N subscribed chats through the fake Bot API, 10% of sends 429.

    .venv/bin/python -m bench.broadcast_bench [--chats 1000] [--runs 3]

The real delivery path runs in a child process (store + bot.digests.delivery + PTB ExtBot with
ChatFairRateLimiter(max_retries=3) + HTTP), against the in-process fake server here, which enforces
Telegram's 30 msg/s global cap and answers 10% of sendMessage calls with 429 retry_after=1. So the
parent can kill -9 the child mid-broadcast, restart it (start-up catch-up) and still count every
message the "Telegram" side accepted: msg/s (successful sends over the whole run), duplicates, losses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
FIRST_CHAT = 10_000_001


# ------------------------------------------------------------------------------------ child side


async def _child(db: str, api_root: str, token: str, lease: float) -> dict:
    from telegram.ext import ExtBot
    from telegram.request import HTTPXRequest

    from bot.corpus.loader import load_corpus
    from bot.digests import delivery
    from bot.digests.store import open_store
    from bot.telegram.digest_jobs import DigestService
    from bot.telegram.ratelimit import ChatFairRateLimiter

    store = open_store(db)
    request = HTTPXRequest(connection_pool_size=64, pool_timeout=60, read_timeout=30)
    bot = ExtBot(token, base_url=f"{api_root}/bot", base_file_url=f"{api_root}/file/bot", request=request,
                 rate_limiter=ChatFairRateLimiter(max_retries=3))
    service = DigestService(store=store, corpus=load_corpus(), bot=bot, policy=delivery.Policy(lease=lease))
    async with bot:
        started = time.monotonic()
        report = await service.run(startup=True)
        totals = {"sent": len(report.sent), "failed": len(report.failed), "stale": len(report.stale),
                  "skipped_already": len(report.skipped_already)}
        # As the bot's minute tick would, but faster: claims a killed predecessor still leases are
        # taken over once their lease runs out (bot.digests.delivery), then sent.
        while _claims_in_flight(store):
            await asyncio.sleep(lease / 2)
            tick = await service.run(startup=False)
            totals["sent"] += len(tick.sent)
            totals["stale"] += len(tick.stale)
    return {**totals, "seconds": round(time.monotonic() - started, 2)}


def _claims_in_flight(store) -> bool:
    from bot.digests.store import deliveries

    with store.engine.connect() as conn:
        return bool(conn.scalar(select(func.count()).select_from(deliveries).where(deliveries.c.status == "sending")))


def child_main(args) -> int:
    print(json.dumps(asyncio.run(_child(args.db, args.api, args.token, args.lease))), flush=True)
    return 0


# ------------------------------------------------------------------------------------ parent side


def seed(db: str, chats: int) -> int:
    """N chats, each subscribed daily at a time that passed two minutes ago (so it is due now).

    Created with a clock one hour back, so the occurrence is owed (it is after active_since).
    """
    from bot.digests.store import open_store
    from bot.models import Subscription
    from bot.telegram.digest_jobs import DigestService

    now = datetime.now(UTC)
    due = (now - timedelta(minutes=2)).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M")
    store = open_store(db, clock=lambda: now - timedelta(hours=1))
    sub = None
    for chat_id in range(FIRST_CHAT, FIRST_CHAT + chats):
        sub = store.add_subscription(Subscription(None, chat_id, "daily", due))
    from bot.corpus.loader import load_corpus

    messages, _ = DigestService(store=store, corpus=load_corpus()).build_sync(sub)
    store.close()
    return len(messages)


def spawn(db: str, server, lease: float) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "bench.broadcast_bench", "--child", "--db", db, "--api", server.root_url,
           "--token", server.token, "--lease", str(lease)]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def measure(server, chats: int, per_chat: int) -> dict:
    ok = server.deliveries("sendMessage")
    times = [c.started for c in ok]
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    delivered: dict[int, set[str]] = {}
    for call in ok:
        delivered.setdefault(int(call.params["chat_id"]), set()).add(str(call.params["text"]))
    losses = sum(max(0, per_chat - len(delivered.get(c, ()))) for c in range(FIRST_CHAT, FIRST_CHAT + chats))
    duplicates = sum(n - 1 for n in server.duplicates().values())
    rejected = sum(1 for c in server.calls("sendMessage") if c.status == 429)
    # The longest silence is the restart after a kill -9 (process start-up, not sending): reported apart.
    gap = max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)
    sending = span - gap if gap > 1.0 else span
    return {"msg_s": round(len(ok) / span, 2) if span else float(len(ok)),
            "msg_s_sending": round(len(ok) / sending, 2) if sending else float(len(ok)), "gap": round(gap, 2), "delivered": len(ok),
            "duplicates": duplicates, "losses": losses, "429s": rejected, "seconds": round(span, 1),
            "peak_per_1s": server.peak_rate("sendMessage", 1.0)}


def _server(seed_value: int):
    from tests.support.botapi import BotApiServer

    server = BotApiServer(seed=seed_value).start()
    server.set_flood(0.10, retry_after=1)
    server.set_rate_limit(30, window=1.0, retry_after=1)
    return server


def run_clean(chats: int, run: int, workdir: Path, lease: float) -> dict:
    db = str(workdir / f"clean-{run}.sqlite3")
    per_chat = seed(db, chats)
    server = _server(run)
    try:
        proc = spawn(db, server, lease)
        out, _ = proc.communicate(timeout=chats * 2)
        result = measure(server, chats, per_chat)
        result["child"] = json.loads(out.strip().splitlines()[-1]) if out.strip() else None
        return result
    finally:
        server.stop()


def run_killed(chats: int, run: int, workdir: Path, kill_at: float, lease: float) -> dict:
    db = str(workdir / f"killed-{run}.sqlite3")
    per_chat = seed(db, chats)
    server = _server(100 + run)
    try:
        proc = spawn(db, server, lease)
        # Kill at a wall-clock moment, not on a delivery event: waking on "the Nth message arrived"
        # would always land inside that request's ambiguous window (accepted, reply not yet read).
        server.wait_for(lambda s: s.deliveries("sendMessage"), timeout=chats * 2, what="first delivery")
        time.sleep(chats * per_chat / 30 * kill_at)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        at_kill = len(server.deliveries("sendMessage"))
        proc = spawn(db, server, lease)
        out, _ = proc.communicate(timeout=chats * 2)
        result = measure(server, chats, per_chat)
        result["killed_after"] = at_kill
        result["child"] = json.loads(out.strip().splitlines()[-1]) if out.strip() else None
        return result
    finally:
        server.stop()


def _median(results: list[dict], key: str):
    return statistics.median(r[key] for r in results)


def _print(title: str, results: list[dict]) -> None:
    print(f"\n{title}")
    for i, r in enumerate(results, 1):
        extra = (f" killed after {r['killed_after']}, restart gap {r['gap']}s, "
                 f"{r['msg_s_sending']:.2f} msg/s while sending," if "killed_after" in r else "")
        print(f"  run {i}: {r['msg_s']:6.2f} msg/s over {r['seconds']}s,{extra} delivered {r['delivered']}, "
              f"duplicates {r['duplicates']}, losses {r['losses']}, 429s {r['429s']}, "
              f"peak {r['peak_per_1s']}/s; child {r['child']}")
    print(f"  median: {_median(results, 'msg_s'):.2f} msg/s end to end, "
          f"{_median(results, 'msg_s_sending'):.2f} msg/s while sending (target ≥ 27, cap 30), "
          f"duplicates {_median(results, 'duplicates')}, losses {_median(results, 'losses')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--kill-at", type=float, default=0.5, help="fraction of the expected duration before kill -9")
    parser.add_argument("--lease", type=float, default=5.0,
                        help="claim lease in seconds (the bot's default is 30; shorter keeps the kill run short)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args)
    print(f"broadcast: {args.chats} chats, 10% of sends answered 429 (retry_after=1), global cap 30 msg/s, "
          f"{args.runs} run(s)")
    with tempfile.TemporaryDirectory(prefix="planbrief-bench-") as tmp:
        clean = [run_clean(args.chats, i, Path(tmp), args.lease) for i in range(args.runs)]
        _print("uninterrupted broadcast", clean)
        killed = [run_killed(args.chats, i, Path(tmp), args.kill_at, args.lease) for i in range(args.runs)]
        _print(f"kill -9 at {args.kill_at:.0%} of the expected duration, restart (start-up catch-up)", killed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
