"""The editor's desk: a file or link in a private chat becomes a preview card, then a published plan.

Thin like the other handlers: who may do it (PLANBRIEF_EDITORS) → the core's prepare/publish/remove,
off the event loop → render_editor's card. Nothing a non-editor sends is downloaded or written: the
editor check comes before getFile. Drafts wait in bot_data (one per key, the file in the data folder)
until 收录 or 取消; publishing puts the plan into the running bot's corpus and index at once, touching
no other plan (handlers/common.refresh_corpus).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.corpus import formats, ingest, sandbox
from bot.corpus.fetch import FetchError
from bot.telegram import render
from bot.telegram import render_editor as re_
from bot.telegram.i18n import t
from handlers import common
from handlers.drafts import DraftBook

log = logging.getLogger(__name__)

DRAFTS = "editor_drafts"
CANDIDATE_KEY = "source-candidate"  # the "latest draft" when the latest card was a source's proposal
DRAFT_MAX_AGE = 24 * 3600.0  # seconds a draft file may outlive the process that made it
MAX_DOWNLOAD = 20 * 1024 * 1024  # what getFile lets a bot download
# any scheme, so that an ftp:// or file:// link gets "http/https only" rather than silence
URL = re.compile(r"^\s*([a-z][a-z0-9+.-]{1,15}://\S+)\s*$", re.IGNORECASE)
FIX_FIELDS = {"city": "city", "place": "city", "地方": "city", "城市": "city", "year": "year", "年份": "year",
              "title": "title", "标题": "title"}


@dataclass
class Pending:
    """A draft waiting for its editor's decision; `overrides` are replayed when /fix re-reads it."""

    user_id: int
    source: Path
    original_name: str
    draft: ingest.Draft | None = None
    overrides: dict = field(default_factory=dict)
    source_site: str = ""


def _settings(context):
    return context.bot_data["settings"]


def is_editor(context: ContextTypes.DEFAULT_TYPE, update: Update) -> bool:
    user = update.effective_user
    return user is not None and user.id in _settings(context).editors


def _drafts(context) -> DraftBook:
    """Memory first, then the shared state (handlers/drafts.py): another worker's draft works too."""
    return _book(context.bot_data)


def _book(bot_data) -> DraftBook:
    book = bot_data.get(DRAFTS)
    if book is None:
        book = bot_data[DRAFTS] = DraftBook(bot_data, Pending, DRAFT_MAX_AGE)
    return book


def candidates_are_latest(bot_data, user_id: int) -> None:
    """A source's proposal message is now this editor's latest card: /fix corrects its candidates
    (handlers/sources.fix_candidate) until the next upload makes a draft the latest again. Writes
    the shared state: call it off the event loop."""
    _book(bot_data).set_last(user_id, CANDIDATE_KEY)


def _drafts_dir(context) -> Path:
    path = Path(_settings(context).data_dir) / "drafts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def sweep_old_drafts(folder: Path, max_age: float = DRAFT_MAX_AGE) -> None:
    """Drafts live in memory, so a restart orphans their files. Only old ones go: another process
    sharing the data folder (a rolling restart) may still hold today's."""
    if not folder.is_dir():
        return
    cutoff = time.time() - max_age
    for path in folder.iterdir():
        with contextlib.suppress(OSError):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()


async def _refuse_unless_editor(update: Update, context) -> bool:
    """True when the sender may use the desk; otherwise a polite refusal has been sent."""
    lang = common.lang(update, context)
    if not is_editor(context, update):
        await common.send(update, context, t(lang, "ed_only"))
        return False
    if update.effective_chat is None or update.effective_chat.type != ChatType.PRIVATE:
        await common.send(update, context, t(lang, "ed_private"))
        return False
    return True


async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if not await _refuse_unless_editor(update, context):
        return
    lang = common.lang(update, context)
    doc = update.effective_message.document
    name = doc.file_name or "file"
    suffix = Path(name).suffix.lower()
    if suffix not in formats.SUPPORTED and suffix not in formats.CONVERTIBLE:  # .doc gets "how to convert"
        accepted = "、".join(sorted(formats.SUPPORTED))
        await common.send(update, context, t(lang, "ed_bad_type", suffix=render.esc(suffix or "—"), accepted=accepted))
        return
    if doc.file_size and doc.file_size > MAX_DOWNLOAD:
        await common.send(update, context, t(lang, "ed_too_big", size=f"{doc.file_size / 1e6:.1f}"))
        return
    key = secrets.token_urlsafe(6)
    target = _drafts_dir(context) / f"{key}{suffix}"
    try:
        tg_file = await context.bot.get_file(doc.file_id)
        await tg_file.download_to_drive(target)
    except TelegramError as exc:
        target.unlink(missing_ok=True)
        await common.send(update, context, t(lang, "ed_failed", reason=render.esc(str(exc))))
        return
    _background(update, context, _preview(update, context, Pending(update.effective_user.id, target, name), key))


