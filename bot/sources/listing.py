"""A column's list page read into items: link, anchor text, and the date printed beside it.

Portal columns are not feeds: the list sits among menus, banners, breadcrumbs, friend links and a
footer. With a CSS selector (per source) only that area is read; without one, the furniture is
dropped by its tags and class names, and when the page has a dated list (three links or more with a
date beside them) only the dated links count — menus carry no dates. Truncated anchor text
("关于印发2024年…") yields to the link's title attribute. Pages in GBK are decoded like any page `add`
reads (the corpus room's decoder).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from bot.corpus.formats import _declared_charset, decode
from bot.textnorm import normalize

_DATE = re.compile(r"(20\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
# class/id words of page furniture, matched as whole parts of a name (main_nav, friend-links, foot), so
# spacing classes like mt-top10 or a list called "content" are never taken for furniture
_FURNITURE = {"nav", "navbar", "menu", "submenu", "footer", "foot", "header", "head", "banner", "crumb", "crumbs",
              "breadcrumb", "position", "location", "friend", "friendlink", "links", "link", "copyright", "share",
              "toolbar", "search", "login", "top", "bottom", "sidebar", "side", "left", "right", "ad", "ads"}
_NAME_PARTS = re.compile(r"[-_\s]+")
_NEXT = {"下一页", "下页", "后页", "下一頁", "next", ">", "›", "»", "next page"}
_CJK = re.compile(r"[\u4e00-\u9fff]")
_TRACKING = re.compile(r"^(utm_|spm$|from$|share)", re.IGNORECASE)
MIN_TITLE = 6


@dataclass(frozen=True)
class ListItem:
    url: str
    title: str
    date: str | None  # YYYY-MM-DD as printed beside the link


@dataclass(frozen=True)
class ListPage:
    items: list[ListItem]
    next_url: str | None


def normalise_url(url: str) -> str:
    """One spelling per address: scheme and host lower-cased, default port, fragment and tracking
    parameters dropped, query sorted — so the same item listed twice is seen once."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                             if not _TRACKING.match(k)))
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", query, ""))


def key_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def title_key(title: str) -> str:
    return key_of(re.sub(r"\s+", "", normalize(title)))


def _iso(m: re.Match) -> str:
    return f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"


def read_list(data: bytes, base_url: str, selector: str | None = None) -> ListPage:
    """Items in page order (a link listed twice counts once); raises ValueError for a bad selector."""
    from bs4 import BeautifulSoup

    html = decode(data, "list", declared=_declared_charset(data))
    soup = BeautifulSoup(html, "lxml")
    for tag in soup(["script", "style", "noscript", "nav", "header", "footer", "iframe", "select"]):
        tag.decompose()
    if selector:
        try:
            areas = soup.select(selector)
        except Exception as exc:  # noqa: BLE001 - soupsieve raises its own SelectorSyntaxError
            raise ValueError(f"CSS 选择器无效：{selector}") from exc
    else:
        areas = [soup.body or soup]
    every = [a for area in areas for a in area.find_all("a", href=True)]
    next_url = _next_link(soup, base_url)
    found = _items([a for a in every if selector or not _in_furniture(a)], base_url)
    if not found and not selector:
        found = _items(every, base_url)  # a layout whose names all read as furniture: judge by dates alone
    dated = [item for item in found if item.date]
    if not selector and len(dated) >= 3:
        found = dated  # a dated list: undated links are the menus and banners around it
    return ListPage(found, next_url)


def _items(links, base_url: str) -> list[ListItem]:
    found: list[ListItem] = []
    seen: set[str] = set()
    for a in links:
        href = a["href"].strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        url = urljoin(base_url, href)
        if urlsplit(url).scheme not in ("http", "https"):
            continue
        title = _title(a)
        if len(title) < MIN_TITLE or not _CJK.search(title) or title in _NEXT:
            continue
        key = normalise_url(url)
        if key in seen:
            continue
        seen.add(key)
        found.append(ListItem(url, title, _date_beside(a)))
    return found


def _in_furniture(tag) -> bool:
    for parent in tag.parents:
        if parent.name in ("body", "html", "[document]", None):
            return False
        names = [*(parent.get("class") or []), parent.get("id") or ""]
        if any(part.lower() in _FURNITURE for name in names for part in _NAME_PARTS.split(name) if part):
            return True
    return False


def _title(a) -> str:
    text = " ".join(a.get_text(" ", strip=True).split())
    full = " ".join((a.get("title") or "").split())
    if full and (len(full) > len(text) or text.endswith(("…", "...", "..")) or not text):
        return full
    return text


def _date_beside(a) -> str | None:
    """The date in the link's own text, else in its row (li, tr, dd, p, div holding just this link)."""
    own = _DATE.search(a.get_text(" ", strip=True))
    if own:
        return _iso(own)
    node = a
    for _ in range(3):
        node = node.parent
        if node is None or node.name in ("body", "html", "ul", "ol", "table", "tbody"):
            return None
        if len(node.find_all("a", href=True)) > 2:
            return None
        if m := _DATE.search(node.get_text(" ", strip=True)):
            return _iso(m)
    return None


def _next_link(soup, base_url: str) -> str | None:
    for a in soup.find_all("a", href=True):
        text = " ".join(a.get_text(" ", strip=True).split()).lower()
        if text in _NEXT and not a["href"].startswith(("#", "javascript:")):
            return urljoin(base_url, a["href"])
    return None
