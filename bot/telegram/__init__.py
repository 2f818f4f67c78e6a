"""The Telegram room: the bot itself, and everything it says.

Owns `build_application`/`run`, rendering to Telegram HTML (escaping, citations, splitting, keyboards as
data), i18n, rate limiting, the digest jobs that drive delivery, and the offline console.

May import: every core room (`bot.corpus`, `bot.search`, `bot.digests`), the shared top-level modules,
`handlers` and `telegram`. Together with `handlers/` it is the only place that imports `telegram`;
nothing in the core imports it back.
Must not import: `bot.cli` — the command line sits above every room and picks the Telegram side
lazily, only for `run` and `console`.
"""