def _background(update: Update, context, coroutine) -> None:
    """Reading untrusted input takes up to the sandbox's deadline: it goes on as a task of its own, so
    the handler returns and its update slot (one of eight) is free for readers' questions."""
    context.application.create_task(coroutine, update=update)


async def on_link(update: Update, context: ContextTypes.DEFAULT_TYPE, url: str | None = None) -> None:
    if not await _refuse_unless_editor(update, context):
        return
    url = url or URL.match(update.effective_message.text or "").group(1)
    _background(update, context, _fetch_and_preview(update, context, url))


async def _fetch_and_preview(update: Update, context, url: str) -> None:
    lang = common.lang(update, context)
    try:
        fetched = await untrusted(sandbox.fetch_untrusted, url, allow_private=_settings(context).allow_private_urls)
    except (FetchError, ingest.AddError) as exc:
        await common.send(update, context, t(lang, "ed_failed", reason=render.esc(str(exc))))
        return
    key = secrets.token_urlsafe(6)
    # the download sits in the system temp folder, often another filesystem than the data folder:
    # move (copy + delete), since a rename across filesystems fails
    target = Path(shutil.move(fetched.path, _drafts_dir(context) / f"{key}{fetched.path.suffix}"))
    await _preview(update, context, Pending(update.effective_user.id, target, fetched.url,
                                            source_site=fetched.site), key)


async def add_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/add URL`; without a URL, how to add."""
    if not await _refuse_unless_editor(update, context):
        return
    arg = " ".join(context.args or [])
    if URL.match(arg):
        await on_link(update, context, URL.match(arg).group(1))
        return
    await common.send(update, context, t(common.lang(update, context), "ed_add_usage"))


async def _preview(update: Update, context, pending: Pending, key: str) -> None:
    """Prepare off the loop, refuse duplicates with the id they duplicate, else keep and show the card."""
    lang = common.lang(update, context)
    folders = common.corpus(context).folders
    try:
        pending.draft = await untrusted(_prepare, pending)
        duplicate = await asyncio.to_thread(ingest.duplicate_of, folders, pending.draft)
    except ingest.AddError as exc:
        pending.source.unlink(missing_ok=True)
        await common.send(update, context, t(lang, "ed_failed", reason=render.esc(str(exc))))
        return
    if duplicate:
        pending.source.unlink(missing_ok=True)
        await common.send(update, context, t(lang, "ed_duplicate", plan_id=render.esc(duplicate)))
        return
    _drafts(context)[key] = pending
    _drafts(context).set_last(pending.user_id, key)
    await common.send(update, context, re_.preview_card(pending.draft, key, lang))
    library = context.bot_data.get(common.LIBRARY)
    if library is not None:  # while the editor reads the card: 收录 then costs only this plan
        await asyncio.to_thread(library.warm)


async def untrusted(func, *args, **kwargs):
    """Run a read of untrusted input on the sandbox's own threads (each waits on a limited child
    process), never on the default executor that answers readers' searches."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(sandbox.EXECUTOR, functools.partial(func, *args, **kwargs))


def _prepare(pending: Pending) -> ingest.Draft:
    """Read the draft in a limited child process; and, since 收录 may follow, load what writing it to
    the index needs meanwhile."""
    from bot.search.tantivy_index import warm_writer

    draft = sandbox.read_untrusted(pending.source, original_name=pending.original_name,
                                source_site=pending.source_site or None, **pending.overrides)
    warm_writer()
    return draft


async def fix(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/fix city 临沂` (or year, title) on this editor's latest draft: re-read with the override."""
    if not await _refuse_unless_editor(update, context):
        return
    lang = common.lang(update, context)
    key = _drafts(context).last(update.effective_user.id)
    if key == CANDIDATE_KEY:  # the editor's latest card is a watched source's proposal
        from handlers import sources  # imports this module: resolved at call time

        await sources.fix_candidate(update, context, list(context.args or []))
        return
    pending = _drafts(context).get(key) if key else None
    if pending is None:
        await common.send(update, context, t(lang, "ed_no_draft"))
        return
    args = context.args or []
    name = FIX_FIELDS.get(args[0].lower()) if args else None
    value = render.clean(" ".join(args[1:]), 120)
    if name is None or not value or (name == "year" and not re.fullmatch(r"[0-9]{1,4}", value)):
        await common.send(update, context, t(lang, "ed_fix_usage"))
        return
    _background(update, context, _reread(update, context, pending, key, name, value))


