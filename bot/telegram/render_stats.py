"""The operator's view as text: `/stats` (Telegram HTML) and `planbrief stats` (plain).

One renderer for both, from the dict bot.digests.stats.collect returns, so the CLI and the bot show
the same numbers. Labels are Chinese first, English for an English reader; the labels live here, not
in i18n.py, because only operators read them.
"""

from __future__ import annotations

from html import escape

LABELS = {
    "zh": {"title": "运行概况", "chats": "活跃会话（7天 / 30天）", "users": "活跃用户（7天 / 30天）",
           "subs": "订阅（有效 / 已停）", "kinds": "按类型", "freq": "按频率", "today": "今日简报",
           "week": "7天简报", "sent": "已发", "failed": "失败", "blocked": "被屏蔽", "tick": "上次检查",
           "next": "下一份到期", "corpus": "规划 / 段落", "newest": "最新规划", "index": "索引代次 / 年龄",
           "sources": "监测来源", "none": "无", "sec": "秒"},
    "en": {"title": "Operator's view", "chats": "Chats seen (7d / 30d)", "users": "Users seen (7d / 30d)",
           "subs": "Subscriptions (active / stopped)", "kinds": "by kind", "freq": "by frequency",
           "today": "Digests today", "week": "Digests, 7 days", "sent": "sent", "failed": "failed",
           "blocked": "blocked", "tick": "Last tick", "next": "Next due", "corpus": "Plans / passages",
           "newest": "Newest plan", "index": "Index generation / age", "sources": "Watched sources",
           "none": "none", "sec": "s"},
}


def _pairs(mapping: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in mapping.items()) or "—"


def stats_text(report: dict, lang: str = "zh", *, html: bool = True) -> str:
    lab = LABELS["en" if lang == "en" else "zh"]
    esc = escape if html else (lambda s: s)
    bold = (lambda s: f"<b>{s}</b>") if html else (lambda s: s)
    subs, digests, corpus, index = report["subscriptions"], report["digests"], report["corpus"], report["index"]

    def outcome(counts: dict) -> str:
        return f"{lab['sent']} {counts['sent']} · {lab['failed']} {counts['failed']} · {lab['blocked']} {counts['blocked']}"

    newest = corpus.get("newest")
    nxt = report.get("next_due")
    lines = [
        bold(lab["title"]),
        f"{lab['chats']}: {report['chats_seen']['7d']} / {report['chats_seen']['30d']}",
        f"{lab['users']}: {report['users_seen']['7d']} / {report['users_seen']['30d']}",
        f"{lab['subs']}: {subs['active']} / {subs['inactive']}",
        f"  {lab['kinds']}: {esc(_pairs(subs['by_kind']))}",
        f"  {lab['freq']}: {esc(_pairs(subs['by_frequency']))}",
        f"{lab['today']}: {outcome(digests['today'])}",
        f"{lab['week']}: {outcome(digests['7d'])}",
        f"{lab['tick']}: {esc(report.get('last_tick') or lab['none'])}",
        f"{lab['next']}: {esc(nxt['at']) + ' (#' + str(nxt['subscription_id']) + ')' if nxt else lab['none']}",
        f"{lab['corpus']}: {corpus['plans']} / {corpus['passages']}",
        f"{lab['newest']}: " + (esc(f"{newest['city']}《{newest['title']}》{newest['date']}") if newest else lab["none"]),
        f"{lab['index']}: {index.get('generation') if index.get('generation') is not None else '—'} / "
        + (f"{index['age_seconds']}{lab['sec']}" if index.get("age_seconds") is not None else "—"),
    ]
    for block in (report.get("sources") or {}).values():
        if isinstance(block, dict) and "by_state" in block:
            lines.append(f"{lab['sources']}: {block.get('total', 0)} ({esc(_pairs(block['by_state']))})")
    return "\n".join(lines)
