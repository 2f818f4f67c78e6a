"""`planbrief serve [--workers N]` and `planbrief stats [--json]`.

serve, in the parent process, before any worker exists:
1. settings (PLANBRIEF_WEBHOOK_URL is required: serve is webhook-only; `run` keeps polling);
2. the database opened, checked and migrated — once, under the migrations' lock;
3. setWebhook — once per deployment, not per worker: a short claim in kv_state lets one process
   (of however many `serve`s start together) compare what Telegram has with what we want, and call
   setWebhook only when they differ;
4. a fresh PROMETHEUS_MULTIPROC_DIR, so /metrics sums the workers;
then uvicorn runs N workers of bot.service.asgi:create_app on PLANBRIEF_WEBHOOK_LISTEN:PORT.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import sys
import tempfile

from bot.config import ConfigError, Settings, load_settings

log = logging.getLogger("planbrief.service")

EXIT_CONFIG = 2
EXIT_DATABASE = 1
WEBHOOK_KEY = ("service", "webhook")
WEBHOOK_LOCK = ("service", "webhook-lock")


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"planbrief: {message}\n")
    return code


async def ensure_webhook(settings: Settings, state, secret: str) -> bool:
    """setWebhook unless Telegram already has this URL and secret; True when it was called.

    Of several processes starting at once only the one holding the claim looks; the others leave it
    to that one (the claim expires, so a crash in between does not block the next start)."""
    from telegram import Bot, Update

    if not await asyncio.to_thread(state.claim, *WEBHOOK_LOCK, ttl=60):
        log.info("another process is setting the webhook")
        return False
    try:
        wanted = {"url": settings.webhook_url,
                  "secret": hashlib.sha256(secret.encode()).hexdigest()[:16]}
        recorded = await asyncio.to_thread(state.get, *WEBHOOK_KEY)
        root = settings.api_root
        async with Bot(settings.token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot") as bot:
            info = await bot.get_webhook_info()
            if info.url == settings.webhook_url and recorded == wanted:
                log.info("webhook already set")
                return False
            await bot.set_webhook(settings.webhook_url, secret_token=secret, allowed_updates=Update.ALL_TYPES)
        await asyncio.to_thread(state.put, *WEBHOOK_KEY, wanted)
        log.info("webhook set to %s", settings.webhook_url)
        return True
    finally:
        await asyncio.to_thread(state.delete, *WEBHOOK_LOCK)


def serve_main(args, _corpus=None) -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    if not settings.webhook_url:
        return _fail("serve needs PLANBRIEF_WEBHOOK_URL (the https:// address Telegram calls); "
                     "without one, use `planbrief run` (polling)", EXIT_CONFIG)
    workers = max(1, int(getattr(args, "workers", 1) or 1))
    from bot.service.app import configure_logging
    from bot.service.asgi import webhook_path, webhook_secret

    secret = webhook_secret(settings)
    configure_logging(settings, webhook_secret=secret)
    from bot.digests.health import DatabaseProblem, open_checked
    from bot.digests.state import StateStore
    from bot.digests.store import default_location

    try:
        store = open_checked(default_location(settings.data_dir))
    except DatabaseProblem as exc:
        return _fail(str(exc), EXIT_DATABASE)
    if workers > 1 and store.engine.dialect.name == "sqlite":
        log.warning("%d workers on SQLite: they share one file lock; PostgreSQL (PLANBRIEF_DATABASE_URL) "
                    "is the database for several workers", workers)
    from telegram.error import InvalidToken, NetworkError, TelegramError

    try:
        asyncio.run(ensure_webhook(settings, StateStore(store.engine), secret))
    except InvalidToken:
        return _fail("Telegram rejected TELEGRAM_BOT_TOKEN (check it with @BotFather)", EXIT_CONFIG)
    except (NetworkError, TelegramError) as exc:
        message = str(exc).replace(settings.token, "<token>")
        return _fail(f"cannot set the webhook at {settings.api_root}: {message}", 1)
    finally:
        store.close()
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="planbrief-metrics-"))
    import uvicorn

    log.info("serving %s on %s:%s with %d worker(s)", webhook_path(settings), settings.webhook_listen,
             settings.webhook_port, workers)
    uvicorn.run("bot.service.asgi:create_app", factory=True, host=settings.webhook_listen,
                port=settings.webhook_port, workers=workers, access_log=False,
                log_level=settings.log_level.lower(), timeout_graceful_shutdown=10)
    return 0


# ------------------------------------------------------------------------------------------ stats


def stats_main(args, corpus) -> int:
    from bot.digests.health import DatabaseProblem, open_checked
    from bot.digests.stats import collect
    from bot.digests.store import default_location
    from bot.sources.stats_hook import install as install_sources

    install_sources()
    try:
        settings = load_settings(require_token=False)
    except ConfigError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    try:
        store = open_checked(default_location(settings.data_dir))
    except DatabaseProblem as exc:
        return _fail(str(exc), EXIT_DATABASE)
    try:
        report = collect(store, corpus, cache_dir=settings.cache_dir, tz=settings.tz)
    finally:
        store.close()
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        return 0
    from bot.telegram.render_stats import stats_text

    sys.stdout.write(stats_text(report, "zh", html=False) + "\n")
    return 0
