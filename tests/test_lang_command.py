"""Issue 16: `/lang zh|en` in Telegram is remembered per user — in every chat, over a restart (the
choice is in the store, migration 4), ahead of the client's own language."""

from __future__ import annotations

import pytest

from bot.digests.store import open_store
from tests.test_digest_bot import CHAT, Clock, bot, bot_settings, say  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*")
OTHER = CHAT + 77


@pytest.fixture
def clock():
    from datetime import UTC, datetime

    return Clock(datetime(2024, 3, 4, 0, 0, tzinfo=UTC))


async def test_lang_is_remembered_per_user_across_chats_and_restarts(fake_api, bot):  # noqa: F811
    async with bot():
        assert "没有找到" in (await say(fake_api, "/topic 量子计算")).text  # a Chinese client: Chinese
        assert "English" in (await say(fake_api, "/lang en")).text
        assert "Nothing found" in (await say(fake_api, "/topic 量子计算")).text
        # the same user in a group: still English; another user there: still Chinese
        group = -100777
        answer = await say(fake_api, "/topic 量子计算", chat=group, user=CHAT, chat_type="group")
        assert "Nothing found" in answer.text
        answer = await say(fake_api, "/topic 量子计算", chat=group, user=OTHER, chat_type="group")
        assert "没有找到" in answer.text
    async with bot():  # a restart: the choice was stored
        assert "Nothing found" in (await say(fake_api, "/topic 量子计算")).text
        assert "中文" in (await say(fake_api, "/lang zh")).text
        assert "没有找到" in (await say(fake_api, "/topic 量子计算", lang="en")).text  # beats the client
        assert "/lang" in (await say(fake_api, "/lang klingon")).text  # usage, nothing changed


def test_store_keeps_one_choice_per_user(tmp_path):
    store = open_store(tmp_path / "s.sqlite3")
    store.set_user_language(1, "en")
    store.set_user_language(1, "zh")
    store.set_user_language(2, "en")
    assert store.user_languages() == {1: "zh", 2: "en"}
    store.close()
