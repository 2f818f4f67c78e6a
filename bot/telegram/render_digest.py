"""A Digest as Telegram HTML messages: readable at a glance, split between plans when long.

Reuses bot/telegram/render.py for escaping, UTF-16 lengths and packing, so the 4096 limit and the HTML rules are
decided in one place. Each plan is one block; `pack` keeps blocks whole and only cuts a block that is
itself longer than a message (closing and reopening its tags), so a message never ends mid-line.
No `telegram` import: the output is plain strings the delivery layer can send or a test can read.

The subscription dialogue (/subscribe, /subscriptions, /unsubscribe) is rendered here too, as
`Reply` objects whose keyboards are plain `Button` data (handlers/common.py makes them PTB markup).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.digests import schedule
from bot.digests.content import Digest, PlanDigest
from bot.digests.subscribe import (
    ERROR_CODES,
    MAX_LISTED,
    MAX_SCOPE,
    TIMES,
    ParseError,
    Request,
    dg_data,
    dm_data,
    ds_data,
)
from bot.models import Subscription
from bot.telegram.i18n import t
from bot.telegram.render import (
    MAX_INLINE_QUERY,
    MAX_MESSAGE,
    Answer,
    Button,
    Keyboard,
    Reply,
    clean,
    esc,
    highlight,
    pack,
    place_name,
    plan_data,
    shorten,
)
from bot.telegram.render import citation as _citation

MAX_PRIORITIES = 6
MAX_ITEMS = 4
MAX_TARGETS = 6
ITEM_CAP = 26
TITLE_CAP = 40
TARGET_CAP = 70
EXCERPT_CAP = 180
FOCUS_CAP = 120

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
        "spotlight": "🔦 聚焦",
        "spotlight_count": "今日聚焦 1 份",
        "focus": "细读：{title}",
        "since": "自 {date} 以来没有新规划，今天聚焦其中一份。",
        "nothing_new": "无新规划（上次简报 {date}）",
        "nothing_new_bare": "无新规划",
        "reading": "细读：{section}",
        "shared": "🔗 共同主题：",
        "own": "🔗 主要主题：",
        "theme_first_shared": "{theme} · {n} 份规划",
        "theme_first_own": "{theme} · {n} 处",
        "theme_sep": "｜",
        "changes": "📈 {place} {a} → {b} 年的变化",
        "kinds_differ": "⚠️ 两份文件类型不同（{a} vs {b}），比较仅供参考",
        "added": "新增",
        "dropped": "不再提及",
        "list_sep": "、",
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
        "spotlight": "🔦 SPOTLIGHT",
        "spotlight_count": "1 in the spotlight",
        "focus": "In full: {title}",
        "since": "No new plans since {date}; today one of them is in the spotlight.",
        "nothing_new": "No new plans (last digest {date})",
        "nothing_new_bare": "No new plans",
        "reading": "In full: {section}",
        "shared": "🔗 Shared themes: ",
        "own": "🔗 Main themes: ",
        "theme_first_shared": "{theme} · {n} plans",
        "theme_first_own": "{theme} · {n} mentions",
        "theme_sep": " | ",
        "changes": "📈 {place}: what changed {a} → {b}",
        "kinds_differ": "⚠️ The two documents are of different kinds ({a} vs {b}); read the comparison with care",
        "added": "New",
        "dropped": "No longer mentioned",
        "list_sep": ", ",
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
    counts = lab["count"].format(n=len(digest.scope_ids or digest.plans))
    new = sum(1 for e in digest.plans if e.new)
    if new:
        counts += " · " + lab["new_count"].format(n=new)
    elif digest.mode == "spotlight" and digest.plans:
        counts += " · " + lab["spotlight_count"]
    when = f" · {today.isoformat()}" if today else ""
    return f"📋 <b>{lab['title']}</b>{when}\n{' · '.join(scope)} · {counts}"


def since_line(digest: Digest, lang: str = "zh", tz: str | None = None) -> str:
    """The single-plan (or any) spotlight's "no new plans since …", dated in the chat's zone."""
    if digest.mode != "spotlight" or digest.since is None:
        return ""
    day = digest.since.astimezone(ZoneInfo(tz or schedule.DEFAULT_TZ)).date().isoformat()
    return _labels(lang)["since"].format(date=day)


def _is_brief(digest: Digest) -> bool:
    return bool(digest.plans) and all(e.brief for e in digest.plans)


def brief_top(digest: Digest, lang: str = "zh", today: date | None = None, tz: str | None = None) -> str:
    """A brief digest's first two lines: title, date and scope on one line, then 无新规划 (dated)."""
    lab = _labels(lang)
    scope = lab["city"].format(city=esc(digest.city)) if digest.city else (
        lab["topic"].format(topic=esc(shorten(digest.topic, 40))) if digest.topic else lab["all"])
    when = f" · {today.isoformat()}" if today else ""
    if digest.since is not None:
        day = digest.since.astimezone(ZoneInfo(tz or schedule.DEFAULT_TZ)).date().isoformat()
        quiet = lab["nothing_new"].format(date=day)
    else:
        quiet = lab["nothing_new_bare"]
    return f"📋 <b>{lab['title']}</b>{when} · {scope}\n{quiet}"


