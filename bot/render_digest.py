"""A Digest as Telegram HTML messages: readable at a glance, split between plans when long.

Reuses bot/render.py for escaping, UTF-16 lengths and packing, so the 4096 limit and the HTML rules are
decided in one place. Each plan is one block; `pack` keeps blocks whole and only cuts a block that is
itself longer than a message (closing and reopening its tags), so a message never ends mid-line.
No `telegram` import: the output is plain strings the delivery layer can send or a test can read.
"""

from __future__ import annotations

from datetime import date

from bot.digest import Digest, PlanDigest
from bot.render import MAX_MESSAGE, esc, highlight, pack, shorten
from bot.render import citation as _citation

MAX_PRIORITIES = 6
MAX_ITEMS = 4
MAX_TARGETS = 6
ITEM_CAP = 26
TITLE_CAP = 40
TARGET_CAP = 70
EXCERPT_CAP = 180

LABELS = {
    "zh": {
        "title": "教育规划简报",
        "all": "全部规划",
        "city": "地区：{city}",
        "topic": "主题：{topic}",
        "count": "{n} 份规划",
        "new_count": "其中 {n} 份为新收录",
        "new": "🆕 新",
        "priorities": "重点任务",
        "targets": "量化目标",
        "excerpts": "相关摘录",
        "empty": "暂无符合条件的规划。",
        "sep": "；",
        "colon": "：",
    },
    "en": {
        "title": "Education plan digest",
        "all": "all plans",
        "city": "place: {city}",
        "topic": "topic: {topic}",
        "count": "{n} plans",
        "new_count": "{n} new",
        "new": "🆕 NEW",
        "priorities": "Headline priorities",
        "targets": "Key targets",
        "excerpts": "Excerpts",
        "empty": "No plans match.",
        "sep": "; ",
        "colon": ": ",
    },
}


def _labels(lang: str) -> dict[str, str]:
    return LABELS.get(lang, LABELS["zh"])


def header(digest: Digest, lang: str = "zh", today: date | None = None) -> str:
    """Scope and counts first, so a reader knows from the notification what this digest covers."""
    lab = _labels(lang)
    scope = []
    if digest.city:
        scope.append(lab["city"].format(city=esc(digest.city)))
    if digest.topic:
        scope.append(lab["topic"].format(topic=esc(shorten(digest.topic, 40))))
    if not scope:
        scope.append(lab["all"])
    counts = lab["count"].format(n=len(digest.plans))
    new = sum(1 for e in digest.plans if e.new)
    if new:
        counts += " · " + lab["new_count"].format(n=new)
    when = f" · {today.isoformat()}" if today else ""
    return f"📋 <b>{lab['title']}</b>{when}\n{' · '.join(scope)} · {counts}"


def _priority_line(title: str, items: tuple[str, ...], lab: dict[str, str]) -> str:
    line = f"■ {esc(shorten(title, TITLE_CAP))}"
    shown = [esc(shorten(item, ITEM_CAP)) for item in items[:MAX_ITEMS]]
    if len(items) > MAX_ITEMS:
        shown.append("…")
    return line + (f"{lab['colon']}{lab['sep'].join(shown)}" if shown else "")


def plan_block(entry: PlanDigest, lang: str = "zh") -> str:
    """One plan: marker, city · title, date; priorities compact; targets; then topic excerpts."""
    lab = _labels(lang)
    m = entry.plan.meta
    mark = f"{lab['new']} " if entry.new else ""
    lines = [f"{mark}<b>{esc(m.city)} · {esc(shorten(m.title, 60))}</b>", f"<i>{esc(m.date or str(m.year))}</i>"]
    if entry.priorities:
        lines.append(f"<u>{lab['priorities']}</u>")
        lines += [_priority_line(p.title, p.items, lab) for p in entry.priorities[:MAX_PRIORITIES]]
    if entry.targets:
        lines.append(f"<u>{lab['targets']}</u>")
        lines += [f"🎯 {esc(shorten(t, TARGET_CAP))}" for t in entry.targets[:MAX_TARGETS]]
    if entry.excerpts:
        lines.append(f"<u>{lab['excerpts']}</u>")
        lines += [_excerpt(hit, m) for hit in entry.excerpts]
    return "\n".join(lines)


def _excerpt(hit, meta) -> str:
    body = highlight(hit.excerpt, hit.marks, cap=EXCERPT_CAP)
    return f"「{body}」\n<i>— {_citation(meta, hit.passage.section, hit.passage.plan_id)}</i>"


def render_digest(
    digest: Digest, lang: str = "zh", *, today: date | None = None, limit: int = MAX_MESSAGE
) -> list[str]:
    """Messages in send order; [] for an empty digest so a scheduled run records "nothing to send"."""
    if not digest.plans:
        return []
    blocks = [header(digest, lang, today)] + [plan_block(e, lang) for e in digest.plans]
    return pack(blocks, limit)


def empty_notice(lang: str = "zh") -> str:
    """What /digest says when nothing is in scope (a scheduled run sends nothing instead)."""
    return _labels(lang)["empty"]
