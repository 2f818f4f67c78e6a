"""Watched sources through the running bot on the fake Bot API: /watch, the check job, one proposal
message per editor per round with the preview card, 收录 making the plan searchable at once, /sources,
/unwatch, and non-editors refused."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest

from bot.config import load_settings
from bot.corpus.loader import load_corpus, read_manifest
from bot.search.engine import SearchEngine
from bot.service.app import build_application
from handlers import editor, sources
from tests.support.botapi import polling
from tests.support.portal import Portal, list_page, plan_page
from tests.test_editor_desk import EDITOR, READER, UNIQUE, press, say
from tests.test_sources_watch import ADMISSIONS, BASELINE, LIST, PLAN_ITEM, _day2

OTHER_EDITOR = 99


@pytest.fixture
def watching_bot(fake_api, seeds, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANBRIEF_WATCH_TICK", "0.3")
    monkeypatch.setenv("PLANBRIEF_WATCH_HOST_SPACING", "0.05")
    settings = load_settings({"TELEGRAM_BOT_TOKEN": fake_api.token, "TELEGRAM_API_URL": fake_api.root_url,
                              "PLANBRIEF_DATA_DIR": str(tmp_path / "data"), "PLANBRIEF_THROTTLE_BURST": "0",
                              "PLANBRIEF_EDITORS": f"{EDITOR}, {OTHER_EDITOR}", "PLANBRIEF_RELOAD_SECONDS": "0.5",
                              "PLANBRIEF_ALLOW_PRIVATE_URLS": "1"})

    @contextlib.asynccontextmanager
    async def running():
        corpus = load_corpus(seeds)
        engine = SearchEngine.from_corpus(corpus, settings.cache_dir)
        app = build_application(settings, corpus=corpus, engine=engine)
        await app.initialize()
        await app.post_init(app)
        async with polling(app):
            yield app

    return running


@pytest.fixture
def portal():
    with Portal() as site:
        site.put(LIST, list_page(BASELINE))
        for href, title, date in BASELINE:
            site.put(href, plan_page(title, "各县（市、区）教育局：\n" + title + "。特此通知。", date))
        yield site


def _proposals(server, user):
    return [m for m in server.messages(user) if "新规划待审" in (m.text or "")]


async def test_watch_job_proposes_once_per_editor_and_publish_makes_it_searchable(fake_api, watching_bot,
                                                                                   portal, seeds):
    async with watching_bot() as app:
        added = await say(fake_api, EDITOR, f"/watch {portal.url(LIST)} 南通")
        assert "已关注 #1" in added.text and "南通市" in added.text
        store = app.bot_data[sources.WATCHER].store
        # day 1: the baseline recorded. Not merely the list fetched: the round writes the next check
        # time after reading the page (in a niced child, slow on a loaded machine), over ours below
        await fake_api.wait_for_async(lambda s: store.get_source(1).last_status == "baseline", timeout=60)
        _day2(portal)
        portal.put(LIST, list_page([PLAN_ITEM, ADMISSIONS, *BASELINE]))
        store.update_source(1, next_check_at=datetime.now(UTC))  # the 6 h interval has passed
        await fake_api.wait_for_async(lambda s: _proposals(s, EDITOR) and _proposals(s, OTHER_EDITOR), timeout=90)
        store.update_source(1, next_check_at=datetime.now(UTC))  # and another round: nothing new to say
        await fake_api.wait_for_async(lambda s: len(portal.hits_for(LIST)) >= 3, timeout=60)
        (message,) = _proposals(fake_api, EDITOR)  # one message, not one per candidate or per round
        assert len(_proposals(fake_api, OTHER_EDITOR)) == 1
        assert PLAN_ITEM[1] in message.text and "预览" in message.text and "南通市" in message.text
        assert ADMISSIONS[1] not in message.text and "来源 #1" in message.text
        assert [b["text"] for b in message.buttons] == ["收录 ①", "取消 ①"]

        # /fix on the proposal re-reads that candidate with the correction: a new card, its own buttons.
        # This worker's memory of the message is dropped first, as after a restart or on another serve
        # worker: what /fix corrects is read back from the shared state
        app.bot_data.pop(sources.LAST_CANDIDATES)
        app.bot_data.pop(editor.DRAFTS)
        assert "用法" in (await say(fake_api, EDITOR, "/fix ⑤ title 另一个标题")).text  # no ⑤ in that message
        fixed = await say(fake_api, EDITOR, "/fix title 南通市教育局2024年工作要点<修订>")
        assert "南通市教育局2024年工作要点<修订>" in fixed.text  # escaped: the fake API parses the HTML
        assert "来源 #1" in fixed.text and [b["text"] for b in fixed.buttons] == ["收录 ①", "取消 ①"]
        await press(fake_api, EDITOR, fixed, "收录 ①", changes=False)
        await fake_api.wait_for_async(lambda s: "已收录" in (s.messages(EDITOR)[-1].text or ""), timeout=30)
        assert any(e["city"] == "南通市" and e["year"] == 2024 and e["title"] == "南通市教育局2024年工作要点<修订>"
                   for e in read_manifest(seeds))
        answer = await say(fake_api, EDITOR, f"/topic {UNIQUE}")
        assert UNIQUE in answer.text and "南通" in answer.text

        await press(fake_api, OTHER_EDITOR, _proposals(fake_api, OTHER_EDITOR)[0], "收录 ①", changes=False)
        await fake_api.wait_for_async(lambda s: "未能处理" in (s.messages(OTHER_EDITOR)[-1].text or ""), timeout=30)
        assert sum(e["city"] == "南通市" for e in read_manifest(seeds)) == 1  # the second press published nothing

        listing = await say(fake_api, EDITOR, "/sources")
        assert "#1" in listing.text and "已收录 1" in listing.text and "南通市" in listing.text
        gone = await say(fake_api, EDITOR, "/unwatch 1")
        assert "已取消关注 #1" in gone.text
        assert "还没有关注" in (await say(fake_api, EDITOR, "/sources")).text


async def test_non_editors_cannot_watch_or_press(fake_api, watching_bot, portal):
    async with watching_bot():
        reply = await say(fake_api, READER, f"/watch {portal.url(LIST)} 南通")
        assert "只有编辑" in reply.text
        reply = await say(fake_api, READER, "/sources")
        assert "只有编辑" in reply.text
        usage = await say(fake_api, EDITOR, "/watch")
        assert "用法" in usage.text
        bad = await say(fake_api, EDITOR, "/watch ftp://x.example <b>南通</b>")
        assert "未能关注" in bad.text and "<b>" not in bad.text
        forged = fake_api.callback(READER, READER, 1, "sw|p|1")
        await fake_api.wait_for_async(lambda s: any(a.callback_query_id == forged["callback_query"]["id"]
                                                    for a in s.callback_answers()), timeout=20)
        assert "只有编辑" in (fake_api.callback_answers()[-1].text or "")
    assert fake_api.rejected_count == 0


async def test_daily_report_goes_to_the_editors_who_asked(fake_api, watching_bot, portal):
    async with watching_bot() as app:
        await say(fake_api, EDITOR, f"/watch {portal.url(LIST)} 南通")
        on = await say(fake_api, EDITOR, "/sources daily")
        assert "每天 09:00" in on.text
        app.job_queue.run_once(sources.daily_report_job, 0)
        await fake_api.wait_for_async(lambda s: "📋" in (s.messages(EDITOR)[-1].text or ""), timeout=20)
        report = fake_api.messages(EDITOR)[-1].text
        assert "#1" in report and "南通市" in report and "已见" in report
        assert not any("📋" in (m.text or "") for m in fake_api.messages(OTHER_EDITOR))
        off = await say(fake_api, EDITOR, "/sources off")
        assert "已取消" in off.text
