"""What the editor's desk says: the preview card of a plan about to be published, and its buttons.

Everything here comes from a file someone sent, so every field is escaped and shortened; the card is
one message under Telegram's limit however long the plan's titles are. Callback data is versioned
(`ed|…`), ≤ 64 bytes, and parsed back strictly: a forged press parses to None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.corpus.ingest import Draft
from bot.corpus.regions import find_place
from bot.telegram.i18n import t
from bot.telegram.render import MAX_CALLBACK, MAX_MESSAGE, Button, Reply, esc, fit, shorten

MAX_PRIORITIES_SHOWN = 12
_KEY = r"[A-Za-z0-9_-]{4,16}"
_PLAN_ID = r"[a-z0-9][a-z0-9-]{2,56}"


@dataclass(frozen=True)
class EditorPress:
    action: str  # "publish" | "cancel" | "remove" | "keep"
    value: str = ""  # draft key, or plan id for remove


def publish_data(key: str) -> str:
    return f"ed|p|{key}"


def cancel_data(key: str) -> str:
    return f"ed|c|{key}"


def remove_data(plan_id: str) -> str | None:
    data = f"ed|r|{plan_id}"
    return data if len(data.encode()) <= MAX_CALLBACK else None


def parse_press(data: str | None) -> EditorPress | None:
    if not data or len(data.encode("utf-8", "surrogatepass")) > MAX_CALLBACK:
        return None
    if m := re.fullmatch(rf"ed\|([pc])\|({_KEY})", data):
        return EditorPress("publish" if m.group(1) == "p" else "cancel", m.group(2))
    if m := re.fullmatch(rf"ed\|r\|({_PLAN_ID})", data):
        return EditorPress("remove", m.group(1))
    if data == "ed|k":
        return EditorPress("keep")
    return None


def card_blocks(draft: Draft, lang: str) -> list[str]:
    """The preview card's text blocks (fields, warnings, priorities): the editor's upload and a watched
    source's candidate are shown alike."""
    e = draft.entry
    place = find_place(e["city"])
    fields = t(lang, "ed_card_fields", title=esc(shorten(e["title"], 80)), place=esc(e["city"]),
               province=esc(place.province if place else e.get("province", "")), year=e["year"],
               kind=esc(e["kind"]), issuer=esc(shorten(e.get("issuer") or "—", 40)),
               date=esc(e.get("date") or "—"), passages=len(draft.plan.passages))
    head = [t(lang, "ed_card_title"), fields]
    head += [t(lang, f"ed_warn_{code}") for code in draft.warnings]
    priorities = [f"■ {esc(shorten(p.title, 60))}" for p in draft.plan.priorities[:MAX_PRIORITIES_SHOWN]]
    if len(draft.plan.priorities) > MAX_PRIORITIES_SHOWN:
        priorities.append(f"… +{len(draft.plan.priorities) - MAX_PRIORITIES_SHOWN}")
    blocks = ["\n".join(head)]
    if priorities:
        blocks.append(t(lang, "ed_card_priorities") + "\n" + "\n".join(priorities))
    return blocks


def preview_card(draft: Draft, key: str, lang: str) -> Reply:
    blocks = [*card_blocks(draft, lang), t(lang, "ed_card_fix")]
    text, _ = fit(blocks, MAX_MESSAGE - 200)
    keyboard = ((Button(t(lang, "ed_btn_publish"), callback_data=publish_data(key)),
                 Button(t(lang, "ed_btn_cancel"), callback_data=cancel_data(key))),)
    return Reply(text, keyboard)


def published(summary: dict, lang: str) -> Reply:
    return Reply(t(lang, "ed_published", plan_id=esc(summary["plan_id"]), place=esc(summary["city"]),
                   year=summary["year"], title=esc(shorten(summary["title"], 60))))


def remove_confirm(plan_id: str, title: str, lang: str) -> Reply:
    data = remove_data(plan_id)
    keyboard = ((Button(t(lang, "ed_btn_remove"), callback_data=data),
                 Button(t(lang, "ed_btn_cancel"), callback_data="ed|k")),) if data else ()
    return Reply(t(lang, "ed_remove_confirm", plan_id=esc(plan_id), title=esc(shorten(title, 60))), keyboard)
