"""Do scheduled digests repeat? `python -m bench.digest_overlap [--days 14]`.

Why: issue 16 found a 无锡 subscriber reading the same 14-line change block every morning and a
one-plan scope ~90 % identical from day to day. This runs the real scheduled path — the store, the
delivery pass (bot.digests.delivery.catch_up through DigestService.run), the spotlight rotation — for
three subscriptions (a city, a one-plan scope, a topic), one daily digest each for `days` days, with a
recording bot in place of Telegram, and measures how alike any two digests of one subscription are:

    overlap(a, b) = |lines(a) ∩ lines(b)| / min(|lines(a)|, |lines(b)|)

over the digests' non-empty text lines (HTML tags removed), for every pair of days, not only
neighbours. The promise is a maximum of 50 %; tests/test_digest_overlap.py holds it to that.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import itertools
import re
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

KINDS = (("city", {"city": "无锡"}), ("one-plan", {"city": "苏州"}), ("topic", {"topic": "双减"}))
DAY1 = datetime(2024, 3, 4, 0, 0, 30, tzinfo=UTC)  # 08:00:30 in Shanghai
_TAG = re.compile(r"<[^>]+>")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class RecordingBot:
    """Telegram's send_message, recorded: the delivery layer cannot tell the difference."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str, object]] = []

    async def send_message(self, chat_id, text, **kwargs):
        self.sent.append((chat_id, text, kwargs.get("reply_markup")))
        return None


@dataclass
class Run:
    kind: str
    digests: list[str]  # one text per day (all messages of that day's digest joined)
    buttons: list[list[str]]  # the button labels under each day's digest

    def max_overlap(self) -> tuple[float, tuple[int, int]]:
        best, pair = 0.0, (0, 0)
        for (i, a), (j, b) in itertools.combinations(enumerate(self.digests), 2):
            value = overlap(a, b)
            if value > best:
                best, pair = value, (i + 1, j + 1)
        return best, pair


def lines(text: str) -> set[str]:
    return {html.unescape(_TAG.sub("", line)).strip() for line in text.splitlines()} - {""}


def overlap(a: str, b: str) -> float:
    la, lb = lines(a), lines(b)
    return len(la & lb) / min(len(la), len(lb)) if la and lb else 0.0


def simulate(corpus, engine, data_dir: Path, days: int = 14) -> list[Run]:
    """`days` mornings of the three subscriptions through the real delivery pass."""
    from bot.digests.store import open_store
    from bot.models import Subscription
    from bot.telegram.digest_jobs import DigestService

    clock = Clock(DAY1 - timedelta(hours=1))
    store = open_store(data_dir / "overlap.sqlite3", clock=clock)
    bot = RecordingBot()
    service = DigestService(store=store, corpus=corpus, search_engine=engine, bot=bot, clock=clock)
    chats = {}
    for n, (kind, scope) in enumerate(KINDS):
        chat = 9100 + n
        store.add_subscription(Subscription(id=None, chat_id=chat, frequency="daily", time="08:00", **scope))
        chats[chat] = kind
    per_day: dict[int, list[tuple[str, list[str]]]] = {chat: [] for chat in chats}

    async def run() -> None:
        for day in range(days):
            clock.now = DAY1 + timedelta(days=day)
            before = len(bot.sent)
            await service.run(startup=False, now=clock.now, wait=True)
            today = bot.sent[before:]
            for chat in chats:
                mine = [(text, markup) for c, text, markup in today if c == chat]
                labels = [b.text for row in mine[-1][1].inline_keyboard for b in row] if mine and mine[-1][1] else []
                per_day[chat].append(("\n".join(text for text, _ in mine), labels))

    try:
        asyncio.run(run())
    finally:
        store.close()
    return [Run(chats[chat], [t for t, _ in days_], [b for _, b in days_]) for chat, days_ in per_day.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=14)
    args = parser.parse_args(argv)
    from bot.corpus.loader import load_corpus
    from bot.search.engine import SearchEngine

    with tempfile.TemporaryDirectory() as tmp:
        corpus = load_corpus()
        engine = SearchEngine.from_corpus(corpus, cache_dir=Path(tmp) / "search")
        runs = simulate(corpus, engine, Path(tmp), args.days)
    worst = 0.0
    for run in runs:
        value, (i, j) = run.max_overlap()
        worst = max(worst, value)
        sent = sum(1 for d in run.digests if d)
        sizes = [len(lines(d)) for d in run.digests if d]
        print(f"{run.kind:9} {sent:2d} digests, {min(sizes)}–{max(sizes)} lines; "
              f"max overlap {value:.0%} (day {i} vs day {j})")
    print(f"max overlap over all pairs: {worst:.0%}")
    return 0 if worst <= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
