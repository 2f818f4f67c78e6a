"""Triage: does a column's link text read as an education work plan (or a plan-bearing report)?

Only the title is read, before anything is fetched: a column lists dozens of notices a week and a
plan a few times a year, so the item page is fetched only for what triage keeps. The kind words come
from the corpus room (`bot.corpus.metadata`), where `add` learns what a 工作要点 is; this module only
weighs them: any other-kind word (招生, 放假, 公示, 采购, a single school's plan, …) outweighs a plan
word, because a bureau's 招生工作计划 or a school's 工作计划 is not a plan of the bureau's year.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.corpus import regions
from bot.corpus.metadata import kind_of, plan_title_words, years_in_title
from bot.textnorm import normalize


@dataclass(frozen=True)
class Verdict:
    title: str
    candidate: bool
    kind: str | None  # the corpus kind a candidate would have (工作要点, 工作会议讲话, …)
    place: str | None  # the place the title names, if any
    year: int | None
    why: list[str]  # the words that decided: plan words for a candidate, the outweighing words otherwise

    def as_json(self) -> dict:
        return {"title": self.title, "candidate": self.candidate, "kind": self.kind, "place": self.place,
                "year": self.year, "why": self.why}


def triage(title: str) -> Verdict:
    text = " ".join(normalize(title or "").split())
    plan, other = plan_title_words(text)
    years = years_in_title(text)
    places = [p for p in regions.places_in_text(text)]
    place = places[0].name if places else None
    year = max(years) if years else None  # 2023年工作总结和2024年工作计划 is the 2024 plan
    if plan and not other:
        return Verdict(text, True, kind_of(text), place, year, plan)
    return Verdict(text, False, None, place, year, other)
