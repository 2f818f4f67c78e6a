"""The digests room: what a scheduled briefing says, who subscribed to it, and sending it exactly once.

Owns digest content (headline priorities and key targets), subscription parsing, the store and its
migrations (SQLite or PostgreSQL), time-zone maths for schedules, and the exactly-once delivery ledger.

May import: `bot.corpus`, `bot.search` and the shared top-level modules.
Must not import: `bot.telegram`, `handlers`, or `telegram` — delivery talks to Telegram only through
the callables the Telegram side hands it.
"""
