"""The service room: the composition root. `app.py` builds the one Application and wires every handler
in (for `run`, `serve` and the offline `console.py`); `planbrief serve` runs it as a web service.

Starlette app and uvicorn workers around that Application, the webhook route,
health, readiness and Prometheus metrics. It sits above every other room because it wires them all.

May import: every room (`bot.corpus`, `bot.search`, `bot.digests`, `bot.telegram`, `handlers`), the
shared top-level modules and `telegram`.
Must not import: `bot.cli` — the command line picks this room lazily, only for `run`, `console`,
`serve` and `stats`.
"""
