"""End-to-end: the real Application (built by build_application) polls the fake Bot API server.

One bot runs in a background thread for the whole module, so hypothesis can drive it from ordinary
synchronous tests; every test uses its own chat and user ids, and waits on recorded calls rather
than sleeping. The server rejects whatever Telegram would (bad HTML, > 4096, > 64-byte data), so
"zero rejected calls" is checked after every test.
"""

from __future__ import annotations

import asyncio
import itertools
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import load_settings
from bot.service.app import build_application
from bot.telegram import render
from handlers.throttle import BUCKETS, Throttle
from tests.support.botapi import DEFAULT_BOT_USERNAME, BotApiServer

_ids = itertools.count(10_000)


def new_id() -> int:
    return next(_ids)


class BotThread:
    """The Application on its own event loop, started and stopped like `planbrief run` would."""

    def __init__(self, app) -> None:
        self.app = app
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_event: asyncio.Event | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        try:
            async with self.app:
                await self.app.post_init(self.app)
                await self.app.start()
                await self.app.updater.start_polling(poll_interval=0, timeout=1)
                self.ready.set()
                await self.stop_event.wait()
                await self.app.updater.stop()
                await self.app.stop()
        except BaseException as exc:  # surfaced to the test thread
            self.error = exc
            self.ready.set()

    def __enter__(self) -> BotThread:
        self.thread.start()
        assert self.ready.wait(60), "bot did not start"
        if self.error:
            raise self.error
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(30)


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
def no_errors(request):
    """Every test ends with no handler exceptions and no call Telegram would have rejected."""
    if "app" not in request.fixturenames:
        yield
        return
    application = request.getfixturevalue("app")
    server = request.getfixturevalue("api")
    application.bot_data.setdefault("errors", []).clear()
    server.reset_records()
    yield
    assert application.bot_data.get("errors") == []
    assert server.rejected_calls() == []


def say(api, text, *, chat_id=None, user_id=None, count=1, lang="zh-hans", media=False, **kwargs):
    """Send a user message and return the bot's next `count` messages in that chat.

    Photos and documents (a picture follows some answers) are counted only with `media=True`, so a
    picture arriving late never stands in for the next text answer."""
    chat_id = chat_id or new_id()
    user_id = user_id or chat_id

    def sent(s):
        return [m for m in s.messages(chat_id) if media or m.media is None]

    before = len(sent(api))
    api.user_message(chat_id, user_id, text, language_code=lang, **kwargs)
    api.wait_for(lambda s: len(sent(s)) >= before + count, what=f"reply to {text[:30]!r}")
    return sent(api)[before:]


def wait_idle(api, chat_id, user_id):
    """A marker round trip: once /help is answered, everything sent before it has been handled
    (same user → same update order, and the bot reads updates in order)."""
    return say(api, f"/help@{DEFAULT_BOT_USERNAME}", chat_id=chat_id, user_id=user_id,
               chat_type="private" if chat_id == user_id else "group")


# ----------------------------------------------------------------------------- commands


def test_start_help_and_command_menus(api, app):
    (msg,) = say(api, "/start")
    assert "教育规划简报" in msg.text and "/topic" in msg.text
    (msg,) = say(api, "/help")
    for command in ("/topic", "/city", "/plans", "/plan", "/subscribe", "/digest", "/timezone"):
        assert command in msg.text
    assert f"@{DEFAULT_BOT_USERNAME}" in msg.text
    zh = {c["command"] for c in api.commands()}
    en = api.commands(language_code="en")
    assert {"topic", "city", "plans", "plan", "help", "subscribe", "unsubscribe", "digest"} <= zh
    assert any(c["command"] == "topic" and "topic" in c["description"].lower() for c in en)


def test_deep_links_open_a_topic_a_city_or_a_plan(api, app):
    (msg,) = say(api, "/start " + render.deep_link_payload("topic", "双减"))
    assert "「双减」" in msg.text and "›" in msg.text
    (msg,) = say(api, "/start " + render.deep_link_payload("city", "江阴"))
    assert "jiangyin-2023-speech" in msg.text
    msgs = say(api, "/start " + render.deep_link_payload("plan", "wuxi-2023-conference"))
    assert "树牢五大理念" in msgs[0].text
    (msg,) = say(api, "/start t_%%%")
    assert "失效" in msg.text and "/topic" in msg.text


