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
import re
import signal
import socket
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin, urlsplit

if TYPE_CHECKING:
    import httpx


MAX_BYTES = 20 * 1024 * 1024  # Telegram's own limit for files a bot downloads; plans are far smaller
TIMEOUT = 20.0  # each connect and read
TOTAL_TIMEOUT = 25.0  # the whole download, redirects included (a sandboxed read has 30 s for everything)
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


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{1,15}://")


def looks_like_url(text: str) -> bool:
    """Any `scheme://…`: an ftp:// or file:// link is refused as a scheme, never read as a path."""
    return bool(_SCHEME.match(text.strip()))


def effective_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address):
    """The IPv4 address an IPv6 form carries (::ffff:a.b.c.d, ::a.b.c.d, NAT64 64:ff9b::/96, 6to4):
    a connection to it reaches that IPv4 host, so it is judged as that host."""
    if address.version == 4:
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    packed = int(address)
    if address in _NAT64 or (packed >> 32 == 0 and packed > 0xFFFF):  # NAT64, or IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    return address


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_public(address) -> bool:
    address = effective_address(address)
    return address.is_global and not address.is_multicast


def _refuse_private(host: str, address) -> None:
    if not is_public(address):
        raise FetchError(f"拒绝访问内网或本机地址：{host}（{address}）；确需如此请加 --allow-private")


def _allowed(host: str, allow_private) -> bool:
    """`allow_private` is True (every host may be private) or a set of host names that may be (an
    intranet bureau server: its own address is allowed, a redirect from it elsewhere is still checked)."""
    if isinstance(allow_private, bool) or allow_private is None:
        return bool(allow_private)
    return host.lower() in allow_private


def check_address(url: str, allow_private: bool | frozenset[str] = False) -> None:
    """Refuse what is not http(s), and hosts that resolve into the server's own networks.

    An early, readable refusal; the connection itself is guarded again (`_guarded_backend`), since a
    name may answer differently the second time it is asked."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(f"只接受 http/https 链接：{parts.scheme or '(无协议)'}")
    try:
        hostname, port = parts.hostname, parts.port
    except ValueError as exc:
        raise FetchError(f"链接格式不正确：{_short(url)}") from exc
    if not hostname:
        raise FetchError("链接里没有主机名")
    _resolve(hostname, port or (443 if parts.scheme.lower() == "https" else 80), allow_private)


def _resolve(host: str, port: int, allow_private) -> list[str]:
    """The host's addresses, each checked; what a connection may then use (and nothing else)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError, OSError) as exc:
        raise FetchError(f"无法解析主机名：{host}") from exc
    addresses = []
    for info in infos:
        text = info[4][0].split("%")[0]
        if not _allowed(host, allow_private):
            _refuse_private(host, ipaddress.ip_address(text))
        addresses.append(text)
    if not addresses:
        raise FetchError(f"无法解析主机名：{host}")
    return addresses


@functools.lru_cache(maxsize=1)
def _guarded_backend() -> type:
    """The backend class, made at the first fetch: httpx and httpcore (0.1-0.2 s to import) are loaded
    only by a process that downloads, not by `planbrief add FILE` nor the child reading that file."""
    import httpcore

    class _GuardedBackend(httpcore.SyncBackend):
        """Resolve once, check, and connect to that very address: a name that answers public when checked
        and 127.0.0.1 when connected (DNS rebinding) never reaches the server's own network. TLS still
        names the original host (httpcore passes the origin as SNI), and so does the Host header."""

        def __init__(self, allow_private: bool) -> None:
            self.allow_private = allow_private

        def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
            last: Exception | None = None
            for address in _resolve(host, port, self.allow_private):
                try:
                    return super().connect_tcp(address, port, timeout, local_address, socket_options)
                except httpcore.ConnectError as exc:
                    last = exc
            raise last or httpcore.ConnectError(f"cannot connect to {host}")

    return _GuardedBackend


def _transport(allow_private: bool) -> httpx.HTTPTransport:
    import httpx

    transport = httpx.HTTPTransport(trust_env=False, verify=_tls())
    transport._pool._network_backend = _guarded_backend()(allow_private)  # httpx has no public hook for this
    return transport


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
    import httpx

    return httpx.create_ssl_context()


