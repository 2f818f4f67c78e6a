"""The fake Bot API is only useful if real PTB accepts its answers and maps its errors
exactly as it would Telegram's, so every test here goes through a real ``telegram.Bot``
or ``Application`` (or raw HTTP for wire-level behaviour), never a mock."""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx
import pytest
from telegram import (
    Bot,
    ChatMemberAdministrator,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter
from telegram.ext import CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

from tests.support.botapi import BotApiServer, WaitTimeout, parse_html, polling

# PTB itself warns whenever it builds a RetryAfter (int -> timedelta migration); not our concern here.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")

CHAT = 4242
USER = 4242
GROUP = -1001234567890


@pytest.fixture
def server():
    with BotApiServer() as srv:
        yield srv
        assert srv.internal_errors == []


@pytest.fixture
async def bot(server):
    request = HTTPXRequest(connection_pool_size=16, pool_timeout=10)
    async with server.make_bot(request=request) as b:
        yield b


def keyboard(*buttons: InlineKeyboardButton) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([list(buttons)])


@contextlib.asynccontextmanager
async def running_app(server: BotApiServer, *handlers):
    app = server.application_builder().build()
    for handler in handlers:
        app.add_handler(handler)
    async with polling(app, timeout=5):
        yield app


# --------------------------------------------------------------------------- basics


async def test_get_me_and_root_url(server, bot):
    me = await bot.get_me()
    assert me.id == server.bot_id
    assert me.username == "planbrief_test_bot"
    assert server.root_url.startswith("http://127.0.0.1:")
    assert [c.method for c in server.calls()][-1] == "getMe"


async def test_application_command_roundtrip_private_and_group(server):
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        lang = update.effective_user.language_code
        await update.effective_message.reply_text(f"<b>欢迎</b> {lang}", parse_mode=ParseMode.HTML)

    async with running_app(server, CommandHandler("start", start)):
        server.user_message(CHAT, USER, "/start")
        msg = await server.wait_for_message_async(CHAT, "欢迎")
        server.user_message(GROUP, USER, "/start@planbrief_test_bot hi", chat_type="supergroup")
        group_msg = await server.wait_for_message_async(GROUP)

    assert msg.text == "欢迎 zh-hans"
    assert msg.raw_text == "<b>欢迎</b> zh-hans"
    assert msg.entities == [{"type": "bold", "offset": 0, "length": 2}]
    assert msg.message_id == 2  # the user's /start took id 1 in the same chat
    assert group_msg.chat["type"] == "supergroup"
    assert server.rejected_count == 0
    assert server.pending_updates() == 0


async def test_injected_updates_deserialize_in_ptb(server, bot):
    sent = await bot.send_message(
        CHAT, "hi", reply_markup=keyboard(InlineKeyboardButton("a", callback_data="x"))
    )
    updates = [
        server.user_message(CHAT, USER, "请看 /brief@planbrief_test_bot 和 @someone", username="alice"),
        server.callback(CHAT, USER, sent.message_id, "x"),
        server.callback(CHAT, USER, 999, "gone"),
        server.inline_query(USER, "江苏 教育"),
        server.chosen_inline_result(USER, "r1", "江苏"),
        server.my_chat_member(GROUP, USER, "left", "member", chat_type="supergroup"),
    ]
    parsed = [Update.de_json(u, bot) for u in updates]
    msg = parsed[0].message
    assert msg.parse_entities(["bot_command"]).popitem()[1] == "/brief@planbrief_test_bot"
    assert list(msg.parse_entities(["mention"]).values()) == ["@someone"]
    assert parsed[1].callback_query.message.text == "hi"
    assert parsed[2].callback_query.message.date.timestamp() == 0  # inaccessible message
    assert parsed[3].inline_query.from_user.language_code == "zh-hans"
    assert parsed[4].chosen_inline_result.result_id == "r1"
    assert parsed[5].my_chat_member.new_chat_member.status == "member"


async def test_long_poll_returns_early_and_offset_confirms(server):
    async with httpx.AsyncClient(base_url=f"{server.base_url}{server.token}") as client:
        poll = asyncio.create_task(client.post("/getUpdates", data={"timeout": "30"}, timeout=40))
        await server.wait_until_polling_async()
        server.user_message(CHAT, USER, "hello")
        first = (await asyncio.wait_for(poll, 10)).json()["result"]
        assert [u["message"]["text"] for u in first] == ["hello"]
        again = (await client.post("/getUpdates", data={"timeout": "0"})).json()["result"]
        assert again == first  # not confirmed yet
        offset = first[-1]["update_id"] + 1
        confirmed = (await client.post("/getUpdates", json={"offset": offset, "timeout": 0})).json()
        assert confirmed == {"ok": True, "result": []}


async def test_wire_errors_unknown_method_and_bad_token(server):
    async with httpx.AsyncClient() as client:
        resp = await client.post(f"{server.base_url}{server.token}/sendTelepathy")
        assert resp.status_code == 404
        assert resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        resp = await client.post(
            f"{server.base_url}{server.token}/sendMessage", json={"chat_id": CHAT, "text": "j"}
        )
        assert resp.json()["result"]["text"] == "j"  # JSON bodies work too
        resp = await client.post(
            f"{server.base_url}{server.token}/sendMessage",
            data={"chat_id": str(CHAT)},
            files={"text": (None, "multipart")},
        )
        assert resp.json()["result"]["text"] == "multipart"
    wrong = Bot("987654321:wrong-token", base_url=server.base_url, base_file_url=server.base_file_url)
    with pytest.raises(InvalidToken):
        await wrong.get_me()
    assert server.calls()[-1].status == 401


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "text",
    [
        "<b>unclosed",
        "<script>alert(1)</script>",
        "AT&T",
        "1 > 0",
        "a < b",
        "<b><i>x</b></i>",
        "x</b>",
        "<a>no href</a>",
        "<code><b>x</b></code>",
        "&nbsp;",
        '<span class="other">x</span>',
    ],
)
async def test_bad_html_is_rejected(server, bot, text):
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(CHAT, text, parse_mode=ParseMode.HTML)
    call = server.rejected_calls()[-1]
    assert (call.method, call.status) == ("sendMessage", 400)
    assert call.description.startswith("Bad Request: can't parse entities: ")
    assert server.messages(CHAT) == []