def test_plans_lists_every_plan(api, app, shared_corpus):
    msgs = say(api, "/plans")
    text = "\n".join(m.text for m in msgs)
    for plan in shared_corpus.plans:
        assert plan.plan_id in text
    assert all(b["callback_data"].startswith("p1|") for b in msgs[-1].buttons)


def test_plan_outline_and_unknown_plan(api, app):
    chat = new_id()
    msgs = say(api, "/plan suizhou-2023-workpoints", chat_id=chat)
    api.wait_for(lambda s: any(m.buttons for m in s.messages(chat)))
    text = "\n".join(m.text for m in api.messages(chat))
    assert "重点任务" in text and "一、坚持和加强党对教育工作的全面领导" in text
    assert api.messages(chat)[-1].buttons[0]["switch_inline_query"] == "suizhou-2023-workpoints"
    (msg,) = say(api, "/plan no-such-plan<b>", chat_id=chat)
    assert "没有这份规划" in msg.text and "no-such-plan<b>" in msg.text and "wuxi-2023-conference" in msg.text
    (msg,) = say(api, "/plan", chat_id=chat)
    assert "/plan" in msg.text
    assert msgs


def test_city_card_covers_counties_and_opens_plans(api, app):
    chat = new_id()
    card, picture = say(api, "/city 无锡", chat_id=chat, count=2, media=True)  # the card, then its picture
    assert picture.media and card.media is None
    for plan_id in ("wuxi-2023-conference", "wuxi-2020-review-plan", "jiangyin-2023-speech"):
        assert plan_id in card.text
    assert "suzhou" not in card.text
    plan_buttons = [b for b in card.buttons if "callback_data" in b]
    assert {b["callback_data"] for b in plan_buttons} >= {"p1|jiangyin-2023-speech"}
    assert any(b.get("switch_inline_query") == "无锡" for b in card.buttons)
    before = len(api.messages(chat))
    api.callback(chat, chat, card.message_id, "p1|jiangyin-2023-speech")
    api.wait_for(lambda s: len(s.messages(chat)) > before and s.messages(chat)[-1].buttons)
    assert "争创在前" in api.messages(chat)[before].text
    assert api.callback_answers()[-1].text is None


def test_city_unknown_and_narrowed(api, app):
    (msg,) = say(api, "/city 火星基地")
    assert "火星基地" in msg.text and "无锡" in msg.text
    (msg,) = say(api, "/city 无锡 双减")
    assert "双减" in msg.text and "随州" not in msg.text
    (msg,) = say(api, "/city")
    assert "/city" in msg.text


def test_topic_has_bold_marks_citations_paging_and_share(api, app):
    (msg,) = say(api, "/topic 双减")
    bold = [msg.text[e["offset"]:e["offset"] + e["length"]] for e in msg.entities if e["type"] == "bold"]
    assert "双减" in bold
    cites = [line for line in msg.text.splitlines() if line.startswith("— ")]
    assert len(cites) >= 3 and "›" in msg.text and " · " in msg.text
    assert all(a != b for a, b in zip(cites, cites[1:], strict=False))  # hits sharing one are merged
    share = [b for b in msg.buttons if "switch_inline_query" in b]
    assert share and share[0]["switch_inline_query"] == "双减"
    assert any(b.get("callback_data", "").startswith("t1|5|") for b in msg.buttons)
    assert all(len(b.get("callback_data", "").encode()) <= 64 for b in msg.buttons)


def test_topic_narrowed_to_a_city(api, app):
    (msg,) = say(api, "/topic 双减 无锡")
    citations = [line for line in msg.text.splitlines() if line.startswith("— ")]
    assert citations
    assert all(line.startswith(("— 无锡", "— 江阴")) for line in citations)
    (msg2,) = say(api, "/topic 无锡 双减")
    assert msg2.text == msg.text


