"""`planbrief console`: the real Application and handlers, answered in the terminal, no token, no network.

The only fake is the HTTP transport: `ConsoleTransport` (a `telegram.request.BaseRequest`) answers
each Bot API call in-process and prints what a chat would show. Buttons become numbered choices;
typing a number presses one. Reads stdin until EOF, so it can be scripted or piped in tests.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from telegram import Update
from telegram.request import BaseRequest, RequestData

from bot.config import Settings
from bot.telegram.i18n import lang_of, t

CONSOLE_TOKEN = "123456:CONSOLE"
BOT_USERNAME = "planbrief_bot"
USER_ID = 1000
CHAT_ID = 1000


def to_terminal(text: str, color: bool = False) -> str:
    """Telegram HTML as terminal text: bold/italic as ANSI when on a tty, other tags dropped."""
    if color:
        text = re.sub(r"<b>", "\x1b[1m", text)
        text = re.sub(r"</b>", "\x1b[22m", text)
        text = re.sub(r"<i>", "\x1b[2m", text)
        text = re.sub(r"</i>", "\x1b[22m", text)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text)


@dataclass
class ConsoleButton:
    text: str
    message_id: int
    callback_data: str | None = None
    switch_inline_query: str | None = None


@dataclass
class ConsoleTransport(BaseRequest):
    """Answers Bot API methods locally and prints the chat side of them."""

    out: object = sys.stdout
    color: bool = False
    buttons: list[ConsoleButton] = field(default_factory=list)
    messages: dict[int, dict] = field(default_factory=dict)
    inline_results: list[dict] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    bot_user = {"id": 123456, "is_bot": True, "first_name": "PlanBrief", "username": BOT_USERNAME,
                "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": True}

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return None

    def write(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout=None, write_timeout=None, connect_timeout=None, pool_timeout=None):
        name = url.rstrip("/").rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data is not None else {}
        handler = getattr(self, f"_m_{name}", None)
        result = handler(params) if handler else True
        return 200, json.dumps({"ok": True, "result": result}).encode()

    # -- methods

    def _m_getMe(self, params: dict) -> dict:
        return self.bot_user

    def _m_getUpdates(self, params: dict) -> list:
        return []

    def _message(self, params: dict, message_id: int) -> dict:
        chat_id = params.get("chat_id", CHAT_ID)
        msg = {"message_id": message_id, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"},
               "from": self.bot_user, "text": to_terminal(str(params.get("text", "")))}
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        if markup:
            msg["reply_markup"] = markup
        self.messages[message_id] = msg
        return msg

    def _show(self, params: dict, message_id: int, edited: bool) -> None:
        self.write()
        if edited:
            self.write("✎ " + ("（已更新）" if "zh" in self.lang_hint else "(updated)"))
        self.write(to_terminal(str(params.get("text", "")), self.color))
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        self.buttons = [b for b in self.buttons if b.message_id != message_id]
        labels = []
        for row in (markup or {}).get("inline_keyboard", []):
            for b in row:
                self.buttons.append(ConsoleButton(b.get("text", ""), message_id, b.get("callback_data"),
                                                  b.get("switch_inline_query")))
                labels.append(f"[{len(self.buttons)}] {b.get('text', '')}")
        if labels:
            self.write("  ".join(labels))

    lang_hint: str = "zh"

    def _m_sendMessage(self, params: dict) -> dict:
        message_id = next(self._ids)
        self._show(params, message_id, edited=False)
        return self._message(params, message_id)

    def _m_editMessageText(self, params: dict) -> dict:
        message_id = int(params.get("message_id", 0))
        self._show(params, message_id, edited=True)
        return self._message(params, message_id)

    def _m_answerCallbackQuery(self, params: dict) -> bool:
        if params.get("text"):
            self.write(f"（{params['text']}）")
        return True

    def _m_answerInlineQuery(self, params: dict) -> bool:
        results = params.get("results") or []
        if isinstance(results, str):
            results = json.loads(results)
        self.inline_results = results
        self.write()
        for n, r in enumerate(results[:10], 1):
            self.write(f"  {n}. {r.get('title', '')} — {r.get('description', '')}")
        if len(results) > 10:
            self.write(f"  … {len(results)}")
        return True


class Console:
    """Turns typed lines into updates for the Application, the way Telegram would deliver them."""

    def __init__(self, app, transport: ConsoleTransport, language_code: str) -> None:
        self.app = app
        self.transport = transport
        self.user = {"id": USER_ID, "is_bot": False, "first_name": "You", "language_code": language_code}
        self.chat = {"id": CHAT_ID, "type": "private", "first_name": "You"}
        self.update_ids = itertools.count(1)
        self.message_ids = itertools.count(100_000)

    async def feed(self, line: str) -> None:
        text = line.strip()
        if not text:
            return
        if re.fullmatch(r"[0-9]{1,3}", text) and 1 <= int(text) <= len(self.transport.buttons):
            await self.press(self.transport.buttons[int(text) - 1])
            return
        message = {"message_id": next(self.message_ids), "date": int(time.time()), "chat": self.chat,
                   "from": self.user, "text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": len(command.encode("utf-16-le")) // 2}]
        await self.dispatch({"message": message})

    async def press(self, button: ConsoleButton) -> None:
        if button.switch_inline_query is not None:
            self.transport.write(f"@{BOT_USERNAME} {button.switch_inline_query}")
            await self.dispatch({"inline_query": {"id": str(next(self.update_ids)), "from": self.user,
                                                  "query": button.switch_inline_query, "offset": ""}})
            return
        message = self.transport.messages.get(button.message_id)
        if message is None:
            return
        await self.dispatch({"callback_query": {"id": str(next(self.update_ids)), "from": self.user,
                                                "message": message, "chat_instance": "console",
                                                "data": button.callback_data}})

    async def dispatch(self, payload: dict) -> None:
        data = {"update_id": next(self.update_ids), **payload}
        await self.app.process_update(Update.de_json(data, self.app.bot))


async def run_console(corpus, stdin, out, lang: str = "zh", color: bool = False) -> int:
    from bot.telegram.app import build_application

    language_code = "en" if lang_of(lang) == "en" else "zh-hans"
    settings = Settings(token=CONSOLE_TOKEN, api_url="http://console.invalid",
                        data_dir=Path(os.environ.get("PLANBRIEF_DATA_DIR") or "data"), throttle_burst=0)
    transport = ConsoleTransport(out=out, color=color)
    transport.lang_hint = lang_of(lang)
    app = build_application(settings, corpus=corpus, request=transport)
    async with app:
        await app.post_init(app)
        transport.write(t(lang_of(lang), "console_intro"))
        console = Console(app, transport, language_code)
        interactive = hasattr(stdin, "isatty") and stdin.isatty()
        while True:
            if interactive:
                out.write("\n> ")
                out.flush()
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            if not interactive and line.strip():
                transport.write(f"\n> {line.strip()}")
            await console.feed(line)
    return 0


def console_main(args, corpus) -> int:
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    lang = getattr(args, "lang", "zh") or "zh"
    try:
        return asyncio.run(run_console(corpus, sys.stdin, sys.stdout, lang, color=sys.stdout.isatty()))
    except KeyboardInterrupt:
        return 130
