"""Never deaf under load (issue 10, item 7): fair between users, looser budgets for inline and paging.

The real Application polls the fake Bot API server with the default throttle settings unless a test
says otherwise; no assertion here depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from telegram import Chat, Message, Update, User

from bot.config import load_settings
from bot.service.app import build_application
from bot.telegram.fairness import FairUpdateProcessor
from handlers.throttle import BUCKETS, Throttle
from tests.support.botapi import polling


def make_app(fake_api, tmp_path, corpus, engine, **env):
    settings = load_settings({"TELEGRAM_BOT_TOKEN": fake_api.token, "TELEGRAM_API_URL": fake_api.root_url,
                              "PLANBRIEF_DATA_DIR": str(tmp_path), **env})
    return build_application(settings, corpus=corpus, engine=engine), settings


QUERIES = ("双减", "双减 无", "双减 无锡", "无锡", "课后服务")  # one user typing and changing their mind


@pytest.fixture
def app(fake_api, tmp_path, shared_corpus, shared_engine):
    return make_app(fake_api, tmp_path, shared_corpus, shared_engine)[0]


async def test_five_inline_queries_in_two_seconds_from_one_user_get_five_answers(fake_api, app):
    user = 8101
    async with polling(app):
        for query in QUERIES:
            fake_api.inline_query(user, query)
            await asyncio.sleep(0.4)
        await fake_api.wait_for_async(lambda s: len(s.inline_answers()) >= 5, timeout=10)
    answers = fake_api.inline_answers()
    assert [a.query for a in answers] == list(QUERIES)
    assert all(a.results for a in answers)  # real results, not refusals


async def test_a_refused_inline_query_still_gets_an_empty_answer(fake_api, tmp_path, shared_corpus, shared_engine):
    app, _ = make_app(fake_api, tmp_path, shared_corpus, shared_engine,
                      PLANBRIEF_THROTTLE_INLINE_BURST="3", PLANBRIEF_THROTTLE_INLINE_WINDOW="3600")
    async with polling(app):
        for i in range(6):
            fake_api.inline_query(8201, "双减" + "无锡"[: i % 3])
        await fake_api.wait_for_async(lambda s: len(s.inline_answers()) >= 6, timeout=10)
    answers = fake_api.inline_answers()
    assert len(answers) == 6  # every keystroke answered: no spinning client
    refused = [a for a in answers if not a.results]
    assert len(refused) == 3 and all(int(a.params.get("cache_time", -1)) == 0 for a in refused)
    assert sum(1 for a in refused if a.params.get("button")) == 1  # the "please wait" hint once


async def test_paging_ten_pages_at_reading_speed_is_never_throttled(fake_api, tmp_path, shared_corpus,
                                                                     shared_engine):
    app, settings = make_app(fake_api, tmp_path, shared_corpus, shared_engine)
    now = [0.0]
    app.bot_data[BUCKETS] = Throttle.from_settings(settings, clock=lambda: now[0])
    chat = 8301
    async with polling(app):
        fake_api.user_message(chat, chat, "/topic 双减")
        msg = await fake_api.wait_for_async(lambda s: s.last_message(chat), timeout=10)
        for _ in range(10):
            now[0] += 1.0  # a page a second: skimming, not hammering
            page = fake_api.message(chat, msg.message_id)
            forward = [b for b in page.buttons if b["text"].startswith("下一页")]
            back = [b for b in page.buttons if b["text"].startswith("«")]
            assert forward or back
            button = (forward or back)[0]  # on to the last page, then back and forth
            before = len(fake_api.callback_answers())
            fake_api.callback(chat, chat, msg.message_id, button["callback_data"])
            await fake_api.wait_for_async(lambda s, n=before: len(s.callback_answers()) > n, timeout=10)
    assert len(fake_api.callback_answers()) == 10
    assert not any("请稍候" in (a.text or "") for a in fake_api.callback_answers())
    assert [m.message_id for m in fake_api.messages(chat)] == [msg.message_id]  # edited in place


async def test_a_flood_from_some_users_does_not_delay_a_newcomer(fake_api, tmp_path, shared_corpus, shared_engine):
    app, _ = make_app(fake_api, tmp_path, shared_corpus, shared_engine, PLANBRIEF_THROTTLE_BURST="0")
    flooders, each = range(8401, 8411), 20
    async with polling(app):
        for _ in range(each):
            for user in flooders:
                fake_api.user_message(user, user, "/topic 双减")
        newcomer = 8499
        fake_api.user_message(newcomer, newcomer, "/help")
        await fake_api.wait_for_async(lambda s: s.last_message(newcomer), timeout=60)
        answered_before = sum(len(fake_api.messages(u)) for u in flooders)
        await fake_api.wait_for_async(
            lambda s: sum(len(s.messages(u)) for u in flooders) >= len(flooders) * each, timeout=120)
    # Served within about one round of the busy users, not after their whole backlog of 200.
    assert answered_before < len(flooders) * each // 2


async def test_one_sender_at_a_time_in_order_and_senders_take_turns():
    processor = FairUpdateProcessor(2)
    order: list[str] = []

    async def work(tag: str):
        order.append(tag)
        await asyncio.sleep(0)

    def update(user: int) -> Update:
        who = User(user, "u", False)
        return Update(1, message=Message(1, datetime.now(UTC), Chat(user, "private"), from_user=who))

    jobs = [("a", 1)] * 4 + [("b", 2)] * 2 + [("c", 3)]
    tasks = [asyncio.create_task(processor.process_update(update(uid), work(f"{tag}{i}")))
             for i, (tag, uid) in enumerate(jobs)]
    await asyncio.gather(*tasks)
    assert [t for t in order if t[0] == "a"] == ["a0", "a1", "a2", "a3"]  # one user's updates in order
    # round robin: the late sender waits for at most one more of a's updates, not for a's backlog
    assert order.index("c6") < order.index("a2") and order.index("b5") < order.index("a2")
