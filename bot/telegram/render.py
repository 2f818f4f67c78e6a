"""Everything the bot says, as Telegram HTML plus keyboards described as plain data.

One module so escaping, citations, bolding and the 4096-character limit are decided once: handlers
pass core results in and send what comes out. It never imports `telegram` (keyboards are small
dataclasses, converted by handlers/common.py), so it is unit-testable and reused by the console.
Lengths are measured on the HTML *source* in UTF-16 units, which is never shorter than what
Telegram counts (the parsed text), so a message that fits here fits there.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.corpus.regions import short_name
from bot.models import Hit, Plan, PlanMeta
from bot.telegram.i18n import t
from bot.textnorm import clean

MAX_MESSAGE = 4096
MAX_CALLBACK = 64
MAX_INLINE_QUERY = 256
PAGE_SIZE = 5
EXCERPT_CAP = 600
ECHO_CAP = 40  # user text quoted back in a reply
SEP = "\n\n"

# ---------------------------------------------------------------------------- keyboards as data


@dataclass(frozen=True)
class Button:
    """Exactly one action is set, as Telegram requires of an inline button."""

    text: str
    callback_data: str | None = None
    switch_inline_query: str | None = None
    url: str | None = None


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class Reply:
    """One message. Its text never exceeds Telegram's limit, whoever built it: a longer one is cut
    here (tags closed, an ellipsis added), since Telegram would reject it and the user see nothing."""

    text: str  # Telegram HTML
    keyboard: Keyboard = ()

    def __post_init__(self) -> None:
        if utf16_len(self.text) > MAX_MESSAGE:
            object.__setattr__(self, "text", cap_message(self.text))


@dataclass
class Answer:
    """One or more messages; only the last one carries the keyboard (buttons act on the whole answer)."""

    messages: list[Reply] = field(default_factory=list)


# ---------------------------------------------------------------------------- text hygiene

def esc(text: str | None) -> str:
    return html.escape(text or "", quote=False)


def echo(text: str | None) -> str:
    """A user's words, quoted back: cleaned, shortened and escaped."""
    return esc(clean(text, ECHO_CAP))


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def shorten(text: str, cap: int) -> str:
    text = text.strip()
    return text if len(text) <= cap else text[: cap - 1].rstrip() + "…"


# ---------------------------------------------------------------------------- highlighting, citations


def merge_marks(marks: Iterable[Sequence[int]], length: int) -> list[tuple[int, int]]:
    """Clamp, drop empty and merge overlapping or touching marks, so tags never nest or cross."""
    spans = sorted((max(0, int(a)), min(length, int(b))) for a, b in marks)
    merged: list[list[int]] = []
    for a, b in spans:
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def highlight(text: str, marks: Iterable[Sequence[int]] = (), cap: int | None = EXCERPT_CAP) -> str:
    """Escape `text` and bold the marked spans; a capped excerpt keeps only marks inside the cut."""
    if cap is not None and len(text) > cap:
        text = text[: cap - 1] + "…"
    out, pos = [], 0
    for a, b in merge_marks(marks, len(text)):
        out.append(esc(text[pos:a]))
        out.append(f"<b>{esc(text[a:b])}</b>")
        pos = b
    out.append(esc(text[pos:]))
    return "".join(out)


# an item's own number at the start of its text: 21. / 21 . / （三） / 三、 / 第一，
_OWN_LABEL = re.compile(r"\s*(?:[（(][0-9一二三四五六七八九十]{1,3}[)）]|[0-9]{1,3}\s*[.．、]|[一二三四五六七八九十]{1,3}[、.．]"
                        r"|第[一二三四五六七八九十]{1,3}[，,、])\s*")


def excerpt_html(hit: Hit, cap: int | None = EXCERPT_CAP) -> str:
    """The excerpt, highlighted, with the item's own number dropped when its citation already ends in
    that numbered heading: an answer numbers its hits, so `1. 21. 培养…` would show two numbers."""
    text, marks = hit.excerpt, hit.marks
    own = _OWN_LABEL.match(text)
    last = hit.passage.section[-1] if hit.passage.section else ""
    if own and _label_key(last).startswith(_label_key(own.group(0))):
        cut = own.end()
        text = text[cut:]
        marks = tuple((max(a - cut, 0), b - cut) for a, b in marks if b > cut)
    return highlight(text, marks, cap=cap)


