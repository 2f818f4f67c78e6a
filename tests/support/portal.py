"""A bureau's portal on 127.0.0.1, as the source watcher meets one in the wild.

A column list page with the usual furniture (menu, banner, breadcrumb, friend links, footer), dates
beside the links, a 下一页 link to a second page, a GBK-encoded column, item pages that carry the
plan, one item page that only links its PDF attachment, ETag/Last-Modified with 304 answers, and a
robots.txt with a Disallow. Every request is logged with its time, path, headers and status, so a
test measures politeness from the server's side.
"""

from __future__ import annotations

import hashlib
import html
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Hit:
    at: float
    path: str
    status: int
    user_agent: str
    conditional: bool


FURNITURE_TOP = """<div class="header"><div class="logo">{bureau}</div><div class="search"><a href="/search">搜索</a></div></div>
<div class="nav"><ul><li><a href="/">网站首页</a></li><li><a href="/jgsz/">机构设置</a></li>
<li><a href="/zwgk/">政务公开</a></li><li><a href="/tzgg/">通知公告</a></li><li><a href="/jyyw/">教育要闻</a></li></ul></div>
<div class="banner"><a href="/zt/xxgcddesjs.html">学习贯彻党的二十大精神专题专栏</a></div>
<div class="position">当前位置：<a href="/">首页</a> &gt; <a href="/tzgg/">通知公告</a></div>"""
FURNITURE_BOTTOM = """<div class="friend-links"><a href="http://www.moe.gov.cn/">中华人民共和国教育部</a>
<a href="http://jyt.jiangsu.gov.cn/">江苏省教育厅网站</a></div>
<div class="footer"><p>主办单位：{bureau} 地址：人民路1号</p><a href="/sitemap.html">网站地图联系我们</a></div>"""


def plan_page(title: str, body: str, date: str = "2024-02-20", charset: str = "utf-8") -> str:
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in body.splitlines() if line.strip())
    return (f"<html><head><meta charset=\"{charset}\"><title>{html.escape(title)}_通知公告</title></head><body>"
            f"<div class=\"nav\"><a href=\"/\">首页</a></div><div class=\"article\"><h1>{html.escape(title)}</h1>"
            f"<div class=\"info\">发布时间：{date} 来源：本站</div>{paragraphs}</div>"
            f"<div class=\"footer\">主办单位：某某教育局</div></body></html>")


def cover_page(title: str, attachment: str, name: str, date: str = "2024-02-20") -> str:
    return (f"<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title></head><body>"
            f"<div class=\"article\"><h1>{html.escape(title)}</h1><div class=\"info\">发布时间：{date}</div>"
            f"<p>附件：<a href=\"{attachment}\">{html.escape(name)}</a></p></div></body></html>")


def list_page(items: list[tuple[str, str, str]], *, bureau: str = "南通市教育局", next_href: str | None = None,
              charset: str = "utf-8") -> str:
    rows = "".join(f'<li><a href="{href}" title="{html.escape(title)}" target="_blank">{html.escape(_cut(title))}</a>'
                   f'<span class="date">{date}</span></li>' for href, title, date in items)
    pager = f'<div class="page"><a href="{next_href}">下一页</a> <a href="{next_href}">尾页</a></div>' if next_href else ""
    return (f"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset={charset}\">"
            f"<title>通知公告-{bureau}</title></head><body>"
            + FURNITURE_TOP.format(bureau=bureau)
            + f'<div class="main"><div class="list-title">通知公告</div><ul class="list">{rows}</ul>{pager}</div>'
            + FURNITURE_BOTTOM.format(bureau=bureau) + "</body></html>")


def _cut(title: str) -> str:
    """Portals cut long link texts and keep the full title in the title attribute."""
    return title if len(title) <= 24 else title[:22] + "…"


class Portal:
    """`with Portal() as portal`: routes are a dict path → (status, content type, bytes), changeable live."""

    def __init__(self, robots: str = "User-agent: *\nDisallow: /private/\n"):
        self.routes: dict[str, tuple[int, str, bytes]] = {}
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.modified: dict[str, str] = {}
        if robots is not None:
            self.put("/robots.txt", robots.encode(), "text/plain")
        portal = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - the stdlib's name
                portal._serve(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.root + path

    def put(self, path: str, body: bytes | str, content_type: str = "text/html; charset=utf-8",
            status: int = 200) -> None:
        data = body.encode() if isinstance(body, str) else body
        with self.lock:
            if self.routes.get(path, (0, "", b""))[2] != data:
                self.modified[path] = formatdate(time.time(), usegmt=True)
            self.routes[path] = (status, content_type, data)

    def hits_for(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("#")[0]
        with self.lock:
            status, kind, body = self.routes.get(path, (404, "text/plain", b"not found"))
            modified = self.modified.get(path, "")
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        conditional = bool(request.headers.get("If-None-Match") or request.headers.get("If-Modified-Since"))
        if status == 200 and request.headers.get("If-None-Match") == etag:
            status, body = 304, b""
        with self.lock:
            self.hits.append(Hit(time.monotonic(), path, status, request.headers.get("User-Agent", ""), conditional))
        request.send_response(status)
        if status != 304:
            request.send_header("Content-Type", kind)
        request.send_header("Content-Length", str(len(body)))
        if status in (200, 304):
            request.send_header("ETag", etag)
            if modified:
                request.send_header("Last-Modified", modified)
        request.end_headers()
        if body:
            request.wfile.write(body)

    def __enter__(self) -> Portal:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
