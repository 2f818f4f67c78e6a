"""The Telegram application: one `build_application(settings)` for `run`, `console` and the tests.

Everything Telegram-specific is wired here (handlers, rate limiting, command menus, logging that
never shows the token); the answers themselves come from handlers/ → bot core → bot/telegram/render.py.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import secrets
import sys
import threading
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from telegram import BotCommand, BotCommandScopeDefault, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.config import ConfigError, Settings, load_settings
from bot.telegram.fairness import FairUpdateProcessor
from bot.telegram.i18n import COMMANDS, EN, ZH
from bot.telegram.polling import PoisonSafeBot
from bot.telegram.ratelimit import ChatFairRateLimiter
from handlers import common

log = logging.getLogger("planbrief")

EXIT_CONFIG = 2
EXIT_DATABASE = 1
EXIT_INDEX = 5  # the search index location cannot hold an index (same code as the command line's)
RATE_LIMIT_RETRIES = 3
CONCURRENT_UPDATES = 8  # handlers in flight at once; one per user, users served round robin


# ---------------------------------------------------------------------------- logging


class RedactSecrets(logging.Filter):
    """Replace each secret wherever it would appear (messages, args, tracebacks): httpx and PTB
    errors can carry request URLs, and those contain /bot<token>/; PTB logs setWebhook's
    parameters, secret_token included, at DEBUG."""

    def __init__(self, secrets_: dict[str, str]) -> None:
        super().__init__()
        self.secrets = {secret: label for secret, label in secrets_.items() if secret}

    @property
    def token(self) -> str:  # the bot token, for code that asks which token a filter hides
        return next((s for s, label in self.secrets.items() if label == "<token>"), "")

    def _redact(self, text: str) -> str:
        for secret, label in self.secrets.items():
            text = text.replace(secret, label)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string is not ours to fix here
            message = str(record.msg)
        redacted = self._redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True


def install_redaction(token: str, *, webhook_secret: str | None = None) -> RedactSecrets:
    """Filters on handlers see records from every logger (logger filters only see their own)."""
    redact = RedactSecrets({token: "<token>", webhook_secret or "": "<webhook-secret>"})
    root = logging.getLogger()
    for handler in root.handlers:
        handler.filters = [f for f in handler.filters if not isinstance(f, RedactSecrets)]
        handler.addFilter(redact)
    # httpx logs every request URL (token included) at INFO
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    return redact


class SchedulerRunsToDebug(logging.Filter):
    """APScheduler logs every run of every job at INFO ("Running job", "executed successfully", "Added
    job"): with the 5-second corpus reload that is a line every few seconds, forever. They become DEBUG
    here; warnings (a missed or failed job) stay as they are. What was due is logged by the jobs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def quiet_scheduler() -> None:
    for name in ("apscheduler.scheduler", "apscheduler.executors.default"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, SchedulerRunsToDebug) for f in logger.filters):
            logger.addFilter(SchedulerRunsToDebug())


