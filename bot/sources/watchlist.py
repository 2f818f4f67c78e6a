"""Adding a source, as the CLI (`sources add`) and an editor (`/watch`) both do it: one set of checks.

The place is resolved through the region data (南通 → 南通市), the interval read from 6h/30m/1d, the
address checked by the fetch guard now (and again at every fetch: a host that does not resolve today
is accepted and checked then), and a URL already watched is answered with the source that has it.
"""

from __future__ import annotations

import re

from bot.config import allow_private_urls
from bot.corpus.fetch import FetchError, check_address, is_url
from bot.corpus.regions import find_place
from bot.sources.store import Source, SourceExists, SourceStore

_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)


def parse_every(text: str) -> int:
    """6h, 30m, 1d, 3600s or bare seconds; at least a minute (a column is not a chat)."""
    m = _EVERY.match(text or "")
    if not m:
        raise ValueError(f"间隔格式不对：{text}（例如 6h、30m、1d）")
    seconds = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2).lower()]
    if seconds < 60:
        raise ValueError(f"间隔太短：{text}（至少 1 分钟）")
    return int(seconds)


def add_source(store: SourceStore, url: str, city: str, *, selector: str | None = None, every: str = "6h",
               auto: bool = False, allow_private: bool = False, backfill: int = 0,
               created_by: int | None = None) -> tuple[Source | None, str | None]:
    """(source, None) or (None, the reason in one line)."""
    url = (url or "").strip()
    if not is_url(url) or any(c.isspace() for c in url):
        return None, f"不是 http(s) 链接：{url}"
    place = find_place(city or "")
    if place is None:
        return None, f"未知地名「{city}」：请用行政区划名称，如 无锡市、江阴市"
    try:
        interval = parse_every(every)
    except ValueError as exc:
        return None, str(exc)
    if backfill < 0 or backfill > 20:
        return None, "--backfill 应在 0–20 页之间"
    try:
        check_address(url, allow_private or allow_private_urls())
    except FetchError as exc:
        if "无法解析" not in str(exc):
            return None, str(exc)
    try:
        return store.add_source(url, place.name, selector=selector, interval_s=interval,
                                mode="auto" if auto else "propose", allow_private=allow_private,
                                backfill=backfill, created_by=created_by), None
    except SourceExists as exc:
        return None, f"已在关注：#{exc.source.id} {exc.source.url}"
