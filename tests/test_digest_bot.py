"""Digest subscriptions end to end: the real Application (handlers, JobQueue, AIORateLimiter subclass)
against the fake Bot API, with a controllable clock in bot_data["clock"] so time moves without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.digests import delivery
from bot.digests.subscribe import ParseError, parse_dm, parse_ds, parse_subscribe
from bot.telegram.digest_jobs import map_error, run_once, service_of
from bot.telegram.ratelimit import SlidingWindow
from tests.support.botapi import polling

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*")

CHAT = 5001
GROUP = -1005551234
ADMIN = 7001
MEMBER = 7002
TITLE = "教育规划简报"


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, text: str) -> None:
        self.now = datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def clock():
    return Clock(datetime(2024, 3, 4, 0, 0, tzinfo=UTC))  # Monday 08:00 in Shanghai


@pytest.fixture
def bot_settings(fake_api, tmp_path):
    from bot.config import load_settings

    return load_settings({"TELEGRAM_BOT_TOKEN": fake_api.token, "TELEGRAM_API_URL": fake_api.root_url,
                          "PLANBRIEF_DATA_DIR": str(tmp_path), "PLANBRIEF_THROTTLE_BURST": "0"})


@pytest.fixture
def bot(fake_api, bot_settings, shared_corpus, shared_engine, clock):
    """`async with bot() as app`: a fresh Application on the same database, as after a restart."""
    from bot.service.app import build_application

    @contextlib.asynccontextmanager
    async def running():
        app = build_application(bot_settings, corpus=shared_corpus, engine=shared_engine)
        app.bot_data["clock"] = clock
        try:
            async with polling(app):
                yield app
        finally:
            service_of(app).store.close()

    return running


async def say(server, text, *, chat=CHAT, user=None, lang="zh-hans", chat_type="private"):
    before = len(server.messages(chat))
    server.user_message(chat, user or chat, text, language_code=lang, chat_type=chat_type)
    await server.wait_for_async(lambda s: len(s.messages(chat)) > before, timeout=10)
    return server.messages(chat)[-1]


def digests(server, chat=CHAT):
    return [m for m in server.messages(chat) if TITLE in m.text or "Education plan digest" in m.text]


async def settle(app, *, startup=False):
    return await run_once(app, startup=startup, wait=True)


# ---------------------------------------------------------------------------------------- parsing


def test_parse_arguments_city_versus_topic(shared_corpus):
    req = parse_subscribe(["weekly", "mon", "09:30", "无锡"], shared_corpus)
    assert (req.frequency, req.weekday, req.time, req.city, req.topic) == ("weekly", 0, "09:30", "无锡", None)
    req = parse_subscribe(["daily", "07:30", "双减"], shared_corpus)
    assert (req.city, req.topic) == (None, "双减")
    assert parse_subscribe(["daily", "8点"], shared_corpus).time == "08:00"
    assert parse_subscribe(["daily", "07:30", "wuxi"], shared_corpus).city == "无锡"
    assert parse_subscribe(["08:00"], shared_corpus).frequency == "daily"


@pytest.mark.parametrize("args,code", [
    (["daily", "25:00"], "invalid_time"), (["weekly", "funday", "08:00"], "invalid_weekday"),
    (["monthly", "08:00"], "invalid_frequency"), (["daily"], "missing_time"),
    (["daily", "08:00", "很" * 30], "scope_too_long"),
])
def test_parse_errors_have_codes(shared_corpus, args, code):
    with pytest.raises(ParseError) as info:
        parse_subscribe(args, shared_corpus)
    assert info.value.code == code


def test_callback_data_is_validated():
    assert parse_ds("ds|w|0|08:00|c:无锡") == ("w", "0", "08:00", "c:无锡")
    assert parse_ds("ds|d|-|07:00|a") == ("d", "-", "07:00", "a")
    for forged in ("ds|w|-|08:00|a", "ds|d|3", "ds|d|-|25:00", "ds|x", "ds|d|-|08:00|c:" + "无" * 30, "", None):
        assert parse_ds(forged) is None
    assert parse_dm("dm|p|12") == ("p", 12)
    assert parse_dm("dm|a") == ("a", None)
    assert parse_dm("dm|z|1") is None and parse_dm("dm|x|-1") is None


def test_ptb_errors_map_to_delivery_errors():
    assert isinstance(map_error(Forbidden("bot was blocked by the user")), delivery.Blocked)
    assert isinstance(map_error(BadRequest("Chat not found")), delivery.Blocked)
    migrated = map_error(ChatMigrated(-100123))
    assert isinstance(migrated, delivery.Migrated) and migrated.new_chat_id == -100123
    assert map_error(RetryAfter(3)).seconds == 3
    assert isinstance(map_error(TimedOut()), delivery.TransientError)
    assert isinstance(map_error(NetworkError("reset")), delivery.TransientError)
    odd = BadRequest("can't parse entities")
    assert map_error(odd) is odd  # a bug in our HTML is not retried or blamed on the chat


async def test_sliding_window_refunds_rejected_calls():
    window = SlidingWindow(2, period=60)
    await window.acquire()
    await window.release(counted=False)  # a 429: Telegram did not count it
    await window.acquire()
    await window.acquire()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(window.acquire(), 0.05)


# ---------------------------------------------------------------------------------------- e2e


async def test_subscribe_restart_then_due_digest_arrives_once(fake_api, bot, clock):
    clock.set("2024-03-04T07:00:00+08:00")
    async with bot() as app:
        reply = await say(fake_api, "/subscribe daily 08:00")
        assert "已订阅" in reply.text and "2024-03-04 08:00" in reply.text
        await settle(app)
        assert digests(fake_api) == []
    clock.set("2024-03-04T08:00:30+08:00")  # due while the bot was down
    async with bot() as app:
        await fake_api.wait_for_async(lambda s: digests(s), timeout=10, what="start-up catch-up digest")
        await settle(app)
        await settle(app, startup=True)
    async with bot() as app:
        await settle(app)
    assert len(digests(fake_api)) == 1
    assert fake_api.duplicates() == {}


async def test_missed_beyond_grace_is_skipped_not_sent(fake_api, bot, clock):
    clock.set("2024-03-04T07:00:00+08:00")
    async with bot() as app:
        await say(fake_api, "/subscribe daily 08:00")
    clock.set("2024-03-04T20:00:00+08:00")
    async with bot() as app:
        report = await settle(app, startup=True)
    assert digests(fake_api) == []
    assert report is None or report.sent == []


async def test_blocked_chat_is_deactivated(fake_api, bot, clock):
    clock.set("2024-03-04T07:00:00+08:00")
    async with bot() as app:
        await say(fake_api, "/subscribe daily 08:00")
        fake_api.block_chat(CHAT)
        clock.set("2024-03-04T08:01:00+08:00")
        report = await settle(app)
        assert report.deactivated == [CHAT]
        sub = service_of(app).store.list_subscriptions(CHAT)[0]
        assert not sub.active and sub.deactivated_reason.startswith("blocked")


async def test_migrated_group_keeps_subscriptions(fake_api, bot, clock):
    old, new = -4242, -1004242
    fake_api.set_chat_admins(old, [ADMIN], chat_type="group")
    clock.set("2024-03-04T07:00:00+08:00")
    async with bot() as app:
        await say(fake_api, "/subscribe daily 08:00", chat=old, user=ADMIN, chat_type="group")
        fake_api.migrate_chat(old, new)
        clock.set("2024-03-04T08:01:00+08:00")
        report = await settle(app)
        assert report.migrated == [(old, new)]
        store = service_of(app).store
        assert store.list_subscriptions(old) == [] and len(store.list_subscriptions(new)) == 1
    assert len(digests(fake_api, new)) == 1


async def test_group_non_admin_refused_admin_and_anonymous_admin_allowed(fake_api, bot):
    fake_api.set_chat_admins(GROUP, [ADMIN])
    async with bot() as app:
        reply = await say(fake_api, "/subscribe daily 08:00", chat=GROUP, user=MEMBER, chat_type="supergroup")
        assert "管理员" in reply.text
        assert service_of(app).store.list_subscriptions(GROUP) == []
        reply = await say(fake_api, "/subscribe daily 08:00", chat=GROUP, user=ADMIN, chat_type="supergroup")
        assert "已订阅" in reply.text
        await anonymous_admin(fake_api, GROUP, "/subscribe daily 09:00")
        assert len(service_of(app).store.list_subscriptions(GROUP)) == 2
        reply = await say(fake_api, "/unsubscribe all", chat=GROUP, user=MEMBER, chat_type="supergroup")
        assert "管理员" in reply.text and len(service_of(app).store.list_subscriptions(GROUP)) == 2


async def anonymous_admin(server, chat_id, text):
    """An anonymous admin's message: from GroupAnonymousBot, sender_chat is the group itself."""
    from tests.support.botapi import detect_entities

    before = len(server.messages(chat_id))
    chat = {"id": chat_id, "type": "supergroup", "title": "Group"}
    server.push_update("message", {
        "message_id": 90000, "date": 0, "chat": chat, "sender_chat": chat, "text": text,
        "from": {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"},
        "entities": detect_entities(text),
    })
    await server.wait_for_async(lambda s: len(s.messages(chat_id)) > before, timeout=10)
    assert "已订阅" in server.messages(chat_id)[-1].text


async def test_timezone_and_weekday_follow_the_chat_zone(fake_api, bot, clock):
    clock.set("2024-03-03T12:00:00+01:00")  # Sunday in Berlin
    async with bot() as app:
        assert "Europe/Berlin" in (await say(fake_api, "/timezone europe/berlin")).text
        reply = await say(fake_api, "/subscribe weekly mon 09:30")
        assert "2024-03-04 09:30" in reply.text and "Europe/Berlin" in reply.text
        clock.set("2024-03-04T09:29:00+01:00")  # Monday 16:29 in Shanghai: not yet
        await settle(app)
        assert digests(fake_api) == []
        clock.set("2024-03-04T09:30:05+01:00")
        await settle(app)
        assert len(digests(fake_api)) == 1
        clock.set("2024-03-05T09:30:05+01:00")  # Tuesday: same ISO week, nothing new
        await settle(app)
        clock.set("2024-03-11T09:31:00+01:00")  # next Monday
        await settle(app)
    assert len(digests(fake_api)) == 2


async def test_weekly_on_sunday_is_not_sent_on_monday(fake_api, bot, clock):
    """Guards the 0=Sunday (PTB) vs 0=Monday (Python) trap: Sunday is stored as 6 and fires on Sunday."""
    clock.set("2024-03-02T12:00:00+08:00")  # Saturday
    async with bot() as app:
        await say(fake_api, "/subscribe weekly 周日 08:00")
        assert service_of(app).store.list_subscriptions(CHAT)[0].weekday == 6
        clock.set("2024-03-03T08:00:10+08:00")  # Sunday
        await settle(app)
        assert len(digests(fake_api)) == 1
        clock.set("2024-03-04T08:00:10+08:00")  # Monday
        await settle(app)
    assert len(digests(fake_api)) == 1


async def test_guided_subscribe_with_buttons(fake_api, bot):
    async with bot() as app:
        await say(fake_api, "/subscribe")
        for data in ("ds|w", "ds|w|0", "ds|w|0|08:00", "ds|w|0|08:00|c:无锡"):
            message = fake_api.last_message(CHAT)
            assert data in [b["callback_data"] for b in message.buttons]
            edits = len(fake_api.calls("editMessageText"))
            fake_api.callback(CHAT, CHAT, message.message_id, data)
            await fake_api.wait_for_async(lambda s, n=edits: len(s.calls("editMessageText")) > n, timeout=10)
        assert "已订阅" in fake_api.last_message(CHAT).text
        sub = service_of(app).store.list_subscriptions(CHAT)[0]
        assert (sub.frequency, sub.weekday, sub.time, sub.city) == ("weekly", 0, "08:00", "无锡")
        for m in fake_api.messages(CHAT):
            assert all(len(b["callback_data"].encode()) <= 64 for b in m.buttons if "callback_data" in b)


async def test_manage_buttons_and_forged_presses(fake_api, bot):
    other = 5002
    async with bot() as app:
        store = service_of(app).store
        await say(fake_api, "/subscribe daily 08:00", chat=other)
        foreign = store.list_subscriptions(other)[0].id
        await say(fake_api, "/subscribe daily 07:30 双减")
        listing = await say(fake_api, "/subscriptions")
        mine = store.list_subscriptions(CHAT)[0].id
        assert f"#{mine}" in listing.text and "双减" in listing.text
        fake_api.callback(CHAT, CHAT, listing.message_id, f"dm|p|{mine}")
        await fake_api.wait_for_async(lambda s: s.calls("editMessageText"), timeout=10)
        assert "暂停" in fake_api.message(CHAT, listing.message_id).text
        assert not store.get_subscription(mine).active
        for forged in (f"dm|x|{foreign}", "dm|q|1", "ds|zz", "dm|x|1|2"):
            update = fake_api.callback(CHAT, CHAT, listing.message_id, forged)
            await fake_api.wait_for_async(
                lambda s, q=update["callback_query"]["id"]: s.callback_answers(q), timeout=10)
        assert store.get_subscription(foreign).active
        reply = await say(fake_api, "/unsubscribe all")
        assert "1" in reply.text and store.list_subscriptions(CHAT) == []


async def test_parse_error_replies_are_specific_and_localised(fake_api, bot):
    async with bot():
        assert "时间格式不对" in (await say(fake_api, "/subscribe daily 25:00")).text
        assert "Not a time" in (await say(fake_api, "/subscribe daily 25:00", lang="en")).text
        assert "星期" in (await say(fake_api, "/subscribe weekly someday 08:00")).text
        assert "时区" in (await say(fake_api, "/timezone Mars/Base")).text


async def test_digest_now_and_topic_excerpts(fake_api, bot):
    async with bot():
        await say(fake_api, "/digest 双减")
        await fake_api.wait_for_async(lambda s: digests(s), timeout=10)
        text = "\n".join(m.text for m in fake_api.messages(CHAT))
        assert "主题：双减" in text and "双减" in text
        before = len(fake_api.messages(CHAT))
        await say(fake_api, "/digest 无锡")
        await fake_api.wait_for_async(lambda s: len(s.messages(CHAT)) > before + 1 or
                                      "无锡" in s.messages(CHAT)[-1].text, timeout=10)
        assert "江阴" in "\n".join(m.text for m in fake_api.messages(CHAT)[before:])


async def test_second_digest_marks_only_new_plans(fake_api, bot, clock):
    clock.set("2024-03-04T07:00:00+08:00")
    async with bot() as app:
        await say(fake_api, "/subscribe daily 08:00 江阴")
        clock.set("2024-03-04T08:00:30+08:00")
        await settle(app)
        clock.set("2024-03-05T08:00:30+08:00")
        await settle(app)
    first, second = digests(fake_api)
    assert "🆕" not in first.text  # a first digest has no "since last time"
    assert "🆕" not in second.text and "江阴" in second.text


async def test_the_running_bot_prunes_old_ledger_rows_and_keeps_what_the_chat_saw(fake_api, bot, clock):
    """The app schedules the prune (digest-prune); run as scheduled, it drops the settled history older
    than DELIVERIES_KEPT and leaves what the chat was sent, so the next digest still knows it."""
    from types import SimpleNamespace

    from bot.digests.store import DELIVERIES_KEPT
    from bot.telegram.digest_jobs import prune_job

    clock.set("2024-03-04T07:00:00+08:00")
    async with bot() as app:
        assert app.job_queue.get_jobs_by_name("digest-prune")
        await say(fake_api, "/subscribe daily 08:00 江阴")
        clock.set("2024-03-04T08:00:30+08:00")
        await settle(app)
        store = service_of(app).store
        [sub] = store.list_subscriptions(CHAT)
        seen = store.plans_sent_to_chat(CHAT)
        assert seen and store.get_delivery(sub.id, "2024-03-04").status == "sent"
        clock.now = clock.now + DELIVERIES_KEPT + timedelta(days=1)
        await prune_job(SimpleNamespace(application=app))
        assert store.get_delivery(sub.id, "2024-03-04") is None
        assert store.plans_sent_to_chat(CHAT) == seen
    assert len(digests(fake_api)) == 1


async def test_rate_limited_chat_is_retried_without_duplicates(fake_api, bot, clock):
    clock.set("2024-03-04T07:00:00+08:00")
    async with bot() as app:
        for chat in (CHAT, CHAT + 1, CHAT + 2):
            await say(fake_api, "/subscribe daily 08:00", chat=chat)
        fake_api.flood_chat(CHAT, retry_after=1, times=2)
        clock.set("2024-03-04T08:00:30+08:00")
        report = await settle(app)
    assert sorted(report.sent) == sorted(report.sent) and len(report.sent) == 3
    assert all(len(digests(fake_api, chat)) == 1 for chat in (CHAT, CHAT + 1, CHAT + 2))
    assert fake_api.duplicates() == {}


def test_grace_default_is_hours_not_days():
    from bot.telegram.digest_jobs import DEFAULT_GRACE

    assert timedelta(hours=1) <= DEFAULT_GRACE <= timedelta(hours=6)
