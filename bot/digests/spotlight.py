"""What a scheduled digest shows: plans new to the chat in full, otherwise one plan in the spotlight.

A daily subscriber should learn something each morning, not reread the same overview. So a scheduled
digest narrows the full overview (bot.digests.content.build_digest): plans the chat has not been sent
before lead, each in full; when nothing is new, one plan is featured — the one this subscription showed
least recently (never-shown plans first, newest first), so the subscriber works through the plans one by
one and starts over. The rotation lives in the store (featured_plans, migration 3), so it survives
restarts. A spotlight also reads one headline priority in full, and that moves on each time the plan
comes round again, so even a single-plan scope never repeats the previous body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from bot.digests.content import Digest, PlanDigest
from bot.digests.themes import PlanChanges
from bot.models import Plan, Priority

_NEVER = datetime.min.replace(tzinfo=UTC)


class FeaturedLike(Protocol):
    """bot.digests.store.Featured, without importing the store (and SQLAlchemy) here."""

    featured_at: datetime
    times: int


def pick_spotlight(entries: list[PlanDigest], featured: Mapping[str, FeaturedLike]) -> PlanDigest:
    """The least recently featured entry; ties (never featured) keep the digest's order, newest first."""
    def last(index_entry: tuple[int, PlanDigest]) -> tuple[datetime, int]:
        index, entry = index_entry
        seen = featured.get(entry.plan.plan_id)
        return (seen.featured_at if seen else _NEVER, index)

    return min(enumerate(entries), key=last)[1]


def focus_of(entry: PlanDigest, times: int) -> Priority | None:
    """The headline priority read in full this time: the next one each time the plan comes round."""
    options = [p for p in entry.priorities if p.items] or list(entry.priorities)
    return options[times % len(options)] if options else None


def narrow(digest: Digest, featured: Mapping[str, FeaturedLike],
           changes_of: Callable[[Plan], PlanChanges | None] | None = None) -> Digest:
    """The scheduled form of a full digest (see the module docstring); an empty scope stays empty.

    `changes_of(plan)` (bot.digests.themes.changes_into with the corpus) adds, when the digest has no
    place of its own to compare, what the first shown plan changed against its place's older plan.
    """
    since = max((f.featured_at for f in featured.values()), default=None)
    new = [e for e in digest.plans if e.new]
    if new:
        shown, mode = new, "new"
    elif not digest.plans:
        return replace(digest, mode="spotlight", since=since)
    else:
        chosen = pick_spotlight(digest.plans, featured)
        seen = featured.get(chosen.plan.plan_id)
        shown, mode = [replace(chosen, spotlight=True, focus=focus_of(chosen, seen.times if seen else 0))], "spotlight"
    changes = digest.changes
    if changes is None and changes_of is not None:
        changes = next((c for e in shown if (c := changes_of(e.plan)) is not None), None)
    return replace(digest, plans=shown, mode=mode, since=since, changes=changes)


def shown_ids(digest: Digest) -> list[str]:
    """The plans a digest showed in full: what the rotation records once it is sent."""
    return [e.plan.plan_id for e in digest.plans]
