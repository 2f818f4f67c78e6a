"""`planbrief console`: the real Application and handlers, answered in the terminal, no token, no network.

The only fake is the HTTP transport: `ConsoleTransport` (a `telegram.request.BaseRequest`) answers
each Bot API call in-process and prints what a chat would show. Reads stdin until EOF, so it can be
scripted or piped in tests.

- Buttons are numbered within their message, and each message with buttons shows its number (`#2`).
  A bare number presses a button of the latest answer only; `2.1` presses message 2's first button.
  An edit renumbers nothing: the message keeps its number and its buttons their places.
- `@ 双减` (or `@planbrief_bot 双减`) is an inline query; a number then posts that result, as choosing
  it in Telegram would.
- The console user (id 1000) is an editor when PLANBRIEF_EDITORS lists 1000 (or with `--editor`): then a
  local file path, or `/add path`, is sent as a document, so the editor's desk can be tried offline.
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
# how long a typed line may wait for work its handler left running (a sandboxed read has its own deadline)
SETTLE_SECONDS = 90
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
    inline_message_id: str | None = None  # a button on a message posted through inline mode


@dataclass
class InlineChoice:
    """One inline result listed after `@ query`; typing its number posts it to the chat."""

    result: dict


@dataclass
class ConsoleTransport(BaseRequest):
    """Answers Bot API methods locally and prints the chat side of them."""

    out: object = sys.stdout
    color: bool = False
    keyboards: dict[int, list[ConsoleButton]] = field(default_factory=dict)  # message number → its buttons
    latest: list = field(default_factory=list)  # what a bare number picks: the latest answer's choices
    messages: dict[int, dict] = field(default_factory=dict)
    inline_results: list[dict] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)  # file_id → a local file "sent" as a document
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
        if "/file/bot" in url:  # downloading a file the console "sent" (the editor's desk)
            path = self.files.get(url.rsplit("/", 1)[-1])
            return (200, path.read_bytes()) if path else (404, b"")
        name = url.rstrip("/").rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data is not None else {}
        self.uploads = (request_data.multipart_data or {}) if request_data is not None else {}
        handler = getattr(self, f"_m_{name}", None)
        result = handler(params) if handler else True
        return 200, json.dumps({"ok": True, "result": result}).encode()

    # -- methods

    def _m_getMe(self, params: dict) -> dict:
        return self.bot_user

    def _m_getUpdates(self, params: dict) -> list:
        return []

    def _m_getFile(self, params: dict) -> dict:
        file_id = str(params.get("file_id", ""))
        path = self.files.get(file_id)
        return {"file_id": file_id, "file_unique_id": file_id, "file_size": path.stat().st_size if path else 0,
                "file_path": f"documents/{file_id}"}

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

    def _show(self, params: dict, message_id: int, edited: bool, inline_message_id: str | None = None) -> None:
        self.write()
        if edited:
            self.write("✎ " + ("（已更新）" if "zh" in self.lang_hint else "(updated)"))
        self.write(to_terminal(str(params.get("text", "")), self.color))
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        buttons = [ConsoleButton(b.get("text", ""), message_id, b.get("callback_data"), b.get("switch_inline_query"),
                                 inline_message_id)
                   for row in (markup or {}).get("inline_keyboard", []) for b in row]
        self.keyboards[message_id] = buttons
        self.latest = buttons
        if buttons:
            self.write(f"#{message_id}  " + "  ".join(f"[{n}] {b.text}" for n, b in enumerate(buttons, 1)))

    lang_hint: str = "zh"

    def _m_sendMessage(self, params: dict) -> dict:
        message_id = next(self._ids)
        self._show(params, message_id, edited=False)
        return self._message(params, message_id)

    def _m_editMessageText(self, params: dict) -> dict | bool:
        inline_id = params.get("inline_message_id")
        if inline_id:  # a message posted through inline mode: numbered like the others
            message_id = int(str(inline_id).removeprefix("console-") or 0)
            self._show(params, message_id, edited=True, inline_message_id=str(inline_id))
            return True
        message_id = int(params.get("message_id", 0))
        self._show(params, message_id, edited=True)
        return self._message(params, message_id)

    uploads: dict = field(default_factory=dict)

    def _m_sendPhoto(self, params: dict) -> dict:
        return self._file(params, "photo")

    def _m_sendDocument(self, params: dict) -> dict:
        return self._file(params, "document")

    def _file(self, params: dict, kind: str) -> dict:
        """A picture or document cannot be shown in a terminal: it is saved, and its path printed."""
        import tempfile
        from pathlib import Path

        message_id = next(self._ids)
        name, data = "file", b""
        for value in self.uploads.values():
            name, data = value[0] or name, value[1]
        folder = Path(tempfile.gettempdir()) / "planbrief-console"
        folder.mkdir(exist_ok=True)
        path = folder / f"{message_id}-{Path(name).name}"
        path.write_bytes(data)
        self.write()
        self.write(("🖼 " if kind == "photo" else "📎 ") + str(path))
        if params.get("caption"):
            self.write(to_terminal(str(params["caption"]), self.color))
        msg = {"message_id": message_id, "date": int(time.time()),
               "chat": {"id": params.get("chat_id", CHAT_ID), "type": "private"}, "from": self.bot_user}
        unique = f"{kind}{message_id}"
        if kind == "photo":
            msg["photo"] = [{"file_id": unique, "file_unique_id": unique, "width": 1080, "height": 720}]
        else:
            msg["document"] = {"file_id": unique, "file_unique_id": unique, "file_name": path.name}
        return msg

    def _m_answerCallbackQuery(self, params: dict) -> bool:
        if params.get("text"):
            self.write(f"（{params['text']}）")
        return True

    def _m_answerInlineQuery(self, params: dict) -> bool:
        results = params.get("results") or []
        if isinstance(results, str):
            results = json.loads(results)
        self.inline_results = results
        self.latest = [InlineChoice(r) for r in results]
        self.write()
        for n, r in enumerate(results[:10], 1):
            self.write(f"  {n}. {r.get('title', '')} — {r.get('description', '')}")
        if len(results) > 10:
            self.write(f"  … {len(results)}")
        return True

    def post_inline(self, result: dict) -> None:
        """What choosing an inline result does in Telegram: its message appears, via the bot."""
        content = result.get("input_message_content") or {}
        message_id = next(self._ids)
        self.write(f"\n(via @{BOT_USERNAME})")
        self._show({"text": content.get("message_text", ""), "reply_markup": result.get("reply_markup")},
                   message_id, edited=False, inline_message_id=f"console-{message_id}")


_PREFIXED = re.compile(r"^([0-9]+)\.([0-9]+)$")
_INLINE = re.compile(rf"^@(?:{BOT_USERNAME})?\s+(.*)$", re.IGNORECASE)
_ADD_PATH = re.compile(r"^/add(?:@\w+)?\s+(.+)$")


class Console:
    """Turns typed lines into updates for the Application, the way Telegram would deliver them."""

    def __init__(self, app, transport: ConsoleTransport, language_code: str) -> None:
        self.app = app
        self.transport = transport
        self.user = {"id": USER_ID, "is_bot": False, "first_name": "You", "language_code": language_code}
        self.chat = {"id": CHAT_ID, "type": "private", "first_name": "You"}
        self.update_ids = itertools.count(1)
        self.message_ids = itertools.count(100_000)
        self.lang = "en" if language_code.startswith("en") else "zh"

    def _say(self, zh: str, en: str) -> None:
        self.transport.write(f"（{en if self.lang == 'en' else zh}）")

    async def feed(self, line: str) -> None:
        text = line.strip()
        if not text:
            return
        if re.fullmatch(r"[0-9]{1,3}", text) or _PREFIXED.match(text):
            await self._choose(text)
            return
        inline = _INLINE.match(text)
        if inline:
            await self.inline(inline.group(1).strip())
            return
        local = self._local_file(text)
        if local is not None:
            await self.send_document(local)
            return
        self.transport.latest = []  # a new question: a bare number now means its answer's buttons
        message = {"message_id": next(self.message_ids), "date": int(time.time()), "chat": self.chat,
                   "from": self.user, "text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": len(command.encode("utf-16-le")) // 2}]
        await self.dispatch({"message": message})

    async def _choose(self, text: str) -> None:
        """`N`: the latest answer's button (or inline result) N; `M.N`: message M's button N."""
        prefixed = _PREFIXED.match(text)
        if prefixed:
            message_id, n = int(prefixed.group(1)), int(prefixed.group(2))
            choices = self.transport.keyboards.get(message_id)
            if choices is None:
                self._say(f"没有第 {message_id} 条带按钮的消息", f"no message #{message_id} with buttons")
                return
        else:
            choices, n = self.transport.latest, int(text)
        if not 1 <= n <= len(choices):
            if choices:
                self._say(f"按钮编号是 1–{len(choices)}", f"buttons are numbered 1-{len(choices)}")
            else:
                self._say("最新的回答没有按钮；按旧消息的按钮请输入 消息号.按钮号，如 2.1",
                          "the latest answer has no buttons; for an older message's button type message.button, e.g. 2.1")
            return
        choice = choices[n - 1]
        if isinstance(choice, InlineChoice):
            self.transport.post_inline(choice.result)
        else:
            await self.press(choice)

    def _local_file(self, text: str) -> Path | None:
        """A line naming an existing local file (or `/add path`): the editor attaching it."""
        added = _ADD_PATH.match(text)
        candidate = added.group(1).strip() if added else text
        if not added and (text.startswith("/") and " " in text or "\n" in text):
            return None
        if re.match(r"^https?://", candidate, re.IGNORECASE):
            return None
        try:
            path = Path(candidate.strip("'\"")).expanduser()
            return path if path.is_file() else None
        except (OSError, ValueError):
            return None

    async def send_document(self, path: Path) -> None:
        self.transport.latest = []
        file_id = f"local{len(self.transport.files) + 1}"
        self.transport.files[file_id] = path.resolve()
        size = path.stat().st_size
        self.transport.write(f"📎 {path.name}（{size} B）" if self.lang == "zh" else f"📎 {path.name} ({size} B)")
        message = {"message_id": next(self.message_ids), "date": int(time.time()), "chat": self.chat,
                   "from": self.user, "document": {"file_id": file_id, "file_unique_id": file_id,
                                                   "file_name": path.name, "file_size": size}}
        await self.dispatch({"message": message})

    async def inline(self, query: str) -> None:
        self.transport.latest = []
        await self.dispatch({"inline_query": {"id": str(next(self.update_ids)), "from": self.user,
                                              "query": query, "offset": ""}})

    async def press(self, button: ConsoleButton) -> None:
        if button.switch_inline_query is not None:
            self.transport.write(f"@{BOT_USERNAME} {button.switch_inline_query}")
            await self.inline(button.switch_inline_query)
            return
        if button.inline_message_id:
            await self.dispatch({"callback_query": {"id": str(next(self.update_ids)), "from": self.user,
                                                    "inline_message_id": button.inline_message_id,
                                                    "chat_instance": "console", "data": button.callback_data}})
            return
        message = self.transport.messages.get(button.message_id)
        if message is None:
            return
        await self.dispatch({"callback_query": {"id": str(next(self.update_ids)), "from": self.user,
                                                "message": message, "chat_instance": "console",
                                                "data": button.callback_data}})

    async def dispatch(self, payload: dict) -> None:
        data = {"update_id": next(self.update_ids), **payload}
        before = asyncio.all_tasks()
        await self.app.process_update(Update.de_json(data, self.app.bot))
        await self._settle(before)

    @staticmethod
    async def _settle(before: set) -> None:
        """A console shows one answer per line typed, so work a handler left running on its own (the
        editor's desk reads a file in a task, so as not to hold an update slot) belongs to this answer."""
        started = asyncio.all_tasks() - before - {asyncio.current_task()}
        if started:
            await asyncio.wait(started, timeout=SETTLE_SECONDS)


def console_settings(editor: bool = False) -> Settings:
    """The operator's settings (PLANBRIEF_EDITORS and the rest, from the environment and .env), with the
    console's own token and transport and no flood limit; `editor` makes the console user an editor."""
    from dataclasses import replace

    from bot.config import load_settings

    settings = load_settings(require_token=False)
    editors = settings.editors | {USER_ID} if editor else settings.editors
    return replace(settings, token=CONSOLE_TOKEN, api_url="http://console.invalid", throttle_burst=0,
                   webhook_url=None, editors=frozenset(editors))


async def run_console(corpus, stdin, out, lang: str = "zh", color: bool = False,
                      settings: Settings | None = None) -> int:
    from bot.service.app import build_application

    language_code = "en" if lang_of(lang) == "en" else "zh-hans"
    settings = settings or Settings(token=CONSOLE_TOKEN, api_url="http://console.invalid",
                                    data_dir=Path(os.environ.get("PLANBRIEF_DATA_DIR") or "data"), throttle_burst=0)
    transport = ConsoleTransport(out=out, color=color)
    transport.lang_hint = lang_of(lang)
    app = build_application(settings, corpus=corpus, request=transport)
    async with app:
        await app.post_init(app)
        transport.write(t(lang_of(lang), "console_intro"))
        if USER_ID in settings.editors:
            transport.write(t(lang_of(lang), "console_editor"))
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

    from bot.config import ConfigError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    lang = getattr(args, "lang", "zh") or "zh"
    try:
        settings = console_settings(editor=getattr(args, "editor", False))
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    try:
        return asyncio.run(run_console(corpus, sys.stdin, sys.stdout, lang, color=sys.stdout.isatty(),
                                       settings=settings))
    except KeyboardInterrupt:
        return 130
