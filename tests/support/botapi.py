"""An in-process fake of the Telegram Bot API HTTP server.

End-to-end tests and benchmarks need the *real* python-telegram-bot stack
(request encoding, error mapping, polling loop, handler dispatch) to run
against something deterministic, offline and inspectable.  Mocking PTB would
hide exactly the bugs we care about (bad HTML, oversized callback data, flood
handling), so the HTTP server is the only fake: PTB is pointed at it with
``base_url``/``base_file_url`` and behaves as in production.

The server is deliberately *stricter* than Telegram in a few places (raw
``&``/``>`` must be escaped, entity nesting rules are enforced) so that
formatting bugs surface as ``BadRequest`` in tests rather than as garbled
messages in production.

Typical use::

    with BotApiServer() as server:
        app = server.application_builder().build()
        ...
        server.user_message(chat_id=42, user_id=42, text="/start")
        call = server.wait_for_call("sendMessage")
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import html
import itertools
import json
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

T = TypeVar("T")

DEFAULT_TOKEN = "123456789:TEST-planbrief-local-fake-server-token"  # obviously not a real token
DEFAULT_BOT_USERNAME = "planbrief_test_bot"

MAX_MESSAGE_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_RESULTS = 50
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_POLL_TIMEOUT = 50

QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a content and reply markup of the current message"
)

# Update types Telegram leaves out when allowed_updates was never set (or set to []).
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

# PTB's form encoding turns every non-string parameter into JSON text, so the
# server has to know which fields to decode back into objects / numbers.
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "results",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "reply_parameters",
        "link_preview_options",
        "allowed_updates",
        "button",
        "menu_button",
        "media",
    }
)
_INT_FIELDS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "cache_time",
        "from_chat_id",
        "message_thread_id",
        "reply_to_message_id",
        "max_connections",
    }
)
_BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "show_alert",
        "is_personal",
        "protect_content",
        "drop_pending_updates",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "allow_paid_broadcast",
    }
)

FILE_DOWNLOAD_LIMIT = 20 * 1024 * 1024  # what getFile lets a bot download
_TOKEN_RE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_API_PATH_RE = re.compile(r"/bot([^/]*)/([A-Za-z0-9_]*)/?")

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

# Exactly one of these must be present on an inline keyboard button.
_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "login_url",
    "web_app",
    "callback_game",
    "pay",
    "copy_text",
)


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """Carries a Telegram-shaped failure so every code path answers like the real API."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


class WaitTimeout(AssertionError):
    """An AssertionError so a timed-out wait reads as a failed expectation in pytest."""


# --------------------------------------------------------------------------- text helpers


def utf16_len(text: str) -> int:
    """Telegram measures lengths and entity offsets in UTF-16 code units, not code points."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


_ENTITY_RE = re.compile(r"&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[A-Za-z][A-Za-z0-9]{0,31});")
_START_TAG_RE = re.compile(
    r"<([A-Za-z][A-Za-z0-9-]*)"
    r"((?:\s+[A-Za-z_:][-A-Za-z0-9_:.]*(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?)*)"
    r"\s*>"
)
_ATTR_RE = re.compile(r"([A-Za-z_:][-A-Za-z0-9_:.]*)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?")
_END_TAG_RE = re.compile(r"</([A-Za-z][A-Za-z0-9-]*)\s*>")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
# "All other entities can't contain each other" (Bot API, formatting options).
_EXCLUSIVE_TYPES = frozenset({"text_link", "custom_emoji", "code", "pre"})


@dataclass
class _OpenTag:
    tag: str
    entity: dict[str, Any] | None
    start: int
    merged_into_pre: bool = False


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-HTML into (plain text, entities) or raise the 400 Telegram would send.

    Kept strict on purpose: a message that only renders because Telegram was lenient is
    still a formatting bug in our bot.
    """

    def fail(reason: str) -> ApiError:
        return _bad_request(f"can't parse entities: {reason}")

    out: list[str] = []
    pos = 0  # UTF-16 offset in the plain text
    stack: list[_OpenTag] = []
    entities: list[dict[str, Any]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "&":
            m = _ENTITY_RE.match(text, i)
            if not m:
                raise fail(f"Unescaped '&' at byte offset {_byte_offset(text, i)}; use &amp;")
            name = m.group(1)
            if name.startswith("#"):
                try:
                    code = int(name[2:], 16) if name[1:2] in ("x", "X") else int(name[1:])
                    if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                        raise ValueError(code)
                    piece = chr(code)
                except ValueError:
                    raise fail(
                        f'Invalid numeric HTML entity "{m.group(0)}" at byte offset {_byte_offset(text, i)}'
                    ) from None
            elif name in _NAMED_ENTITIES:
                piece = _NAMED_ENTITIES[name]
            else:
                raise fail(f'Unsupported HTML entity "{m.group(0)}" at byte offset {_byte_offset(text, i)}')
            out.append(piece)
            pos += utf16_len(piece)
            i = m.end()
        elif ch == ">":
            raise fail(f"Unescaped '>' at byte offset {_byte_offset(text, i)}; use &gt;")
        elif ch == "<" and text.startswith("</", i):
            m = _END_TAG_RE.match(text, i)
            if not m:
                raise fail(f"Unclosed end tag at byte offset {_byte_offset(text, i)}")
            tag = m.group(1).lower()
            if not stack:
                raise fail(f'Unexpected end tag "{tag}" at byte offset {_byte_offset(text, i)}')
            top = stack[-1]
            if top.tag != tag:
                raise fail(
                    f'Unmatched end tag at byte offset {_byte_offset(text, i)}, expected "</{top.tag}>", '
                    f'found "</{tag}>"'
                )
            stack.pop()
            if top.entity is not None:
                top.entity["length"] = pos - top.start
            i = m.end()
        elif ch == "<":
            m = _START_TAG_RE.match(text, i)
            offset = _byte_offset(text, i)
            if not m:
                if i + 1 < n and text[i + 1].isalpha():
                    raise fail(f"Unclosed start tag at byte offset {offset}")
                raise fail(f"Unescaped '<' at byte offset {offset}; use &lt;")
            tag = m.group(1).lower()
            if tag not in _TAG_TYPES:
                raise fail(f'Unsupported start tag "{tag}" at byte offset {offset}')
            attrs = {
                a.group(1).lower(): html.unescape((a.group(2) or "").strip("\"'"))
                for a in _ATTR_RE.finditer(m.group(2))
            }
            open_tag = _open_tag(tag, attrs, stack, pos, offset, fail)
            if open_tag.entity is not None:
                entities.append(open_tag.entity)
            stack.append(open_tag)
            i = m.end()
        else:
            out.append(ch)
            pos += 2 if ord(ch) > 0xFFFF else 1
            i += 1
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    kept = [e for e in entities if e.get("length", 0) > 0]
    kept.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), kept


