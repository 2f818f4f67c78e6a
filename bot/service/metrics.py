"""Prometheus metrics for `planbrief serve`, summed over the worker processes of one serve.

prometheus-client's multiprocess mode: the parent sets PROMETHEUS_MULTIPROC_DIR to a fresh folder
before the workers start, each worker writes its counters there, and whichever worker a scrape reaches
answers with the sum. So a balancer can send /metrics anywhere.

Two kinds of value are not per-process counts and are read when scraped instead: the ledger's
deliveries by outcome (the database is the truth every worker shares, so each worker reports the same
numbers) and this worker's corpus size.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from telegram import Update

from bot.telegram.fairness import FairUpdateProcessor

UPDATES = Counter("planbrief_updates", "Updates received, by kind", ["kind"])
LATENCY = Histogram("planbrief_answer_seconds", "From an update's start of processing to its end, by kind",
                    ["kind"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
RETRIES_429 = Counter("planbrief_telegram_429_retries", "429 answers from Telegram that were waited out")
QUEUE = Gauge("planbrief_update_queue_depth", "Updates received and not yet finished",
              multiprocess_mode="livesum")
WEBHOOK_REJECTED = Counter("planbrief_webhook_rejected", "Webhook posts refused (bad secret or body)", ["why"])


def kind_of(update: object) -> str:
    """The update's type as Telegram names it (message, callback_query, inline_query, …)."""
    if not isinstance(update, Update):
        return "other"
    data = update.to_dict()
    return next((key for key in data if key != "update_id"), "other")


class MeasuredUpdateProcessor(FairUpdateProcessor):
    """The fair processor, counting updates by kind and timing their handling."""

    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        kind = kind_of(update)
        UPDATES.labels(kind).inc()
        QUEUE.inc()
        started = time.perf_counter()
        try:
            await super().process_update(update, coroutine)
        finally:
            QUEUE.dec()
            LATENCY.labels(kind).observe(time.perf_counter() - started)


class ScrapeTimeCollector:
    """Values read when /metrics is scraped: the ledger and the corpus this worker serves."""

    def __init__(self, bot_data: dict):
        self.bot_data = bot_data

    def collect(self):
        corpus = self.bot_data.get("corpus")
        plans = GaugeMetricFamily("planbrief_corpus_plans", "Plans in the corpus this worker serves")
        passages = GaugeMetricFamily("planbrief_corpus_passages", "Passages in the corpus this worker serves")
        plans.add_metric([], len(corpus.plans) if corpus is not None else 0)
        passages.add_metric([], len(corpus.passages) if corpus is not None else 0)
        yield plans
        yield passages
        outcomes = GaugeMetricFamily("planbrief_deliveries", "Digest deliveries in the ledger, by outcome",
                                     labels=["outcome"])
        for outcome, count in ledger_outcomes(self.bot_data.get("store")).items():
            outcomes.add_metric([outcome], count)
        yield outcomes


def ledger_outcomes(store) -> dict[str, int]:
    if store is None:
        return {}
    from sqlalchemy import func, select

    from bot.digests.store import deliveries

    counts = {"sent": 0, "failed": 0, "blocked": 0, "skipped": 0, "sending": 0}
    try:
        with store.engine.connect() as conn:
            prefix = func.substr(deliveries.c.error, 1, 7).label("prefix")
            rows = conn.execute(select(deliveries.c.status, prefix, func.count())
                                .group_by(deliveries.c.status, "prefix")).all()
    except Exception:  # noqa: BLE001 - a scrape while the database is away shows no ledger, not a 500
        return {}
    for status, prefix, count in rows:
        outcome = "blocked" if status == "failed" and prefix == "blocked" else status
        counts[outcome] = counts.get(outcome, 0) + count
    return counts


def exposition(bot_data: dict) -> bytes:
    """The text a scrape gets: every worker's counters (multiprocess) plus the scrape-time values."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
        if not any(isinstance(c, ScrapeTimeCollector) for c in getattr(REGISTRY, "_collector_to_names", {})):
            REGISTRY.register(ScrapeTimeCollector(bot_data))
        return generate_latest(REGISTRY)
    registry.register(ScrapeTimeCollector(bot_data))
    return generate_latest(registry)
