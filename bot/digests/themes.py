"""Policy themes across plans: what the plans in scope have in common, and what changed between years.

A theme is a term of the policy dictionary (bot/data/policy_dict.txt) found in a plan's forward-looking
passages. Only those count, so a review of last year ("2022年…完成双减整治") never reads as this year's
task, and a plan's review part never contributes. Synonyms (bot/data/synonyms.txt) and longer forms of
a shorter dictionary term (校外培训机构 → 校外培训) fold into one theme, so a plan is not counted twice for
saying the same thing two ways. Sector and stage words (义务教育, 普通高中 …, bot/data/theme_stop.txt)
are left out: every plan mentions them, so they would crowd out what is particular.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.models import Passage, Plan, PlanMeta
from bot.search.tokenize import policy_terms, synonym_groups
from bot.textnorm import normalize

STOP_FILE = Path(__file__).resolve().parents[1] / "data" / "theme_stop.txt"
SHARED_LIMIT = 5
EXCERPT_CHARS = 60


@dataclass(frozen=True)
class ThemeCount:
    """One theme of a scope: the plans stating it as a task and how many of their passages do."""

    theme: str
    plan_ids: tuple[str, ...]
    passages: int

    @property
    def plans(self) -> int:
        return len(self.plan_ids)

    def as_dict(self) -> dict:
        return {"theme": self.theme, "plans": self.plans, "plan_ids": list(self.plan_ids),
                "passages": self.passages}


@dataclass(frozen=True)
class ThemeChange:
    """A theme one plan states and the other does not, with the passage that states it."""

    theme: str
    passage: Passage
    excerpt: str

    def as_dict(self) -> dict:
        return {"theme": self.theme, "passage_id": self.passage.id, "excerpt": self.excerpt,
                "section": list(self.passage.section)}


@dataclass(frozen=True)
class PlanChanges:
    """What the newer plan of a place adds and no longer mentions, compared with the older one."""

    place: str
    older: PlanMeta
    newer: PlanMeta
    added: tuple[ThemeChange, ...]
    dropped: tuple[ThemeChange, ...]

    @property
    def same_kind(self) -> bool:
        """A 会议报道 against a 半年总结与计划 differs in what each kind of text mentions at all, so
        "no longer mentioned" is weak evidence; readers are told (issue 16)."""
        return (self.older.kind or "") == (self.newer.kind or "")

    def as_dict(self) -> dict:
        """The `planbrief changes --json` contract (add keys, never rename)."""
        return {
            "place": self.place,
            "from": {"plan_id": self.older.plan_id, "year": self.older.year, "city": self.older.city,
                     "kind": self.older.kind},
            "to": {"plan_id": self.newer.plan_id, "year": self.newer.year, "city": self.newer.city,
                   "kind": self.newer.kind},
            "added": [c.as_dict() for c in self.added],
            "dropped": [c.as_dict() for c in self.dropped],
            "same_kind": self.same_kind,
        }


# ----------------------------------------------------------------------------------- vocabulary


def _lines(path: Path) -> list[str]:
    rows = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line.split()[0] for line in rows if line and not line.startswith("#")]


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, str]:
    """Normalised dictionary term → the theme it counts for (see the module docstring)."""
    stop = {normalize(t) for t in _lines(STOP_FILE)}
    terms = [normalize(t) for t in policy_terms()]
    heads: dict[str, str] = {}
    for group in synonym_groups():
        for member in group:
            heads.setdefault(normalize(member), normalize(group[0]))
    known = set(terms)
    out: dict[str, str] = {}
    for term in terms:
        if term in stop:
            continue
        theme = heads.get(term) or _shortest_inside(term, known - stop) or term
        out[term] = heads.get(theme, theme)
    return out


def _shortest_inside(term: str, known: set[str]) -> str | None:
    """The shortest other dictionary term inside `term` (校外培训机构 → 校外培训), if any."""
    inside = [k for k in known if k != term and len(k) >= 2 and k in term]
    return min(inside, key=lambda k: (len(k), k)) if inside else None


# --------------------------------------------------------------------------------------- counts


def theme_passages(plan: Plan) -> dict[str, list[tuple[Passage, int, int]]]:
    """Theme → the plan's forward-looking passages stating it, with the term's offsets, in plan order."""
    found: dict[str, list[tuple[Passage, int, int]]] = {}
    vocab = vocabulary()
    for passage in plan.passages:
        if passage.orientation != "forward":
            continue
        seen: set[str] = set()
        for term, theme in vocab.items():
            start = passage.norm.find(term)
            if start < 0 or theme in seen:
                continue
            seen.add(theme)
            found.setdefault(theme, []).append((passage, start, start + len(term)))
    return found


def shared_themes(plans: Sequence[Plan], limit: int = SHARED_LIMIT) -> list[ThemeCount]:
    """Themes ranked by how many plans state them, then by how many passages do.

    With two or more plans only themes stated by at least two are kept (that is what "shared"
    means); a single plan gets its own most-stated themes.
    """
    plan_ids: dict[str, list[str]] = {}
    passages: dict[str, int] = {}
    for plan in plans:
        for theme, hits in theme_passages(plan).items():
            plan_ids.setdefault(theme, []).append(plan.plan_id)
            passages[theme] = passages.get(theme, 0) + len(hits)
    floor = 2 if len(plans) > 1 else 1
    counts = [ThemeCount(t, tuple(ids), passages[t]) for t, ids in plan_ids.items() if len(ids) >= floor]
    order = _dictionary_order()
    counts.sort(key=lambda c: (-c.plans, -c.passages, order.get(c.theme, len(order)), c.theme))
    return counts[:limit]


@lru_cache(maxsize=1)
def _dictionary_order() -> dict[str, int]:
    """Ties go to the theme listed first in the dictionary (national reforms before local programmes)."""
    order: dict[str, int] = {}
    for index, theme in enumerate(vocabulary().values()):
        order.setdefault(theme, index)
    return order


# -------------------------------------------------------------------------------------- changes


def excerpt_around(passage: Passage, start: int, end: int, width: int = EXCERPT_CHARS) -> str:
    """A window of the displayed text around a match; norm and text share offsets (bot.textnorm)."""
    text = passage.text
    if len(text) <= width:
        return text
    left = max(0, min(start - width // 3, len(text) - width))
    piece = text[left:left + width]
    return ("…" if left else "") + piece + ("…" if left + width < len(text) else "")


def _changes(themes_from: dict, themes_to: dict) -> tuple[ThemeChange, ...]:
    """Themes of `themes_from` absent from `themes_to`, most-stated first, one excerpt each."""
    gone = [t for t in themes_from if t not in themes_to]
    gone.sort(key=lambda t: (-len(themes_from[t]), t))
    out = []
    for theme in gone:
        passage, start, end = themes_from[theme][0]
        out.append(ThemeChange(theme, passage, excerpt_around(passage, start, end)))
    return tuple(out)


def compare_plans(place: str, older: Plan, newer: Plan) -> PlanChanges:
    before, after = theme_passages(older), theme_passages(newer)
    return PlanChanges(place, older.meta, newer.meta, _changes(after, before), _changes(before, after))


def year_pair(plans: Iterable[Plan]) -> tuple[Plan, Plan] | None:
    """The newest of one place's plans and the one to compare it with: the oldest plan of the same
    kind from an earlier year (like with like), else the oldest plan; None when all are of one year."""
    plans = list(plans)
    if len({p.meta.year for p in plans}) < 2:
        return None
    by_year = sorted(plans, key=lambda p: (p.meta.year, p.meta.date, p.plan_id))
    newest = by_year[-1]
    alike = [p for p in by_year if p.meta.kind == newest.meta.kind and p.meta.year < newest.meta.year]
    return (alike[0] if alike else by_year[0]), newest


def changes_for_place(place, corpus) -> PlanChanges | None:
    """`place` is a bot.corpus.regions.Place. Only the place's own plans are compared: 无锡 2020 against
    江阴 2023 would be two places, not two years (so a province, which issues no plan here, has none)."""
    from bot.search.places import plan_place, plans_for_place

    own = [p for p in plans_for_place(place, corpus) if plan_place(p) == place]
    pair = year_pair(own)
    return compare_plans(place.short, *pair) if pair else None


def changes_into(plan: Plan, corpus) -> PlanChanges | None:
    """What `plan` changed for its place, when it is that place's newest plan and an older year exists:
    the news a digest brings with a plan that supersedes an earlier one (无锡 2020 → 2023)."""
    from bot.search.places import plan_place

    place = plan_place(plan)
    changes = changes_for_place(place, corpus) if place is not None else None
    return changes if changes is not None and changes.newer.plan_id == plan.plan_id else None
