"""Smaller never-twice items (issue 10): an edited /topic revises its answer instead of getting a second
one, other edited commands are ignored, and the start-up digest catch-up really runs when the bot
starts seconds after it was built (as it does while it loads the corpus and index).
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.config import load_settings
from bot.service.app import build_application
from bot.telegram.digest_jobs import service_of
from tests.support.botapi import polling
from tests.test_digest_bot import Clock, digests


@pytest.fixture
def settings(fake_api, tmp_path):
    return load_settings({"TELEGRAM_BOT_TOKEN": fake_api.token, "TELEGRAM_API_URL": fake_api.root_url,
                          "PLANBRIEF_DATA_DIR": str(tmp_path), "PLANBRIEF_THROTTLE_BURST": "0"})


async def ask(server, chat: int, text: str):
    before = len(server.messages(chat))
    update = server.user_message(chat, chat, text)
    await server.wait_for_async(lambda s: len(s.messages(chat)) > before, timeout=10)
    return update["message"]["message_id"], server.messages(chat)[-1]


async def test_an_edited_topic_revises_its_answer_and_other_edits_are_ignored(fake_api, settings, shared_corpus,
                                                                              shared_engine):
    app = build_application(settings, corpus=shared_corpus, engine=shared_engine)
    chat = 9101
    async with polling(app):
        asked, answer = await ask(fake_api, chat, "/topic 双减")
        assert "双减" in answer.text
        fake_api.edit_user_message(chat, asked, "/topic 县管校聘")
        await fake_api.wait_for_async(lambda s: "县管校聘" in s.message(chat, answer.message_id).text, timeout=10,
                                      what="the answer revised")
        help_id, _ = await ask(fake_api, chat, "/help")
        fake_api.edit_user_message(chat, help_id, "/help me")
        fake_api.edit_user_message(chat, asked, "/topic 县管校聘")  # unchanged text: still one answer
        await ask(fake_api, chat, "/start")  # a marker: the edits before it have been handled
    texts = [m.text for m in fake_api.messages(chat)]
    assert len(texts) == 3  # /topic, /help, /start: one answer each, none for the edits
    assert "县管校聘" in texts[0]
    # the only refusal is Telegram's "not modified" for the unchanged edit, which the bot shrugs off
    assert all("not modified" in (c.description or "") for c in fake_api.rejected_calls())


async def test_the_start_up_catch_up_runs_even_when_the_bot_starts_late(fake_api, settings, shared_corpus,
                                                                        shared_engine, caplog):
    clock = Clock(None)
    clock.set("2024-03-04T07:00:00+08:00")
    first = build_application(settings, corpus=shared_corpus, engine=shared_engine)
    first.bot_data["clock"] = clock
    async with polling(first):
        await ask(fake_api, 9201, "/subscribe daily 08:00")
    service_of(first).store.close()

    clock.set("2024-03-04T08:00:30+08:00")  # due while the bot was down
    caplog.set_level(logging.WARNING, logger="apscheduler")
    app = build_application(settings, corpus=shared_corpus, engine=shared_engine)
    app.bot_data["clock"] = clock
    await asyncio.sleep(2.5)  # post_init loading corpus and index: the job queue starts this much later
    try:
        async with polling(app):
            # only the start-up job can send it: the first tick is a minute away
            await fake_api.wait_for_async(lambda s: digests(s, 9201), timeout=15, what="start-up catch-up digest")
    finally:
        service_of(app).store.close()
    assert not [r for r in caplog.records if "missed" in r.getMessage()]
