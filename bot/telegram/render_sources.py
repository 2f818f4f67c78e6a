"""What editors see of the watched sources: one message per round listing the new candidates (each
with the editor's desk preview card and its own 收录/取消 buttons), the watch list, failing sources.

Titles, places and URLs come from strangers' web pages: everything is escaped and shortened, and the
message stays one message under Telegram's limit however many candidates a round found (the cards
that do not fit are named, their buttons kept). Callback data `sw|p|ID` / `sw|c|ID` is parsed back
strictly, so a forged press parses to None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.corpus.ingest import Draft
from bot.sources.store import Item, Source
from bot.telegram.i18n import t
from bot.telegram.render import MAX_MESSAGE, Button, Reply, esc, fit, shorten
from bot.telegram.render_editor import card_blocks

MAX_CARDS = 20  # candidates per message; the rest wait for the next round (they stay un-notified)
MARKS = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


@dataclass(frozen=True)
class CandidatePress:
    action: str  # "publish" | "reject"
    item_id: int


def press_data(action: str, item_id: int) -> str:
    return f"sw|{'p' if action == 'publish' else 'c'}|{item_id}"


def parse_press(data: str | None) -> CandidatePress | None:
    if not data or len(data) > 64:
        return None
    m = re.fullmatch(r"sw\|([pc])\|(\d{1,12})", data)
    if not m:
        return None
    return CandidatePress("publish" if m.group(1) == "p" else "reject", int(m.group(2)))


def _attr(url: str) -> str:
    return esc(url).replace('"', "&quot;")


def proposals(entries: list[tuple[Item, Source, Draft | None]], lang: str) -> Reply:
    """One message for one editor: every candidate's source, card and buttons."""
    entries = entries[:MAX_CARDS]
    blocks = [t(lang, "sw_proposals", n=len(entries))]
    keyboard = []
    for n, (item, source, draft) in enumerate(entries):
        mark = MARKS[n]
        head = t(lang, "sw_from", mark=mark, sid=source.id, city=esc(source.city), url=_attr(item.url))
        card = card_blocks(draft, lang) if draft else [esc(shorten(item.title, 80))]
        blocks.append(head + "\n" + "\n\n".join(card))
        keyboard.append((Button(t(lang, "sw_btn_publish", mark=mark), callback_data=press_data("publish", item.id)),
                         Button(t(lang, "sw_btn_reject", mark=mark), callback_data=press_data("reject", item.id))))
    text, used = fit(blocks, MAX_MESSAGE - 300)
    if used < len(blocks):
        rest = [f"{MARKS[i - 1]} {esc(shorten(entries[i - 1][0].title, 40))}" for i in range(used, len(blocks))]
        text += "\n\n" + t(lang, "sw_more", n=len(blocks) - used) + "\n" + "\n".join(rest)
    return Reply(text, tuple(keyboard))


def auto_published(items: list[Item], lang: str) -> Reply:
    lines = [t(lang, "sw_auto_published", n=len(items))]
    lines += [f"• <code>{esc(i.plan_id or '')}</code> {esc(shorten(i.title, 50))}" for i in items[:30]]
    return Reply(fit(["\n".join(lines)], MAX_MESSAGE)[0])


def failing(sources: list[Source], lang: str) -> Reply:
    lines = [t(lang, "sw_failing")]
    lines += [f"#{s.id} {esc(s.city)} · {esc(shorten(s.url, 80))}\n  {esc(shorten(s.last_error or '', 120))}"
              for s in sources[:30]]
    return Reply(fit(["\n".join(lines)], MAX_MESSAGE)[0])


def source_list(rows: list[tuple[Source, dict[str, int]]], lang: str) -> Reply:
    if not rows:
        return Reply(t(lang, "sw_list_empty"))
    blocks = [t(lang, "sw_list_head", n=len(rows))]
    for source, counts in rows:
        last = source.last_success_at.strftime("%Y-%m-%d %H:%M") if source.last_success_at else "—"
        blocks.append(t(lang, "sw_list_row", id=source.id, state=esc(source.state), city=esc(source.city),
                        mode=esc(source.mode), last=last, seen=sum(counts.values()),
                        waiting=counts.get("proposed", 0), published=counts.get("published", 0),
                        failures=source.failures, url=esc(shorten(source.url, 100))))
    return Reply(fit(blocks, MAX_MESSAGE)[0])