def reading_lines(hit, meta, lang: str = "zh") -> list[str]:
    """细读: the passage's place in the plan as the heading, then the passage (matched words bold)."""
    lab = _labels(lang)
    section = shorten(next((s for s in reversed(hit.passage.section) if s), meta.title), 36)
    return [f"<u>{lab['reading'].format(section=esc(section))}</u>",
            f"「{highlight(hit.excerpt, hit.marks, cap=FOCUS_CAP * 2)}」"]


def themes_line(digest: Digest, lang: str = "zh") -> str:
    """`双减 · 4 份规划｜集团化办学 · 3｜…`: what the plans in scope state in common (one plan: its own)."""
    if not digest.themes:
        return ""
    lab = _labels(lang)
    shared = len(digest.scope_ids or digest.plans) > 1
    parts = []
    for i, theme in enumerate(digest.themes):
        n = theme.plans if shared else theme.passages
        if i == 0:
            key = "theme_first_shared" if shared else "theme_first_own"
            parts.append(lab[key].format(theme=esc(theme.theme), n=n))
        else:
            parts.append(f"{esc(theme.theme)} · {n}")
    return lab["shared" if shared else "own"] + lab["theme_sep"].join(parts)


def changes_block(changes, lang: str = "zh", *, limit: int = 2, names: int = 8) -> str:
    """A place's newer plan against its older one: added and dropped themes, one cited excerpt each."""
    if changes is None or not (changes.added or changes.dropped):
        return ""
    lab = _labels(lang)
    lines = [lab["changes"].format(place=esc(changes.place), a=changes.older.year, b=changes.newer.year)]
    if not changes.same_kind:
        lines.append(lab["kinds_differ"].format(a=esc(changes.newer.kind or "?"), b=esc(changes.older.kind or "?")))
    for key, mark, meta, items in (("added", "＋", changes.newer, changes.added),
                                   ("dropped", "－", changes.older, changes.dropped)):
        if not items:
            continue
        listed = lab["list_sep"].join(esc(c.theme) for c in items[:names]) + ("…" if len(items) > names else "")
        lines.append(f"<b>{lab[key]}</b>{lab['colon']}{listed}")
        for change in items[:limit]:
            lines.append(f"{mark} {esc(change.theme)}「{esc(change.excerpt)}」\n"
                         f"<i>— {_citation(meta, change.passage.section, change.passage.plan_id)}</i>")
    return "\n".join(lines)


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
    mark = f"{lab['new']} " if entry.new else (f"{lab['spotlight']} " if entry.spotlight else "")
    if entry.brief:
        lines = [f"{mark}<b>{esc(place_name(m))} · {esc(shorten(m.title, 60))}</b>"]
        if entry.reading is not None:
            return "\n".join(lines + reading_lines(entry.reading, m, lang))
        if entry.focus is not None:
            lines.append(f"<u>{lab['focus'].format(title=esc(shorten(entry.focus.title, TITLE_CAP)))}</u>")
            lines += [f"· {esc(shorten(item, FOCUS_CAP))}" for item in entry.focus.items]
        return "\n".join(lines)
    lines = [f"{mark}<b>{esc(place_name(m))} · {esc(shorten(m.title, 60))}</b>", f"<i>{esc(m.date or str(m.year))}</i>"]
    if entry.priorities:
        lines.append(f"<u>{lab['priorities']}</u>")
        lines += [_priority_line(p.title, p.items, lab) for p in entry.priorities[:MAX_PRIORITIES]]
    if entry.targets:
        lines.append(f"<u>{lab['targets']}</u>")
        lines += [f"🎯 {esc(shorten(t, TARGET_CAP))}" for t in entry.targets[:MAX_TARGETS]]
    if entry.excerpts:
        lines.append(f"<u>{lab['excerpts']}</u>")
        lines += [_excerpt(hit, m) for hit in entry.excerpts]
    if entry.focus is not None:
        lines.append(f"<u>{lab['focus'].format(title=esc(shorten(entry.focus.title, TITLE_CAP)))}</u>")
        lines += [f"· {esc(shorten(item, FOCUS_CAP))}" for item in entry.focus.items]
    if entry.reading is not None:
        lines += reading_lines(entry.reading, m, lang)
    return "\n".join(lines)


