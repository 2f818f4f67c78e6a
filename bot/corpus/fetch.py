"""A plan from a web address: fetched with limits, and never from the server's own network.

Editors paste links into a chat, so the address is untrusted: only http(s), every hop of a redirect
re-checked, addresses on loopback, private, link-local or reserved ranges refused unless the operator
allows them (`--allow-private`, or PLANBRIEF_ALLOW_PRIVATE_URLS for a bot on an intranet), a size cap
enforced while streaming rather than trusted from Content-Length, and only content types the reader
can parse. What comes back is a file on disk with the right suffix, so the one `add` pipeline reads it.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

import httpx

MAX_BYTES = 20 * 1024 * 1024  # Telegram's own limit for files a bot downloads; plans are far smaller
TIMEOUT = 20.0
MAX_REDIRECTS = 3

# content type → the suffix the reader dispatches on
CONTENT_TYPES = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/plain": ".txt",
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
}
BY_SUFFIX = {".html", ".htm", ".txt", ".pdf", ".docx"}  # for servers that say application/octet-stream


class FetchError(Exception):
    """One line saying why the address was not fetched; nothing was written. `status` is the HTTP
    status when the server answered with one (the source watcher reports it)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotModified(FetchError):
    """304 to a conditional request (`If-None-Match`/`If-Modified-Since` in `headers`): nothing new."""


@dataclass(frozen=True)
class Fetched:
    path: Path  # a temporary file the caller deletes
    url: str  # after redirects
    content_type: str
    etag: str = ""  # validators for the next conditional request
    last_modified: str = ""

    @property
    def name(self) -> str:
        """A readable file name for the manifest's original_file: the last path segment, or the host."""
        parts = urlsplit(self.url)
        last = PurePosixPath(unquote(parts.path)).name
        return last or parts.hostname or "page"

    @property
    def site(self) -> str:
        return urlsplit(self.url).hostname or ""


def is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))



def check_address(url: str, allow_private: bool = False) -> None:
    """Refuse what is not http(s), and hosts that resolve into the server's own networks."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(f"只接受 http/https 链接：{parts.scheme or '(无协议)'}")
    if not parts.hostname:
        raise FetchError("链接里没有主机名")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise FetchError(f"无法解析主机名：{parts.hostname}") from exc
    if allow_private:
        return
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            raise FetchError(f"拒绝访问内网或本机地址：{parts.hostname}（{address}）；确需如此请加 --allow-private")


def _suffix_for(content_type: str, url: str) -> str:
    kind = content_type.split(";")[0].strip().lower()
    if kind in CONTENT_TYPES:
        return CONTENT_TYPES[kind]
    suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
    if kind in ("application/octet-stream", "") and suffix in BY_SUFFIX:
        return suffix
    raise FetchError(f"不支持的内容类型：{kind or '(未说明)'}（可收录网页、纯文本、PDF、docx）")


@functools.lru_cache(maxsize=1)
def _tls():
    """One TLS context for every fetch: loading the CA bundle costs ~80 ms, and a source-watch round
    makes hundreds of fetches (the context is safe to share between clients and threads)."""
    return httpx.create_ssl_context()


def fetch(url: str, *, allow_private: bool = False, max_bytes: int = MAX_BYTES, timeout: float = TIMEOUT,
          max_redirects: int = MAX_REDIRECTS, headers: dict[str, str] | None = None) -> Fetched:
    """Download `url` into a temporary file; every redirect hop is checked like the first address.

    `headers` are added to every hop (the source watcher's User-Agent and conditional-GET validators);
    a 304 answer raises NotModified."""
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False, verify=_tls(),
                          headers={"User-Agent": "PlanBrief/0.1 (+plan reader)", **(headers or {})}) as client:
            for _ in range(max_redirects + 1):
                check_address(url, allow_private)
                with client.stream("GET", url) as response:
                    if response.status_code == 304:  # before is_redirect: httpx counts every 3xx
                        raise NotModified(f"未更改（HTTP 304）：{url}", 304)
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if response.status_code != 200:
                        raise FetchError(f"网页返回 HTTP {response.status_code}：{url}", response.status_code)
                    content_type = response.headers.get("content-type", "")
                    suffix = _suffix_for(content_type, url)
                    return Fetched(_save(response, suffix, max_bytes), url, content_type,
                                   response.headers.get("etag", ""), response.headers.get("last-modified", ""))
            raise FetchError(f"重定向超过 {max_redirects} 次：{url}")
    except httpx.TimeoutException as exc:
        raise FetchError(f"下载超时（{timeout:.0f} 秒）：{url}") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"下载失败（{type(exc).__name__}）：{url}") from exc


def _save(response: httpx.Response, suffix: str, max_bytes: int) -> Path:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"文件太大：{int(declared) / 1e6:.1f} MB（上限 {max_bytes / 1e6:.0f} MB）")
    fd, name = tempfile.mkstemp(prefix="planbrief-fetch-", suffix=suffix)
    path, size = Path(name), 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:  # Content-Length can lie or be absent: count what arrives
                    raise FetchError(f"文件太大：超过 {max_bytes / 1e6:.0f} MB")
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