def _label_key(text: str) -> str:
    return re.sub(r"\s+", "", text).replace("．", ".").replace("(", "（").replace(")", "）")


def short_title(meta: PlanMeta, cap: int = 28) -> str:
    """Citations use the manifest's short title: a reader quotes 《2023年工作要点》, not a 40-char headline."""
    return shorten(meta.short_title or meta.title, cap)


def citation(meta: PlanMeta | None, section: Sequence[str], plan_id: str = "") -> str:
    """`city · year《plan》 · section › item`, escaped: where a reader can check the excerpt."""
    parts = []
    if meta is not None:
        parts.append(esc(place_name(meta)))
        name = short_title(meta)
        year = "" if str(meta.year) in name else str(meta.year)
        parts.append(f"{year}《{esc(name)}》")
    else:
        parts.append(esc(plan_id))
    path = " › ".join(esc(shorten(s, 36)) for s in section if s)
    if path:
        parts.append(path)
    return " · ".join(parts)


def hit_block(n: int | None, hit: Hit, meta: PlanMeta | None, lang: str = "zh", *, gloss: bool = True) -> str:
    number = f"<b>{n}.</b> " if n is not None else ""
    body = excerpt_html(hit)
    block = f"{number}{orientation_tag(hit, lang)}{body}\n<i>— {citation(meta, hit.passage.section, hit.passage.plan_id)}</i>"
    return block + (glossary_line([hit], lang) if gloss else "")


def orientation_tag(hit: Hit, lang: str = "zh") -> str:
    """〔计划〕 for what a plan sets out to do, 〔回顾〕 for its review of what was done."""
    key = {"forward": "tag_forward", "backward": "tag_backward"}.get(hit.passage.orientation)
    return t(lang, key) if key else ""


def merged_blocks(first: int, hits: Sequence[Hit], metas: dict, lang: str = "zh") -> list[tuple[str, int]]:
    """Numbered blocks, one per run of consecutive hits with the same citation (so one citation is
    never printed twice in a row); each block with how many hits it holds."""
    groups: list[list[Hit]] = []
    for hit in hits:
        meta = metas.get(hit.passage.plan_id)
        if groups and citation(metas.get(groups[-1][0].passage.plan_id), groups[-1][0].passage.section,
                               groups[-1][0].passage.plan_id) == citation(meta, hit.passage.section,
                                                                          hit.passage.plan_id):
            groups[-1].append(hit)
        else:
            groups.append([hit])
    out, n = [], first
    for group in groups:
        head = group[0]
        meta = metas.get(head.passage.plan_id)
        label = f"{n}" if len(group) == 1 else f"{n}–{n + len(group) - 1}"
        bodies = "\n".join(orientation_tag(h, lang) + excerpt_html(h) for h in group)
        cite = citation(meta, head.passage.section, head.passage.plan_id)
        out.append((f"<b>{label}.</b> {bodies}\n<i>— {cite}</i>", len(group)))
        n += len(group)
    return out


def glossary_line(hits: Sequence[Hit], lang: str) -> str:
    """For a reader who does not read Chinese: what the matched policy terms mean (glossary English),
    each term once per answer however many excerpts matched it."""
    pairs = list(dict.fromkeys(pair for hit in hits for pair in hit.glossary))
    if lang == "zh" or not pairs:
        return ""
    items = "; ".join(f"{esc(zh)} = {esc(en)}" for zh, en in pairs)
    return f"\n<i>{t(lang, 'glossary', items=items)}</i>"


# ---------------------------------------------------------------------------- splitting

_TOKEN = re.compile(r"<[^>]*>|&[^;\s]{1,32};|.", re.S)
_OPEN = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)[^>]*>")
_CLOSE = re.compile(r"</([a-zA-Z][a-zA-Z0-9-]*)\s*>")


