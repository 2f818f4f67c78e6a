"""The domain, as typed dataclasses shared by every layer.

Data flows one way (seeds → corpus → index → answers → messages); these types are the currency between
those steps, so nothing downstream needs to know how a plan was parsed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Orientation = Literal["forward", "backward", "neutral"]
NodeKind = Literal["part", "section", "item", "paragraph"]


@dataclass(frozen=True)
class PlanMeta:
    """What the manifest says of one plan; province facts come from the division data, not the file."""

    plan_id: str
    city: str
    province: str
    parent_city: str | None
    admin_level: str
    year: int
    kind: str
    title: str
    issuer: str
    date: str
    source_site: str
    source_file: str
    short_title: str = ""  # how a citation names the plan ("2023年工作要点"); the full title can run 40 chars

    def as_dict(self) -> dict:
        return {
            "plan_id": self.plan_id,
            "city": self.city,
            "province": self.province,
            "parent_city": self.parent_city,
            "admin_level": self.admin_level,
            "year": self.year,
            "kind": self.kind,
            "title": self.title,
            "issuer": self.issuer,
            "date": self.date,
            "source_site": self.source_site,
            "source_file": self.source_file,
            "short_title": self.short_title,
        }


@dataclass
class Node:
    """One heading or numbered block of a plan; `label` is its number as printed (一、 1. 一是 …)."""

    kind: NodeKind
    label: str
    title: str
    text: str = ""
    orientation: Orientation = "neutral"
    children: list[Node] = field(default_factory=list)
    id: str = ""

    @property
    def heading(self) -> str:
        """The citation form: number plus title, as a reader would quote it."""
        if not self.title:
            return self.label.strip()
        gap = " " if self.kind == "part" and self.label else ""
        return f"{self.label}{gap}{self.title}".strip()

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "title": self.title,
            "text": self.text,
            "orientation": self.orientation,
            "children": [c.as_dict() for c in self.children],
        }


@dataclass(frozen=True)
class Passage:
    """The searchable unit: an item, or a sentence window of a long one, never crossing items.

    `text` is for display (the original punctuation); `norm` is the NFKC/simplified/lower form every
    matcher uses, so search and display never disagree about offsets of the same passage.
    """

    id: str
    plan_id: str
    section: tuple[str, ...]
    text: str
    norm: str
    orientation: Orientation
    node_id: str


@dataclass(frozen=True)
class Priority:
    title: str
    items: tuple[str, ...]

    def as_dict(self) -> dict:
        return {"title": self.title, "items": list(self.items)}


@dataclass
class Plan:
    meta: PlanMeta
    preamble: str
    tree: list[Node]
    passages: list[Passage]
    priorities: list[Priority]

    @property
    def plan_id(self) -> str:
        return self.meta.plan_id

    @property
    def passage_count(self) -> int:
        """How many passages; a stored plan (bot.corpus.store) answers without reading them."""
        return len(self.passages)

    @property
    def content_hash(self) -> str:
        """What the plan's index documents depend on: its metadata and every passage.

        A stored plan keeps the hash it got when it was parsed, so a sync of 5,000 unchanged plans
        hashes none of them; this computes it for a plan built in memory.
        """
        digest = hashlib.sha256(json.dumps(self.meta.as_dict(), ensure_ascii=False, sort_keys=True).encode())
        unit, field_ = "\x1e", "\x1f"
        digest.update(unit.join(field_.join((p.id, "\x1d".join(p.section), p.orientation, p.node_id, p.text))
                                for p in self.passages).encode())
        return digest.hexdigest()[:24]


@dataclass(frozen=True)
class Hit:
    """One ranked answer to a query: the passage, its score and a highlighted snippet.

    `marks` are (start, end) offsets into `excerpt` of matched words, so any renderer can bold them
    without re-running the matcher. `glossary` is (Chinese, English) for the glossary terms the passage
    matched, so an English reader can be told what they mean.
    """

    passage: Passage
    score: float
    excerpt: str
    marks: tuple[tuple[int, int], ...] = ()
    glossary: tuple[tuple[str, str], ...] = ()


@dataclass
class Subscription:
    """A chat's standing order for digests; times are wall-clock in the chat's own time zone."""

    id: int | None
    chat_id: int
    frequency: Literal["daily", "weekly"]
    time: str  # "HH:MM"
    weekday: int | None = None  # 0=Monday … 6=Sunday (ISO-like, Python's datetime.weekday())
    city: str | None = None
    topic: str | None = None
    tz: str = "Asia/Shanghai"
    active: bool = True
    created_by: int | None = None
    language: str = "zh"
    # Why it is inactive ("paused", "blocked: …"), so /list can explain instead of just showing "off".
    deactivated_reason: str | None = None
    # Created or last resumed (aware UTC): occurrences before it are not owed, so catch-up never sends
    # a digest for a time that passed before the user subscribed.
    active_since: datetime | None = None
    # When a scheduler pass next has something to do for it (aware UTC; None while inactive): the store
    # keeps it current so a tick reads only due rows (bot.digests.schedule.next_due).
    next_due: datetime | None = None