def test_paging_edits_the_message_in_place(api, app):
    chat = new_id()
    (msg,) = say(api, "/topic 双减", chat_id=chat)
    assert "第 1–5 段" in msg.text
    nxt = next(b["callback_data"] for b in msg.buttons if b["text"].startswith("下一页"))
    api.callback(chat, chat, msg.message_id, nxt)
    api.wait_for(lambda s: "第 6–10 段" in s.message(chat, msg.message_id).text, what="page 2")
    page2 = api.message(chat, msg.message_id)
    prev = next(b["callback_data"] for b in page2.buttons if b["text"].startswith("«"))
    api.callback(chat, chat, msg.message_id, prev)
    api.wait_for(lambda s: "第 1–5 段" in s.message(chat, msg.message_id).text, what="page 1 again")
    assert len(api.messages(chat)) == 1  # edited in place, nothing new sent
    api.wait_for(lambda s: len(s.callback_answers()) >= 2)


def test_long_queries_page_through_server_side_keys(api, app):
    chat = new_id()
    query = "推进 " * 20 + "双减"
    (msg,) = say(api, f"/topic {query}", chat_id=chat)
    data = [b["callback_data"] for b in msg.buttons if "callback_data" in b]
    assert data and data[0].startswith("t2|")
    api.callback(chat, chat, msg.message_id, data[0])
    api.wait_for(lambda s: s.message(chat, msg.message_id).history, what="edit")
    api.wait_for(lambda s: any(a.chat_id == chat for a in s.callback_answers()), what="answer")


def test_forged_and_stale_callbacks_get_a_polite_answer(api, app):
    chat = new_id()
    (msg,) = say(api, "/help", chat_id=chat)
    forged = ["garbage", "t1|abc||双减", "t2|0|0123456789ab", "p1|no-such-plan", "t1|5000||x", "", "🙂" * 16]
    for data in forged:
        api.callback(chat, chat, msg.message_id, data)
    mine = lambda s: [a for a in s.callback_answers() if a.chat_id == chat]  # noqa: E731
    api.wait_for(lambda s: len(mine(s)) >= len(forged), what="answers")
    assert all(a.text and "失效" in a.text for a in mine(api)), [(a.data, a.text) for a in mine(api)]
    # a valid page of a message Telegram no longer shows: answered with a fresh message instead
    api.callback(chat, chat, 999_999, "t1|0||双减")
    api.wait_for(lambda s: any("「双减」" in m.text for m in s.messages(chat)))


# ----------------------------------------------------------------------------- inline mode


def test_inline_query_offers_cited_excerpts(api, app):
    update = api.inline_query(new_id(), "双减")
    answer = api.wait_for(lambda s: s.inline_answers(update["inline_query"]["id"]), what="inline")[0]
    assert 1 <= len(answer.results) <= 50
    for r in answer.results:
        assert len(r["id"].encode()) <= 64 and r["title"] and r["description"]
        content = r["input_message_content"]
        assert "— " in content["message_text"] and content.get("parse_mode") == "HTML"
    assert any("<b>双减</b>" in r["input_message_content"]["message_text"] for r in answer.results)


def test_inline_nothing_found_says_so_and_offers_real_terms(api, app):
    """Issue 16: 量子计算 is not searched as anything else; the reader sees 没有找到 and 2–3 policy terms,
    each with an excerpt ready to post."""
    update = api.inline_query(new_id(), "量子计算")
    answer = api.wait_for(lambda s: s.inline_answers(update["inline_query"]["id"]), what="inline")[0]
    assert 2 <= len(answer.results) <= 3
    for r in answer.results:
        assert r["title"].startswith("没有找到「量子计算」· 试试「")
        assert "— " in r["input_message_content"]["message_text"]


def test_topic_nothing_found_names_the_query_and_suggests(api, app):
    (msg,) = say(api, "/topic 量子计算")
    assert "没有找到与「量子计算」相关的内容" in msg.text and "可以试试：" in msg.text
    assert "量自己算" not in msg.text