def split_block(block: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Cut one over-long HTML block at token boundaries, closing and reopening tags at each cut.

    Prefers the last newline in the chunk, so a cut falls between lines when it can.
    """
    if utf16_len(block) <= limit:
        return [block]
    chunks: list[str] = []
    tokens = _TOKEN.findall(block)
    current: list[str] = []
    size = 0
    stack: list[tuple[str, str]] = []  # (name, full opening tag)
    # record of (tokens so far, stack at that point) at the last newline, to cut there
    for tok in tokens:
        closing_cost = sum(len(name) + 3 for name, _ in stack)
        cost = utf16_len(tok)
        if size + cost + closing_cost > limit and current:
            closers = "".join(f"</{name}>" for name, _ in reversed(stack))
            chunks.append("".join(current) + closers)
            current = [opener for _, opener in stack]
            size = sum(utf16_len(o) for o in current)
        current.append(tok)
        size += cost
        if m := _CLOSE.fullmatch(tok):
            if stack and stack[-1][0] == m.group(1).lower():
                stack.pop()
        elif m := _OPEN.fullmatch(tok):
            stack.append((m.group(1).lower(), tok))
    if current:
        chunks.append("".join(current))
    return [c for c in chunks if _visible(c)]


def _visible(fragment: str) -> bool:
    return bool(html.unescape(re.sub(r"<[^>]*>", "", fragment)).strip())


def cap_message(text: str, limit: int = MAX_MESSAGE) -> str:
    """The first message's worth of `text`, cut at a token boundary with its tags closed, plus "…"."""
    return split_block(text, limit - 2)[0].rstrip() + "…"


def pack(blocks: Sequence[str], limit: int = MAX_MESSAGE, sep: str = SEP) -> list[str]:
    """Greedily put whole blocks (passages, list items) into as few messages as fit in `limit`."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        for piece in split_block(block, limit):
            candidate = f"{current}{sep}{piece}" if current else piece
            if utf16_len(candidate) <= limit:
                current = candidate
            else:
                messages.append(current)
                current = piece
    if current:
        messages.append(current)
    return messages


def fit(blocks: Sequence[str], limit: int = MAX_MESSAGE, sep: str = SEP) -> tuple[str, int]:
    """As many leading blocks as fit in one message (at least the first, cut if it must be)."""
    text, used = "", 0
    for block in blocks:
        candidate = f"{text}{sep}{block}" if text else block
        if utf16_len(candidate) > limit:
            break
        text, used = candidate, used + 1
    if used == 0 and blocks:
        text, used = split_block(blocks[0], limit)[0], 1
    return text, used


def as_answer(blocks: Sequence[str], keyboard: Keyboard = ()) -> Answer:
    texts = pack(blocks)
    replies = [Reply(text) for text in texts[:-1]]
    replies.append(Reply(texts[-1], keyboard))
    return Answer(replies)


# ---------------------------------------------------------------------------- callback data
# v1 formats, all ≤ 64 bytes:  t1|<offset>|<city>|<query>   topic page, query carried inline
#                              t2|<offset>|<key>            topic page, query kept server-side
#                              p1|<plan_id>                 a plan's outline


@dataclass(frozen=True)
class TopicPage:
    offset: int
    query: str | None = None
    city: str = ""
    key: str | None = None


@dataclass(frozen=True)
class PlanOutline:
    plan_id: str


MAX_OFFSET = 1000


def topic_key(query: str, city: str = "") -> str:
    return hashlib.blake2s(f"{city}\x00{query}".encode(), digest_size=6).hexdigest()


def topic_data(query: str, city: str, offset: int) -> str:
    """Inline form when it fits, else the t2 form whose key the caller must remember."""
    inline = f"t1|{offset}|{city}|{query}"
    if len(inline.encode()) <= MAX_CALLBACK and "|" not in city:
        return inline
    return f"t2|{offset}|{topic_key(query, city)}"


def plan_data(plan_id: str) -> str | None:
    data = f"p1|{plan_id}"
    return data if len(data.encode()) <= MAX_CALLBACK else None


def parse_callback(data: str | None) -> TopicPage | PlanOutline | None:
    """Validate what a client sent back; anything malformed, forged or from another version → None."""
    if not data or len(data.encode("utf-8", "surrogatepass")) > MAX_CALLBACK:
        return None
    kind, _, rest = data.partition("|")
    if kind == "p1":
        return PlanOutline(rest) if re.fullmatch(r"[A-Za-z0-9_.-]{1,60}", rest) else None
    if kind in ("t1", "t2"):
        page = parse_paged(rest, keyed=kind == "t2")
        if page is None:
            return None
        return TopicPage(page.offset, key=page.key) if page.key else \
            TopicPage(page.offset, query=page.query, city=page.scope)
    return None


@dataclass(frozen=True)
class Paged:
    offset: int
    key: str | None = None
    scope: str = ""
    query: str = ""


def parse_paged(rest: str, *, keyed: bool) -> Paged | None:
    """The tail every paged answer's buttons share (/topic, /compare): `<offset>|<key>` when the query
    is remembered server-side, else `<offset>|<scope>|<query>`; malformed or forged → None."""
    offset_text, _, rest = rest.partition("|")
    if not re.fullmatch(r"[0-9]{1,4}", offset_text) or int(offset_text) > MAX_OFFSET:
        return None
    offset = int(offset_text)
    if keyed:
        return Paged(offset, key=rest) if re.fullmatch(r"[0-9a-f]{12}", rest) else None
    scope, sep, query = rest.partition("|")
    query = clean(query)
    if not sep or not query or len(query) > 64:
        return None
    return Paged(offset, scope=clean(scope), query=query)


# ---------------------------------------------------------------------------- answers


def _share(lang: str, query: str) -> Button:
    return Button(t(lang, "btn_share"), switch_inline_query=shorten(clean(query), MAX_INLINE_QUERY - 1))


def topic_answer(result, lang: str, *, query: str, city: str = "", offset: int = 0,
                 page_size: int = PAGE_SIZE) -> Reply:
    """One page of a topic search: title, notice, numbered cited excerpts, paging and share buttons.

    `result` is a bot.search.engine.SearchResult fetched with this offset and page_size.
    """
    if not result.hits:
        return Reply(_no_hits(result, lang, query, city), ())
    metas: dict[str, PlanMeta] = result.plans
    merged = merged_blocks(offset + 1, result.hits, metas, lang)
    blocks = [b for b, _ in merged]
    shown_query = result.corrected or result.query or query
    scope = t(lang, "scope_city", city=esc(city)) if city else ""
    # the title names how many hits fit, so it is computed after fitting
    notice = _notice(result, lang)
    gloss = glossary_line(result.hits, lang)
    head_base = f"{t(lang, 'topic_title', query=echo(shown_query), scope=scope, total=result.total, first=offset + 1, last=offset + len(result.hits))}"
    head = head_base + (f"\n<i>{notice}</i>" if notice else "") + gloss
    body, used = fit([head, *blocks])
    used -= 1  # the head
    if used < len(blocks):
        hits_used = sum(n for _, n in merged[:used])
        head_base = t(lang, "topic_title", query=echo(shown_query), scope=scope, total=result.total,
                      first=offset + 1, last=offset + hits_used)
        head = head_base + (f"\n<i>{notice}</i>" if notice else "") + gloss
        body, _ = fit([head, *blocks[:used]])
    shown = max(sum(n for _, n in merged[:used]), 1)
    nav = []
    if offset > 0:
        nav.append(Button(t(lang, "btn_prev"), callback_data=topic_data(query, city, max(0, offset - page_size))))
    if offset + shown < result.total and offset + shown <= MAX_OFFSET:
        nav.append(Button(t(lang, "btn_next"), callback_data=topic_data(query, city, offset + shown)))
    share_query = f"{query} {city}".strip()
    rows: list[tuple[Button, ...]] = []
    if nav:
        rows.append(tuple(nav))
    rows.append((_share(lang, share_query),))
    return Reply(body, tuple(rows))


def _notice(result, lang: str) -> str:
    if lang == "zh":
        return esc(result.notice or "")
    notes = []
    if result.error == "too_long":
        notes.append(t(lang, "too_long", n=64))
    translated = getattr(result, "translated", None)
    if translated:
        notes.extend(t(lang, "translated", en=echo(en), zh=echo(zh)) for en, zh in translated)
    elif result.corrected:
        notes.append(t(lang, "corrected", corrected=echo(result.corrected)))
    unknown = getattr(result, "unknown", None)
    if unknown and result.hits:
        notes.append(t(lang, "unknown_words", words=", ".join(f"“{echo(u)}”" for u in unknown)))
    return "; ".join(notes)


def _no_hits(result, lang: str, query: str, city: str) -> str:
    if city:
        text = t(lang, "no_match_in", city=esc(city), query=echo(query))
    else:
        text = t(lang, "no_match", query=echo(query))
    notice = _notice(result, lang)
    if notice:
        text += f"\n<i>{notice}</i>"
    if result.suggestions:
        text += "\n" + t(lang, "suggest", items="、".join(esc(s) for s in result.suggestions[:8]))
    return text


def suggestions_line(lang: str, items: Iterable[str]) -> str:
    return "、".join(esc(s) for s in items) if lang == "zh" else ", ".join(esc(s) for s in items)


def plan_line(plan: Plan, lang: str) -> str:
    m = plan.meta
    where = esc(place_name(m))
    return (f"• <b>{esc(m.title)}</b>\n  {where} · {m.year} · {esc(m.kind)} · "
            f"{t(lang, 'plan_passages', n=plan.passage_count)} · <code>{esc(m.plan_id)}</code>")


def plans_answer(plans: Sequence[Plan], lang: str) -> Answer:
    blocks = [t(lang, "plans_title", n=len(plans))]
    blocks += [plan_line(p, lang) for p in plans]
    blocks.append(t(lang, "plans_footer"))
    buttons = tuple((Button(plan_button_text(p), callback_data=plan_data(p.plan_id)),)
                    for p in plans[:8] if plan_data(p.plan_id))
    return as_answer(blocks, buttons)


def plan_button_text(plan: Plan) -> str:
    return shorten(f"{plan.meta.year} {place_name(plan.meta)} {plan.meta.kind}", 40)


def _outline_lines(nodes, depth: int = 0, max_depth: int = 2) -> Iterable[str]:
    for node in nodes:
        if node.heading and node.kind in ("part", "section"):
            yield "　" * depth + esc(shorten(node.heading, 80))
            if depth + 1 < max_depth:
                yield from _outline_lines(node.children, depth + 1, max_depth)
        elif not node.heading:
            yield from _outline_lines(node.children, depth, max_depth)


def plan_answer(plan: Plan, lang: str) -> Answer:
    """A plan's card: title and facts, headline priorities with their items, then its outline."""
    m = plan.meta
    where = "·".join(x for x in (m.province, m.parent_city or "") if x)
    head = (f"<b>{esc(m.title)}</b>\n{esc(place_name(m))}（{esc(where)}）· {esc(m.kind)} · {esc(m.date)}"
            + (f" · {esc(m.issuer)}" if m.issuer else "") + f"\n<code>{esc(m.plan_id)}</code>")
    blocks = [head]
    if plan.priorities:  # one list; pack cuts it between lines only where a message must end
        pr_lines = [t(lang, "plan_priorities")]
        for pr in plan.priorities:
            pr_lines.append(f"■ {esc(shorten(pr.title, 80))}")
            pr_lines.extend(f"　· {esc(shorten(item, 60))}" for item in pr.items[:8])
        blocks.append("\n".join(pr_lines))
    outline = list(_outline_lines(plan.tree))
    if outline:
        blocks.append("\n".join([t(lang, "plan_outline"), *outline]))
    keyboard = ((_share(lang, m.plan_id),),)
    return as_answer(blocks, keyboard)


def place_name(meta: PlanMeta) -> str:
    """The one display name of a plan's place (无锡, not 无锡市 beside it); the full form stays in titles."""
    return short_name(meta.city) if meta.city else meta.city


def city_answer(match, plans: Sequence[Plan], lang: str, typed: str) -> Answer:
    """A city card: where it is, its plans (with headline priorities) and a button per plan."""
    place = match.place
    where = "·".join(x for x in (place.province, place.parent_city or "") if x and x != place.name)
    title = t(lang, "city_title", city=esc(place.short), where=esc(where or place.name), n=len(plans))
    if match.corrected:
        title += " " + t(lang, "city_corrected", city=esc(place.short))
    blocks = [title]
    for plan in plans:
        pri = "；".join(esc(shorten(p.title, 30)) for p in plan.priorities[:5])
        line = plan_line(plan, lang)
        if pri:
            line += f"\n  {t(lang, 'plan_priorities')}：{pri}" if lang == "zh" else f"\n  {t(lang, 'plan_priorities')}: {pri}"
        blocks.append(line)
    rows = [(Button(plan_button_text(p), callback_data=data),) for p in plans[:8]
            if (data := plan_data(p.plan_id))]
    rows.append((_share(lang, place.short),))
    return as_answer(blocks, tuple(rows))


def unknown_city(lang: str, typed: str, places: Sequence[str]) -> str:
    return t(lang, "unknown_city", city=echo(typed), places=suggestions_line(lang, places))


# ---------------------------------------------------------------------------- inline results


@dataclass(frozen=True)
class Article:
    """An inline result as data: id ≤ 64 bytes, title/description plain text, message in HTML."""

    id: str
    title: str
    description: str
    message: str


def result_id(raw: str) -> str:
    return raw if 0 < len(raw.encode()) <= MAX_CALLBACK else hashlib.blake2s(raw.encode(), digest_size=16).hexdigest()


def excerpt_message(hit: Hit, meta: PlanMeta | None) -> str:
    """What a group sees after picking an inline result: the excerpt and its citation, nothing else."""
    return hit_block(None, hit, meta)


def hit_article(hit: Hit, meta: PlanMeta | None) -> Article:
    title = f"{place_name(meta)} · {meta.year}《{short_title(meta, 20)}》" if meta else hit.passage.plan_id
    section = " › ".join(shorten(s, 20) for s in hit.passage.section[-2:])
    description = shorten(clean(f"{section}：{hit.excerpt}" if section else hit.excerpt), 120)
    return Article(result_id(hit.passage.id), title, description, excerpt_message(hit, meta))


def plan_article(plan: Plan, lang: str) -> Article:
    m = plan.meta
    lines = [f"<b>{esc(m.title)}</b>", f"{esc(place_name(m))} · {m.year} · {esc(m.kind)}"]
    if plan.priorities:
        lines.append(t(lang, "plan_priorities"))
        lines.extend(f"■ {esc(shorten(p.title, 80))}" for p in plan.priorities[:8])
    message, _ = fit(["\n".join(lines)])
    return Article(result_id("plan:" + m.plan_id), shorten(m.title, 60),
                   t(lang, "inline_plan_desc", year=m.year, kind=m.kind), message)


# ---------------------------------------------------------------------------- deep links
# t.me/<bot>?start=<payload>: Telegram allows 1-64 chars of [A-Za-z0-9_-], so Chinese text travels
# base64url-encoded: t_<b64> topic ("双减" or "双减 无锡"), c_<b64> city, p_<plan id>.

_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")


def deep_link_payload(kind: str, value: str) -> str | None:
    import base64

    if kind == "plan":
        payload = f"p_{value}"
    else:
        code = base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")
        payload = f"{'t' if kind == 'topic' else 'c'}_{code}"
    return payload if _PAYLOAD.fullmatch(payload) else None


def parse_deep_link(payload: str) -> tuple[str, str] | None:
    import base64
    import binascii

    if not _PAYLOAD.fullmatch(payload or ""):
        return None
    prefix, _, body = payload.partition("_")
    if not body:
        return None
    if prefix == "p":
        return ("plan", body)
    if prefix not in ("t", "c"):
        return None
    try:
        value = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    value = clean(value, 64)
    if not value:
        return None
    return ("topic" if prefix == "t" else "city", value)
