"""An update PTB cannot parse is skipped once, not refetched for ever (issue 10, item 3).

The real Application polls the fake Bot API server, which serves a malformed update between two good
ones; both good ones must be answered, the bad one logged once at WARNING with its update_id.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.config import load_settings
from bot.service.app import build_application
from bot.telegram.polling import defuse_poison
from tests.support.botapi import polling

USER = 6101


@pytest.fixture
def app(fake_api, tmp_path, shared_corpus, shared_engine):
    settings = load_settings({"TELEGRAM_BOT_TOKEN": fake_api.token, "TELEGRAM_API_URL": fake_api.root_url,
                              "PLANBRIEF_DATA_DIR": str(tmp_path), "PLANBRIEF_THROTTLE_BURST": "0"})
    return build_application(settings, corpus=shared_corpus, engine=shared_engine)


def message_without_date(chat_id: int) -> dict:
    chat = {"id": chat_id, "type": "private", "first_name": "X"}
    return {"message_id": 999, "chat": chat, "from": {"id": chat_id, "is_bot": False, "first_name": "X"},
            "text": "/help"}


def callback_without_chat_instance(chat_id: int) -> dict:
    return {"id": "cbq-poison", "from": {"id": chat_id, "is_bot": False, "first_name": "X"}, "data": "x"}


@pytest.mark.parametrize("kind,payload", [("message", message_without_date),
                                          ("callback_query", callback_without_chat_instance)])
async def test_a_malformed_update_between_two_good_ones_is_skipped_and_both_are_answered(
    fake_api, app, caplog, kind, payload
):
    caplog.set_level(logging.WARNING)
    chat = USER + (0 if kind == "message" else 1)
    async with polling(app):
        fake_api.user_message(chat, chat, "/help")
        poison = fake_api.push_update(kind, payload(chat))
        fake_api.user_message(chat, chat, "/start")
        await fake_api.wait_for_async(lambda s: len(s.messages(chat)) >= 2, timeout=10)
        await asyncio.sleep(0.3)  # room for refetches, had the offset not moved past the bad update
    texts = [m.text for m in fake_api.messages(chat)]
    assert len(texts) == 2 and "/topic" in texts[0] and "/topic" in texts[1]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "cannot be parsed" in r.getMessage()]
    assert len(warnings) == 1 and str(poison["update_id"]) in warnings[0].getMessage()
    polls = [c for c in fake_api.calls("getUpdates") if c.ok and c.result]
    served = [u["update_id"] for c in polls for u in c.result]
    assert served.count(poison["update_id"]) == 1  # fetched once, never again


def test_defuse_poison_keeps_good_updates_and_the_bad_ones_update_id():
    good = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}
    bad = {"update_id": 2, "message": {"message_id": 2, "chat": {"id": 1, "type": "private"}}}
    nameless = {"message": {}}
    assert defuse_poison([good, bad, nameless]) == [good, {"update_id": 2}]
