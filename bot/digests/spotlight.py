"""What a scheduled digest shows: plans new to the chat in full, otherwise one plan in the spotlight.

A daily subscriber should learn something each morning, not reread the same overview. So a scheduled
digest narrows the full overview (bot.digests.content.build_digest): plans the chat has not been sent
before lead, each in full; when nothing is new, one plan is featured — the one this subscription showed
least recently (never-shown plans first, newest first), so the subscriber works through the plans one by
one and starts over. The rotation lives in the store (featured_plans, migration 3), so it survives
restarts. A spotlight also reads one part in full (细读): the first time a plan is featured, one of its
headline priorities (for a topic: its passage that best matches the topic) inside the full card.

A digest must never repeat (issue 16: a 无锡 reader got the same 14-line change block every day). So a
plan this subscription has featured before comes back brief: one line saying nothing is new, and its
next 细读 passage — for a topic the next-best match, otherwise the plan's next forward-looking passage —
without the card, the shared-themes line or the change block, which it has already shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from bot.digests.content import Digest, PlanDigest
from bot.digests.themes import PlanChanges
from bot.models import Hit, Plan, Priority

_NEVER = datetime.min.replace(tzinfo=UTC)
READING_MIN = 24  # characters: shorter passages are headings or fragments, not worth a morning's read
READING_MAX = 160


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


def readings(entry: PlanDigest) -> list[Hit]:
    """What 细读 works through, in order: a topic's matching passages best first, then the plan's
    forward-looking passages in document order (a plan's review of last year is not news)."""
    out = list(entry.matches)
    taken = {h.passage.id for h in out}
    for passage in entry.plan.passages:
        if passage.orientation == "forward" and len(passage.text) >= READING_MIN and passage.id not in taken:
            text = passage.text if len(passage.text) <= READING_MAX else passage.text[:READING_MAX - 1] + "…"
            out.append(Hit(passage, 0.0, text, ()))
    return out


def spotlight_entry(entry: PlanDigest, times: int, topic: bool) -> PlanDigest:
    """The spotlight for the `times`-th feature of this plan (0: first): a full card the first time,
    brief with the next 细读 after that (see the module docstring)."""
    options = readings(entry)
    if topic and options:  # the topic's best passage read in full; the excerpts show the next ones
        card = replace(entry, spotlight=True, reading=options[0],
                       excerpts=[h for h in entry.excerpts if h.passage.id != options[0].passage.id])
    else:
        card = replace(entry, spotlight=True, focus=focus_of(entry, 0))
    if times == 0:
        return card
    shown = {h.passage.id for h in card.excerpts} | ({card.reading.passage.id} if card.reading else set())
    later = [h for h in options if h.passage.id not in shown]  # what the card did not already show
    if not later:
        return replace(entry, spotlight=True, brief=True, focus=focus_of(entry, times))
    return replace(entry, spotlight=True, brief=True, reading=later[(times - 1) % len(later)])


def narrow(digest: Digest, featured: Mapping[str, FeaturedLike],
           changes_of: Callable[[Plan], PlanChanges | None] | None = None) -> Digest:
    """The scheduled form of a full digest (see the module docstring); an empty scope stays empty.

    `changes_of(plan)` (bot.digests.themes.changes_into with the corpus) adds, when the digest has no
    place of its own to compare, what the first shown plan changed against its place's older plan.
    The change block comes only with a new plan or a first spotlight on the place's newer plan, so it
    is said once, not every morning.
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
        shown = [spotlight_entry(chosen, seen.times if seen else 0, bool(digest.topic and chosen.matches))]
        mode = "spotlight"
    if shown[0].brief:
        return replace(digest, plans=shown, mode=mode, since=since, changes=None, themes=[])
    ids = {e.plan.plan_id for e in shown}
    changes = digest.changes
    if changes is not None and mode == "spotlight" and changes.newer.plan_id not in ids:
        changes = None  # the place's comparison belongs to its newer plan's day, not to every day
    if changes is None and changes_of is not None:
        changes = next((c for e in shown if (c := changes_of(e.plan)) is not None), None)
    return replace(digest, plans=shown, mode=mode, since=since, changes=changes)


def shown_ids(digest: Digest) -> list[str]:
    """The plans a digest showed in full: what the rotation records once it is sent."""
    return [e.plan.plan_id for e in digest.plans]
