"""Issue 16, digests a reader can act on (real Application against the fake Bot API, clock moved by
hand): every scheduled digest carries 查看全文 / 分享 / 暂停 / 退订 that work; `/digest` in a subscribed
chat previews exactly what the next scheduled digest says; a topic no plan mentions is an alert only
and stays silent; a topic's scope is the plans that answer it."""

from __future__ import annotations

import pytest

from bot.digests.content import build_digest
from tests.test_digest_bot import CHAT, Clock, bot, bot_settings, digests, say, settle  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*")


@pytest.fixture
def clock():
    from datetime import UTC, datetime

    return Clock(datetime(2024, 3, 4, 0, 0, tzinfo=UTC))


async def _press(server, message, data):
    update = server.callback(CHAT, CHAT, message.message_id, data)
    await server.wait_for_async(lambda s, q=update["callback_query"]["id"]: s.callback_answers(q), timeout=10)


async def test_scheduled_digest_buttons_open_share_pause_resume_unsubscribe(fake_api, bot, clock):  # noqa: F811
    from bot.telegram.digest_jobs import service_of

    clock.set("2024-03-04T07:00:00+08:00")
    async with bot() as app:
        await say(fake_api, "/subscribe daily 08:00 无锡")
        store = service_of(app).store
        sub_id = store.list_subscriptions(CHAT)[0].id
        clock.set("2024-03-04T08:00:30+08:00")
        await settle(app)
        last = fake_api.messages(CHAT)[-1]
        labels = {b["text"]: b for b in last.buttons}
        assert set(labels) == {"查看全文", "分享", "暂停", "退订"}
        assert labels["分享"]["switch_inline_query"] == "无锡"

        before = len(fake_api.messages(CHAT))
        await _press(fake_api, last, labels["查看全文"]["callback_data"])
        await fake_api.wait_for_async(lambda s: len(s.messages(CHAT)) > before, timeout=10)
        assert "无锡" in fake_api.messages(CHAT)[-1].text  # the featured plan's outline

        await _press(fake_api, last, labels["暂停"]["callback_data"])
        await fake_api.wait_for_async(lambda s: "已暂停" in s.messages(CHAT)[-1].text, timeout=10)
        paused = store.get_subscription(sub_id)
        assert paused is not None and not paused.active  # kept, not deleted
        assert last.raw_text == fake_api.message(CHAT, last.message_id).raw_text  # the digest is untouched
        clock.set("2024-03-05T08:00:30+08:00")
        await settle(app)
        assert len(digests(fake_api)) == 1  # paused: nothing sent

        resume = fake_api.messages(CHAT)[-1]
        assert [b["text"] for b in resume.buttons] == ["恢复"]
        await _press(fake_api, resume, resume.buttons[0]["callback_data"])
        await fake_api.wait_for_async(lambda s: "已恢复" in s.messages(CHAT)[-1].text, timeout=10)
        assert store.get_subscription(sub_id).active
        clock.set("2024-03-06T08:00:30+08:00")
        await settle(app)
        assert len(digests(fake_api)) == 2

        await _press(fake_api, last, labels["退订"]["callback_data"])
        await fake_api.wait_for_async(lambda s: "已退订" in s.messages(CHAT)[-1].text, timeout=10)
        assert store.list_subscriptions(CHAT) == []
        for forged in ("dg|p|999999", "dg|z|1", "dg|p|-1"):
            await _press(fake_api, last, forged)  # answered with a toast, nothing else happens


async def test_digest_command_previews_the_next_scheduled_digest(fake_api, bot, clock):  # noqa: F811
    clock.set("2024-03-04T07:00:00+08:00")
    async with bot() as app:
        await say(fake_api, "/subscribe daily 08:00 双减")
        clock.set("2024-03-04T08:00:30+08:00")
        await settle(app)
        clock.set("2024-03-05T07:30:00+08:00")
        before = len(fake_api.messages(CHAT))
        await say(fake_api, "/digest")
        await fake_api.wait_for_async(lambda s: len(s.messages(CHAT)) >= before + 2, timeout=10)
        preview = fake_api.messages(CHAT)[before:]
        assert "下一次定时简报预览" in preview[0].text
        clock.set("2024-03-05T08:00:30+08:00")
        await settle(app)
        sent = digests(fake_api)[-1]
        assert sent.raw_text.split("\n", 1)[1] == preview[-1].raw_text.split("\n", 1)[1]  # same but the date
        assert [b["text"] for b in sent.buttons] == [b["text"] for b in preview[-1].buttons]

        before = len(fake_api.messages(CHAT))
        await say(fake_api, "/digest all")
        await fake_api.wait_for_async(lambda s: len(s.messages(CHAT)) > before, timeout=10)
        overview = "\n".join(m.text for m in fake_api.messages(CHAT)[before:])
        assert "全部规划" in overview


async def test_topic_no_plan_mentions_is_an_alert_and_stays_silent(fake_api, bot, clock):  # noqa: F811
    clock.set("2024-03-04T07:00:00+08:00")
    async with bot() as app:
        reply = await say(fake_api, "/subscribe daily 08:00 火星")
        assert "已订阅" in reply.text and "还没有规划提到「火星」" in reply.text
        for day in ("2024-03-04", "2024-03-05"):
            clock.set(f"{day}T08:00:30+08:00")
            await settle(app)
        assert digests(fake_api) == []
        corrected = await say(fake_api, "/subscribe daily 09:00 双剑")
        assert "按「双减」订阅" in corrected.text


def test_topic_scope_is_the_plans_that_answer_it(shared_corpus, shared_engine):
    search = lambda q, pid: shared_engine.search(q, plan_id=pid, limit=2).hits  # noqa: E731
    scope = shared_engine.plans_matching("攀登计划")
    holding = {p.plan_id for p in shared_corpus.plans if any("攀登计划" in x.norm for x in p.passages)}
    assert scope == holding and len(holding) == 2
    digest = build_digest(shared_corpus, topic="攀登计划", search=search, topic_plans=scope)
    assert set(digest.scope_ids) == holding
    assert build_digest(shared_corpus, topic="火星", search=search,
                        topic_plans=shared_engine.plans_matching("火星")).plans == []
