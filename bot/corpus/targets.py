"""A plan's key quantitative targets: clauses that state a number with a unit, from its forward-looking
passages, strongest first (新增/新建/达到… before routine counts).

Here in the corpus room, not in the digests that show them, so the plan store (bot.corpus.store) can
keep them with a plan when it is parsed: a digest of many plans then reads none of their passages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.models import Passage

STORED_TARGETS = 8  # as many as any digest shows
_UNIT = (r"(?:万人次|人次|万平方米|平方米|万元|亿元|课时|小时|个|所|名|%|节|项|家|支|间|座|套|场|批|条|门|类|"
         r"个百分点)")
_QUANTITY = re.compile(r"\d+(?:\.\d+)?(?:\s*[—\-~至]\s*\d+)?\s*" + _UNIT)
_STRONG = re.compile(r"新增|新建|改扩建|达到|达|不少于|不低于|以上|左右|力争|确保|覆盖|提升至|控制在|招录|创建|评选|建设")
_ROUTINE = re.compile(r"^(每月|每周|每天|每年)")
_CLAUSE_SPLIT = re.compile(r"[，,。；;：:！!？?]")


def key_targets(passages: Iterable[Passage], limit: int = STORED_TARGETS) -> list[str]:
    """Last year's results (2022年…立案23人次) never read as this year's goals: forward passages only."""
    found: list[tuple[int, int, str]] = []
    seen: set[str] = set()
    order = 0
    for passage in passages:
        if passage.orientation != "forward":
            continue
        for clause in _CLAUSE_SPLIT.split(passage.text):
            if re.search(r"“[^”]*\d[^”]*”", clause) and not _STRONG.search(clause):
                continue  # a number inside a slogan (“四个100%”) is a name, not a target
            clause = clause.strip(" “”\"'")
            if not clause or clause in seen or not _QUANTITY.search(clause):
                continue
            seen.add(clause)
            strength = 0 if _STRONG.search(clause) and not _ROUTINE.search(clause) else 1
            found.append((strength, order, clause))
            order += 1
    found.sort()
    return [clause for _, _, clause in found[:limit]]