def _excerpt(hit, meta) -> str:
    body = highlight(hit.excerpt, hit.marks, cap=EXCERPT_CAP)
    return f"「{body}」\n<i>— {_citation(meta, hit.passage.section, hit.passage.plan_id)}</i>"


def with_changes(answer: Answer, changes, lang: str = "zh") -> Answer:
    """A /city card followed by what changed across years; the buttons stay on the last message."""
    block = changes_block(changes, lang)
    if not block or not answer.messages:
        return answer
    last = answer.messages[-1]
    pieces = pack([last.text, block])
    tail = [Reply(p) for p in pieces[:-1]] + [Reply(pieces[-1], last.keyboard)]
    return Answer(answer.messages[:-1] + tail)


def render_digest(
    digest: Digest, lang: str = "zh", *, today: date | None = None, limit: int = MAX_MESSAGE,
    tz: str | None = None,
) -> list[str]:
    """Messages in send order; [] for an empty digest so a scheduled run records "nothing to send".

    Header (with "no new plans since …" and the shared-themes line), then the plans, then what
    changed across years for a place.
    """
    if not digest.plans:
        return []
    if _is_brief(digest):
        return pack([brief_top(digest, lang, today, tz)] + [plan_block(e, lang) for e in digest.plans], limit)
    top = "\n".join(x for x in (header(digest, lang, today), since_line(digest, lang, tz),
                                themes_line(digest, lang)) if x)
    blocks = [top] + [plan_block(e, lang) for e in digest.plans]
    if change := changes_block(digest.changes, lang):
        blocks.append(change)
    return pack(blocks, limit)


def digest_keyboard(sub_id: int, digest: Digest, lang: str = "zh") -> Keyboard:
    """Every scheduled digest's buttons: open the plan it shows, share its scope, pause (the
    subscription is kept and can be resumed) or unsubscribe — so stopping is one press away."""
    first: list[Button] = []
    if digest.plans and (data := plan_data(digest.plans[0].plan.plan_id)):
        first.append(Button(t(lang, "dg_btn_open"), callback_data=data))
    scope = digest.topic or digest.city or (digest.plans[0].plan.plan_id if digest.plans else "")
    if scope:
        first.append(Button(t(lang, "btn_share"), switch_inline_query=shorten(clean(scope), MAX_INLINE_QUERY - 1)))
    second = [Button(t(lang, key), callback_data=data) for key, verb in (("dg_btn_pause", "p"), ("dg_btn_unsub", "x"))
              if (data := dg_data(verb, sub_id))]
    return tuple(row for row in (tuple(first), tuple(second)) if row)


def subscription_action_reply(verb: str, sub: Subscription, lang: str) -> Reply:
    """What a digest's pause / resume / unsubscribe button answers (a new message under the digest)."""
    key = {"p": "dg_paused", "r": "dg_resumed", "x": "dg_unsubscribed"}[verb]
    text = t(lang, key, id=sub.id, desc=describe(sub, lang))
    if verb == "p" and (data := dg_data("r", sub.id)):
        return Reply(text, ((Button(t(lang, "dg_btn_resume"), callback_data=data),),))
    if verb == "r" and (data := dg_data("p", sub.id)):
        return Reply(text, ((Button(t(lang, "dg_btn_pause"), callback_data=data),),))
    return Reply(text)


def empty_notice(lang: str = "zh") -> str:
    """What /digest says when nothing is in scope (a scheduled run sends nothing instead)."""
    return _labels(lang)["empty"]


# ------------------------------------------------------------------------------------- subscriptions


def _rows(buttons: list[Button], per: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i:i + per]) for i in range(0, len(buttons), per))


def describe(sub: Subscription | Request, lang: str) -> str:
    """`每周 周一 09:30 · 城市：无锡` — one subscription on one line (HTML-escaped)."""
    days = t(lang, "sub_days").split()
    day = f" {days[sub.weekday]}" if sub.frequency == "weekly" and sub.weekday is not None else ""
    scope = ""
    if sub.city:
        scope = t(lang, "sub_city", v=esc(sub.city))
    elif sub.topic:
        scope = t(lang, "sub_topic", v=esc(sub.topic))
    return t(lang, "sub_desc", freq=t(lang, f"sub_{sub.frequency}"), day=day, time=sub.time, scope=scope)