def test_inline_city_plan_and_empty_queries(api, app):
    user = new_id()
    for query, expect in [("无锡", "无锡市2023年"), ("wuxi-2020-review-plan", "2020年全市教育工作"), ("", "主题")]:
        update = api.inline_query(user, query)
        answer = api.wait_for(lambda s, u=update: s.inline_answers(u["inline_query"]["id"]), what=query)[0]
        assert answer.results and any(expect in r["title"] for r in answer.results), query
    update = api.inline_query(user, "双减")
    answer = api.wait_for(lambda s: s.inline_answers(update["inline_query"]["id"]))[0]
    api.chosen_inline_result(user, answer.results[0]["id"], "双减", inline_message_id="im-1")
    wait_idle(api, user, user)


# ----------------------------------------------------------------------------- groups


def test_group_commands_addressed_to_this_bot_only(api, app):
    group, user = -new_id(), new_id()
    api.user_message(group, user, "/topic@otherbot 双减", chat_type="group")
    api.user_message(group, user, "/weather@otherbot", chat_type="group")
    api.user_message(group, user, "随便聊聊", chat_type="group")
    msgs = say(api, f"/topic@{DEFAULT_BOT_USERNAME} 双减", chat_id=group, user_id=user, chat_type="group")
    assert "「双减」" in msgs[0].text
    wait_idle(api, group, user)
    texts = [m.text for m in api.messages(group)]
    assert len(texts) == 2 and "/topic" in texts[1]  # the topic answer and the marker's help


def test_plain_text_in_private_gets_help_and_a_search_button(api, app):
    chat = new_id()
    (msg,) = say(api, "双减怎么落实", chat_id=chat)
    assert "/topic" in msg.text
    (button,) = msg.buttons
    api.callback(chat, chat, msg.message_id, button["callback_data"])
    api.wait_for(lambda s: "「双减怎么落实」" in s.message(chat, msg.message_id).text or
                 "没有找到" in s.message(chat, msg.message_id).text, what="search from button")


# ----------------------------------------------------------------------------- bad input, language, throttle


@pytest.mark.parametrize("text", [
    "/topic", "/topic    ", "/topic <b>双减</b> & <script>", "/topic " + "双减" * 3000, "/topic 😀😀😀",
    "/topic \u200f\u202e双减\u202c", "/city <i>", "/city 😀", "/plan <b>&amp;", "/nosuchcommand", "😀",
    "\u200f\u200e", "<b>hi</b> & bye", "x" * 4000,
])
def test_bad_input_gets_a_short_helpful_reply(api, app, text):
    (msg,) = say(api, text)
    assert 0 < len(msg.text) <= 4096


def test_english_users_get_english(api, app):
    (msg,) = say(api, "/help", lang="en-US")
    assert "How to use" in msg.text
    (msg,) = say(api, "/topic 双减", lang="en")
    assert "passages" in msg.text and "Next" in " ".join(b["text"] for b in msg.buttons)
    (msg,) = say(api, "/nope", lang="en")
    assert "Unknown command" in msg.text


def test_throttle_answers_once_then_stays_quiet(api, app):
    old = app.bot_data[BUCKETS]
    app.bot_data[BUCKETS] = Throttle(burst=5, window=3600)
    try:
        chat = new_id()
        for _ in range(9):
            api.user_message(chat, chat, "/help")
        api.wait_for(lambda s: any("请稍候" in m.text for m in s.messages(chat)), what="throttled")
        other = new_id()
        say(api, "/help", chat_id=other)  # a different user is not affected
        api.wait_until_delivered()
        api.wait_for(lambda s: len(s.messages(chat)) >= 6)
        texts = [m.text for m in api.messages(chat)]
        assert sum("请稍候" in t for t in texts) == 1
        assert len(texts) == 6
    finally:
        app.bot_data[BUCKETS] = old


# ----------------------------------------------------------------------------- fuzz

