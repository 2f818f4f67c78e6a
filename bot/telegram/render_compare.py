"""A comparison (bot.digests.compare) as Telegram HTML: one cited excerpt per place, paged like /topic.

Callback data (≤ 64 bytes, validated like render.parse_callback):
    k1|<offset>|<places>|<query>   a comparison page, carried inline (places space-separated)
    k2|<offset>|<key>              the same, kept server-side under render.topic_key(query, places)
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.digests.compare import Comparison
from bot.telegram.i18n import t
from bot.telegram.render import (
    MAX_CALLBACK,
    MAX_INLINE_QUERY,
    PAGE_SIZE,
    Article,
    Button,
    Reply,
    citation,
    clean,
    echo,
    esc,
    excerpt_html,
    fit,
    parse_paged,
    result_id,
    shorten,
    suggestions_line,
    topic_key,
)

INLINE_PREFIXES = ("对比", "比较", "compare")


@dataclass(frozen=True)
class ComparePage:
    offset: int
    query: str | None = None
    places: str = ""
    key: str | None = None


def compare_data(query: str, places: str, offset: int) -> str:
    """Inline form when it fits, else the k2 form whose key the caller must remember."""
    inline = f"k1|{offset}|{places}|{query}"
    if len(inline.encode()) <= MAX_CALLBACK and "|" not in places:
        return inline
    return f"k2|{offset}|{topic_key(query, places)}"


def parse_compare(data: str | None) -> ComparePage | None:
    """What a client sent back; anything malformed or forged → None."""
    if not data or len(data.encode("utf-8", "surrogatepass")) > MAX_CALLBACK:
        return None
    kind, _, rest = data.partition("|")
    page = parse_paged(rest, keyed=kind == "k2") if kind in ("k1", "k2") else None
    if page is None:
        return None
    return ComparePage(page.offset, key=page.key) if page.key else \
        ComparePage(page.offset, query=page.query, places=page.scope)


def inline_compare_query(text: str) -> str | None:
    """`对比 双减 无锡` → `双减 无锡`; None when the inline text is not a comparison."""
    words = clean(text).split(maxsplit=1)
    if len(words) == 2 and words[0].lower() in INLINE_PREFIXES:
        return words[1]
    return None


def _row(n: int, row) -> str:
    city = "" if row.meta.city.startswith(row.place) else f"（{esc(row.meta.city)}）"
    body = excerpt_html(row.hit, cap=300)
    where = citation(row.meta, row.hit.passage.section, row.meta.plan_id)
    return f"<b>{n}. {esc(row.place)}</b>{city}\n{body}\n<i>— {where}</i>"


def _title(comp: Comparison, lang: str, places: str, first: int, last: int) -> str:
    shown = comp.corrected or comp.query
    scope = t(lang, "scope_city", city=esc(places)) if places else ""
    head = t(lang, "compare_title", query=echo(shown), scope=scope, total=len(comp.places), first=first, last=last)
    if comp.corrected:
        head += f"\n<i>{t(lang, 'corrected', corrected=echo(comp.corrected))}</i>"
    return head


def compare_text(comp: Comparison, lang: str, *, query: str) -> str:
    """Without results: what went wrong and what to try (the usage for an empty query)."""
    if comp.error == "empty":
        return t(lang, "compare_usage", topics=suggestions_line(lang, comp.suggestions[:6]))
    text = t(lang, "no_match", query=echo(query))
    if comp.suggestions:
        text += "\n" + t(lang, "suggest", items=suggestions_line(lang, comp.suggestions[:8]))
    return text


def compare_answer(comp: Comparison, lang: str, *, query: str, places: str = "", offset: int = 0,
                   page_size: int | None = None) -> Reply:
    """One page: title, one numbered cited excerpt per place, paging and a share button."""
    page_size = page_size or PAGE_SIZE
    if not comp.places:
        return Reply(compare_text(comp, lang, query=query))
    offset = min(offset, max(0, len(comp.places) - 1))
    rows = comp.places[offset:offset + page_size]
    blocks = [_row(offset + i + 1, row) for i, row in enumerate(rows)]
    body, used = fit([_title(comp, lang, places, offset + 1, offset + len(blocks)), *blocks])
    used = max(used - 1, 1)
    if used < len(blocks):
        body, _ = fit([_title(comp, lang, places, offset + 1, offset + used), *blocks[:used]])
    nav = []
    if offset > 0:
        nav.append(Button(t(lang, "btn_prev"), callback_data=compare_data(query, places, max(0, offset - page_size))))
    if offset + used < len(comp.places):
        nav.append(Button(t(lang, "btn_next"), callback_data=compare_data(query, places, offset + used)))
    share = shorten(f"对比 {query} {places}".strip(), MAX_INLINE_QUERY - 1)
    keyboard = ((tuple(nav),) if nav else ()) + ((Button(t(lang, "btn_share"), switch_inline_query=share),),)
    return Reply(body, keyboard)


def compare_message(comp: Comparison, lang: str, *, query: str, places: str = "") -> str:
    """What a group sees after picking the inline comparison: every place that fits, no buttons."""
    blocks = [_row(i + 1, row) for i, row in enumerate(comp.places)]
    body, used = fit([_title(comp, lang, places, 1, len(blocks)), *blocks])
    if used - 1 < len(blocks):
        body, _ = fit([_title(comp, lang, places, 1, max(used - 1, 1)), *blocks[:max(used - 1, 1)]])
    return body


def compare_article(comp: Comparison, lang: str, *, query: str, places: str = "") -> Article:
    """The inline result for `对比 双减 [地名…]`: the whole comparison, ready to post into a group."""
    names = "、".join(row.place for row in comp.places)
    return Article(result_id(f"compare:{query}:{places}"),
                   t(lang, "inline_compare_title", query=shorten(query, 30)),
                   shorten(t(lang, "inline_compare_desc", n=len(comp.places), places=names), 120),
                   compare_message(comp, lang, query=query, places=places))
