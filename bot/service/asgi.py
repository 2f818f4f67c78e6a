"""The ASGI app one `planbrief serve` worker runs: PTB's Application fed by a Starlette webhook route.

PTB documents this shape ("custom webhook bot with your own web server"): the Application is
initialized and started without its own updater, and the web framework puts each verified update on
`application.update_queue`. Every worker is the same app; the database (subscriptions, the delivery
ledger, kv_state) is what makes them one bot.

Routes, all on PLANBRIEF_WEBHOOK_PORT:
- POST <path of PLANBRIEF_WEBHOOK_URL>: Telegram's updates; X-Telegram-Bot-Api-Secret-Token must match
  (403 otherwise), the body must be an update (400 otherwise). 200 as soon as it is queued.
- GET /healthz: the process answers (liveness).
- GET /readyz: 200 only when the database answers, the corpus and index are loaded, and this worker's
  digest tick ran in the last READY_TICK seconds; 503 with the reasons otherwise (a balancer stops
  sending here, an orchestrator does not restart a worker that is merely waiting for its database).
- GET /metrics: Prometheus text (bot.service.metrics).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import time
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update

from bot.config import Settings, load_settings

log = logging.getLogger("planbrief.service")

READY_TICK = 120.0  # seconds: a worker whose digest tick has not run for this long is not ready
DB_PROBE_TIMEOUT = 3.0
TICK_JOBS = ("digest-tick", "digest-catch-up")


def webhook_secret(settings: Settings) -> str:
    """PLANBRIEF_WEBHOOK_SECRET, or one derived from the token: every worker computes the same secret
    without it being stored anywhere (a random one per process would make the workers refuse each
    other's webhook)."""
    if settings.webhook_secret:
        return settings.webhook_secret
    return hmac.new(settings.token.encode(), b"planbrief-webhook-secret", "sha256").hexdigest()[:48]


def webhook_path(settings: Settings) -> str:
    return "/" + urlsplit(settings.webhook_url or "").path.lstrip("/")


class Worker:
    """One worker's Application and what /readyz needs to know about it."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.secret = webhook_secret(settings)
        self.app = None
        self.store = None
        self.last_tick: float | None = None
        self.started_at = time.monotonic()

    async def start(self) -> None:
        from bot.digests.health import open_checked
        from bot.digests.store import default_location
        from bot.service.app import CONCURRENT_UPDATES, build_application
        from bot.service.metrics import RETRIES_429, MeasuredUpdateProcessor

        self.store = await asyncio.to_thread(open_checked, default_location(self.settings.data_dir))
        self.app = build_application(self.settings, store=self.store,
                                     update_processor=MeasuredUpdateProcessor(CONCURRENT_UPDATES))
        self.app.bot.rate_limiter.on_retry = RETRIES_429.inc
        await self.app.initialize()
        if self.app.post_init is not None:  # run_webhook/run_polling would call it; we are neither
            await self.app.post_init(self.app)
        self._watch_ticks()
        await self.app.start()
        log.info("worker ready to serve the webhook at %s", webhook_path(self.settings))

    def _watch_ticks(self) -> None:
        """Note when this worker's digest tick (or start-up catch-up) ran: /readyz and `stats` read it."""
        from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED

        from bot.digests.stats import record_tick
        from bot.telegram.state_store import safely, state_of

        app = self.app
        ids = {job.job.id for name in TICK_JOBS for job in app.job_queue.get_jobs_by_name(name)}

        def listener(event) -> None:
            if event.job_id not in ids:
                return
            self.last_tick = time.monotonic()
            state = state_of(app.bot_data)
            if state is not None:  # a short write, off the scheduler's loop
                threading.Thread(target=safely, args=(record_tick, state), daemon=True).start()

        app.job_queue.scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    async def stop(self) -> None:
        if self.app is not None:
            if self.app.running:
                await self.app.stop()
            await self.app.shutdown()
        if self.store is not None:
            self.store.close()

    async def readiness(self) -> list[str]:
        """Why this worker is not ready; empty when it is."""
        problems = []
        try:
            await asyncio.wait_for(asyncio.to_thread(self._probe_db), DB_PROBE_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", named for the operator
            problems.append(f"database: {type(exc).__name__}")
        if self.app is None or self.app.bot_data.get("corpus") is None or self.app.bot_data.get("engine") is None:
            problems.append("corpus or index not loaded")
        since = time.monotonic() - (self.last_tick if self.last_tick is not None else self.started_at)
        if since > READY_TICK:
            problems.append(f"digest tick {since:.0f}s ago")
        return problems

    def _probe_db(self) -> None:
        with self.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI application (uvicorn calls this as a factory in each worker process)."""
    if settings is None:
        settings = load_settings()
        from bot.service.app import configure_logging

        configure_logging(settings, webhook_secret=webhook_secret(settings))
    worker = Worker(settings)

    async def webhook(request: Request) -> Response:
        from bot.service.metrics import WEBHOOK_REJECTED

        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), worker.secret.encode()):
            WEBHOOK_REJECTED.labels("secret").inc()
            return PlainTextResponse("forbidden", status_code=403)
        try:
            data = json.loads(await request.body())
            update = Update.de_json(data, worker.app.bot)
        except Exception:  # noqa: BLE001 - a body that is not an update is the sender's problem
            WEBHOOK_REJECTED.labels("body").inc()
            return PlainTextResponse("not an update", status_code=400)
        if update is None:
            WEBHOOK_REJECTED.labels("body").inc()
            return PlainTextResponse("not an update", status_code=400)
        await worker.app.update_queue.put(update)
        return Response(status_code=200)

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_request: Request) -> Response:
        problems = await worker.readiness()
        return JSONResponse({"ready": not problems, "problems": problems}, status_code=503 if problems else 200)

    async def metrics(_request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        from bot.service.metrics import exposition

        body = await asyncio.to_thread(exposition, worker.app.bot_data if worker.app else {})
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(_app):
        await worker.start()
        try:
            yield
        finally:
            await worker.stop()

    routes = [
        Route(webhook_path(settings), webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.worker = worker
    return app