hostile = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.sampled_from(list("<>&;\"'/\\@#|_*`[]()双减无锡江阴😀\u200f\u202e\u0000\n ")), max_size=80),
    st.sampled_from(["<b>", "</b>", "&amp", "&#0;", "@" + DEFAULT_BOT_USERNAME, "t1|0||x", "🙂" * 70]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(text=hostile)
def test_fuzz_hostile_text_through_every_handler(api, app, text):
    chat = new_id()
    for template in ("/topic {}", "/city {}", "/plan {}", "/start {}", "{}"):
        body = template.format(text)
        if not body.strip():
            continue
        before = len(api.messages(chat))
        api.user_message(chat, chat, body)
        api.wait_for(lambda s, b=before: len(s.messages(chat)) > b, what=f"reply to {body[:40]!r}")
    update = api.inline_query(chat, text[:256])
    api.wait_for(lambda s: s.inline_answers(update["inline_query"]["id"]), what="inline answer")
    assert app.bot_data.get("errors") == []
    assert api.rejected_count == 0


# ----------------------------------------------------------------------------- planbrief run


def _run_env(api, tmp_path, token, **extra):
    """A server of its own (`fake_api`): the module's bot must not answer for the subprocess."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "PLANBRIEF_WEBHOOK"))}
    env.update(TELEGRAM_BOT_TOKEN=token, TELEGRAM_API_URL=api.root_url, PLANBRIEF_DATA_DIR=str(tmp_path),
               PLANBRIEF_LOG_LEVEL="DEBUG", **extra)
    return env


def test_run_polls_and_never_logs_the_token(fake_api, tmp_path):
    import signal
    import subprocess
    import sys

    chat = new_id()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=_run_env(fake_api, tmp_path, fake_api.token),
                            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        fake_api.user_message(chat, chat, "/help")
        fake_api.wait_for(lambda s: s.messages(chat), timeout=60, what="a reply from `planbrief run`")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    secret = fake_api.token.split(":", 1)[1]
    assert secret not in out + err
    assert "getUpdates" in err  # DEBUG logging was on, so this is a real check
    assert not list(tmp_path.rglob("*.env"))


def test_run_with_a_rejected_or_missing_token_exits_2_in_one_line(fake_api, tmp_path):
    import subprocess
    import sys

    for token in ("999:rejected-token-xyz", "", "not a token"):
        proc = subprocess.run([sys.executable, "-m", "bot", "run"], env=_run_env(fake_api, tmp_path, token),
                              cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.startswith("planbrief:")]
        assert len(lines) == 1 and "TELEGRAM_BOT_TOKEN" in lines[0]
        assert "Traceback" not in proc.stderr
        assert "rejected-token-xyz" not in proc.stderr


def test_webhook_mode_checks_the_secret_token_on_every_request(fake_api, tmp_path):
    import json
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = _run_env(fake_api, tmp_path, fake_api.token, PLANBRIEF_WEBHOOK_URL="https://bot.example.org/hook",
                   PLANBRIEF_WEBHOOK_SECRET="s3cret-token", PLANBRIEF_WEBHOOK_LISTEN="127.0.0.1",
                   PLANBRIEF_WEBHOOK_PORT=str(port))
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    chat = new_id()
    update = {"update_id": 1, "message": {"message_id": 1, "date": int(time.time()),
                                          "chat": {"id": chat, "type": "private", "first_name": "U"},
                                          "from": {"id": chat, "is_bot": False, "first_name": "U"},
                                          "text": "/help", "entities": [{"type": "bot_command", "offset": 0,
                                                                         "length": 5}]}}

    def post(secret: str | None) -> int:
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        request = urllib.request.Request(f"http://127.0.0.1:{port}/hook", json.dumps(update).encode(), headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    try:
        fake_api.wait_for_call("setWebhook", timeout=60)
        deadline = time.monotonic() + 30
        while True:  # the listener comes up just after setWebhook; connection refused until then
            try:
                status = post("wrong")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert status == 403
        assert post(None) == 403
        assert post("s3cret-token") == 200
        fake_api.wait_for(lambda s: s.messages(chat), timeout=30, what="webhook reply")
        assert len(fake_api.messages(chat)) == 1  # the forged posts were never processed
        assert fake_api.calls("setWebhook")[-1].params.get("secret_token") == "s3cret-token"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert fake_api.token.split(":", 1)[1] not in out + err
