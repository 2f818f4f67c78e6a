"""The Telegram room: everything the bot says, and the jobs that make it speak on its own.

Owns rendering to Telegram HTML (escaping, citations, splitting, keyboards as data), i18n, rate limiting,
fairness, polling helpers and the digest jobs that drive delivery. The Application itself is built in
`bot.service.app` (the composition root), which wires these and `handlers/` together.

May import: every core room (`bot.corpus`, `bot.search`, `bot.digests`, `bot.sources`), the shared
top-level modules and `telegram`. Together with `handlers/` and `bot.service` it is the only place that
imports `telegram`; nothing in the core imports it back.
Must not import: `handlers` (they sit above this room and use it) nor `bot.service`, and not `bot.cli`.
"""
