"""The service room: `planbrief serve` — the composition root for running as a web service.

Starlette app and uvicorn workers around the one Application (bot.telegram.app), the webhook route,
health, readiness and Prometheus metrics. It sits above every other room because it wires them all.

May import: every room (`bot.corpus`, `bot.search`, `bot.digests`, `bot.telegram`, `handlers`), the
shared top-level modules and `telegram`.
Must not import: `bot.cli` — the command line picks this room lazily, only for `serve` and `stats`.
"""
