"""What a digest says: each plan's headline priorities and key quantitative targets.

Targets come from forward-looking passages only, so last year's results (2022年…立案23人次) never read as
this year's goals. Plans a chat has not been sent before come first and are marked new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.corpus.loader import Corpus
from bot.corpus.regions import Place, short_name
from bot.corpus.targets import STORED_TARGETS, key_targets
from bot.digests.themes import PlanChanges, ThemeCount, changes_for_place, shared_themes
from bot.models import Hit, Plan, Priority

MAX_TARGETS = 8


@dataclass
class PlanDigest:
    plan: Plan
    priorities: list[Priority]
    targets: list[str]
    new: bool
    excerpts: list[Hit] = field(default_factory=list)
    spotlight: bool = False  # the one plan a scheduled digest features when nothing is new
    focus: Priority | None = None  # the priority a spotlight reads in full (moves on each time)
    matches: list[Hit] = field(default_factory=list)  # for a topic: the plan's passages on it, best first
    reading: Hit | None = None  # the passage a spotlight reads in full (细读), when not a priority
    brief: bool = False  # a plan shown before: only what is new today (its next 细读), not the card

    def as_dict(self) -> dict:
        m = self.plan.meta
        return {
            "plan_id": m.plan_id,
            "city": m.city,
            "year": m.year,
            "title": m.title,
            "date": m.date,
            "kind": m.kind,
            "priorities": [p.as_dict() for p in self.priorities],
            "targets": list(self.targets),
            "new": self.new,
            "excerpts": [{"passage_id": h.passage.id, "section": list(h.passage.section), "excerpt": h.excerpt}
                         for h in self.excerpts],
            "spotlight": self.spotlight,
            "focus": self.focus.as_dict() if self.focus else None,
            "reading": ({"passage_id": self.reading.passage.id, "section": list(self.reading.passage.section),
                         "excerpt": self.reading.excerpt} if self.reading else None),
            "brief": self.brief,
        }


@dataclass
class Digest:
    """`mode`: "overview" (every plan in scope: /digest), "new" (only plans new to the chat) or
    "spotlight" (one plan, the least recently featured); the last two are what schedules send."""

    plans: list[PlanDigest]
    topic: str | None = None
    city: str | None = None
    themes: list[ThemeCount] = field(default_factory=list)
    changes: PlanChanges | None = None
    scope_ids: tuple[str, ...] = ()  # every plan in scope, shown or not
    mode: str = "overview"
    since: datetime | None = None  # the subscription's previous digest, for "no new plans since …"

    def as_dict(self) -> dict:
        return {"topic": self.topic, "city": self.city, "plans": [p.as_dict() for p in self.plans],
                "themes": [t.as_dict() for t in self.themes],
                "changes": self.changes.as_dict() if self.changes else None,
                "in_scope": list(self.scope_ids), "mode": self.mode,
                "since": self.since.isoformat() if self.since else None}


def targets(plan: Plan, limit: int = MAX_TARGETS) -> list[str]:
    """Clauses that state a number with a unit, from forward-looking passages, strongest first.

    A stored plan (bot.corpus.store) kept its targets when it was parsed, so a digest of a province
    reads none of its plans' passages."""
    stored = getattr(plan, "stored_targets", None)
    if stored is not None and limit <= STORED_TARGETS:
        return list(stored[:limit])
    return key_targets(plan.passages, limit)


def plans_in_scope(corpus: Corpus, *, plan_id: str | None = None, place: Place | None = None) -> list[Plan]:
    if plan_id:
        plan = corpus.plan(plan_id)
        return [plan] if plan else []
    if place is None:
        return list(corpus.plans)
    from bot.corpus.regions import find_place

    scoped = []
    for plan in corpus.plans:
        where = find_place(plan.meta.city, within=plan.meta.province)
        if where and place.covers(where):
            scoped.append(plan)
    return scoped


def build_digest(
    corpus: Corpus,
    *,
    plan_id: str | None = None,
    place: Place | None = None,
    topic: str | None = None,
    seen_plan_ids: set[str] | None = None,
    search=None,
    excerpts_per_plan: int = 2,
    topic_plans: set[str] | None = None,
) -> Digest:
    """`search` is a callable(query, plan_id) → list[Hit]; given a topic, each plan gets its best excerpts.

    A topic's scope is the plans that answer it: `topic_plans` (the plans a search across all plans
    answers from, bot.search.engine.SearchEngine.plans_matching), else those with an excerpt. A topic no
    plan mentions has an empty scope, never "every plan".
    """
    plans = plans_in_scope(corpus, plan_id=plan_id, place=place)
    if topic and topic_plans is not None:
        plans = [p for p in plans if p.plan_id in topic_plans]
    entries = []
    for plan in plans:
        is_new = seen_plan_ids is not None and plan.plan_id not in seen_plan_ids
        entry = PlanDigest(plan, plan.priorities, targets(plan), is_new)
        if topic and search is not None:
            entry.matches = list(search(topic, plan.plan_id))
            entry.excerpts = entry.matches[:excerpts_per_plan]
        entries.append(entry)
    if topic and search is not None:
        entries = [e for e in entries if e.excerpts]
    # new plans first, otherwise keep the corpus order (newest first)
    entries.sort(key=lambda e: not e.new)
    changes = changes_for_place(place, corpus) if place is not None else None
    return Digest(entries, topic=topic, city=place.short if place else None,
                  themes=shared_themes([e.plan for e in entries]), changes=changes,
                  scope_ids=tuple(e.plan.plan_id for e in entries))


_TEXT_LABELS = {
    "zh": {"new": "【新】", "targets": "目标：", "sep": "；", "colon": "："},
    "en": {"new": "[NEW] ", "targets": "Targets: ", "sep": "; ", "colon": ": "},
}


def digest_text(digest: Digest, lang: str = "zh") -> str:
    """Plain text for the command line; Telegram HTML lives in bot/telegram/render.py."""
    lab = _TEXT_LABELS.get(lang, _TEXT_LABELS["zh"])
    lines: list[str] = []
    for entry in digest.plans:
        m = entry.plan.meta
        lines.append(f"{lab['new'] if entry.new else ''}{short_name(m.city)} · {m.title}（{m.date}）")
        for pr in entry.priorities:
            items = lab["sep"].join(pr.items)
            lines.append(f"  ■ {pr.title}" + (f"{lab['colon']}{items}" if items else ""))
        if entry.targets:
            lines.append("  " + lab["targets"] + lab["sep"].join(entry.targets))
        for hit in entry.excerpts:
            lines.append(f"  「{hit.excerpt}」—— {' › '.join(hit.passage.section)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
