"""What a fetching child reads from a page, in the child (see `Poller.get_and_read`).

These functions are named in every fetching child's arguments, so unpickling them imports this
module there: it must stay cheap to import (the corpus room's readers and bs4, which the sandbox's
forkserver has loaded already). Kept in `bot.sources.watch`, they cost each child an import of the
store and SQLAlchemy — ~0.4 s of CPU per page, most of a 50-column round's 20 s.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

from bot.corpus import formats
from bot.corpus.ingest import AddError
from bot.sources.listing import ListPage, read_list

ATTACHMENT = {".pdf", ".docx"}
NOT_CONVERTIBLE = {".doc", ".wps"}


def read_list_file(path: Path, url: str, selector: str | None) -> ListPage:
    """A list page, in the child that fetched it (BeautifulSoup over a portal page costs tens of ms of
    CPU, held under the GIL if done where the bot's searches run)."""
    try:
        return read_list(Path(path).read_bytes(), url, selector)
    except ValueError as exc:  # a bad selector: its one line, through the sandbox's AddError channel
        raise AddError(str(exc)) from exc


def item_facts(path: Path, base_url: str) -> tuple[str | None, str | None, int]:
    """In the child that fetched an item page: (first .pdf/.docx link, first .doc/.wps link, length of
    its text without spaces), what the watcher needs to tell a plan's page from a cover for its
    attachment. An unreadable page is as good as empty here."""
    path = Path(path)
    if path.suffix != ".html":
        return None, None, 0
    try:
        attachment, unreadable = attachments(path.read_bytes(), base_url)
    except Exception:  # noqa: BLE001 - no links read: no attachment to follow
        attachment = unreadable = None
    try:
        length = len("".join(formats.extract_text(path).split()))
    except Exception:  # noqa: BLE001
        length = 0
    return attachment, unreadable, length


def attachments(data: bytes, base_url: str) -> tuple[str | None, str | None]:
    """(first .pdf/.docx link, first .doc/.wps link) on an item page."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(formats.decode(data, "item", declared=formats._declared_charset(data)), "lxml")
    readable = unreadable = None
    for a in soup.find_all("a", href=True):
        url = urljoin(base_url, a["href"].strip())
        suffix = PurePosixPath(unquote(urlsplit(url).path)).suffix.lower()
        if suffix not in ATTACHMENT | NOT_CONVERTIBLE:
            name = a.get_text(" ", strip=True)
            m = re.search(r"\.(pdf|docx|doc|wps)$", name, re.IGNORECASE)
            suffix = f".{m.group(1).lower()}" if m else ""
        if suffix in ATTACHMENT and readable is None:
            readable = url
        elif suffix in NOT_CONVERTIBLE and unreadable is None:
            unreadable = url
    return readable, unreadable
