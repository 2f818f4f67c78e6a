"""The weekly digest of a scope with several plans carries one themes picture; a daily digest never does,
and a broadcast uploads the picture once (then Telegram's file id is sent)."""

from __future__ import annotations

from tests.test_digest_bot import CHAT, bot, bot_settings, clock, digests, say, settle  # noqa: F401 - fixtures

OTHER = CHAT + 1


def photos(server, chat):
    return [m for m in server.messages(chat) if m.media and "photo" in m.media]


async def test_weekly_multi_plan_digest_gets_one_picture_daily_none(fake_api, bot, clock):  # noqa: F811
    clock.set("2024-03-02T12:00:00+08:00")  # Saturday
    async with bot() as app:
        await say(fake_api, "/subscribe weekly 周日 08:00 无锡")
        await say(fake_api, "/subscribe weekly 周日 08:00 无锡", chat=OTHER)
        await say(fake_api, "/subscribe daily 08:00 无锡", chat=OTHER + 1)
        clock.set("2024-03-03T08:00:10+08:00")  # Sunday: all three are due
        await settle(app)
        clock.set("2024-03-04T08:00:10+08:00")  # Monday: only the daily one
        await settle(app)
    for chat in (CHAT, OTHER):
        assert len(digests(fake_api, chat)) == 1
        (photo,) = photos(fake_api, chat)
        assert photo.text.startswith("🔗 共同主题 · 无锡：") and photo.upload[:8] == b"\x89PNG\r\n\x1a\n"
        assert fake_api.messages(chat)[-1] is photo  # after the digest's text
    assert len(digests(fake_api, OTHER + 1)) == 2 and not photos(fake_api, OTHER + 1)
    sent = [c.params["photo"] for c in fake_api.calls("sendPhoto") if c.ok]
    assert len(sent) == 2 and sum(isinstance(p, str) for p in sent) == 1  # the second one by file id