def fetch(url: str, *, allow_private: bool = False, max_bytes: int = MAX_BYTES, timeout: float = TIMEOUT,
          max_redirects: int = MAX_REDIRECTS, headers: dict[str, str] | None = None,
          total_timeout: float = TOTAL_TIMEOUT, directory: Path | None = None) -> Fetched:
    """Download `url` into a temporary file (in `directory` when given); every redirect hop is checked
    like the first address, and the whole download, not each read, has `total_timeout` seconds.

    `headers` are added to every hop (the source watcher's User-Agent and conditional-GET validators);
    a 304 answer raises NotModified. Whatever goes wrong is a FetchError with one line; nothing else
    escapes."""
    import httpx

    deadline = time.monotonic() + total_timeout
    try:
        with _alarm(total_timeout), httpx.Client(
                timeout=timeout, follow_redirects=False, trust_env=False, transport=_transport(allow_private),
                headers={"User-Agent": "PlanBrief/0.1 (+plan reader)", **(headers or {})}) as client:
            for _ in range(max_redirects + 1):
                check_address(url, allow_private)
                with client.stream("GET", url) as response:
                    if response.status_code == 304:  # before is_redirect: httpx counts every 3xx
                        raise NotModified(f"未更改（HTTP 304）：{url}", 304)
                    if response.is_redirect:
                        url = _next_hop(url, response.headers.get("location", ""))
                        continue
                    if response.status_code != 200:
                        raise FetchError(f"网页返回 HTTP {response.status_code}：{_short(url)}",
                                         response.status_code)
                    content_type = response.headers.get("content-type", "")
                    suffix = _suffix_for(content_type, url)
                    path = _save(response, suffix, max_bytes, deadline, total_timeout, directory)
                    return Fetched(path, url, content_type,
                                   response.headers.get("etag", ""), response.headers.get("last-modified", ""))
            raise FetchError(f"重定向超过 {max_redirects} 次：{_short(url)}")
    except FetchError:
        raise
    except (httpx.TimeoutException, _TotalTimeout) as exc:
        raise FetchError(f"下载超时（{min(timeout, total_timeout):g} 秒）：{_short(url)}") from exc
    except httpx.InvalidURL as exc:
        raise FetchError(f"链接格式不正确：{_short(url)}") from exc
    except Exception as exc:  # noqa: BLE001 - every httpx (and socket, ssl, h11) failure is one line
        raise FetchError(f"下载失败（{type(exc).__name__}）：{_short(url)}") from exc


def _next_hop(url: str, location: str) -> str:
    try:
        target = urljoin(url, location.strip())
        urlsplit(target).port  # noqa: B018 - a malformed port raises here, not deep in httpx
    except ValueError as exc:
        raise FetchError(f"重定向地址不正确：{_short(location)}") from exc
    if not location.strip():
        raise FetchError(f"重定向没有目标地址：{_short(url)}")
    return target


def _short(text: str, cap: int = 120) -> str:
    """A URL in a message: printable, one line, not endless."""
    text = "".join(c if c.isprintable() else "\ufffd" for c in text)
    return text if len(text) <= cap else text[: cap - 1] + "…"


class _TotalTimeout(Exception):
    pass


@contextmanager
def _alarm(seconds: float):
    """A whole-download deadline that also interrupts a server dripping its headers, where signals
    can deliver it (a sandbox child's main thread); elsewhere `_save` checks it between chunks."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def interrupt(signum, frame):
        raise _TotalTimeout()

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _save(response: httpx.Response, suffix: str, max_bytes: int, deadline: float, total_timeout: float,
          directory: Path | None) -> Path:
    declared = response.headers.get("content-length", "")
    if re.fullmatch(r"[0-9]+", declared) and int(declared) > max_bytes:
        raise FetchError(f"文件太大：{int(declared) / 1e6:.1f} MB（上限 {max_bytes / 1e6:.0f} MB）")
    fd, name = tempfile.mkstemp(prefix="planbrief-fetch-", suffix=suffix, dir=directory)
    path, size = Path(name), 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:  # Content-Length can lie or be absent: count what arrives
                    raise FetchError(f"文件太大：超过 {max_bytes / 1e6:.0f} MB")
                if time.monotonic() > deadline:  # a drip of bytes, each in time for the read timeout
                    raise FetchError(f"下载超时（共 {total_timeout:g} 秒）：{_short(str(response.url))}")
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