def test_good_html_entities_use_utf16_offsets():
    text, entities = parse_html(
        '😀<b>粗&amp;<i>斜</i></b> <a href="https://e.cn/?a=1&amp;b=2">链</a> &lt;&#33;&#x41;&quot;'
        '<pre><code class="language-python">x=1</code></pre><tg-spoiler>s</tg-spoiler>'
        "<blockquote expandable>q</blockquote>"
    )
    assert text == '😀粗&斜 链 <!A"x=1sq'
    assert entities == [
        {"type": "bold", "offset": 2, "length": 3},
        {"type": "italic", "offset": 4, "length": 1},
        {"type": "text_link", "offset": 6, "length": 1, "url": "https://e.cn/?a=1&b=2"},
        {"type": "pre", "offset": 12, "length": 3, "language": "python"},
        {"type": "spoiler", "offset": 15, "length": 1},
        {"type": "expandable_blockquote", "offset": 16, "length": 1},
    ]


async def test_message_length_limits_count_utf16(server, bot):
    await bot.send_message(CHAT, "😀" * 2048)  # 4096 UTF-16 units
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(CHAT, "a" * 4097)
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(CHAT, "😀" * 2049)
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(CHAT, "<b>" + "字" * 4097 + "</b>", parse_mode=ParseMode.HTML)
    await bot.send_message(CHAT, "<b>" + "字" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await bot.send_message(CHAT, "<b> </b>", parse_mode=ParseMode.HTML)
    assert len(server.messages(CHAT)) == 2


async def test_inline_keyboard_limits(server, bot):
    await bot.send_message(
        CHAT, "ok", reply_markup=keyboard(InlineKeyboardButton("a", callback_data="x" * 64))
    )
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        await bot.send_message(
            CHAT, "no", reply_markup=keyboard(InlineKeyboardButton("a", callback_data="x" * 65))
        )
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        # 22 CJK characters are 66 bytes: the limit is in bytes, not characters.
        await bot.send_message(
            CHAT, "no", reply_markup=keyboard(InlineKeyboardButton("a", callback_data="字" * 22))
        )
    with pytest.raises(BadRequest, match="(?i)text buttons are unallowed"):
        await bot.send_message(CHAT, "no", reply_markup=keyboard(InlineKeyboardButton("a")))
    with pytest.raises(BadRequest, match="(?i)exactly one"):
        await bot.send_message(
            CHAT,
            "no",
            reply_markup=keyboard(InlineKeyboardButton("a", callback_data="x", url="https://e.cn")),
        )
    with pytest.raises(BadRequest, match="(?i)button_text_empty"):
        await bot.send_message(CHAT, "no", reply_markup=keyboard(InlineKeyboardButton("", callback_data="x")))
    assert [m.text for m in server.messages(CHAT)] == ["ok"]
    assert len(server.rejected_calls("sendMessage")) == 5


def _articles(n: int, text: str = "<b>结果</b>") -> list[InlineQueryResultArticle]:
    return [
        InlineQueryResultArticle(str(i), f"标题{i}", InputTextMessageContent(text, parse_mode=ParseMode.HTML))
        for i in range(n)
    ]


async def test_answer_inline_query_limits(server, bot):
    qid = server.inline_query(USER, "教育")["inline_query"]["id"]
    with pytest.raises(BadRequest, match="(?i)results_too_much"):
        await bot.answer_inline_query(qid, _articles(51))
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.answer_inline_query(qid, _articles(1, text="<b>broken"))
    with pytest.raises(BadRequest, match="(?i)result_id_duplicate"):
        await bot.answer_inline_query(qid, _articles(2) + _articles(1))
    with pytest.raises(BadRequest, match="(?i)result_id_invalid"):
        await bot.answer_inline_query(
            qid, [InlineQueryResultArticle("x" * 65, "t", InputTextMessageContent("t"))]
        )
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_inline_query("iq-unknown", _articles(1))
    await bot.answer_inline_query(qid, _articles(50), cache_time=0)
    [answer] = server.inline_answers(qid)
    assert answer.query == "教育" and len(answer.results) == 50

    server.chosen_inline_result(USER, "3", "教育", inline_message_id="im-1")
    assert server.inline_message("im-1").text == "结果"
    assert await bot.edit_message_text("新", inline_message_id="im-1") is True
    assert server.inline_message("im-1").text == "新"


async def test_callback_answers_and_edits(server, bot):
    sent = await bot.send_message(
        CHAT, "v1", reply_markup=keyboard(InlineKeyboardButton("更多", callback_data="more"))
    )
    qid = server.callback(CHAT, USER, sent.message_id, "more")["callback_query"]["id"]
    with pytest.raises(BadRequest, match="(?i)message_too_long"):
        await bot.answer_callback_query(qid, text="x" * 201)
    await bot.answer_callback_query(qid, text="好")
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(qid)  # a query can only be answered once
    [answer] = server.callback_answers()
    assert (answer.data, answer.text, answer.message_id) == ("more", "好", sent.message_id)

    markup = keyboard(InlineKeyboardButton("更多", callback_data="more"))
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("v1", chat_id=CHAT, message_id=sent.message_id, reply_markup=markup)
    edited = await bot.edit_message_text(
        "<i>v2</i>", chat_id=CHAT, message_id=sent.message_id, parse_mode="HTML"
    )
    assert edited.text == "v2" and edited.reply_markup is None  # no markup given: keyboard removed
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=CHAT, message_id=999)
    await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=markup)
    assert await bot.delete_message(CHAT, sent.message_id)
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(CHAT, sent.message_id)
    [stored] = server.messages(CHAT, include_deleted=True)
    assert (stored.text, stored.buttons[0]["callback_data"], stored.deleted) == ("v2", "more", True)
    assert len(stored.history) == 2


