"""The sources room: the bureaus' own portal columns, watched politely, read into candidate plans.

Owns the watch list and what was seen (its tables come with the digests store's numbered migrations,
so every process sees one list), the polite poller (conditional GET, per-host spacing, a global cap,
robots.txt, backoff), reading a column's list page, triage of titles, and a check round that turns new
items into drafts through the corpus room's own add pipeline.

Ranked after `bot.digests` and before the Telegram side: it stores its state with the digests store's
engine and migrations, and the bot drives it from a job.

May import: `bot.corpus`, `bot.search`, `bot.digests` and the shared top-level modules.
Must not import: `bot.telegram`, `handlers`, or `telegram` — editors are told through the callables and
the round report the Telegram side hands in and reads back.
"""