async def _reread(update: Update, context, pending: Pending, key: str, name: str, value: str) -> None:
    lang = common.lang(update, context)
    previous = dict(pending.overrides)
    pending.overrides[name] = int(value) if name == "year" else value
    try:
        pending.draft = await untrusted(_prepare, pending)
    except ingest.AddError as exc:
        pending.overrides = previous
        await common.send(update, context, t(lang, "ed_failed", reason=render.esc(str(exc))))
        return
    _drafts(context)[key] = pending  # the override, for a 收录 that reaches another worker
    await common.send(update, context, re_.preview_card(pending.draft, key, lang))


async def remove(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if not await _refuse_unless_editor(update, context):
        return
    lang = common.lang(update, context)
    plan_id = render.clean(" ".join(context.args or []), 60)
    plan = common.corpus(context).plan(plan_id) if plan_id else None
    if plan is None:
        await common.send(update, context, t(lang, "ed_remove_usage"))
        return
    try:
        await asyncio.to_thread(ingest.removable, common.corpus(context).folders, plan.plan_id)
    except ingest.RemoveError as exc:  # a shipped plan: refused before asking to confirm
        await common.send(update, context, t(lang, "ed_failed", reason=render.esc(_said(exc, lang))))
        return
    await common.send(update, context, re_.remove_confirm(plan.plan_id, plan.meta.title, lang))


async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """收录 / 取消 / 撤下: only an editor, and for a draft only the editor who made it."""
    lang = common.lang(update, context)
    press = re_.parse_press(update.callback_query.data)
    if press is None or not is_editor(context, update):
        await common.answer_callback(update, t(lang, "ed_only") if press else t(lang, "stale"))
        return
    if press.action == "keep":
        await common.answer_callback(update, t(lang, "ed_cancelled"))
        await common.edit(update, context, render.Reply(t(lang, "ed_cancelled")))
        return
    if press.action == "remove":
        await _remove(update, context, press.value, lang)
        return
    pending = _drafts(context).get(press.value)
    if pending is None or pending.user_id != update.effective_user.id:
        await common.answer_callback(update, t(lang, "stale"))
        return
    if press.action == "cancel":
        _drafts(context).pop(press.value, None)
        pending.source.unlink(missing_ok=True)
        await common.answer_callback(update)
        await common.edit(update, context, render.Reply(t(lang, "ed_cancelled")))
        return
    await _publish(update, context, press.value, pending, lang)


async def _publish(update: Update, context, key: str, pending: Pending, lang: str) -> None:
    if not await asyncio.to_thread(_drafts(context).claim, key):  # another press (worker) got it first
        await common.answer_callback(update, t(lang, "stale"))
        return
    await common.answer_callback(update)
    try:
        if pending.draft is None:  # made by another worker or before a restart: read the file again
            pending.draft = await untrusted(_prepare, pending)
        published = await asyncio.to_thread(ingest.publish, common.corpus(context).folders, pending.draft)
    except ingest.AddError as exc:
        _drafts(context)[key] = pending  # not published: the draft stays for another try or 取消
        await common.send(update, context, t(lang, "ed_failed", reason=render.esc(str(exc))))
        return
    pending.source.unlink(missing_ok=True)
    await common.refresh_corpus(context.application, [published])  # in place: only this plan is indexed
    reply = re_.published(published.summary(), lang)
    if not await common.edit(update, context, reply):
        await common.send(update, context, reply)


async def _remove(update: Update, context, plan_id: str, lang: str) -> None:
    await common.answer_callback(update)
    try:
        await asyncio.to_thread(ingest.remove_plan, common.corpus(context).folders, plan_id)
    except ingest.RemoveError as exc:
        line = t(lang, "ed_remove_gone", plan_id=render.esc(plan_id)) if exc.not_found else \
            t(lang, "ed_remove_failed", reason=render.esc(_said(exc, lang)))
        await common.send(update, context, line)
        return
    await common.refresh_corpus(context.application)
    reply = render.Reply(t(lang, "ed_removed", plan_id=render.esc(plan_id)))
    if not await common.edit(update, context, reply):
        await common.send(update, context, reply)


def _said(exc: Exception, lang: str) -> str:
    english = getattr(exc, "en", None)
    return english if english and lang == "en" else str(exc)


def register(app: Application) -> None:
    """Before the catch-alls. Files and links only in private chats (in a group they are conversation,
    not submissions); non-editors get the refusal there."""
    sweep_old_drafts(Path(app.bot_data["settings"].data_dir) / "drafts")
    fresh = filters.UpdateType.MESSAGE
    app.add_handler(MessageHandler(fresh & filters.ChatType.PRIVATE & filters.Document.ALL, on_document))
    app.add_handler(MessageHandler(fresh & filters.ChatType.PRIVATE & filters.Regex(URL), on_link))
    app.add_handler(CommandHandler("add", add_command))
    app.add_handler(CommandHandler("fix", fix))
    app.add_handler(CommandHandler("remove", remove))
    app.add_handler(CallbackQueryHandler(on_press, pattern=r"^ed\|"))