# --------------------------------------------------------------------------- fault injection


async def test_injected_faults_map_to_ptb_exceptions(server, bot):
    server.flood_chat(1, retry_after=7, times=1)
    server.block_chat(2)
    server.migrate_chat(-3, -1003)
    server.chat_not_found(4)
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(1, "x")
    assert "7" in str(flood.value)
    await bot.send_message(1, "x")  # times=1: the second try goes through
    with pytest.raises(Forbidden, match="(?i)blocked by the user"):
        await bot.send_message(2, "x")
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(-3, "x")
    assert migrated.value.new_chat_id == -1003
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(4, "x")
    assert [c.status for c in server.rejected_calls()] == [429, 403, 400, 400]

    server.bot_removed(5, 5, chat_type="private")
    with pytest.raises(Forbidden):
        await bot.send_message(5, "x")
    server.bot_removed(-6, 5)
    with pytest.raises(Forbidden, match="(?i)kicked"):
        await bot.send_chat_action(-6, "typing")


async def _flood_pattern(seed: int) -> list[bool]:
    with BotApiServer() as srv:
        srv.set_flood(0.3, seed=seed, retry_after=1)
        async with srv.make_bot() as b:
            for i in range(30):
                with contextlib.suppress(RetryAfter):
                    await b.send_message(CHAT, f"m{i}")
        return [c.status == 429 for c in srv.calls("sendMessage")]


