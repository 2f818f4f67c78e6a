"""Policy themes across plans: what the plans in scope have in common, and what changed between years.

A theme is a term of the policy dictionary (bot/data/policy_dict.txt) found in a plan's forward-looking
passages. Only those count, so a review of last year ("2022年…完成双减整治") never reads as this year's
task, and a plan's review part never contributes. Synonyms (bot/data/synonyms.txt) and longer forms of
a shorter dictionary term (校外培训机构 → 校外培训) fold into one theme, so a plan is not counted twice for
saying the same thing two ways. Sector and stage words (义务教育, 普通高中 …, bot/data/theme_stop.txt)
are left out: every plan mentions them, so they would crowd out what is particular.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import ahocorasick

from bot.corpus import store as plan_store
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


_MEMO: dict[int, tuple[weakref.ref, dict]] = {}
_MEMO_MAX = 512  # counts over many plans come from theme_counts; this serves changes between a few
_memo_lock = threading.Lock()


def theme_passages(plan: Plan) -> dict[str, list[tuple[Passage, int, int]]]:
    """Theme → the plan's forward-looking passages stating it, with the term's offsets, in plan order.

    Memoised per plan object (a reload makes new objects, so a changed plan is read afresh): the themes
    picture and the digests of a province ask for hundreds of plans, about 1 ms each.
    """
    held = _MEMO.get(id(plan))
    if held is not None and held[0]() is plan:
        return held[1]
    found = _theme_passages(plan)
    with _memo_lock:
        if len(_MEMO) >= _MEMO_MAX:
            for key in [k for k, (ref, _) in _MEMO.items() if ref() is None] or list(_MEMO)[: _MEMO_MAX // 2]:
                _MEMO.pop(key, None)
        _MEMO[id(plan)] = (weakref.ref(plan), found)
    return found


@lru_cache(maxsize=1)
def _automaton() -> ahocorasick.Automaton | None:
    """Every vocabulary term in one Aho-Corasick automaton, valued (rank in the vocabulary, term, theme).

    A passage is read once for all terms instead of once per term: 165 `str.find`s a passage were most
    of the 35 s the first digest of 15,000 plans spent (bot/digests/themes.py, issue 20)."""
    vocab = vocabulary()
    if not vocab:
        return None
    automaton = ahocorasick.Automaton()
    for rank, (term, theme) in enumerate(vocab.items()):
        automaton.add_word(term, (rank, term, theme))
    automaton.make_automaton()
    return automaton


def _theme_passages(plan: Plan) -> dict[str, list[tuple[Passage, int, int]]]:
    """A theme's first term in vocabulary order that a passage holds, at that term's first offset: what
    `str.find` of each term in vocabulary order found, so counts and excerpts are unchanged."""
    found: dict[str, list[tuple[Passage, int, int]]] = {}
    automaton = _automaton()
    if automaton is None:
        return found
    for passage in plan.passages:
        if passage.orientation != "forward":
            continue
        first: dict[int, tuple[int, str, str]] = {}  # rank → (first start, term, theme)
        for end, (rank, term, theme) in automaton.iter(passage.norm):
            if rank not in first:  # matches come by end offset, so a term's first is its leftmost
                first[rank] = (end + 1 - len(term), term, theme)
        seen: set[str] = set()
        for rank in sorted(first):
            start, term, theme = first[rank]
            if theme in seen:
                continue
            seen.add(theme)
            found.setdefault(theme, []).append((passage, start, start + len(term)))
    return found


@lru_cache(maxsize=1)
def _vocabulary_key() -> str:
    return "themes:" + hashlib.sha256(json.dumps(sorted(vocabulary().items()), ensure_ascii=False)
                                      .encode()).hexdigest()[:16]


def _counts(plan: Plan) -> dict[str, int]:
    return {theme: len(hits) for theme, hits in _theme_passages(plan).items()}


def stored_counts(plan: Plan) -> dict[str, dict[str, int]]:
    """A parsed plan's theme counts under the vocabulary's name, as the store keeps them beside it."""
    return {_vocabulary_key(): _counts(plan)}


def theme_counts(plan: Plan) -> dict[str, int]:
    """Theme → how many of the plan's forward-looking passages state it. A stored plan keeps these
    beside it (bot.corpus.store), keyed by the vocabulary, written when the plan is parsed, so the
    shared-themes line of a digest of thousands of plans reads no passages, the first one included; a
    plan parsed before this room was imported gets them on its first read."""
    derived = getattr(plan, "derived", None)
    if derived is None:
        return {theme: len(hits) for theme, hits in theme_passages(plan).items()}
    return derived(_vocabulary_key(), _counts)


plan_store.derive_when_stored(stored_counts)


def shared_themes(plans: Sequence[Plan], limit: int = SHARED_LIMIT,
                  counts: Mapping[str, dict[str, int]] | None = None) -> list[ThemeCount]:
    """Themes ranked by how many plans state them, then by how many passages do.

    With two or more plans only themes stated by at least two are kept (that is what "shared"
    means); a single plan gets its own most-stated themes. `counts`: each plan's `theme_counts`, when
    the caller read them already (a brief and its matrix read 40,000 plans' counts once, not thrice).
    """
    plan_ids: dict[str, list[str]] = {}
    passages: dict[str, int] = {}
    for plan in plans:
        plan_id = plan.plan_id
        for theme, hits in (counts[plan_id] if counts is not None else theme_counts(plan)).items():
            plan_ids.setdefault(theme, []).append(plan_id)
            passages[theme] = passages.get(theme, 0) + hits
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


# --------------------------------------------------------------------------------------- matrix

MATRIX_ROWS = 12  # a phone reads a heatmap of at most 12 rows × 10 columns
MATRIX_COLS = 10


@dataclass(frozen=True)
class MatrixRow:
    """One row of the themes picture: a place (or one plan of it) and the plans it stands for."""

    label: str
    plan_ids: tuple[str, ...]
    year: int | None = None  # set when the row is a single plan of a place (rows by year)


@dataclass(frozen=True)
class ThemeMatrix:
    """Themes by places: the columns are exactly the shared-themes line of the same plans, so the
    picture and the line can never disagree; a cell is how many of the row's forward-looking passages
    state the column's theme (the same passages the line counts, split by row)."""

    rows: tuple[MatrixRow, ...]
    themes: tuple[ThemeCount, ...]
    cells: tuple[tuple[int, ...], ...]
    hidden_rows: int = 0  # places left out to keep the picture readable (the weakest)
    plans: int = 0  # plans in scope

    @property
    def empty(self) -> bool:
        return not self.rows or not self.themes

    def as_dict(self) -> dict:
        """The `planbrief themes --json` contract (add keys, never rename)."""
        return {
            "rows": [{"label": r.label, "plan_ids": list(r.plan_ids), "year": r.year} for r in self.rows],
            "themes": [t.as_dict() for t in self.themes],
            "matrix": [list(row) for row in self.cells],
            "hidden_rows": self.hidden_rows,
            "plans": self.plans,
        }


def matrix_rows(plans: Sequence[Plan]) -> list[tuple[MatrixRow, list[Plan]]]:
    """Rows by each plan's own place (江苏 → 无锡, 江阴, 苏州); a scope that is one place with several
    plans gets a row per plan instead (无锡 2020, 无锡 2023), or the picture would be a single line."""
    from bot.search.places import plan_place

    grouped: dict[str, list[Plan]] = {}
    for plan in plans:
        own = plan_place(plan)
        grouped.setdefault(own.short if own else plan.meta.city, []).append(plan)
    if len(grouped) == 1 and len(plans) > 1:
        (label, group), = grouped.items()
        group = sorted(group, key=lambda p: (p.meta.year, p.meta.date, p.plan_id))
        return [(MatrixRow(f"{label} {p.meta.year}", (p.plan_id,), p.meta.year), [p]) for p in group]
    return [(MatrixRow(label, tuple(p.plan_id for p in group)), group) for label, group in grouped.items()]


def theme_matrix(plans: Sequence[Plan], *, max_rows: int = MATRIX_ROWS, max_cols: int = MATRIX_COLS,
                 counts: Mapping[str, dict[str, int]] | None = None) -> ThemeMatrix:
    """The themes picture's numbers for `plans` (see ThemeMatrix). Rows past `max_rows` are the ones
    stating the chosen themes least; they are dropped and counted, never silently. `counts`: as for
    `shared_themes`."""
    plans = list(plans)
    per_plan = counts if counts is not None else {p.plan_id: theme_counts(p) for p in plans}
    themes = shared_themes(plans, limit=max_cols, counts=per_plan)
    rows, cells = [], []
    for row, group in matrix_rows(plans):
        rows.append(row)
        cells.append(tuple(sum(per_plan[p.plan_id].get(t.theme, 0) for p in group) for t in themes))
    keep = sorted(range(len(rows)), key=lambda i: (-sum(cells[i]), i))[:max_rows]
    keep.sort()
    return ThemeMatrix(tuple(rows[i] for i in keep), tuple(themes), tuple(cells[i] for i in keep),
                       hidden_rows=len(rows) - len(keep), plans=len(plans))


@dataclass(frozen=True)
class YearShift:
    """The year-over-year picture's content: themes the newer plan adds and drops, with how many of its
    (or the older plan's) forward-looking passages state each."""

    changes: PlanChanges
    added: tuple[tuple[str, int], ...]
    dropped: tuple[tuple[str, int], ...]


def year_shift(changes: PlanChanges, corpus, limit: int = MATRIX_ROWS) -> YearShift:
    """Weights for the two columns of the year-over-year picture, from the same theme_passages."""
    older, newer = corpus.plan(changes.older.plan_id), corpus.plan(changes.newer.plan_id)
    before = theme_passages(older) if older else {}
    after = theme_passages(newer) if newer else {}
    added = tuple((c.theme, len(after.get(c.theme, ()))) for c in changes.added[:limit])
    dropped = tuple((c.theme, len(before.get(c.theme, ()))) for c in changes.dropped[:limit])
    return YearShift(changes, added, dropped)
