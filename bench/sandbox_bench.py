"""The sandbox for untrusted input (issue 17): what it costs a normal add, and what hostile inputs cost
everyone else.

    .venv/bin/python -m bench.sandbox_bench [--runs 3] [--deadline 5] [--readers 40]

1. Cost. A seeds-sized plan (the first seed's text) as .docx and as PDF: `ingest.prepare_plan` in this
   process vs `sandbox.read_untrusted` (a forkserver child with the limits), both warm, medians over
   `--runs` × 5 reads; plus the forkserver's one-off start.
2. /topic under hostile load. The real Application long-polls the in-process fake Bot API with eight
   editors. Idle: `--readers` new users send one /topic each, one every 0.1 s; their time to first
   answer (server clock, ask → reply) gives p50/p99. Hostile: the same while the eight editors each
   send one hostile input at once (reference-cycle PDF, 1 GiB-inflating PDF, 19 MB one-line page, a
   link to a server dripping its headers, one dripping its body), read with a `--deadline` s sandbox.
3. Memory. The bot process's RSS after a warm-up (idle readers and one normal add), and after 20
   hostile inputs have all been answered.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

TOPICS = ["双减", "县管校聘", "集团办学", "课后延时服务", "教师队伍建设", "普惠性幼儿园"]
EDITORS = list(range(50_000_001, 50_000_009))
READER_BASE = 60_000_001


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# ------------------------------------------------------------------------------------------ 1. cost


def _seed_files(folder: Path) -> dict[str, Path]:
    import docx
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    from bot.corpus.loader import default_seeds_dir, read_manifest

    seeds = default_seeds_dir()
    text = (seeds / read_manifest(seeds)[0]["file"]).read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    document = docx.Document()
    for line in lines:
        document.add_paragraph(line)
    document.save(str(folder / "seed.docx"))
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(folder / "seed.pdf"))
    rows = [line[i:i + 36] for line in lines for i in range(0, len(line), 36)]
    for start in range(0, len(rows), 40):
        pdf.setFont("STSong-Light", 10)
        y = 800
        for row in rows[start:start + 40]:
            pdf.drawString(50, y, row)
            y -= 19
        pdf.showPage()
    pdf.save()
    return {"docx": folder / "seed.docx", "pdf": folder / "seed.pdf"}


def cost(runs: int) -> None:
    from bot.corpus import sandbox
    from bot.corpus.ingest import prepare_plan

    with tempfile.TemporaryDirectory(prefix="planbrief-sbx-") as tmp:
        files = _seed_files(Path(tmp))
        t = time.perf_counter()
        sandbox.warm()
        print(f"forkserver start (once per process, preloads and warms the readers): "
              f"{(time.perf_counter() - t) * 1000:.0f} ms")
        for kind, path in files.items():
            prepare_plan(path)
            sandbox.read_untrusted(path)
            inside, child = [], []
            for _ in range(runs):
                for _ in range(5):
                    t = time.perf_counter()
                    prepare_plan(path)
                    inside.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    sandbox.read_untrusted(path)
                    child.append(time.perf_counter() - t)
            a, b = statistics.median(inside) * 1000, statistics.median(child) * 1000
            print(f"  {kind:4} ({path.stat().st_size / 1024:.0f} KB): in process {a:6.1f} ms, in the sandbox "
                  f"{b:6.1f} ms (+{b - a:.1f} ms), medians of {len(inside)}")


# ------------------------------------------------------------------------------------------ 2, 3. bot


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _delay(server, chat_id: int) -> float | None:
    msgs = server.messages(chat_id, include_user=True)
    asked = next((m.sent_at for m in msgs if not m.from_bot), None)
    answered = next((m.sent_at for m in msgs if m.from_bot), None)
    return None if asked is None or answered is None else answered - asked


class Hostile:
    """The hostile inputs, made once: files for editors to send, and two dripping servers."""

    def __init__(self, folder: Path, big_page: bool = True) -> None:
        from tests.support import hostile

        files = [hostile.cycle_pdf(folder / "cycle.pdf"), hostile.inflating_pdf(folder / "bomb.pdf", 1024)]
        if big_page:
            files.append(hostile.one_line_page(folder / "huge.html", 19))
        # read once: the fake Bot API (in this process) keeps what is uploaded, and a copy per upload
        # would count against the bot's RSS
        self.files = [(path.name, path.read_bytes()) for path in files]
        self.drips = [hostile.DripServer("headers", 0.5), hostile.DripServer("body", 0.5)]

    def send(self, server, editor: int, n: int) -> None:
        kinds = len(self.files) + len(self.drips)
        k = n % kinds
        if k < len(self.files):
            name, data = self.files[k]
            server.user_document(editor, editor, name, data)
        else:
            server.user_message(editor, editor, self.drips[k - len(self.files)].url)

    def close(self) -> None:
        for drip in self.drips:
            drip.close()


async def _readers(server, base: int, count: int) -> list[float]:
    users = range(base, base + count)
    for n, user in enumerate(users):
        server.user_message(user, user, f"/topic {TOPICS[n % len(TOPICS)]}")
        await asyncio.sleep(0.1)
    await server.wait_for_async(lambda s: all(s.last_message(u) for u in users), timeout=300, what="readers")
    return [d for d in (_delay(server, u) for u in users) if d is not None]


async def _replies(server, editor: int) -> int:
    return len(server.messages(editor))


async def bot_runs(args) -> None:
    from bot.config import load_settings
    from bot.corpus.loader import load_corpus
    from bot.search.engine import SearchEngine
    from bot.service.app import build_application
    from tests.support.botapi import BotApiServer, polling

    with tempfile.TemporaryDirectory(prefix="planbrief-sbx-") as tmp:
        corpus = load_corpus()
        engine = SearchEngine.from_corpus(corpus, cache_dir=Path(tmp) / "search")
        hostile = Hostile(Path(tmp), big_page=not args.without_big_page)
        normal = _seed_files(Path(tmp))["docx"]
        base = READER_BASE
        idle, loaded, rss = [], [], []
        try:
            with BotApiServer() as server:
                env = {"TELEGRAM_BOT_TOKEN": server.token, "TELEGRAM_API_URL": server.root_url,
                       "PLANBRIEF_DATA_DIR": tmp, "PLANBRIEF_THROTTLE_BURST": "0",
                       "PLANBRIEF_EDITORS": ",".join(map(str, EDITORS)), "PLANBRIEF_ALLOW_PRIVATE_URLS": "1"}
                import os

                os.environ["PLANBRIEF_SANDBOX_SECONDS"] = str(args.deadline)
                app = build_application(load_settings(env), corpus=corpus, engine=engine)
                async with polling(app):
                    # warm-up: readers, and one normal add (its preview card) from the first editor
                    await _readers(server, base, 10)
                    base += 10
                    server.user_document(EDITORS[0], EDITORS[0], normal.name, normal.read_bytes())
                    await server.wait_for_async(lambda s: s.last_message(EDITORS[0]), timeout=60, what="preview")
                    sent = {e: len(server.messages(e)) for e in EDITORS}
                    for _ in range(args.runs):
                        idle.append(await _readers(server, base, args.readers))
                        base += args.readers
                    gc.collect()
                    rss.append(_rss_mb())
                    hostile_sent = 0
                    for run in range(args.runs):
                        for i, editor in enumerate(EDITORS):
                            hostile.send(server, editor, run * len(EDITORS) + i)
                            sent[editor] += 1
                            hostile_sent += 1
                        await asyncio.sleep(0.2)
                        loaded.append(await _readers(server, base, args.readers))
                        base += args.readers
                        await server.wait_for_async(lambda s: all(len(s.messages(e)) >= sent[e] for e in EDITORS),
                                                    timeout=600, what="hostile inputs answered")
                    while hostile_sent < 20:  # up to 20 hostile inputs for the memory check
                        for editor in EDITORS[: min(len(EDITORS), 20 - hostile_sent)]:
                            hostile.send(server, editor, hostile_sent)
                            sent[editor] += 1
                            hostile_sent += 1
                        await server.wait_for_async(lambda s: all(len(s.messages(e)) >= sent[e] for e in EDITORS),
                                                    timeout=600, what="hostile inputs answered")
                    gc.collect()
                    rss.append(_rss_mb())
                    sample = [server.last_message(e).text for e in EDITORS[:5]]
        finally:
            hostile.close()
    print(f"\n/topic time to first answer, {args.readers} readers one every 0.1 s, {args.runs} runs "
          f"(sandbox deadline {args.deadline} s):")
    for name, runs in (("idle", idle), ("8 hostile inputs being read", loaded)):
        for i, delays in enumerate(runs, 1):
            print(f"  {name:28} run {i}: p50 {_pct(delays, 0.5) * 1000:6.1f} ms, p99 {_pct(delays, 0.99) * 1000:6.1f} ms")
        print(f"  {name:28} median: p50 {statistics.median(_pct(d, 0.5) for d in runs) * 1000:6.1f} ms, "
              f"p99 {statistics.median(_pct(d, 0.99) for d in runs) * 1000:6.1f} ms")
    print(f"\nbot RSS: {rss[0]:.1f} MB before, {rss[1]:.1f} MB after {hostile_sent} hostile inputs "
          f"({rss[1] - rss[0]:+.1f} MB)")
    print("what the editors were told (last of each, first five):")
    for line in sample:
        print("  " + line.splitlines()[0][:150])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deadline", type=float, default=5.0)
    parser.add_argument("--readers", type=int, default=40)
    parser.add_argument("--skip-cost", action="store_true", help="only the bot part (2, 3)")
    parser.add_argument("--skip-bot", action="store_true", help="only the cost part (1)")
    parser.add_argument("--without-big-page", action="store_true",
                        help="leave the 19 MB page out (its upload and download are the bot's own work)")
    args = parser.parse_args(argv)
    if not args.skip_cost:
        cost(args.runs)
    if not args.skip_bot:
        asyncio.run(bot_runs(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
