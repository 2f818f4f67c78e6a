"""A week of scheduled digests end to end (real Application, fake Bot API, controllable clock):
each one different and short, a different plan in the spotlight each day, a new plan first and then
not again, with or without a restart in the middle of the week."""

from __future__ import annotations

import contextlib
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.telegram.digest_jobs import run_once, service_of
from tests.support.botapi import polling

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*")

CHAT = 6001
SEEDS = Path(__file__).resolve().parents[1] / "seeds"
EXTRA = Path(__file__).resolve().parent / "data" / "synthetic_plan.txt"
DAY1 = datetime(2024, 3, 4, 0, 0, 30, tzinfo=UTC)  # Monday 08:00:30 in Shanghai
SPOT = re.compile(r"🔦 聚焦 (.+)")


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def six(tmp_path_factory):
    """The five seeds plus one plan added later (the synthetic 2024 work points, as 常州)."""
    from bot.corpus.ingest import add_plan
    from bot.corpus.loader import load_corpus
    from bot.search.engine import SearchEngine

    seeds = tmp_path_factory.mktemp("six") / "seeds"
    shutil.copytree(SEEDS, seeds)
    add_plan(seeds, EXTRA, city="常州", year=2024, title="常州市2024年教育工作要点")
    corpus = load_corpus(seeds)
    return corpus, SearchEngine.from_corpus(corpus, cache_dir=tmp_path_factory.mktemp("six-cache"))


@pytest.fixture
def week(fake_api, tmp_path, shared_corpus, shared_engine):
    """`async with week(corpus, engine, clock) as app`: a fresh Application on one database (a restart)."""
    from bot.config import load_settings
    from bot.service.app import build_application

    settings = load_settings({"TELEGRAM_BOT_TOKEN": fake_api.token, "TELEGRAM_API_URL": fake_api.root_url,
                              "PLANBRIEF_DATA_DIR": str(tmp_path), "PLANBRIEF_THROTTLE_BURST": "0"})

    @contextlib.asynccontextmanager
    async def running(corpus, engine, clock):
        app = build_application(settings, corpus=corpus, engine=engine)
        app.bot_data["clock"] = clock
        try:
            async with polling(app):
                yield app
        finally:
            service_of(app).store.close()

    return running


async def _subscribe(server, app, clock):
    clock.now = DAY1 - timedelta(hours=1)
    server.user_message(CHAT, CHAT, "/subscribe daily 08:00", language_code="zh-hans")
    await server.wait_for_async(lambda s: any("已订阅" in m.text for m in s.messages(CHAT)), timeout=10)


async def _day(server, app, clock, day: int) -> str:
    """Run day `day`'s 08:00 digest; return its text (all its messages)."""
    before = len(server.messages(CHAT))
    clock.now = DAY1 + timedelta(days=day - 1)
    await run_once(app, startup=False, wait=True)
    sent = server.messages(CHAT)[before:]
    assert sent, f"no digest on day {day}"
    return "\n".join(m.text for m in sent)


def _body(text: str) -> str:
    """The digest without its first line (title and date), which differs every day anyway."""
    return text.split("\n", 1)[1]


def _spotlight(text: str) -> str | None:
    match = SPOT.search(text)
    return match.group(1) if match else None


async def _week(server, week, clock, corpus, engine, *, restart_after: int | None, swap=None) -> list[str]:
    """Seven daily digests; `swap` = (day, corpus, engine) changes the corpus after that day's digest."""
    texts: list[str] = []
    day = 1
    while day <= 7:
        current = (corpus, engine)
        async with week(*current, clock) as app:
            if day == 1:
                await _subscribe(server, app, clock)
            while day <= 7:
                texts.append(await _day(server, app, clock, day))
                if swap and day == swap[0]:
                    corpus, engine = swap[1], swap[2]
                    if restart_after != day:
                        app.bot_data["corpus"], app.bot_data["engine"] = corpus, engine
                day += 1
                if restart_after == day - 1:
                    break
    return texts


@pytest.mark.parametrize("restart_after", [None, 3])
async def test_a_week_of_digests_rotates_through_the_plans(fake_api, week, shared_corpus, shared_engine,
                                                            restart_after):
    clock = Clock(DAY1)
    texts = await _week(fake_api, week, clock, shared_corpus, shared_engine, restart_after=restart_after)
    assert len(texts) == 7
    assert all(_body(a) != _body(b) for a, b in zip(texts, texts[1:], strict=False))
    spots = [_spotlight(t) for t in texts]
    assert None not in spots
    assert len(set(spots[:5])) == 5, spots  # five plans, five days, five different spotlights
    assert spots[5] == spots[0] and spots[6] == spots[1]  # then it starts over
    for text in texts:
        assert len(text) < 1500  # short: one plan and the shared-themes line, not five plans
        assert "🆕" not in text
    for text in texts[:5]:  # each plan's first spotlight: its card with the shared themes
        assert "🔗 共同主题：" in text and "份规划｜" in text
    for text in texts[5:]:  # seen before: 无新规划 and the next 细读, not the same card again
        assert "无新规划" in text and "🔗" not in text and "细读：" in text
    assert "没有新规划" not in texts[0] and "没有新规划" in texts[1]
    assert fake_api.duplicates() == {}


@pytest.mark.parametrize("restart_after", [None, 3])
async def test_a_plan_added_mid_week_leads_the_next_digest_once(fake_api, week, shared_corpus, shared_engine,
                                                                six, restart_after):
    clock = Clock(DAY1)
    corpus6, engine6 = six
    texts = await _week(fake_api, week, clock, shared_corpus, shared_engine, restart_after=restart_after,
                        swap=(3, corpus6, engine6))
    assert len(texts) == 7
    assert all(_body(a) != _body(b) for a, b in zip(texts, texts[1:], strict=False))
    day4 = texts[3]
    assert "🆕 新 常州 · 常州市2024年教育工作要点" in day4 and _spotlight(day4) is None
    assert "6 份规划 · 其中 1 份为新收录" in day4
    for later in texts[4:]:
        assert "常州市2024年教育工作要点" not in later and "🆕" not in later
        assert _spotlight(later) is not None
    spots = [_spotlight(t) for t in texts[:3] + texts[4:6]]
    assert len(set(spots)) == 5, spots  # the new plan was read on day 4, so days 5-6 go on with the rest
    assert fake_api.duplicates() == {}
