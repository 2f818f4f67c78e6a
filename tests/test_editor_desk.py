"""The editor's desk end to end: files and links become preview cards, 收录 publishes, the running bot
answers from the new plan at once; non-editors are refused and nothing of theirs is written.

A real Application (post_init included, so the Library and its reload job exist) polls the fake Bot
API server, which now also serves getFile and file downloads like Telegram does for bots.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path

import docx
import pytest

from bot.config import load_settings
from bot.corpus.loader import load_corpus, read_manifest
from bot.search.engine import SearchEngine
from bot.service.app import build_application
from tests.support.botapi import polling
from tests.support.folders import folder_bytes
from tests.test_add_and_cli import PLAN_TEXT

EDITOR = 8101
READER = 8102
ROOT = Path(__file__).resolve().parent.parent
UNIQUE = "建设青少年航天科普基地"  # a phrase no seed contains, so /topic proves the new plan is served


def plan_text(city: str = "南通", extra: str = UNIQUE) -> str:
    return PLAN_TEXT.replace("常州", city).replace("打造一批思政课示范课堂", f"打造一批思政课示范课堂，{extra}")


def docx_bytes(text: str) -> bytes:
    document = docx.Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@pytest.fixture
def desk(fake_api, seeds, tmp_path):
    """`async with desk() as app`: a bot serving the temp seeds, with EDITOR as its only editor."""
    import contextlib

    settings = load_settings({"TELEGRAM_BOT_TOKEN": fake_api.token, "TELEGRAM_API_URL": fake_api.root_url,
                              "PLANBRIEF_DATA_DIR": str(tmp_path / "data"), "PLANBRIEF_THROTTLE_BURST": "0",
                              "PLANBRIEF_EDITORS": f"{EDITOR}, 99", "PLANBRIEF_RELOAD_SECONDS": "0.5",
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


def snapshot(seeds: Path) -> dict[str, bytes]:
    return folder_bytes(seeds, skip=(".manifest.lock",))


async def send_file(server, user: int, name: str, data: bytes, lang: str = "zh-hans"):
    before = len(server.messages(user))
    server.user_document(user, user, name, data, language_code=lang)
    await server.wait_for_async(lambda s: len(s.messages(user)) > before, timeout=20)
    return server.messages(user)[-1]


async def say(server, user: int, text: str):
    before = len(server.messages(user))
    server.user_message(user, user, text)
    await server.wait_for_async(lambda s: len(s.messages(user)) > before, timeout=20)
    return server.messages(user)[-1]


async def press(server, user: int, message, label: str, *, as_user: int | None = None, changes: bool = True):
    """Press a button; wait for the answer and, when `changes`, for the card to be edited."""
    button = next(b for b in message.buttons if b["text"] == label)
    calls, old = len(server.callback_answers()), server.message(user, message.message_id).text
    server.callback(user, as_user or user, message.message_id, button["callback_data"])
    await server.wait_for_async(lambda s: len(s.callback_answers()) > calls, timeout=20)
    if changes:
        await server.wait_for_async(lambda s: s.message(user, message.message_id).text != old, timeout=30)
    return server.message(user, message.message_id)


async def test_editor_publishes_docx_and_topic_finds_it_at_once(fake_api, desk, seeds):
    async with desk():
        card = await send_file(fake_api, EDITOR, "南通2024要点.docx", docx_bytes(plan_text()))
        assert "预览" in card.text and "南通市" in card.text and "江苏省" in card.text
        assert "2024" in card.text and "段落" in card.text and "坚持立德树人" in card.text
        assert [b["text"] for b in card.buttons] == ["收录", "取消"]
        assert fake_api.calls("getFile")
        done = await press(fake_api, EDITOR, card, "收录")
        assert "已收录" in done.text
        assert any("南通" in e["city"] for e in read_manifest(seeds))
        answer = await say(fake_api, EDITOR, f"/topic {UNIQUE}")
        assert UNIQUE in answer.text and "南通" in answer.text
        plans = await say(fake_api, EDITOR, "/city 南通")
        assert "南通" in plans.text and "暂无" not in plans.text
    assert fake_api.rejected_count == 0


async def test_publish_and_removal_change_the_running_bot_by_that_plan_alone(fake_api, desk, seeds, monkeypatch):
    """收录 and 撤下 apply one plan to the live corpus and index (bot.search.library): no corpus load."""
    import bot.search.library as live
    from handlers.common import LIBRARY

    loads = []
    real = live.load_corpus
    monkeypatch.setattr(live, "load_corpus", lambda *a, **k: loads.append(a) or real(*a, **k))
    async with desk() as app:
        library = app.bot_data[LIBRARY]
        before = library.current.corpus
        card = await send_file(fake_api, EDITOR, "plan.txt", plan_text("南通").encode())
        await press(fake_api, EDITOR, card, "收录")
        plan_id = next(e["plan_id"] for e in read_manifest(seeds) if e["city"] == "南通市")
        assert [p.plan_id for p in library.current.added] == [plan_id]
        kept = [p for p in library.current.corpus.plans if p.plan_id != plan_id]
        assert all(p is before.plan(p.plan_id) for p in kept)  # the other plans by reference
        assert "南通" in (await say(fake_api, EDITOR, f"/topic {UNIQUE}")).text
        confirm = await say(fake_api, EDITOR, f"/remove {plan_id}")
        await press(fake_api, EDITOR, confirm, "撤下")
        assert library.current.removed == (plan_id,)
        assert "南通" not in (await say(fake_api, EDITOR, f"/topic {UNIQUE}")).text
    assert loads == []


async def test_non_editor_file_is_refused_and_nothing_written(fake_api, desk, seeds, tmp_path):
    before = snapshot(seeds)
    async with desk():
        reply = await send_file(fake_api, READER, "plan.docx", docx_bytes(plan_text()))
        assert "只有编辑" in reply.text
        reply = await send_file(fake_api, READER, "plan.txt", b"x" * 100, lang="en")
        assert "only editors" in reply.text
        reply = await say(fake_api, READER, "/remove wuxi-2023-conference")
        assert "只有编辑" in reply.text
    assert not fake_api.calls("getFile") and not fake_api.calls("file")
    assert snapshot(seeds) == before
    drafts = tmp_path / "data" / "drafts"
    assert not drafts.exists() or not list(drafts.iterdir())


async def test_forged_publish_press_from_non_editor_does_nothing(fake_api, desk, seeds):
    async with desk():
        card = await send_file(fake_api, EDITOR, "plan.docx", docx_bytes(plan_text("扬州")))
        before = snapshot(seeds)
        await press(fake_api, EDITOR, card, "收录", as_user=READER, changes=False)
        assert snapshot(seeds) == before
        assert "只有编辑" in (fake_api.callback_answers()[-1].text or "")
        forged = fake_api.callback(EDITOR, EDITOR, card.message_id, "ed|p|AAAAAAAA")  # unknown draft
        await fake_api.wait_for_async(lambda s: any(a.callback_query_id == forged["callback_query"]["id"]
                                                    for a in s.callback_answers()), timeout=20)
        assert snapshot(seeds) == before


async def test_corrupt_file_gets_a_reason_and_corpus_unchanged(fake_api, desk, seeds):
    before = snapshot(seeds)
    async with desk():
        reply = await send_file(fake_api, EDITOR, "broken.docx", b"this is not a zip file")
        assert "未能收录" in reply.text and "无法读取" in reply.text
        reply = await send_file(fake_api, EDITOR, "photo.png", b"\x89PNG")
        assert "不支持的文件类型" in reply.text
    assert snapshot(seeds) == before


async def test_fix_cancel_duplicate_and_remove(fake_api, desk, seeds):
    async with desk():
        card = await send_file(fake_api, EDITOR, "plan.txt", plan_text("镇江").encode())
        fixed = await say(fake_api, EDITOR, "/fix city 泰州市")
        assert "泰州市" in fixed.text and "预览" in fixed.text
        cancelled = await press(fake_api, EDITOR, card, "取消")
        assert "已取消" in cancelled.text
        assert not any(e["city"] == "泰州市" for e in read_manifest(seeds))
        seed_text = (seeds / read_manifest(seeds)[0]["file"]).read_bytes()
        duplicate = await send_file(fake_api, EDITOR, "again.txt", seed_text)
        assert read_manifest(seeds)[0]["plan_id"] in duplicate.text and "已在语料中" in duplicate.text
        confirm = await say(fake_api, EDITOR, "/remove suzhou-2023-workpoints")
        removed = await press(fake_api, EDITOR, confirm, "撤下")
        assert "已撤下" in removed.text
        listing = await say(fake_api, EDITOR, "/plans")
        assert "suzhou-2023" not in listing.text and "苏州" not in listing.text
    assert "suzhou-2023-workpoints" not in {e["plan_id"] for e in read_manifest(seeds)}


async def test_link_from_editor_is_fetched_and_previewed(fake_api, desk, seeds):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    page = ("<html><body>" + "".join(f"<p>{line}</p>" for line in plan_text("盐城").splitlines())
            + "</body></html>").encode()

    class Site(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        async with desk():
            card = await say(fake_api, EDITOR, f"http://127.0.0.1:{server.server_address[1]}/plan.html")
            assert "预览" in card.text and "盐城市" in card.text
    finally:
        server.shutdown()


async def test_plan_added_by_cli_is_served_within_seconds(fake_api, desk, seeds, tmp_path):
    src = tmp_path / "cli.txt"
    src.write_text(plan_text("淮安", "建设淮安运河研学实践基地"), encoding="utf-8")
    async with desk():
        done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "bot", "--seeds", str(seeds),
                                                         "add", str(src)], capture_output=True, cwd=ROOT,
                                       timeout=120)
        assert done.returncode == 0, done.stderr
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            answer = await say(fake_api, EDITOR, "/topic 运河研学实践基地")
            if "淮安" in answer.text or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.5)
        assert "淮安" in answer.text


async def test_published_plan_leads_the_next_digest_in_scope_only(fake_api, desk, seeds):
    """A plan published from Telegram is news for subscriptions whose place covers it, and only those."""
    from datetime import UTC, datetime, timedelta

    from bot.telegram.digest_jobs import run_once

    jiangsu, hubei = 8201, 8202
    day1 = datetime(2024, 3, 4, 0, 0, 30, tzinfo=UTC)  # Monday 08:00:30 in Shanghai
    now = {"t": day1 - timedelta(hours=1)}
    async with desk() as app:
        app.bot_data["clock"] = lambda: now["t"]
        for chat, place in ((jiangsu, "江苏"), (hubei, "随州")):
            await say(fake_api, chat, f"/subscribe daily 08:00 {place}")
        now["t"] = day1
        await run_once(app, startup=False, wait=True)
        before = {chat: len(fake_api.messages(chat)) for chat in (jiangsu, hubei)}
        card = await send_file(fake_api, EDITOR, "南通.docx", docx_bytes(plan_text()))
        await press(fake_api, EDITOR, card, "收录")
        now["t"] = day1 + timedelta(days=1)
        await run_once(app, startup=False, wait=True)
        news = "\n".join(m.text for m in fake_api.messages(jiangsu)[before[jiangsu]:])
        other = "\n".join(m.text for m in fake_api.messages(hubei)[before[hubei]:])
    assert "🆕" in news and "南通" in news, news
    assert news.index("🆕") < news.index("聚焦") if "聚焦" in news else True, news
    assert other and "南通" not in other and "🆕" not in other
    assert fake_api.duplicates() == {}


async def test_editor_publishes_a_pdf(fake_api, desk, seeds, tmp_path):
    from tests.test_formats import write_pdf

    pdf = tmp_path / "扬州.pdf"
    write_pdf(pdf)
    async with desk():
        card = await send_file(fake_api, EDITOR, pdf.name, pdf.read_bytes())
        assert "预览" in card.text and "扬州市" in card.text and "坚持立德树人" in card.text
        assert "扬州市教育局文件" not in card.text and "— 1 —" not in card.text  # running lines are gone
        done = await press(fake_api, EDITOR, card, "收录")
        assert "已收录" in done.text
        listing = await say(fake_api, EDITOR, "/city 扬州")
        assert "扬州市教育局2024年工作要点" in listing.text


def test_old_draft_files_are_swept_and_fresh_ones_kept(tmp_path):
    import os
    import time

    from handlers.editor import sweep_old_drafts

    old, fresh = tmp_path / "old.docx", tmp_path / "fresh.docx"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    sweep_old_drafts(tmp_path)
    assert not old.exists() and fresh.exists()


async def test_second_remove_press_says_why_in_removal_words(fake_api, desk, seeds):
    async with desk():
        confirm = await say(fake_api, EDITOR, "/remove suzhou-2023-workpoints")
        data = next(b for b in confirm.buttons if b["text"] == "撤下")["callback_data"]
        first = await press(fake_api, EDITOR, confirm, "撤下")
        assert "已撤下" in first.text
        before = len(fake_api.messages(EDITOR))
        fake_api.callback(EDITOR, EDITOR, confirm.message_id, data)  # a second press of the old button
        await fake_api.wait_for_async(lambda s: len(s.messages(EDITOR)) > before, timeout=20)
        second = fake_api.messages(EDITOR)[-1].text
    assert "未能撤下" in second and "已不在语料中" in second and "未能收录" not in second
    assert len(second) < 200


async def test_hostile_files_are_one_line_and_readers_are_answered_meanwhile(fake_api, desk, seeds, tmp_path,
                                                                            monkeypatch):
    """Two editors send files that never finish parsing; the reader who asks after them is answered
    before either is stopped, and each editor gets one line saying why."""
    from tests.support import hostile

    monkeypatch.setenv("PLANBRIEF_SANDBOX_SECONDS", "3")
    cycle = hostile.cycle_pdf(tmp_path / "cycle.pdf").read_bytes()
    async with desk():
        for editor in (EDITOR, 99):
            fake_api.user_document(editor, editor, "cycle.pdf", cycle)
        await asyncio.sleep(0.3)
        answer = await say(fake_api, 4242, "/topic 双减")
        assert "「双减」" in answer.text
        assert not fake_api.messages(EDITOR) and not fake_api.messages(99)  # still being read
        await fake_api.wait_for_async(lambda s: s.messages(EDITOR) and s.messages(99), timeout=30)
    for editor in (EDITOR, 99):
        [line] = [m.text for m in fake_api.messages(editor)]
        assert line.startswith("未能收录：读取超时") and "cycle.pdf" in line and "\n" not in line
