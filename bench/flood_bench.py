"""Flood benchmark: a new user's time to first answer while 20 users flood the bot (issue 10, item 7).

    .venv/bin/python -m bench.flood_bench [--runs 3] [--flooders 20] [--each 50] [--newcomers 20]

The real Application (build_application: fair update processor, throttle, rate limiter) long-polls
the in-process fake Bot API server. Each run: `flooders` users each send `each` /topic messages at
once (a backlog of 1,000 updates), then `newcomers` new users send one /topic each, one every 0.1 s,
while the flood is being worked through. A newcomer's time to first answer runs from the moment
its message reached the server to the moment the bot's reply did (the server's clock on both ends),
so it includes the long poll, the queue, the search and the send. Printed per run and as medians
over runs, once with the default throttle and once with the throttle off (every flood message is
then really searched and answered). Target: p99 <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

TOPICS = ["双减", "县管校聘", "集团办学", "课后延时服务", "教师队伍建设", "普惠性幼儿园"]
FLOOD_BASE, NEW_BASE = 30_000_001, 40_000_001


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _first_answer_delay(server, chat_id: int) -> float | None:
    msgs = server.messages(chat_id, include_user=True)
    asked = next((m.sent_at for m in msgs if not m.from_bot), None)
    answered = next((m.sent_at for m in msgs if m.from_bot), None)
    return None if asked is None or answered is None else answered - asked


async def one_run(corpus, engine, data_dir: Path, args, throttle: bool) -> dict:
    from bot.config import load_settings
    from bot.service.app import build_application
    from tests.support.botapi import BotApiServer, polling

    with BotApiServer() as server:
        env = {"TELEGRAM_BOT_TOKEN": server.token, "TELEGRAM_API_URL": server.root_url,
               "PLANBRIEF_DATA_DIR": str(data_dir)}
        if not throttle:
            env["PLANBRIEF_THROTTLE_BURST"] = "0"
        app = build_application(load_settings(env), corpus=corpus, engine=engine)
        flooders = range(FLOOD_BASE, FLOOD_BASE + args.flooders)
        newcomers = range(NEW_BASE, NEW_BASE + args.newcomers)
        async with polling(app):
            for i in range(args.each):
                for user in flooders:
                    server.user_message(user, user, f"/topic {TOPICS[(user + i) % len(TOPICS)]}")
            await asyncio.sleep(0.2)  # the flood is in the bot's queue before the first newcomer
            for n, user in enumerate(newcomers):
                server.user_message(user, user, f"/topic {TOPICS[n % len(TOPICS)]}")
                await asyncio.sleep(0.1)
            await server.wait_for_async(lambda s: all(s.last_message(u) for u in newcomers), timeout=300,
                                        what="every newcomer answered")
            flood_left = server.pending_updates()
        delays = [_first_answer_delay(server, u) for u in newcomers]
    delays = [d for d in delays if d is not None]
    return {"p50": _pct(delays, 0.5), "p99": _pct(delays, 0.99), "max": max(delays), "n": len(delays),
            "flood_unread": flood_left}


def _print(title: str, results: list[dict]) -> None:
    print(f"\n{title}")
    for i, r in enumerate(results, 1):
        print(f"  run {i}: newcomer first answer p50 {r['p50'] * 1000:7.1f} ms, p99 {r['p99'] * 1000:7.1f} ms, "
              f"max {r['max'] * 1000:7.1f} ms over {r['n']} newcomers")
    p50 = statistics.median(r["p50"] for r in results)
    p99 = statistics.median(r["p99"] for r in results)
    verdict = "meets" if p99 <= 1.0 else "MISSES"
    print(f"  median of {len(results)} runs: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms "
          f"({verdict} the p99 <= 1 s target)")


async def main_async(args) -> None:
    from bot.corpus.loader import load_corpus
    from bot.search.engine import SearchEngine

    with tempfile.TemporaryDirectory(prefix="planbrief-flood-") as tmp:
        corpus = load_corpus()
        engine = SearchEngine.from_corpus(corpus, cache_dir=Path(tmp) / "search")
        print(f"flood: {args.flooders} users x {args.each} /topic messages, {args.newcomers} newcomers "
              f"one every 0.1 s, {args.runs} run(s) per setting")
        for throttle in (True, False):
            results = [await one_run(corpus, engine, Path(tmp), args, throttle) for _ in range(args.runs)]
            _print("default throttle (5 per 10 s per user)" if throttle else "throttle off", results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--flooders", type=int, default=20)
    parser.add_argument("--each", type=int, default=50)
    parser.add_argument("--newcomers", type=int, default=20)
    asyncio.run(main_async(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