async def test_random_flood_is_seeded():
    first, second = await _flood_pattern(7), await _flood_pattern(7)
    assert first == second
    assert 0 < sum(first) < len(first)


async def test_global_rate_cap(server, bot):
    server.set_rate_limit(3, window=60)
    for i in range(3):
        await bot.send_message(CHAT + i, "ok")
    with pytest.raises(RetryAfter):
        await bot.send_message(CHAT, "too many")
    server.set_rate_limit(None)
    await bot.send_message(CHAT, "free again")


# --------------------------------------------------------------------------- admin + misc methods


async def test_chat_members_and_misc_methods(server, bot):
    server.set_chat_admins(GROUP, [11], owner_id=10)
    admins = await bot.get_chat_administrators(GROUP)
    assert [type(a) for a in admins] == [ChatMemberOwner, ChatMemberAdministrator]
    assert (await bot.get_chat_member(GROUP, 11)).status == "administrator"
    assert (await bot.get_chat_member(GROUP, 12)).status == "member"
    with pytest.raises(BadRequest, match="(?i)no administrators"):
        await bot.get_chat_administrators(CHAT)
    assert (await bot.get_chat(GROUP)).type == "supergroup"
    assert await bot.send_chat_action(CHAT, "typing")
    assert await bot.set_my_commands([("brief", "简报"), ("help", "帮助")], language_code="zh")
    assert [c.command for c in await bot.get_my_commands(language_code="zh")] == ["brief", "help"]
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest):
        await bot.set_my_commands([("Bad-Name", "x")])
    assert await bot.delete_my_commands(language_code="zh")
    assert await bot.set_chat_menu_button()
    assert await bot.set_webhook("https://example.invalid/hook")
    assert (await bot.get_webhook_info()).url == "https://example.invalid/hook"
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.log_out() and await bot.close()


async def test_concurrent_sends_get_unique_ids_and_are_recorded(server, bot):
    texts = [f"消息 {i}" for i in range(60)]
    sent = await asyncio.gather(*(bot.send_message(CHAT, t) for t in texts))
    assert sorted(m.message_id for m in sent) == list(range(1, 61))
    assert sorted(server.texts(CHAT)) == sorted(texts)
    assert server.duplicates() == {}
    await bot.send_message(CHAT, texts[0])
    assert server.duplicates() == {(CHAT, texts[0]): 2}
    assert len(server.deliveries()) == 61
    assert server.peak_rate(window=3600) == 61


def test_wait_for_times_out_with_context(server):
    with pytest.raises(WaitTimeout, match="sendMessage"):
        server.wait_for_call("sendMessage", timeout=0.05)


def test_recorded_params_are_decoded(server):
    with httpx.Client() as client:
        markup = {"inline_keyboard": [[{"text": "a", "callback_data": "b"}]]}
        client.post(
            f"{server.base_url}{server.token}/sendMessage",
            data={
                "chat_id": "-5",
                "text": "t",
                "reply_markup": json.dumps(markup),
                "disable_notification": "true",
            },
        )
    call = server.wait_for_call("sendMessage")
    assert call.params == {"chat_id": -5, "text": "t", "reply_markup": markup, "disable_notification": True}
    assert server.last_message(-5).reply_markup == markup
