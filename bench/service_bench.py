"""Service benchmark (issue 21): `planbrief serve` workers behind a round-robin proxy, under load.

    .venv/bin/python -m bench.service_bench [--users 20] [--each 50] [--inline 200] [--runs 1]
    .venv/bin/python -m bench.service_bench --idle 600      # log lines of one idle worker over 10 min

Load: a throwaway PostgreSQL, the fake Bot API server, and one or two real `serve` processes on one
data folder; each of `users` users sends `each` messages (a /topic, /city, /help mix) as a closed loop —
send, wait for the answer, send the next — and `inline` inline queries are spread over the same users.
Every update goes through the proxy (round robin over the workers). Latency is from the POST to the
moment the bot's answer reached the fake server. "lost" counts updates never answered. Printed for two
workers and one worker in the same run, so the numbers share the machine's load.

Idle: one worker, no traffic, `--idle` seconds; counts the log lines it wrote after it was ready, by
logger (the old INFO line every 5 s from APScheduler would show up here as ~120 a minute).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.botapi import BotApiServer  # noqa: E402
from tests.test_service_workers import HEADERS, HOOK, SECRET, Postgres, Worker  # noqa: E402

TEXTS = ["/topic 双减", "/city 无锡", "/help", "/topic 县管校聘", "/topic 课后服务", "/plans"]
FIRST_USER = 50_000_001


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def _env(api, db_url: str, root: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLANBRIEF_", "TELEGRAM_"))}
    env.update({"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.root_url,
                "PLANBRIEF_WEBHOOK_URL": "https://bot.example.org" + HOOK, "PLANBRIEF_WEBHOOK_SECRET": SECRET,
                "PLANBRIEF_WEBHOOK_LISTEN": "127.0.0.1", "PLANBRIEF_DATABASE_URL": db_url,
                "PLANBRIEF_DATA_DIR": str(root / "data"), "PLANBRIEF_SEEDS": str(root / "seeds"),
                "PLANBRIEF_THROTTLE_BURST": "0"})
    return env


def load(api, workers: list[Worker], users: int, each: int, inline: int, base: int) -> dict:
    lock = threading.Lock()
    latencies: list[float] = []
    inline_latencies: list[float] = []
    lost = [0]
    turn = [0]
    client = httpx.Client(timeout=30)

    def post(update: dict) -> None:
        with lock:
            target = workers[turn[0] % len(workers)]
            turn[0] += 1
        response = client.post(target.url + HOOK, json=update, headers=HEADERS)
        assert response.status_code == 200, response.status_code

    def user(index: int) -> None:
        chat = base + index
        queries = inline // users + (1 if index < inline % users else 0)
        plan = sorted([(k / each, "m") for k in range(each)] + [((k + 0.5) / queries, "i") for k in range(queries)])
        for n, (_, action) in enumerate(plan):
            started = time.monotonic()
            if action == "i":
                update = api.inline_query(chat, ["双减", "无锡", "课后"][n % 3])
                qid = update["inline_query"]["id"]
                post(update)
                deadline = started + 30
                while not api.inline_answers(qid):
                    if time.monotonic() > deadline:
                        lost[0] += 1
                        break
                    time.sleep(0.003)
                else:
                    inline_latencies.append(time.monotonic() - started)
                continue
            before = len(api.messages(chat))
            post(api.user_message(chat, chat, TEXTS[n % len(TEXTS)]))
            deadline = started + 30
            while len(api.messages(chat)) <= before:
                if time.monotonic() > deadline:
                    lost[0] += 1
                    break
                time.sleep(0.003)
            else:
                latencies.append(time.monotonic() - started)

    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    began = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - began
    client.close()
    return {"workers": len(workers), "messages": len(latencies), "inline": len(inline_latencies), "lost": lost[0],
            "p50": _pct(latencies, 0.5), "p99": _pct(latencies, 0.99), "inline_p99": _pct(inline_latencies, 0.99),
            "seconds": elapsed, "per_second": (len(latencies) + len(inline_latencies)) / elapsed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--each", type=int, default=50)
    parser.add_argument("--inline", type=int, default=200)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--idle", type=float, default=0, help="instead: seconds of idle logging to count")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="planbrief-service-bench-"))
    shutil.copytree(ROOT / "seeds", root / "seeds")
    db = Postgres()
    api = BotApiServer().start()
    env = _env(api, db.url, root)
    a, b = Worker(env, "a", root), Worker(env, "b", root)
    try:
        a.start()
        if args.idle:
            ready_lines = len(a.log.read_text().splitlines())
            time.sleep(args.idle)
            lines = a.log.read_text().splitlines()[ready_lines:]
            loggers = Counter(line.split(" ")[3].rstrip(":") if line[:4].isdigit() and len(line.split(" ")) > 3
                              else line.split(":")[0] for line in lines)
            print(f"idle {args.idle:.0f}s: {len(lines)} log lines after ready; by logger: {dict(loggers)}")
            for line in lines[:20]:
                print("   ", line[:160])
            return 0
        b.start()
        for i, worker in enumerate((a, b)):  # warm each worker's search and pictures caches first
            load(api, [worker], 1, len(TEXTS), 3, FIRST_USER - 100 - i)
        results = {2: [], 1: []}
        for run in range(args.runs):
            for count in (2, 1):
                workers = [a, b][:count]
                result = load(api, workers, args.users, args.each, args.inline,
                              FIRST_USER + (run * 2 + (2 - count)) * 1000)
                results[count].append(result)
                print(f"run {run + 1}, {count} worker(s): {result['messages']} messages + {result['inline']} inline "
                      f"answered, lost {result['lost']}, p50 {result['p50'] * 1000:.0f} ms, p99 "
                      f"{result['p99'] * 1000:.0f} ms, inline p99 {result['inline_p99'] * 1000:.0f} ms, "
                      f"{result['per_second']:.1f} updates/s")
        for count, runs in results.items():
            print(f"median over {len(runs)} run(s), {count} worker(s): p99 "
                  f"{statistics.median(r['p99'] for r in runs) * 1000:.0f} ms, "
                  f"{statistics.median(r['per_second'] for r in runs):.1f} updates/s, lost {sum(r['lost'] for r in runs)}")
        return 0
    finally:
        a.stop()
        b.stop()
        api.stop()
        db.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