def next_local(sub: Subscription, now: datetime) -> str:
    """The next run as the chat reads it: local date and time in the subscription's zone."""
    return schedule.next_run(sub, now).astimezone(ZoneInfo(sub.tz)).strftime("%Y-%m-%d %H:%M")


def subscribed_text(sub: Subscription, lang: str, now: datetime, *, unknown_city: str | None = None,
                    unknown_topic: str | None = None, corrected_from: str | None = None) -> str:
    """Confirmation of a stored subscription; `unknown_city` adds a note that no plan covers it yet,
    `unknown_topic` that it is an alert only (no plan mentions it), `corrected_from` which term it took."""
    text = t(lang, "sub_created", desc=describe(sub, lang), tz=esc(sub.tz), next=next_local(sub, now))
    if unknown_city:
        text += t(lang, "sub_unknown_city_warn", v=esc(unknown_city))
    if unknown_topic:
        text += t(lang, "sub_topic_alert", v=esc(unknown_topic))
    elif corrected_from and sub.topic:
        text += t(lang, "sub_topic_corrected", v=esc(sub.topic))
    return text


def parse_error_text(exc: ParseError, lang: str) -> str:
    """The specific mistake, then the usage line (or only the usage line for anything unforeseen)."""
    key = f"sub_{exc.code}" if exc.code in ERROR_CODES else "sub_usage"
    text = t(lang, key, value=esc(clean(exc.value, 30)), n=MAX_SCOPE)
    return text if key == "sub_usage" else f"{text}\n{t(lang, 'sub_usage')}"


def frequency_picker(lang: str) -> Reply:
    """First step of the guided /subscribe."""
    buttons = [Button(t(lang, "sub_daily"), ds_data("d")), Button(t(lang, "sub_weekly"), ds_data("w"))]
    return Reply(t(lang, "sub_pick_frequency"), (tuple(buttons),))


def guide_step(state, lang: str, tz: str, cities: list[str], topics: list[str]) -> Reply:
    """The next question of the guided /subscribe for a parsed "ds|…" state without a scope yet."""
    freq, day, hhmm, _ = state
    if freq == "w" and day is None:
        days = t(lang, "sub_days").split()
        rows = tuple(tuple(Button(days[i], ds_data(freq, str(i))) for i in range(j, min(j + 4, 7)))
                     for j in (0, 4))
        return Reply(t(lang, "sub_pick_weekday"), rows)
    day = day or "-"
    if hhmm is None:
        return Reply(t(lang, "sub_pick_time", tz=esc(tz)),
                     _rows([Button(x, ds_data(freq, day, x)) for x in TIMES], 3))
    options = [(t(lang, "sub_all"), "a")]
    options += [(c, f"c:{c}") for c in cities]
    options += [(x, f"t:{x}") for x in topics]
    buttons = [Button(text, data) for text, scope in options if (data := ds_data(freq, day, hhmm, scope))]
    return Reply(t(lang, "sub_pick_scope"), _rows(buttons, 3))


def _list_text(subs: list[Subscription], tz: str, lang: str) -> str:
    if not subs:
        return t(lang, "sub_none")
    lines = [t(lang, "sub_list", tz=esc(tz))]
    for sub in subs:
        state = ""
        if not sub.active:
            why = sub.deactivated_reason or ""
            state = (t(lang, "sub_paused") if why in ("paused", "")
                     else t(lang, "sub_inactive", why=esc(clean(why, 40))))
        lines.append(f"#{sub.id} {describe(sub, lang)}{state}")
    return pack(["\n".join(lines)])[0]


def subscriptions_reply(subs: list[Subscription], tz: str, lang: str) -> Reply:
    """/subscriptions: every subscription of the chat, with pause/resume and delete buttons."""
    rows = []
    for sub in subs[:MAX_LISTED]:
        key, verb = ("sub_btn_pause", "p") if sub.active else ("sub_btn_resume", "r")
        rows.append((Button(t(lang, key, id=sub.id), dm_data(verb, sub.id)),
                     Button(t(lang, "sub_btn_delete", id=sub.id), dm_data("x", sub.id))))
    return Reply(_list_text(subs, tz, lang), tuple(rows))


def unsubscribe_picker(subs: list[Subscription], lang: str) -> Reply:
    """/unsubscribe without an argument: one button per subscription, then "cancel all"."""
    if not subs:
        return Reply(t(lang, "sub_none"))
    rows = [(Button(f"#{x.id} {describe(x, lang)}"[:60], dm_data("x", x.id)),) for x in subs[:MAX_LISTED]]
    rows.append((Button(t(lang, "sub_btn_all"), dm_data("a")),))
    return Reply(t(lang, "sub_pick_unsub"), tuple(rows))
