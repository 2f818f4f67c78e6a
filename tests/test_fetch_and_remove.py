"""`planbrief add URL` against a local HTTP server, and `planbrief remove`.

The server runs on 127.0.0.1, which is exactly what a link from a chat must not reach: so every fetch
that should succeed passes --allow-private, and one test shows the refusal without it.
"""

from __future__ import annotations

import html
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.cli import main
from bot.corpus.fetch import FetchError, check_address, fetch
from bot.corpus.loader import load_corpus
from tests.support.folders import folder_bytes as _snapshot
from tests.test_add_and_cli import PLAN_TEXT

PAGE = ("<html><head><title>某某网站 - 首页</title></head><body><div class='nav'>首页 | 政务公开</div>"
        + "".join(f"<p>{html.escape(line)}</p>" for line in PLAN_TEXT.splitlines())
        + "</body></html>").encode()
BIG = 21 * 1024 * 1024


def _pdf() -> bytes:
    import tempfile

    from tests.test_formats import write_pdf

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.pdf"
        write_pdf(path)
        return path.read_bytes()


class _Site(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the stdlib's name
        routes = {
            "/plan.html": (200, "text/html; charset=utf-8", PAGE),
            "/files/yangzhou.pdf": (200, "application/pdf", _pdf()),
            "/picture.png": (200, "image/png", b"\x89PNG\r\n"),
            "/gone": (404, "text/html", b"nope"),
        }
        if self.path.startswith("/hop"):
            n = int(self.path[4:] or 0)
            self.send_response(302)
            self.send_header("Location", "/plan.html" if n == 0 else f"/hop{n - 1}")
            self.end_headers()
            return
        if self.path == "/big":  # no Content-Length: the cap must count what arrives
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            chunk = b"x" * 65536
            for _ in range(BIG // len(chunk)):
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return
            return
        status, kind, body = routes.get(self.path, (404, "text/plain", b""))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_html_from_url(seeds, site, capsys):
    code, out, err = _run(capsys, "--seeds", str(seeds), "add", f"{site}/hop2", "--allow-private", "--json")
    assert code == 0, err
    entry = json.loads(out)
    assert entry["city"] == "常州市" and entry["year"] == 2024
    assert entry["original_file"].endswith("/plan.html") and entry["source_site"] == "127.0.0.1"
    assert entry["plan_id"] in {p.plan_id for p in load_corpus(seeds).plans}


def test_add_pdf_from_url(seeds, site, capsys):
    code, out, err = _run(capsys, "--seeds", str(seeds), "add", f"{site}/files/yangzhou.pdf", "--allow-private",
                          "--json")
    assert code == 0, err
    entry = json.loads(out)
    assert entry["city"] == "扬州市" and entry["title"] == "扬州市教育局2024年工作要点"
    assert [p["title"] for p in entry["priorities"]][:2] == ["一、坚持立德树人", "二、促进教育公平"]


@pytest.mark.parametrize(("path", "flags", "message"), [
    ("/plan.html", (), "内网或本机"),
    ("/picture.png", ("--allow-private",), "不支持的内容类型"),
    ("/big", ("--allow-private",), "文件太大"),
    ("/gone", ("--allow-private",), "HTTP 404"),
    ("/hop5", ("--allow-private",), "重定向超过"),
])
def test_bad_links_are_refused_untouched(seeds, site, capsys, path, flags, message):
    before = _snapshot(seeds)
    code, _, err = _run(capsys, "--seeds", str(seeds), "add", site + path, *flags)
    assert code != 0 and message in err and "Traceback" not in err
    assert err.count("\n") == 1
    assert _snapshot(seeds) == before


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/plan.txt", "http://[::1]/x",
                                 "http://localhost/x", "http://10.1.2.3/x", "http://169.254.169.254/latest"])
def test_addresses_a_chat_link_must_not_reach(url):
    with pytest.raises(FetchError):
        check_address(url)


def test_fetch_leaves_no_temp_file_on_refusal(site, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    with pytest.raises(FetchError):
        fetch(f"{site}/big", allow_private=True)
    assert not list(tmp_path.iterdir())


def test_remove_leaves_corpus_as_if_never_added(seeds, tmp_path, capsys):
    before = _snapshot(seeds)
    src = tmp_path / "plan.txt"
    src.write_text(PLAN_TEXT, encoding="utf-8")
    code, out, err = _run(capsys, "--seeds", str(seeds), "add", str(src), "--json")
    assert code == 0, err
    plan_id = json.loads(out)["plan_id"]
    code, out, err = _run(capsys, "--seeds", str(seeds), "remove", plan_id, "--json")
    assert code == 0, err
    assert json.loads(out)["removed"]["plan_id"] == plan_id
    after = _snapshot(seeds)
    after.pop(".manifest.lock", None)
    assert after == before
    code, _, err = _run(capsys, "--seeds", str(seeds), "remove", plan_id)
    assert code == 3 and "没有这份规划" in err