def configure_logging(settings: Settings, *, webhook_secret: str | None = None) -> None:
    logging.basicConfig(level=getattr(logging, settings.log_level, logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_redaction(settings.token, webhook_secret=webhook_secret)
    quiet_scheduler()


# ---------------------------------------------------------------------------- application


def _commands(lang: str) -> list[BotCommand]:
    return [BotCommand(name, description) for name, description in COMMANDS[lang]]


async def register_commands(app: Application) -> None:
    """The command menus: Chinese by default, English for clients set to English."""
    try:
        await app.bot.set_my_commands(_commands(ZH), scope=BotCommandScopeDefault())
        await app.bot.set_my_commands(_commands(EN), scope=BotCommandScopeDefault(), language_code="en")
    except TelegramError as exc:  # menus are a convenience; the bot works without them
        log.warning("could not register command menus: %s", type(exc).__name__)


async def load_core(app: Application) -> None:
    """Corpus and search engine once per process, off the event loop (the first index build takes
    seconds); kept in bot_data so handlers never reload."""
    settings: Settings = app.bot_data["settings"]
    if all(app.bot_data.get(key) is None for key in ("corpus", "engine", common.LIBRARY)):
        from bot.corpus.loader import folders_for
        from bot.search.library import Library

        # the library loads them: it reads the manifests before the corpus, so a plan added meanwhile
        # is picked up by the next refresh, and later changes are applied in place
        library = Library(folders_for(), settings.cache_dir)
        snapshot = await asyncio.to_thread(lambda: library.current)
        app.bot_data["corpus"], app.bot_data["engine"] = snapshot.corpus, snapshot.engine
        app.bot_data[common.LIBRARY] = library
    if app.bot_data.get("corpus") is None:
        from bot.corpus.loader import load_corpus

        app.bot_data["corpus"] = await asyncio.to_thread(load_corpus)
    if app.bot_data.get("engine") is None:
        from bot.search.engine import SearchEngine

        app.bot_data["engine"] = await asyncio.to_thread(
            SearchEngine.from_corpus, app.bot_data["corpus"], settings.cache_dir)
    if app.bot_data.get(common.LIBRARY) is None:
        from bot.search.library import Library

        corpus = app.bot_data["corpus"]
        app.bot_data[common.LIBRARY] = Library(corpus.folders, settings.cache_dir, corpus, app.bot_data["engine"])


async def reload_job(context) -> None:
    """Plans added by another process (`planbrief add` on the same folder) appear within seconds."""
    if await common.refresh_corpus(context.application):
        library = context.application.bot_data.get(common.LIBRARY)
        warm_pictures(context.application, library.current.added if library is not None else None)


def warm_pictures(app: Application, plans=None) -> None:
    """In a background thread: each plan's themes read once and matplotlib with its CJK font loaded, so
    the first /compare or /themes after start-up (or a reload) draws at the warm speed. Start-up itself
    does not wait for it. After a reload only the plans it brought (`plans`): the others' themes are
    kept beside them already, and reading 50,000 of them again would only compete with the answers."""
    from types import SimpleNamespace

    from bot.digests.figures import warm

    corpus = app.bot_data.get("corpus") if plans is None else SimpleNamespace(plans=list(plans))
    if corpus is not None:
        thread = threading.Thread(target=warm, args=(corpus, app.bot_data.setdefault(WARM_STOP, threading.Event())),
                                  name="warm-pictures")
        # finished ones dropped: a bot running for months warms once per reload that brought plans
        app.bot_data[WARM_THREADS] = [t for t in app.bot_data.get(WARM_THREADS, []) if t.is_alive()] + [thread]
        thread.start()


WARM_STOP, WARM_THREADS = "_warm_stop", "_warm_threads"


async def stop_warming(app: Application) -> None:
    """Tell the warm-up threads to finish and wait for them (a step takes milliseconds, the matplotlib
    import about a second). Not a daemon thread left running: a thread inside matplotlib's C++ while
    the interpreter finalizes aborts the process ("terminate called without an active exception")."""
    stop = app.bot_data.get(WARM_STOP)
    if stop is not None:
        stop.set()
    for thread in app.bot_data.pop(WARM_THREADS, []):
        await asyncio.to_thread(thread.join)


async def _post_init(app: Application) -> None:
    await load_core(app)
    await register_commands(app)
    warm_pictures(app)
    settings: Settings = app.bot_data["settings"]
    if settings.editors:  # the sandbox's forkserver starts now, not when the first editor waits for it
        from bot.corpus import sandbox

        asyncio.get_running_loop().run_in_executor(sandbox.EXECUTOR, sandbox.warm)
    if app.job_queue is not None:
        app.job_queue.run_repeating(reload_job, interval=settings.reload_seconds, first=settings.reload_seconds,
                                    name="corpus-reload")


def register_handlers(app: Application) -> None:
    """Every handler, in the order that matters: throttle first, specific commands, then the digest
    family, then the catch-alls for unknown commands and plain text."""
    from handlers import (
        callbacks,
        city,
        compare,
        editor,
        errors,
        fallback,
        inline,
        pictures,
        plans,
        sources,
        start,
        stats,
        throttle,
        topic,
    )

    settings: Settings = app.bot_data["settings"]
    app.bot_data[throttle.BUCKETS] = throttle.Throttle.from_settings(settings)
    app.add_handler(TypeHandler(Update, throttle.check), group=-1)
    _gate_edits(app)
    from handlers import activity

    app.add_handler(TypeHandler(Update, activity.note), group=-3)  # who was seen, for `stats`

    app.add_handler(CommandHandler("start", start.start))
    app.add_handler(CommandHandler("help", start.help_command))
    app.add_handler(CommandHandler("lang", start.lang_command))
    app.add_handler(CommandHandler("topic", topic.topic))
    app.add_handler(CommandHandler("city", city.city))
    app.add_handler(CommandHandler("compare", compare.compare_command))
    app.add_handler(CallbackQueryHandler(compare.on_page, pattern=r"^k[12]\|"))
    app.add_handler(CommandHandler("themes", pictures.themes_command))
    app.add_handler(CommandHandler("brief", pictures.brief_command))
    app.add_handler(CallbackQueryHandler(pictures.on_export, pattern=r"^x[ct]\|"))
    app.add_handler(CommandHandler("stats", stats.stats_command))
    app.add_handler(CommandHandler("plans", plans.plans))
    app.add_handler(CommandHandler("plan", plans.plan))
    app.add_handler(InlineQueryHandler(inline.inline_query))

    # Digest commands (/subscribe /subscriptions /unsubscribe /digest /timezone) and their JobQueue
    # jobs live in handlers/digest.py, which registers itself with `register(app, settings)`. Looked
    # up with find_spec rather than a bare try/except ImportError, so a broken digest module fails
    # loudly instead of silently disappearing.
    if importlib.util.find_spec("handlers.digest") is not None:
        from handlers import digest

        digest.register(app, settings)

    editor.register(app)  # files, links, /add /fix /remove: before the catch-alls that would answer text
    sources.register(app)  # /sources /watch /unwatch, proposals' buttons, and the check job

    # Catch-alls last; a digest module's callback patterns take precedence over this generic one.
    app.add_handler(CallbackQueryHandler(callbacks.on_button))
    # only new messages: an edited typo should not earn a second "unknown command"
    fresh = filters.UpdateType.MESSAGE
    app.add_handler(MessageHandler(fresh & filters.COMMAND, fallback.unknown_command))
    app.add_handler(MessageHandler(
        fresh & filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND & ~filters.VIA_BOT, fallback.plain_text))
    app.add_error_handler(errors.on_error)


def _gate_edits(app: Application) -> None:
    """Before everything (even the throttle): an edited /topic revises its answer, other edits are
    ignored (handlers/edits.py)."""
    from handlers import edits

    app.add_handler(TypeHandler(Update, edits.gate), group=-2)


def build_bot(settings: Settings, *, request=None, get_updates_request=None) -> PoisonSafeBot:
    """The bot object with PTB's own defaults (256 connections, 1 for getUpdates), our rate limiter
    and defaults, and poison-update tolerance (bot/telegram/polling.py)."""
    root = settings.api_root
    return PoisonSafeBot(
        settings.token,
        base_url=f"{root}/bot",
        base_file_url=f"{root}/file/bot",
        request=request or HTTPXRequest(connection_pool_size=256),
        get_updates_request=get_updates_request or request or HTTPXRequest(connection_pool_size=1),
        rate_limiter=ChatFairRateLimiter(max_retries=RATE_LIMIT_RETRIES),
        defaults=Defaults(parse_mode=ParseMode.HTML, tzinfo=ZoneInfo(settings.tz),
                          link_preview_options=LinkPreviewOptions(is_disabled=True)),
    )


class PlanBriefApplication(Application):
    """Stopping waits for the tasks handlers started; reads of untrusted input are among them, so their
    children are stopped first (each editor is told in one line) rather than run to their deadline."""

    async def stop(self) -> None:
        from bot.corpus import sandbox

        sandbox.stop_all()
        await super().stop()

    async def shutdown(self) -> None:
        await stop_warming(self)
        await super().shutdown()


def build_application(settings: Settings, *, corpus=None, engine=None, request=None,
                      get_updates_request=None, store=None, update_processor=None) -> Application:
    """The one Application. `request` swaps the HTTP transport (the console answers locally);
    `store` is an already opened digest store (`run` opens and checks it first); `update_processor`
    replaces the fair processor (`serve` passes one that also measures)."""
    bot = build_bot(settings, request=request, get_updates_request=get_updates_request)
    processor = update_processor or FairUpdateProcessor(CONCURRENT_UPDATES)
    app = (Application.builder().application_class(PlanBriefApplication).bot(bot)
           .concurrent_updates(processor).post_init(_post_init).build())
    app.bot_data["settings"] = settings
    app.bot_data["corpus"] = corpus
    app.bot_data["engine"] = engine
    if store is not None:
        app.bot_data["store"] = store
    register_handlers(app)
    return app


# ---------------------------------------------------------------------------- planbrief run


def _fail(message: str, code: int) -> int:
    """One line on stderr, in the CLI's language (PLANBRIEF_LANG / the locale; Chinese first)."""
    from bot.config import cli_english
    from bot.telegram.i18n import run_error

    sys.stderr.write(f"planbrief: {run_error(message, cli_english())}\n")
    return code


async def verify_token(settings: Settings) -> None:
    """One getMe before starting, so a bad token is one clear line instead of PTB's retry-loop
    tracebacks (whose InvalidToken message would even quote the token)."""
    from telegram import Bot

    root = settings.api_root
    async with Bot(settings.token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot"):
        pass


def run_main(args, corpus) -> int:
    """`planbrief run`: polling, or a webhook when PLANBRIEF_WEBHOOK_URL is set."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    secret = (settings.webhook_secret or secrets.token_urlsafe(32)) if settings.webhook_url else None
    configure_logging(settings, webhook_secret=secret)
    from bot.digests.health import DatabaseProblem, open_checked
    from bot.digests.store import default_location

    try:  # before the network: a database the bot cannot write is the operator's to fix, not a retry
        store = open_checked(default_location(settings.data_dir))
    except DatabaseProblem as exc:
        return _fail(str(exc), EXIT_DATABASE)
    from bot.search.engine import index_dir
    from bot.search.tantivy_index import IndexUnusable, usable_folder

    try:  # likewise: a data folder that cannot hold the index is one line, not a traceback at start-up
        usable_folder(index_dir(settings.cache_dir))
    except IndexUnusable as exc:
        return _fail(str(exc), EXIT_INDEX)
    try:
        asyncio.run(verify_token(settings))
    except InvalidToken:
        return _fail("Telegram rejected TELEGRAM_BOT_TOKEN (check it with @BotFather)", EXIT_CONFIG)
    except NetworkError as exc:
        message = str(exc).replace(settings.token, "<token>")
        return _fail(f"cannot reach the Bot API at {settings.api_root}: {message}", 1)
    app = build_application(settings, corpus=corpus, store=store)
    try:
        if settings.webhook_url:
            path = urlsplit(settings.webhook_url).path.lstrip("/")
            log.info("webhook mode on %s:%s/%s", settings.webhook_listen, settings.webhook_port, path)
            app.run_webhook(listen=settings.webhook_listen, port=settings.webhook_port, url_path=path,
                            webhook_url=settings.webhook_url, secret_token=secret,
                            allowed_updates=Update.ALL_TYPES)
        else:
            log.info("polling %s", settings.api_root)
            app.run_polling(allowed_updates=Update.ALL_TYPES)
    except InvalidToken:
        return _fail("Telegram rejected TELEGRAM_BOT_TOKEN (check it with @BotFather)", EXIT_CONFIG)
    except NetworkError as exc:
        message = str(exc).replace(settings.token, "<token>")
        return _fail(f"cannot reach the Bot API at {settings.api_root}: {message}", 1)
    return 0
