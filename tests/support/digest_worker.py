"""One bot process's digest side, as a child process for the two-process delivery tests.

    python -m tests.support.digest_worker --db URL --api ROOT --token T --first startup|tick

It opens the store, builds the real DigestService (real corpus, real PTB bot over HTTP to the fake
Bot API server), prints "ready" and waits for a "go" line on stdin, so the parent decides exactly
when its first pass starts relative to the other process. The first pass is a start-up catch-up or
a tick, as asked; then it ticks every --tick seconds until it is terminated or killed — what
`planbrief run`'s job queue does, with a short lease so a killed process's claims expire quickly.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta


async def _work(args) -> None:
    from telegram.ext import ExtBot
    from telegram.request import HTTPXRequest

    from bot.corpus.loader import load_corpus
    from bot.digests import delivery
    from bot.digests.store import open_store
    from bot.telegram.digest_jobs import DigestService

    store = open_store(args.db)
    request = HTTPXRequest(connection_pool_size=64, pool_timeout=30, read_timeout=30)
    bot = ExtBot(args.token, base_url=f"{args.api}/bot", base_file_url=f"{args.api}/file/bot", request=request)
    service = DigestService(store=store, corpus=load_corpus(), bot=bot, grace=timedelta(hours=3),
                            policy=delivery.Policy(lease=args.lease))
    async with bot:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        await service.run(startup=args.first == "startup")
        while True:
            await asyncio.sleep(args.tick)
            await service.run(startup=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--api", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--first", choices=("startup", "tick"), default="startup")
    parser.add_argument("--tick", type=float, default=0.3)
    parser.add_argument("--lease", type=float, default=2.0)
    asyncio.run(_work(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