def _open_tag(
    tag: str,
    attrs: dict[str, str],
    stack: list[_OpenTag],
    pos: int,
    offset: int,
    fail: Callable[[str], ApiError],
) -> _OpenTag:
    etype = _TAG_TYPES[tag]
    entity: dict[str, Any] = {"type": etype, "offset": pos, "length": 0}
    parent = stack[-1] if stack else None
    if parent is not None and parent.tag == "pre" and tag == "code":
        if any(t.tag == "code" for t in stack):
            raise fail(f'Tag "code" can\'t be nested twice in "pre" at byte offset {offset}')
        language = attrs.get("class", "")
        if language.startswith("language-") and parent.entity is not None:
            parent.entity["language"] = language[len("language-") :]
        return _OpenTag(tag, None, pos, merged_into_pre=True)
    for outer in stack:
        outer_type = "code" if outer.merged_into_pre else (outer.entity or {}).get("type")
        if outer_type in ("code", "pre"):
            raise fail(f'Tag "{tag}" can\'t be nested inside "{outer.tag}" at byte offset {offset}')
        if outer_type in _EXCLUSIVE_TYPES and etype in _EXCLUSIVE_TYPES:
            raise fail(f'Tag "{tag}" can\'t be nested inside "{outer.tag}" at byte offset {offset}')
        if etype == "blockquote" and outer_type in ("blockquote", "expandable_blockquote"):
            raise fail(f"Blockquotes can't be nested at byte offset {offset}")
    if tag == "a":
        href = attrs.get("href", "").strip()
        if not href:
            raise fail(f'Tag "a" must have attribute "href" at byte offset {offset}')
        entity["url"] = href
    elif tag == "span":
        if attrs.get("class") != "tg-spoiler":
            raise fail(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
    elif tag == "blockquote":
        if "expandable" in attrs:
            entity["type"] = "expandable_blockquote"
    elif tag == "tg-emoji":
        emoji_id = attrs.get("emoji-id", "")
        if not emoji_id.isdigit():
            raise fail(f'Tag "tg-emoji" must have a numeric attribute "emoji-id" at byte offset {offset}')
        entity["custom_emoji_id"] = emoji_id
    elif tag == "code" and attrs.get("class", "").startswith("language-"):
        raise fail(f'Tag "code" with a language class must be inside "pre" at byte offset {offset}')
    return _OpenTag(tag, entity, pos)


_COMMAND_RE = re.compile(r"(?<![\w/@])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")
_MENTION_RE = re.compile(r"(?<![\w@/])@[A-Za-z][A-Za-z0-9_]{3,31}(?!\w)")


def detect_entities(text: str) -> list[dict[str, Any]]:
    """Mimic the entities Telegram attaches to *incoming* user text (commands, mentions)."""
    found: list[dict[str, Any]] = []
    taken: list[tuple[int, int]] = []
    for regex, etype in ((_COMMAND_RE, "bot_command"), (_MENTION_RE, "mention")):
        for m in regex.finditer(text):
            if any(a <= m.start() < b for a, b in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append(
                {"type": etype, "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group(0))}
            )
    found.sort(key=lambda e: e["offset"])
    return found


def _validate_text(text: Any, parse_mode: Any, entities: Any) -> tuple[str, list[dict[str, Any]]]:
    if text is None or text == "":
        raise _bad_request("message text is empty")
    if not isinstance(text, str):
        text = str(text)
    mode = (parse_mode or "").strip()
    if mode.lower() == "html":
        plain, parsed = parse_html(text)
    elif mode.lower() in ("", "markdown", "markdownv2"):
        # Markdown is not validated: the project only sends HTML.
        plain, parsed = text, list(entities) if isinstance(entities, list) else []
    else:
        raise _bad_request(f"unsupported parse_mode {mode!r}")
    if not plain.strip():
        raise _bad_request("message text is empty")
    if utf16_len(plain) > MAX_MESSAGE_LENGTH:
        raise _bad_request("message is too long")
    return plain, parsed


def _validate_reply_markup(markup: Any) -> dict[str, Any] | None:
    if markup is None or markup == "":
        return None
    if not isinstance(markup, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        if not any(k in markup for k in ("keyboard", "remove_keyboard", "force_reply")):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        return markup
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise _bad_request('can\'t parse inline keyboard: field "inline_keyboard" must be an Array of Arrays')
    if sum(len(r) for r in rows) > 100:
        raise _bad_request("REPLY_MARKUP_TOO_LONG")
    for row in rows:
        for button in row:
            _validate_button(button)
    return markup


def _validate_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise _bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
    text = button.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _bad_request("BUTTON_TEXT_EMPTY")
    actions = [k for k in _BUTTON_ACTIONS if k in button]
    if not actions:
        raise _bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(actions) > 1:
        raise _bad_request(
            "can't parse inline keyboard button: exactly one of the optional fields must be used, got "
            + ", ".join(actions)
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
            raise _bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not re.match(r"(https?|tg)://\S+$", url):
            raise _bad_request("BUTTON_URL_INVALID")


def _inline_only(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """Message objects only ever echo inline keyboards; reply keyboards are not stored on messages."""
    return markup if markup and "inline_keyboard" in markup else None


# --------------------------------------------------------------------------- records


@dataclass
class ApiCall:
    """One HTTP request as the server saw it; benchmarks compute rates from the timestamps."""

    seq: int
    method: str
    params: dict[str, Any]
    status: int
    response: dict[str, Any]
    started: float  # time.monotonic() when the request arrived
    finished: float  # time.monotonic() when the answer was ready
    wall_time: float  # time.time() when the request arrived

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def result(self) -> Any:
        return self.response.get("result")

    @property
    def description(self) -> str | None:
        return self.response.get("description")


@dataclass
class StoredMessage:
    """A message as it currently looks in the chat (after edits), plus what the bot sent."""

    chat: dict[str, Any]
    message_id: int
    date: int
    sender: dict[str, Any]
    from_bot: bool
    text: str  # plain text after entity parsing, as Telegram stores it
    entities: list[dict[str, Any]]
    raw_text: str  # the text exactly as sent (HTML source for parse_mode=HTML)
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to_message_id: int | None = None
    deleted: bool = False
    edit_date: int | None = None
    history: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)
    sent_at: float = 0.0
    media: dict[str, Any] | None = None  # {"photo": [...]} or {"document": {...}}; text is the caption
    upload: bytes = b""  # the bytes of an uploaded photo or document

    @property
    def chat_id(self) -> int | str:
        return self.chat["id"]

    @property
    def buttons(self) -> list[dict[str, Any]]:
        if not self.reply_markup:
            return []
        return [b for row in self.reply_markup.get("inline_keyboard", []) for b in row]

    def to_api(
        self, with_reply: bool = True, stored: dict[int, StoredMessage] | None = None
    ) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "message_id": self.message_id,
            "date": self.date,
            "chat": dict(self.chat),
            "from": dict(self.sender),
            "text": self.text,
        }
        if self.media is not None:
            del msg["text"]
            msg.update(self.media)
            if self.text:
                msg["caption"] = self.text
            if self.entities:
                msg["caption_entities"] = [dict(e) for e in self.entities]
        elif self.entities:
            msg["entities"] = [dict(e) for e in self.entities]
        markup = _inline_only(self.reply_markup)
        if markup:
            msg["reply_markup"] = markup
        if self.edit_date:
            msg["edit_date"] = self.edit_date
        if with_reply and stored and self.reply_to_message_id in stored:
            msg["reply_to_message"] = stored[self.reply_to_message_id].to_api(with_reply=False)
        return msg


@dataclass
class InlineAnswer:
    inline_query_id: str
    query: str
    user_id: int
    results: list[dict[str, Any]]
    params: dict[str, Any]


@dataclass
class CallbackAnswer:
    callback_query_id: str
    data: str | None
    chat_id: int | str | None
    message_id: int | None
    text: str | None
    show_alert: bool
    params: dict[str, Any]


@dataclass
class _Fault:
    status: int
    description: str
    parameters: dict[str, Any] | None
    times: int | None  # None = forever
    methods: frozenset[str] | None  # lower-cased method names; None = every chat-bound method


@dataclass
class _Pending:
    update: dict[str, Any]
    delivered: int = 0


# --------------------------------------------------------------------------- HTTP plumbing


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # a benchmark keeps many requests in flight

    def __init__(self, address: tuple[str, int], api: BotApiServer):
        self.api = api
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):  # type: ignore[override]
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):  # type: ignore[override]
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Kick keep-alive connections so their handler threads end with the server."""
        with self._connections_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects
    timeout = 300
    # Headers and body go out in separate writes; with Nagle + delayed ACK every
    # request would stall ~40 ms, which would cap a benchmark far below 30 msg/s.
    disable_nagle_algorithm = True
    server: _HttpServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def handle(self) -> None:
        # Clients (PTB on shutdown) drop connections mid long-poll; that is not an error.
        with contextlib.suppress(OSError):
            super().handle()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        split = urlsplit(self.path)
        body = self._read_body()
        if split.path.startswith("/file/bot"):
            status, data = self.server.api._download(split.path)
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        status, payload = self.server.api._handle_http(
            split.path, split.query, self.headers.get("Content-Type", ""), body
        )
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    ctype = content_type.split(";")[0].strip().lower()
    if not body:
        return {}
    if ctype == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise _bad_request("can't parse JSON request body") from None
        if not isinstance(data, dict):
            raise _bad_request("request body must be a JSON object")
        return data
    if ctype == "multipart/form-data":
        msg = BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        params: dict[str, Any] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not name:
                continue
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            params[name] = {"filename": filename, "content": payload} if filename else payload.decode("utf-8")
        return params
    # application/x-www-form-urlencoded is what PTB (httpx, data=...) sends.
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))


def _coerce(params: dict[str, Any]) -> dict[str, Any]:
    """Undo PTB's stringification so method code sees real types whatever the encoding was."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, str):
            if key in _JSON_FIELDS:
                try:
                    value = json.loads(value) if value else None
                except ValueError:
                    raise _bad_request(f"can't parse {key} JSON object") from None
            elif key in _INT_FIELDS and re.fullmatch(r"-?\d+", value.strip()):
                value = int(value)
            elif key in _BOOL_FIELDS and value.lower() in ("true", "false"):
                value = value.lower() == "true"
        out[key] = value
    return out


# --------------------------------------------------------------------------- the fake


class BotApiServer:
    """A threaded fake Telegram Bot API; see the module docstring for why it exists."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = DEFAULT_BOT_USERNAME,
        bot_first_name: str = "PlanBrief Test",
        seed: int = 0,
        strict_chats: bool = False,
        latency: float = 0.0,
        max_poll_timeout: float = MAX_POLL_TIMEOUT,
    ):
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.seed = seed
        self.strict_chats = strict_chats
        self.latency = latency
        self.max_poll_timeout = max_poll_timeout

        self._cond = threading.Condition(threading.RLock())
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

        self._calls: list[ApiCall] = []
        self._call_seq = itertools.count(1)
        self.internal_errors: list[str] = []

        self._updates: deque[_Pending] = deque()
        self._update_ids = itertools.count(1)
        self._injected = 0
        self._delivered_ids: set[int] = set()
        self._allowed_updates: frozenset[str] | None = None
        self._poll_generation = 0
        self._waiting_polls = 0
        self._webhook_url = ""

        self._chats: dict[int | str, dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._messages: dict[int | str, dict[int, StoredMessage]] = {}
        self._next_message_id: dict[int | str, int] = {}
        self._inline_messages: dict[str, StoredMessage] = {}
        self._members: dict[int | str, dict[int, str]] = {}

        self._callback_queries: dict[str, dict[str, Any]] = {}
        self._inline_queries: dict[str, dict[str, Any]] = {}
        self._query_ids = itertools.count(1)
        self._inline_answers: list[InlineAnswer] = []
        self._callback_answers: list[CallbackAnswer] = []

        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._menu_buttons: dict[int | str | None, dict[str, Any]] = {}

        self._faults: dict[int | str, list[_Fault]] = {}
        self._flood_fraction = 0.0
        self._flood_retry_after = 1
        self._flood_methods: frozenset[str] = frozenset({"sendmessage"})
        self._flood_attempts: dict[tuple[str, int | str], int] = {}
        self._rate_max: int | None = None
        self._rate_window = 1.0
        self._rate_retry_after = 1
        self._rate_methods: frozenset[str] = frozenset({"sendmessage"})
        self._rate_per_chat: int | None = None
        self._rate_hits: deque[float] = deque()
        self._rate_hits_per_chat: dict[int | str, deque[float]] = {}

        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            name.lower(): getattr(self, f"_m_{name}")
            for name in (
                "getMe",
                "getUpdates",
                "deleteWebhook",
                "setWebhook",
                "getWebhookInfo",
                "logOut",
                "close",
                "setMyCommands",
                "getMyCommands",
                "deleteMyCommands",
                "sendMessage",
                "editMessageText",
                "editMessageReplyMarkup",
                "deleteMessage",
                "answerCallbackQuery",
                "answerInlineQuery",
                "getChatMember",
                "getChatAdministrators",
                "getChat",
                "sendChatAction",
                "setChatMenuButton",
                "getChatMenuButton",
                "getFile",
                "sendPhoto",
                "sendDocument",
            )
        }
        self._files: dict[str, bytes] = {}  # file_id → content, for getFile and /file/bot<token>/…

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> BotApiServer:
        if self._httpd is not None:
            return self
        self._stopping = False
        self._httpd = _HttpServer(("127.0.0.1", 0), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-botapi", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()  # release long polls so their threads finish
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> BotApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return self._httpd.server_address[1]

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass to ``ApplicationBuilder.base_url`` (PTB appends the token itself)."""
        return f"{self.root_url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.root_url}/file/bot"

    def application_builder(self) -> Any:
        """An ApplicationBuilder already wired to this server, so tests can't forget a URL."""
        from telegram.ext import Application

        return (
            Application.builder().token(self.token).base_url(self.base_url).base_file_url(self.base_file_url)
        )

    def make_bot(self, **kwargs: Any) -> Any:
        from telegram import Bot

        return Bot(self.token, base_url=self.base_url, base_file_url=self.base_file_url, **kwargs)

    # ------------------------------------------------------------------ request handling

    def _handle_http(
        self, path: str, query: str, content_type: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        started, wall = time.monotonic(), time.time()
        method, params = "", {}
        try:
            m = _API_PATH_RE.fullmatch(path)
            if not m:
                raise ApiError(404, "Not Found")
            token, method = m.group(1), m.group(2)
            raw = dict(parse_qsl(query, keep_blank_values=True))
            raw.update(_parse_body(content_type, body))
            params = raw
            params = _coerce(raw)
            if self.latency:
                time.sleep(self.latency)
            if not _TOKEN_RE.fullmatch(token):
                raise ApiError(404, "Not Found")
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            handler = self._methods.get(method.lower())
            if handler is None:
                raise ApiError(404, "Not Found")
            if method.lower() == "getupdates":
                result = handler(params)  # waits on the condition itself
            else:
                with self._cond:
                    result = handler(params)
            status, payload = 200, {"ok": True, "result": result}
        except ApiError as exc:
            status, payload = exc.status, exc.payload()
        except Exception as exc:  # a bug in the fake must be loud, not a hang
            status = 500
            payload = {"ok": False, "error_code": 500, "description": f"Internal Server Error: {exc!r}"}
            with self._cond:
                self.internal_errors.append(f"{method}: {exc!r}")
        with self._cond:
            self._calls.append(
                ApiCall(
                    seq=next(self._call_seq),
                    method=method,
                    params=params,
                    status=status,
                    response=payload,
                    started=started,
                    finished=time.monotonic(),
                    wall_time=wall,
                )
            )
            self._cond.notify_all()
        return status, payload

    # ------------------------------------------------------------------ shared checks

    @staticmethod
    def _require(params: dict[str, Any], name: str, description: str | None = None) -> Any:
        value = params.get(name)
        if value is None or value == "":
            raise _bad_request(description or f"{name} is empty")
        return value

    def _check_chat(self, method: str, chat_id: Any) -> None:
        faults = self._faults.get(chat_id, [])
        for fault in faults:
            if fault.methods is not None and method.lower() not in fault.methods:
                continue
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    faults.remove(fault)
            raise ApiError(fault.status, fault.description, fault.parameters)
        if isinstance(chat_id, str) and not chat_id.startswith("@"):
            raise _bad_request("chat not found")
        if self.strict_chats and chat_id not in self._chats:
            raise _bad_request("chat not found")

    def _check_flood(self, method: str, chat_id: Any) -> None:
        """Random and rate-based 429s; only successful calls count towards the window."""
        name = method.lower()
        if self._flood_fraction > 0 and name in self._flood_methods:
            key = (name, chat_id)
            attempt = self._flood_attempts.get(key, 0)
            self._flood_attempts[key] = attempt + 1
            # Seeded per (chat, attempt) so the outcome doesn't depend on thread scheduling.
            if random.Random(f"{self.seed}:{name}:{chat_id}:{attempt}").random() < self._flood_fraction:
                self._raise_flood(self._flood_retry_after)
        if self._rate_max is None and self._rate_per_chat is None:
            return
        if name not in self._rate_methods:
            return
        now = time.monotonic()
        horizon = now - self._rate_window
        while self._rate_hits and self._rate_hits[0] <= horizon:
            self._rate_hits.popleft()
        chat_hits = self._rate_hits_per_chat.setdefault(chat_id, deque())
        while chat_hits and chat_hits[0] <= horizon:
            chat_hits.popleft()
        if self._rate_max is not None and len(self._rate_hits) >= self._rate_max:
            self._raise_flood(self._rate_retry_after)
        if self._rate_per_chat is not None and len(chat_hits) >= self._rate_per_chat:
            self._raise_flood(self._rate_retry_after)
        self._rate_hits.append(now)
        chat_hits.append(now)

    @staticmethod
    def _raise_flood(retry_after: int) -> None:
        raise ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})

    def _chat_for(self, chat_id: int | str) -> dict[str, Any]:
        chat = self._chats.get(chat_id)
        if chat is None:
            if isinstance(chat_id, int) and chat_id > 0:
                chat = {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}
            elif str(chat_id).startswith("-100"):
                chat = {"id": chat_id, "type": "supergroup", "title": f"Chat {chat_id}"}
            else:
                chat = {"id": chat_id, "type": "group", "title": f"Chat {chat_id}"}
        return chat

    def _new_message_id(self, chat_id: int | str) -> int:
        mid = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = mid + 1
        return mid

    def _store(self, msg: StoredMessage) -> StoredMessage:
        self._messages.setdefault(msg.chat_id, {})[msg.message_id] = msg
        return msg

    def _find_editable(self, params: dict[str, Any], method: str) -> tuple[StoredMessage, bool]:
        inline_id = params.get("inline_message_id")
        if inline_id:
            msg = self._inline_messages.get(str(inline_id))
            if msg is None:
                raise _bad_request("MESSAGE_ID_INVALID")
            return msg, True
        chat_id = self._require(params, "chat_id")
        message_id = self._require(params, "message_id", "message identifier is not specified")
        self._check_chat(method, chat_id)
        msg = self._messages.get(chat_id, {}).get(message_id)
        if msg is None or msg.deleted:
            raise _bad_request("message to edit not found")
        if not msg.from_bot:
            raise _bad_request("message can't be edited")
        return msg, False

    # ------------------------------------------------------------------ methods

    def _m_getMe(self, params: dict[str, Any]) -> Any:
        return dict(self.bot_user)

    def _m_logOut(self, params: dict[str, Any]) -> Any:
        return True

    def _m_close(self, params: dict[str, Any]) -> Any:
        return True

    def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        url = params.get("url") or ""
        if url and not url.startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self._webhook_url = url
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self._webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _m_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        return {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        with self._cond:
            if self._webhook_url:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            offset = int(params.get("offset") or 0)
            limit = int(params.get("limit") or 100)
            limit = min(max(limit, 1), 100)
            timeout = min(max(float(params.get("timeout") or 0), 0.0), self.max_poll_timeout)
            allowed = params.get("allowed_updates")
            if isinstance(allowed, list):
                self._allowed_updates = frozenset(allowed) if allowed else None
            if offset > 0:
                while self._updates and self._updates[0].update["update_id"] < offset:
                    self._updates.popleft()
            elif offset < 0:
                while len(self._updates) > -offset:
                    self._updates.popleft()
            # A newer poll supersedes an older one.  Telegram would answer the old one with a
            # 409; we answer it with [] so that PTB's own shutdown (cancel + final poll) does
            # not show up as a rejected call.
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()
            deadline = time.monotonic() + timeout
            self._waiting_polls += 1
            try:
                while True:
                    if generation != self._poll_generation or self._stopping:
                        return []
                    batch = self._deliverable(limit)
                    if batch:
                        return batch
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return []
                    self._cond.wait(remaining)
            finally:
                self._waiting_polls -= 1

    def _deliverable(self, limit: int) -> list[dict[str, Any]]:
        allowed = self._allowed_updates
        batch: list[dict[str, Any]] = []
        for pending in list(self._updates):
            kind = next(k for k in pending.update if k != "update_id")
            if (allowed is not None and kind not in allowed) or (
                allowed is None and kind in _DEFAULT_EXCLUDED_UPDATES
            ):
                self._updates.remove(pending)  # Telegram drops updates the bot didn't ask for
                continue
            pending.delivered += 1
            self._delivered_ids.add(pending.update["update_id"])
            batch.append(pending.update)
            if len(batch) >= limit:
                break
        return batch

    def _m_setMyCommands(self, params: dict[str, Any]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad_request("too many commands")
        for cmd in commands:
            if not isinstance(cmd, dict) or not re.fullmatch(r"[a-z0-9_]{1,32}", str(cmd.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            description = cmd.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._commands_key(params)] = [dict(c) for c in commands]
        return True

    def _m_getMyCommands(self, params: dict[str, Any]) -> Any:
        return self._commands.get(self._commands_key(params), [])

    def _m_deleteMyCommands(self, params: dict[str, Any]) -> Any:
        self._commands.pop(self._commands_key(params), None)
        return True

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        chat_id = self._require(params, "chat_id")
        self._check_chat("sendMessage", chat_id)
        text, entities = _validate_text(params.get("text"), params.get("parse_mode"), params.get("entities"))
        markup = _validate_reply_markup(params.get("reply_markup"))
        reply_to = params.get("reply_to_message_id")
        allow_missing = bool(params.get("allow_sending_without_reply"))
        reply_params = params.get("reply_parameters")
        if isinstance(reply_params, dict):
            reply_to = reply_params.get("message_id")
            allow_missing = bool(reply_params.get("allow_sending_without_reply"))
        if reply_to is not None and reply_to not in self._messages.get(chat_id, {}):
            if not allow_missing:
                raise _bad_request("message to be replied not found")
            reply_to = None
        self._check_flood("sendMessage", chat_id)
        msg = self._store(
            StoredMessage(
                chat=self._chat_for(chat_id),
                message_id=self._new_message_id(chat_id),
                date=int(time.time()),
                sender=dict(self.bot_user),
                from_bot=True,
                text=text,
                entities=entities,
                raw_text=str(params.get("text")),
                parse_mode=params.get("parse_mode"),
                reply_markup=markup,
                reply_to_message_id=reply_to,
                sent_at=time.monotonic(),
            )
        )
        return msg.to_api(stored=self._messages.get(chat_id))

    def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        return self._send_media("sendPhoto", params, "photo")

    def _m_sendDocument(self, params: dict[str, Any]) -> Any:
        return self._send_media("sendDocument", params, "document")

    def _send_media(self, method: str, params: dict[str, Any], field_name: str) -> Any:
        """An uploaded photo or document (multipart); the caption is checked like message text, and
        at most 1024 characters as Telegram allows. The bytes are kept for the test to open."""
        chat_id = self._require(params, "chat_id")
        self._check_chat(method, chat_id)
        upload = params.get(field_name)
        if isinstance(upload, str) and upload in self._files:  # a file id of an earlier upload
            upload = {"filename": None, "content": self._files[upload]}
        if not isinstance(upload, dict) or not upload.get("content"):
            raise _bad_request(f"there is no {field_name} in the request")
        caption, entities = "", []
        if params.get("caption"):
            caption, entities = _validate_text(params["caption"], params.get("parse_mode"), params.get("caption_entities"))
            if len(caption) > 1024:
                raise _bad_request("message caption is too long")
        markup = _validate_reply_markup(params.get("reply_markup"))
        self._check_flood(method, chat_id)
        content: bytes = upload["content"]
        file_id = f"{field_name}-{len(self._files) + 1}"
        self._files[file_id] = content
        unique = file_id.replace("-", "")
        if field_name == "photo":
            media = {"photo": [{"file_id": file_id, "file_unique_id": unique, "width": 1080, "height": 720,
                                "file_size": len(content)}]}
        else:
            media = {"document": {"file_id": file_id, "file_unique_id": unique,
                                  "file_name": upload.get("filename") or "file", "file_size": len(content)}}
        msg = self._store(
            StoredMessage(
                chat=self._chat_for(chat_id),
                message_id=self._new_message_id(chat_id),
                date=int(time.time()),
                sender=dict(self.bot_user),
                from_bot=True,
                text=caption,
                entities=entities,
                raw_text=str(params.get("caption") or ""),
                parse_mode=params.get("parse_mode"),
                reply_markup=markup,
                sent_at=time.monotonic(),
                media=media,
                upload=content,
            )
        )
        return msg.to_api(stored=self._messages.get(chat_id))

    def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        msg, inline = self._find_editable(params, "editMessageText")
        text, entities = _validate_text(params.get("text"), params.get("parse_mode"), params.get("entities"))
        markup = _validate_reply_markup(params.get("reply_markup"))
        if (text, entities, _inline_only(markup)) == (msg.text, msg.entities, _inline_only(msg.reply_markup)):
            raise _bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        self._check_flood("editMessageText", msg.chat_id)
        msg.history.append((msg.raw_text, msg.reply_markup))
        msg.text, msg.entities, msg.raw_text = text, entities, str(params.get("text"))
        msg.parse_mode = params.get("parse_mode")
        msg.reply_markup = markup  # omitting reply_markup removes the keyboard, as on Telegram
        msg.edit_date = int(time.time())
        return True if inline else msg.to_api()

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        msg, inline = self._find_editable(params, "editMessageReplyMarkup")
        markup = _validate_reply_markup(params.get("reply_markup"))
        if _inline_only(markup) == _inline_only(msg.reply_markup):
            raise _bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        self._check_flood("editMessageReplyMarkup", msg.chat_id)
        msg.history.append((msg.raw_text, msg.reply_markup))
        msg.reply_markup = markup
        msg.edit_date = int(time.time())
        return True if inline else msg.to_api()

    def _m_deleteMessage(self, params: dict[str, Any]) -> Any:
        chat_id = self._require(params, "chat_id")
        message_id = self._require(params, "message_id", "message identifier is not specified")
        self._check_chat("deleteMessage", chat_id)
        msg = self._messages.get(chat_id, {}).get(message_id)
        if msg is None or msg.deleted:
            raise _bad_request("message to delete not found")
        if not msg.from_bot and self._chat_for(chat_id)["type"] != "private":
            self._require_bot_admin(chat_id, "message can't be deleted")
        msg.deleted = True
        return True

    def _require_bot_admin(self, chat_id: int | str, description: str) -> None:
        if self._members.get(chat_id, {}).get(self.bot_id) not in ("administrator", "creator"):
            raise _bad_request(description)

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        qid = str(self._require(params, "callback_query_id", "QUERY_ID_INVALID"))
        query = self._callback_queries.get(qid)
        if query is None or query.get("answered"):
            raise ApiError(400, QUERY_INVALID)
        text = params.get("text")
        if text is not None and len(str(text)) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad_request("MESSAGE_TOO_LONG")
        query["answered"] = True
        self._callback_answers.append(
            CallbackAnswer(
                callback_query_id=qid,
                data=query.get("data"),
                chat_id=query.get("chat_id"),
                message_id=query.get("message_id"),
                text=text,
                show_alert=bool(params.get("show_alert")),
                params=dict(params),
            )
        )
        return True

    def _m_answerInlineQuery(self, params: dict[str, Any]) -> Any:
        qid = str(self._require(params, "inline_query_id", "QUERY_ID_INVALID"))
        query = self._inline_queries.get(qid)
        if query is None or query.get("answered"):
            raise ApiError(400, QUERY_INVALID)
        results = params.get("results")
        if not isinstance(results, list):
            raise _bad_request("can't parse JSON encoded inline query results")
        if len(results) > MAX_INLINE_RESULTS:
            raise _bad_request("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            _validate_inline_result(result, seen)
        next_offset = params.get("next_offset")
        if next_offset is not None and len(str(next_offset).encode("utf-8")) > 64:
            raise _bad_request("NEXT_OFFSET_INVALID")
        query["answered"] = True
        self._inline_answers.append(
            InlineAnswer(
                inline_query_id=qid,
                query=query["query"],
                user_id=query["user_id"],
                results=results,
                params=dict(params),
            )
        )
        return True

    def _member(self, chat_id: int | str, user_id: int) -> dict[str, Any]:
        user = self.bot_user if user_id == self.bot_id else self._users.get(user_id)
        user = dict(user) if user else {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        status = self._members.get(chat_id, {}).get(user_id, "member")
        return _chat_member(user, status)

    def _m_getChatMember(self, params: dict[str, Any]) -> Any:
        chat_id = self._require(params, "chat_id")
        user_id = self._require(params, "user_id", "user not found")
        self._check_chat("getChatMember", chat_id)
        return self._member(chat_id, user_id)

    def _m_getChatAdministrators(self, params: dict[str, Any]) -> Any:
        chat_id = self._require(params, "chat_id")
        self._check_chat("getChatAdministrators", chat_id)
        if self._chat_for(chat_id)["type"] == "private":
            raise _bad_request("there are no administrators in the private chat")
        statuses = self._members.get(chat_id, {})
        ordered = sorted(
            (uid for uid, st in statuses.items() if st in ("creator", "administrator")),
            key=lambda uid: (statuses[uid] != "creator", uid),
        )
        return [self._member(chat_id, uid) for uid in ordered]

    def _m_getChat(self, params: dict[str, Any]) -> Any:
        chat_id = self._require(params, "chat_id")
        self._check_chat("getChat", chat_id)
        info = dict(self._chat_for(chat_id))
        info.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return info

    def _m_sendChatAction(self, params: dict[str, Any]) -> Any:
        chat_id = self._require(params, "chat_id")
        self._check_chat("sendChatAction", chat_id)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    def _m_setChatMenuButton(self, params: dict[str, Any]) -> Any:
        chat_id = params.get("chat_id")
        if chat_id is not None:
            self._check_chat("setChatMenuButton", chat_id)
        button = params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in ("default", "commands", "web_app"):
            raise _bad_request("can't parse menu button")
        self._menu_buttons[chat_id] = button
        return True

    def _m_getChatMenuButton(self, params: dict[str, Any]) -> Any:
        return self._menu_buttons.get(params.get("chat_id"), {"type": "default"})

    # ------------------------------------------------------------------ update injection

    def _m_getFile(self, params: dict[str, Any]) -> Any:
        """Like Telegram: bots may download files up to 20 MB; bigger ones are refused here."""
        file_id = str(self._require(params, "file_id"))
        data = self._files.get(file_id)
        if data is None:
            raise _bad_request("invalid file_id")
        if len(data) > FILE_DOWNLOAD_LIMIT:
            raise _bad_request("file is too big")
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(data),
                "file_path": f"documents/{file_id}"}

    def _download(self, path: str) -> tuple[int, bytes]:
        m = re.fullmatch(r"/file/bot([^/]+)/documents/([^/]+)", unquote(path))
        with self._cond:
            data = self._files.get(m.group(2)) if m and m.group(1) == self.token else None
            self._calls.append(ApiCall(seq=next(self._call_seq), method="file", params={"path": path},
                                       status=200 if data is not None else 404, response={},
                                       started=time.monotonic(), finished=time.monotonic(), wall_time=time.time()))
        return (200, data) if data is not None else (404, b"")

    def _user(self, user_id: int, username: str | None, language_code: str | None, first_name: str | None):
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name or f"User {user_id}"}
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[user_id] = user
        return user

    def _chat(self, chat_id: int | str, chat_type: str, user: dict[str, Any], title: str | None):
        if chat_type == "private":
            chat = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
            if "username" in user:
                chat["username"] = user["username"]
        else:
            chat = {"id": chat_id, "type": chat_type, "title": title or f"Chat {chat_id}"}
        self._chats[chat_id] = chat
        return chat

    def push_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue any update type; the typed helpers below are thin wrappers around this."""
        with self._cond:
            update = {"update_id": next(self._update_ids), kind: payload}
            self._updates.append(_Pending(update))
            self._injected += 1
            self._cond.notify_all()
            return update

    def user_message(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        chat_type: str = "private",
        language_code: str | None = "zh-hans",
        username: str | None = None,
        first_name: str | None = None,
        chat_title: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """Inject a text message from a user; commands and @mentions get Telegram's entities."""
        with self._cond:
            user = self._user(user_id, username, language_code, first_name)
            chat = self._chat(chat_id, chat_type, user, chat_title)
            msg = self._store(
                StoredMessage(
                    chat=chat,
                    message_id=self._new_message_id(chat_id),
                    date=int(time.time()),
                    sender=user,
                    from_bot=False,
                    text=text,
                    entities=detect_entities(text),
                    raw_text=text,
                    reply_to_message_id=reply_to_message_id,
                    sent_at=time.monotonic(),
                )
            )
            return self.push_update("message", msg.to_api(stored=self._messages.get(chat_id)))

    def user_document(
        self,
        chat_id: int,
        user_id: int,
        file_name: str,
        data: bytes,
        *,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
        chat_type: str = "private",
        language_code: str | None = "zh-hans",
        declared_size: int | None = None,
    ) -> dict[str, Any]:
        """Inject a message carrying a document, downloadable with getFile like a real upload."""
        with self._cond:
            user = self._user(user_id, None, language_code, None)
            chat = self._chat(chat_id, chat_type, user, None)
            file_id = f"doc{len(self._files) + 1}"
            self._files[file_id] = data
            msg = self._store(
                StoredMessage(chat=chat, message_id=self._new_message_id(chat_id), date=int(time.time()),
                              sender=user, from_bot=False, text=caption or "", entities=[],
                              raw_text=caption or "", sent_at=time.monotonic())
            )
            payload = msg.to_api()
            payload.pop("text", None)
            if caption:
                payload["caption"] = caption
            payload["document"] = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": file_name,
                                   "mime_type": mime_type,
                                   "file_size": declared_size if declared_size is not None else len(data)}
            return self.push_update("message", payload)

    def callback(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        data: str,
        *,
        language_code: str | None = "zh-hans",
        username: str | None = None,
    ) -> dict[str, Any]:
        """Inject a button press on a message the bot sent; returns the update (id in callback_query.id)."""
        with self._cond:
            user = self._users.get(user_id) or self._user(user_id, username, language_code, None)
            stored = self._messages.get(chat_id, {}).get(message_id)
            if stored is not None and not stored.deleted:
                message = stored.to_api(with_reply=False)
            else:  # what Telegram sends for messages it can't show any more
                message = {"chat": dict(self._chat_for(chat_id)), "message_id": message_id, "date": 0}
            qid = f"cbq-{next(self._query_ids)}"
            self._callback_queries[qid] = {"data": data, "chat_id": chat_id, "message_id": message_id}
            payload = {
                "id": qid,
                "from": user,
                "message": message,
                "chat_instance": f"ci-{chat_id}",
                "data": data,
            }
            return self.push_update("callback_query", payload)

    def inline_query(
        self,
        user_id: int,
        query: str,
        *,
        language_code: str | None = "zh-hans",
        username: str | None = None,
        offset: str = "",
        chat_type: str | None = "sender",
    ) -> dict[str, Any]:
        """Inject an inline query; answers are readable via ``inline_answers()``."""
        with self._cond:
            user = self._user(user_id, username, language_code, None)
            qid = f"iq-{next(self._query_ids)}"
            self._inline_queries[qid] = {"query": query, "user_id": user_id}
            payload: dict[str, Any] = {"id": qid, "from": user, "query": query, "offset": offset}
            if chat_type:
                payload["chat_type"] = chat_type
            return self.push_update("inline_query", payload)

    def edit_user_message(self, chat_id: int, message_id: int, text: str) -> dict[str, Any]:
        """The user edits a message they sent: Telegram stores the new text and sends `edited_message`."""
        with self._cond:
            stored = self._messages[chat_id][message_id]
            if stored.from_bot:
                raise ValueError("users can only edit their own messages")
            stored.history.append((stored.text, stored.reply_markup))
            stored.text = stored.raw_text = text
            stored.entities = detect_entities(text)
            stored.edit_date = int(time.time())
            return self.push_update("edited_message", stored.to_api(stored=self._messages.get(chat_id)))

    def chosen_inline_result(
        self,
        user_id: int,
        result_id: str,
        query: str = "",
        *,
        inline_message_id: str | None = None,
    ) -> dict[str, Any]:
        """Inject the user's pick; with ``inline_message_id`` the sent message becomes editable."""
        with self._cond:
            user = self._users.get(user_id) or self._user(user_id, None, None, None)
            payload: dict[str, Any] = {"result_id": result_id, "from": user, "query": query}
            if inline_message_id:
                payload["inline_message_id"] = inline_message_id
                self._inline_messages[inline_message_id] = self._inline_message_for(
                    result_id, inline_message_id
                )
            return self.push_update("chosen_inline_result", payload)

    def _inline_message_for(self, result_id: str, inline_message_id: str) -> StoredMessage:
        result: dict[str, Any] = {}
        for answer in reversed(self._inline_answers):
            result = next((r for r in answer.results if str(r.get("id")) == result_id), {})
            if result:
                break
        content = result.get("input_message_content") or {}
        raw = content.get("message_text") or result.get("title") or result_id
        try:
            text, entities = _validate_text(raw, content.get("parse_mode"), content.get("entities"))
        except ApiError:
            text, entities = raw, []
        return StoredMessage(
            chat={"id": inline_message_id, "type": "sender"},
            message_id=0,
            date=int(time.time()),
            sender=dict(self.bot_user),
            from_bot=True,
            text=text,
            entities=entities,
            raw_text=raw,
            parse_mode=content.get("parse_mode"),
            reply_markup=result.get("reply_markup"),
            sent_at=time.monotonic(),
        )

    def my_chat_member(
        self,
        chat_id: int,
        user_id: int,
        old_status: str,
        new_status: str,
        *,
        chat_type: str = "group",
        chat_title: str | None = None,
    ) -> dict[str, Any]:
        """Inject a change of the bot's own membership, performed by ``user_id``."""
        with self._cond:
            user = self._users.get(user_id) or self._user(user_id, None, None, None)
            chat = self._chat(chat_id, chat_type, user, chat_title)
            self._members.setdefault(chat_id, {})[self.bot_id] = new_status
            payload = {
                "chat": chat,
                "from": user,
                "date": int(time.time()),
                "old_chat_member": _chat_member(dict(self.bot_user), old_status),
                "new_chat_member": _chat_member(dict(self.bot_user), new_status),
            }
            return self.push_update("my_chat_member", payload)

    def bot_removed(self, chat_id: int, user_id: int, *, chat_type: str = "group") -> dict[str, Any]:
        """The user blocked the bot (private) or removed it (group); later sends get 403 like Telegram."""
        if chat_type == "private":
            update = self.my_chat_member(chat_id, user_id, "member", "kicked", chat_type=chat_type)
            self.block_chat(chat_id)
        else:
            update = self.my_chat_member(chat_id, user_id, "member", "left", chat_type=chat_type)
            self.fail_chat(chat_id, 403, "Forbidden: bot was kicked from the group chat")
        return update

    def bot_added(self, chat_id: int, user_id: int, *, chat_type: str = "group") -> dict[str, Any]:
        self.clear_faults(chat_id)
        return self.my_chat_member(chat_id, user_id, "left", "member", chat_type=chat_type)

    # ------------------------------------------------------------------ configuration

    def set_chat_admins(
        self,
        chat_id: int,
        admin_ids: Iterable[int],
        *,
        owner_id: int | None = None,
        bot_is_admin: bool = False,
        chat_type: str = "supergroup",
    ) -> None:
        """Configure who getChatMember/getChatAdministrators report as admins in a group."""
        with self._cond:
            if chat_id not in self._chats:
                self._chats[chat_id] = {"id": chat_id, "type": chat_type, "title": f"Chat {chat_id}"}
            members = self._members.setdefault(chat_id, {})
            for uid, status in list(members.items()):
                if status in ("creator", "administrator"):
                    members[uid] = "member"
            for uid in admin_ids:
                members[uid] = "administrator"
            if owner_id is not None:
                members[owner_id] = "creator"
            if bot_is_admin:
                members[self.bot_id] = "administrator"

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """status: creator | administrator | member | restricted | left | kicked."""
        with self._cond:
            self._members.setdefault(chat_id, {})[user_id] = status

    def fail_chat(
        self,
        chat_id: int | str,
        status: int,
        description: str,
        parameters: dict[str, Any] | None = None,
        *,
        times: int | None = None,
        methods: Iterable[str] | None = None,
    ) -> None:
        """Make calls for ``chat_id`` fail; ``times=None`` means until ``clear_faults``."""
        with self._cond:
            self._faults.setdefault(chat_id, []).append(
                _Fault(
                    status,
                    description,
                    parameters,
                    times,
                    frozenset(m.lower() for m in methods) if methods is not None else None,
                )
            )

    def block_chat(self, chat_id: int | str, **kwargs: Any) -> None:
        self.fail_chat(chat_id, 403, "Forbidden: bot was blocked by the user", **kwargs)

    def chat_not_found(self, chat_id: int | str, **kwargs: Any) -> None:
        self.fail_chat(chat_id, 400, "Bad Request: chat not found", **kwargs)

    def migrate_chat(self, chat_id: int, new_chat_id: int, **kwargs: Any) -> None:
        self.fail_chat(
            chat_id,
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            {"migrate_to_chat_id": new_chat_id},
            **kwargs,
        )

    def flood_chat(self, chat_id: int | str, retry_after: int = 5, **kwargs: Any) -> None:
        self.fail_chat(
            chat_id,
            429,
            f"Too Many Requests: retry after {retry_after}",
            {"retry_after": retry_after},
            **kwargs,
        )

    def clear_faults(self, chat_id: int | str | None = None) -> None:
        with self._cond:
            if chat_id is None:
                self._faults.clear()
            else:
                self._faults.pop(chat_id, None)

    def set_flood(
        self,
        fraction: float,
        *,
        retry_after: int = 1,
        seed: int | None = None,
        methods: Iterable[str] = ("sendMessage",),
    ) -> None:
        """Answer ``fraction`` of calls with 429; the draw is seeded per (chat, attempt number)."""
        with self._cond:
            self._flood_fraction = fraction
            self._flood_retry_after = retry_after
            if seed is not None:
                self.seed = seed
            self._flood_methods = frozenset(m.lower() for m in methods)
            self._flood_attempts.clear()

    def set_rate_limit(
        self,
        max_calls: int | None = 30,
        *,
        window: float = 1.0,
        retry_after: int = 1,
        per_chat: int | None = None,
        methods: Iterable[str] = ("sendMessage",),
    ) -> None:
        """Imitate flood control: more than ``max_calls`` (or ``per_chat``) per sliding window gets 429."""
        with self._cond:
            self._rate_max = max_calls
            self._rate_window = window
            self._rate_retry_after = retry_after
            self._rate_per_chat = per_chat
            self._rate_methods = frozenset(m.lower() for m in methods)
            self._rate_hits.clear()
            self._rate_hits_per_chat.clear()

    # ------------------------------------------------------------------ read-back

    def calls(self, method: str | None = None) -> list[ApiCall]:
        with self._cond:
            if method is None:
                return list(self._calls)
            name = method.lower()
            return [c for c in self._calls if c.method.lower() == name]

    def rejected_calls(self, method: str | None = None) -> list[ApiCall]:
        return [c for c in self.calls(method) if not c.ok]

    @property
    def rejected_count(self) -> int:
        return len(self.rejected_calls())

    def messages(
        self, chat_id: int | str, *, include_user: bool = False, include_deleted: bool = False
    ) -> list[StoredMessage]:
        """Messages in chat order with their *current* text/markup (edits applied)."""
        with self._cond:
            msgs = sorted(self._messages.get(chat_id, {}).values(), key=lambda m: m.message_id)
            return [m for m in msgs if (include_user or m.from_bot) and (include_deleted or not m.deleted)]

    def message(self, chat_id: int | str, message_id: int) -> StoredMessage | None:
        with self._cond:
            return self._messages.get(chat_id, {}).get(message_id)

    def last_message(self, chat_id: int | str) -> StoredMessage | None:
        msgs = self.messages(chat_id)
        return msgs[-1] if msgs else None

    def texts(self, chat_id: int | str) -> list[str]:
        return [m.text for m in self.messages(chat_id)]

    def chats(self) -> list[int | str]:
        with self._cond:
            return list(self._messages)

    def inline_message(self, inline_message_id: str) -> StoredMessage | None:
        with self._cond:
            return self._inline_messages.get(inline_message_id)

    def inline_answers(self, inline_query_id: str | None = None) -> list[InlineAnswer]:
        with self._cond:
            return [a for a in self._inline_answers if inline_query_id in (None, a.inline_query_id)]

    def callback_answers(self, callback_query_id: str | None = None) -> list[CallbackAnswer]:
        with self._cond:
            return [a for a in self._callback_answers if callback_query_id in (None, a.callback_query_id)]

    def commands(self, scope: dict[str, Any] | None = None, language_code: str = "") -> list[dict[str, Any]]:
        with self._cond:
            return self._m_getMyCommands({"scope": scope, "language_code": language_code})

    def pending_updates(self) -> int:
        """Updates not yet handed out by getUpdates (confirmed or not)."""
        with self._cond:
            return sum(1 for p in self._updates if p.delivered == 0)

    @property
    def is_polling(self) -> bool:
        """True while a getUpdates long poll is parked on the server."""
        with self._cond:
            return self._waiting_polls > 0

    def peak_rate(self, method: str = "sendMessage", window: float = 1.0) -> int:
        """Most successful calls that arrived within any ``window`` seconds (flood-safety check)."""
        times = [c.started for c in self.deliveries(method)]
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] >= window:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    def throughput(self, method: str = "sendMessage") -> float:
        """Successful calls per second between the first and the last one."""
        times = [c.started for c in self.deliveries(method)]
        if len(times) < 2 or times[-1] == times[0]:
            return float(len(times))
        return (len(times) - 1) / (times[-1] - times[0])

    def deliveries(self, method: str = "sendMessage") -> list[ApiCall]:
        """Successful sends in arrival order: the raw material for msg/s and loss accounting."""
        return [c for c in self.calls(method) if c.ok]

    def duplicates(self, method: str = "sendMessage") -> dict[tuple[Any, str], int]:
        """(chat_id, text) pairs delivered more than once, with their counts."""
        counts: dict[tuple[Any, str], int] = {}
        for call in self.deliveries(method):
            key = (call.params.get("chat_id"), str(call.params.get("text")))
            counts[key] = counts.get(key, 0) + 1
        return {k: v for k, v in counts.items() if v > 1}

    def reset_records(self) -> None:
        """Forget recorded calls and answers (not chats/messages), e.g. after a warm-up phase."""
        with self._cond:
            self._calls.clear()
            self._inline_answers.clear()
            self._callback_answers.clear()
            self.internal_errors.clear()

    # ------------------------------------------------------------------ waiting

    def wait_for(self, predicate: Callable[[BotApiServer], T], timeout: float = 5.0, what: str = "") -> T:
        """Block until ``predicate(server)`` is truthy; woken by every call/update, never sleeps blindly."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(self)
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    recent = [(c.method, c.status, c.description) for c in self._calls[-8:]]
                    raise WaitTimeout(
                        f"timed out after {timeout}s waiting for {what or predicate!r}; recent calls: {recent}; "
                        f"internal errors: {self.internal_errors}"
                    )
                self._cond.wait(remaining)

    async def wait_for_async(
        self, predicate: Callable[[BotApiServer], T], timeout: float = 5.0, what: str = ""
    ) -> T:
        """Same as wait_for, without blocking the event loop that runs the Application."""
        return await asyncio.to_thread(self.wait_for, predicate, timeout, what)

    def wait_for_call(
        self,
        method: str,
        predicate: Callable[[ApiCall], bool] | None = None,
        *,
        count: int = 1,
        timeout: float = 5.0,
    ) -> ApiCall:
        """Return the ``count``-th recorded call of ``method`` matching ``predicate``."""

        def found(server: BotApiServer) -> ApiCall | None:
            matches = [c for c in server.calls(method) if predicate is None or predicate(c)]
            return matches[count - 1] if len(matches) >= count else None

        return self.wait_for(found, timeout, what=f"{count} x {method}")

    async def wait_for_call_async(
        self,
        method: str,
        predicate: Callable[[ApiCall], bool] | None = None,
        *,
        count: int = 1,
        timeout: float = 5.0,
    ) -> ApiCall:
        return await asyncio.to_thread(
            lambda: self.wait_for_call(method, predicate, count=count, timeout=timeout)
        )

    def wait_for_message(
        self,
        chat_id: int | str,
        predicate: Callable[[StoredMessage], bool] | str | None = None,
        *,
        timeout: float = 5.0,
    ) -> StoredMessage:
        """Wait for a bot message in ``chat_id``; a string predicate means 'text contains'."""
        if isinstance(predicate, str):
            needle = predicate

            def check(m: StoredMessage) -> bool:
                return needle in m.text
        else:
            check = predicate or (lambda m: True)

        def found(server: BotApiServer) -> StoredMessage | None:
            return next((m for m in server.messages(chat_id) if check(m)), None)

        return self.wait_for(found, timeout, what=f"message in chat {chat_id}")

    async def wait_for_message_async(
        self,
        chat_id: int | str,
        predicate: Callable[[StoredMessage], bool] | str | None = None,
        *,
        timeout: float = 5.0,
    ) -> StoredMessage:
        return await asyncio.to_thread(lambda: self.wait_for_message(chat_id, predicate, timeout=timeout))

    def wait_until_delivered(self, timeout: float = 5.0) -> None:
        """Wait until getUpdates has handed out every injected update."""
        self.wait_for(lambda s: s.pending_updates() == 0, timeout, what="all updates delivered")

    async def wait_until_delivered_async(self, timeout: float = 5.0) -> None:
        await asyncio.to_thread(self.wait_until_delivered, timeout)

    def wait_until_polling(self, timeout: float = 5.0) -> None:
        """Wait for a parked long poll, e.g. before injecting updates that
        ``start_polling(drop_pending_updates=True)`` would otherwise discard."""
        self.wait_for(lambda s: s.is_polling, timeout, what="a getUpdates long poll")

    async def wait_until_polling_async(self, timeout: float = 5.0) -> None:
        await asyncio.to_thread(self.wait_until_polling, timeout)


def _chat_member(user: dict[str, Any], status: str) -> dict[str, Any]:
    member: dict[str, Any] = {"user": user, "status": status}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(
            can_be_edited=False,
            is_anonymous=False,
            can_manage_chat=True,
            can_delete_messages=True,
            can_manage_video_chats=True,
            can_restrict_members=True,
            can_promote_members=False,
            can_change_info=True,
            can_invite_users=True,
            can_post_stories=False,
            can_edit_stories=False,
            can_delete_stories=False,
            can_pin_messages=True,
        )
    elif status == "kicked":
        member["until_date"] = 0
    elif status == "restricted":
        member.update(
            is_member=True,
            can_send_messages=False,
            can_send_audios=False,
            can_send_documents=False,
            can_send_photos=False,
            can_send_videos=False,
            can_send_video_notes=False,
            can_send_voice_notes=False,
            can_send_polls=False,
            can_send_other_messages=False,
            can_add_web_page_previews=False,
            can_change_info=False,
            can_invite_users=False,
            can_pin_messages=False,
            can_manage_topics=False,
            until_date=0,
        )
    return member


def _validate_inline_result(result: Any, seen: set[str]) -> None:
    if not isinstance(result, dict) or not result.get("type"):
        raise _bad_request('can\'t parse inline query result: Field "type" must be of type String')
    rid = result.get("id")
    if not isinstance(rid, str) or not 1 <= len(rid.encode("utf-8")) <= 64:
        raise _bad_request("RESULT_ID_INVALID")
    if rid in seen:
        raise _bad_request("RESULT_ID_DUPLICATE")
    seen.add(rid)
    if result["type"] == "article":
        title = result.get("title")
        if not isinstance(title, str) or not title.strip():
            raise _bad_request('can\'t parse InlineQueryResultArticle: Field "title" must be of type String')
        if not isinstance(result.get("input_message_content"), dict):
            raise _bad_request(
                'can\'t parse InlineQueryResultArticle: Field "input_message_content" must be of type Object'
            )
    content = result.get("input_message_content")
    if isinstance(content, dict) and "message_text" in content:
        _validate_text(content.get("message_text"), content.get("parse_mode"), content.get("entities"))
    _validate_reply_markup(result.get("reply_markup"))


@contextlib.asynccontextmanager
async def polling(app: Any, *, timeout: int = 1):
    """Run a real Application's long polling against this server for the `async with` body, then stop
    it the way `planbrief run` does, so tests share one start/stop sequence."""
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=timeout)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()
