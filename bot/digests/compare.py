"""One topic across places: for each place with a plan, its single best excerpt, most relevant first.

A /topic answer ranks passages, so one verbose plan can fill a page; a comparison gives every place one
voice. Each plan is judged on its own (SearchEngine.plan_bests: what a search with plan_id answers, for
all plans in a few queries), so every place's best passage is found however far down the global ranking
it sits, and scores stay comparable because it is one index. A named place covers its counties (无锡 → 江阴); without
names every place with a plan is its own row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.corpus.regions import Place
from bot.models import Hit, Plan, PlanMeta


@dataclass(frozen=True)
class PlaceExcerpt:
    place: str
    meta: PlanMeta
    hit: Hit

    def as_dict(self) -> dict:
        p = self.hit.passage
        return {"place": self.place, "plan_id": self.meta.plan_id, "year": self.meta.year, "city": self.meta.city,
                "passage_id": p.id, "section": list(p.section), "excerpt": self.hit.excerpt,
                "marks": [list(m) for m in self.hit.marks], "score": round(float(self.hit.score), 4)}


@dataclass
class Comparison:
    """`error`: None, "empty" (no query) or "no_match"; `suggestions` then say what to try."""

    query: str
    corrected: str | None = None
    places: list[PlaceExcerpt] = field(default_factory=list)
    error: str | None = None
    suggestions: list[str] = field(default_factory=list)
    plan_ids: list[str] = field(default_factory=list)  # every plan with a match, not only each place's best

    def as_dict(self) -> dict:
        """The `planbrief compare --json` contract (add keys, never rename)."""
        return {"query": self.query, "corrected": self.corrected, "places": [p.as_dict() for p in self.places],
                "error": self.error, "suggestions": list(self.suggestions)}


def _rows(corpus, places: Sequence[Place] | None) -> list[tuple[str, list[Plan]]]:
    """(place name, its plans): the named places, or each place that has a plan."""
    from bot.search.places import plan_place, plans_for_place

    if places:
        named = list(dict.fromkeys(places))
        rows = []
        for place in named:
            # 无锡 named beside 江阴: 江阴's plans answer for 江阴 only, so no excerpt appears twice
            inner = [q for q in named if q != place and place.covers(q)]
            plans = [plan for plan in plans_for_place(place, corpus)
                     if not any((own := plan_place(plan)) is not None and q.covers(own) for q in inner)]
            rows.append((place.short, plans))
        return rows
    rows: dict[str, list[Plan]] = {}
    for plan in corpus.plans:
        own = plan_place(plan)
        rows.setdefault(own.short if own else plan.meta.city, []).append(plan)
    return list(rows.items())


def compare(engine, corpus, query: str, places: Sequence[Place] | None = None) -> Comparison:
    """Best excerpt per place for `query`, highest score first; places without a match are left out.

    A place's excerpt is the best of its plans' own best passages, each plan judged as a search of that
    plan alone judges it (`SearchEngine.plan_bests`: a few queries for all of them); ties go to the plan
    listed first."""
    out = Comparison(query=(query or "").strip())
    rows = _rows(corpus, places)
    wanted = list(dict.fromkeys(plan.plan_id for _, plans in rows for plan in plans))
    bests = engine.plan_bests(out.query, wanted) if wanted else None
    if bests is not None:
        if bests.result.error == "empty":
            out.error, out.suggestions = "empty", list(bests.result.suggestions)
            return out
        out.corrected = bests.result.corrected
    for name, plans in rows:
        best: tuple[float, Plan] | None = None
        for plan in plans:
            score = bests.score(plan.plan_id)
            if score is None:
                continue
            out.plan_ids.append(plan.plan_id)
            if best is None or score > best[0]:
                best = (score, plan)
        if best is not None:
            out.places.append(PlaceExcerpt(name, best[1].meta, bests.hit(best[1].plan_id)))
    out.places.sort(key=lambda p: -p.hit.score)
    if not out.places:
        out.error = "no_match"
        out.suggestions = list(engine.search(out.query, limit=1).suggestions)
    return out
