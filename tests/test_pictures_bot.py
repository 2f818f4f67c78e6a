"""End to end through the fake Bot API: pictures, the briefing document and 导出 reach the chat that
asked, and only it; a group gets them only when the command is addressed to this bot."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.config import load_settings
from bot.service.app import build_application
from tests.support.botapi import DEFAULT_BOT_USERNAME, BotApiServer
from tests.test_bot_e2e import BotThread, new_id, say, wait_idle


@pytest.fixture(scope="module")
def api():
    with BotApiServer() as server:
        yield server


@pytest.fixture(scope="module")
def app(api, shared_corpus, shared_engine, tmp_path_factory):
    env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.root_url,
           "PLANBRIEF_DATA_DIR": str(tmp_path_factory.mktemp("data")), "PLANBRIEF_THROTTLE_BURST": "0"}
    application = build_application(load_settings(env), corpus=shared_corpus, engine=shared_engine)
    with BotThread(application):
        yield application


@pytest.fixture(autouse=True)
def no_errors(app, api):
    app.bot_data.setdefault("errors", []).clear()
    api.reset_records()
    yield
    assert app.bot_data.get("errors") == []
    assert api.rejected_calls() == []


def media_calls(api, method: str) -> list:
    return [c for c in api.calls() if c.method == method and c.ok]


def png_of(message) -> Image.Image:
    image = Image.open(io.BytesIO(message.upload))
    image.load()
    return image


def test_compare_sends_the_answer_then_the_picture_to_that_chat_only(api, app):
    chat, bystander = new_id(), new_id()
    say(api, "/help", chat_id=bystander)
    text, photo = say(api, "/compare 双减 江苏", chat_id=chat, count=2, media=True)
    assert text.media is None and "双减" in text.text
    assert photo.media and "photo" in photo.media and png_of(photo).width == 1080
    assert "江苏" in photo.text  # the caption names the scope
    assert {c.params["chat_id"] for c in media_calls(api, "sendPhoto")} == {chat}
    assert len(api.messages(bystander)) == 1  # only its own /help answer


def test_export_button_sends_an_xlsx_of_the_answer(api, app):
    from openpyxl import load_workbook

    chat = new_id()
    text, _photo = say(api, "/compare 双减 江苏", chat_id=chat, count=2, media=True)
    (export,) = [b for b in text.buttons if "导出" in b["text"]]
    api.callback(chat, chat, text.message_id, export["callback_data"])
    api.wait_for(lambda s: any(m.media and "document" in m.media for m in s.messages(chat)), what="xlsx")
    doc = [m for m in api.messages(chat) if m.media and "document" in m.media][-1]
    assert doc.media["document"]["file_name"].endswith(".xlsx")
    rows = list(load_workbook(io.BytesIO(doc.upload)).active.values)
    assert rows[0] == ("地区", "规划", "章节", "摘录", "链接") and len(rows) >= 2
    assert {c.params["chat_id"] for c in media_calls(api, "sendDocument")} == {chat}


def test_topic_answer_exports_too(api, app):
    from openpyxl import load_workbook

    chat = new_id()
    (answer,) = say(api, "/topic 双减", chat_id=chat)
    (export,) = [b for b in answer.buttons if "导出" in b["text"]]
    api.callback(chat, chat, answer.message_id, export["callback_data"])
    api.wait_for(lambda s: any(m.media for m in s.messages(chat)), what="topic xlsx")
    doc = [m for m in api.messages(chat) if m.media][-1]
    rows = list(load_workbook(io.BytesIO(doc.upload)).active.values)
    assert len(rows) > 5 and all(r[1] and "《" in r[1] for r in rows[1:])


def test_forged_or_forgotten_export_sends_nothing(api, app):
    chat = new_id()
    (answer,) = say(api, "/help", chat_id=chat)
    for data in ("xc|000000000000", "xt|zz", "xc|" + "a" * 60):
        api.callback(chat, chat, answer.message_id, data)
    wait_idle(api, chat, chat)
    assert not media_calls(api, "sendDocument")


def test_brief_sends_a_word_document(api, app):
    from docx import Document

    chat = new_id()
    (doc,) = say(api, "/brief 双减 江苏", chat_id=chat, media=True)
    assert doc.media and doc.media["document"]["file_name"].endswith(".docx")
    assert "简报" in doc.text and "江苏" in doc.text
    document = Document(io.BytesIO(doc.upload))
    assert document.paragraphs[0].text == "「双减」工作简报"
    assert len(document.inline_shapes) == 1


def test_brief_and_themes_bad_input_get_a_short_answer(api, app):
    chat = new_id()
    (usage,) = say(api, "/brief", chat_id=chat)
    assert "/brief 双减" in usage.text and usage.media is None
    (unknown,) = say(api, "/themes 火星", chat_id=chat)
    assert "火星" in unknown.text and unknown.media is None


def test_themes_sends_a_picture_with_the_shared_themes_line(api, app):
    chat = new_id()
    (photo,) = say(api, "/themes 江苏", chat_id=chat, media=True)
    assert photo.media and png_of(photo).width == 1080
    assert photo.text.startswith("🔗 共同主题 · 江苏：")


def test_city_with_several_years_adds_the_year_over_year_picture(api, app):
    chat = new_id()
    api.user_message(chat, chat, "/city 无锡", language_code="zh-hans")
    api.wait_for(lambda s: any(m.media for m in s.messages(chat)), what="year-over-year picture")
    (photo,) = [m for m in api.messages(chat) if m.media]
    assert "2020 → 2023" in photo.text and png_of(photo).width == 1080
    assert api.messages(chat)[-1] is not None and api.messages(chat)[0].media is None  # text first


def test_a_group_gets_pictures_only_when_addressed(api, app):
    group, user = -new_id(), new_id()
    api.user_message(group, user, "/compare@otherbot 双减 江苏", chat_type="group")
    api.user_message(group, user, "/brief@otherbot 双减", chat_type="group")
    api.user_message(group, user, "双减 江苏", chat_type="group")
    wait_idle(api, group, user)
    assert not media_calls(api, "sendPhoto") and not media_calls(api, "sendDocument")
    text, photo = say(api, f"/compare@{DEFAULT_BOT_USERNAME} 双减 江苏", chat_id=group, user_id=user,
                      chat_type="group", count=2, media=True)
    assert photo.media and text.media is None
    (doc,) = say(api, f"/brief@{DEFAULT_BOT_USERNAME} 双减", chat_id=group, user_id=user, chat_type="group",
                 media=True)
    assert doc.media and "document" in doc.media
    assert {c.params["chat_id"] for c in media_calls(api, "sendPhoto") + media_calls(api, "sendDocument")} == {group}


async def test_shutting_down_waits_for_the_picture_warm_up(api, shared_corpus, shared_engine, tmp_path):
    """The warm-up runs matplotlib's C++ in a thread: left running while the interpreter finalizes, it
    aborts the process at exit, so closing the application stops it and waits for it."""
    from bot.service.app import WARM_THREADS, warm_pictures

    env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.root_url,
           "PLANBRIEF_DATA_DIR": str(tmp_path), "PLANBRIEF_THROTTLE_BURST": "0"}
    application = build_application(load_settings(env), corpus=shared_corpus, engine=shared_engine)
    async with application:
        warm_pictures(application)
        threads = list(application.bot_data[WARM_THREADS])
    assert threads and not any(thread.is_alive() for thread in threads)
    assert all(not thread.daemon for thread in threads)
