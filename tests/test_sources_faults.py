"""Faults a watched column can throw at the poller, each refused within the configured limits and
recorded as a failure (never as news): a page over the size cap, a page that drips bytes slower than
the read timeout, and a column that redirects to a private address when private addresses are off."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.corpus.fetch import FetchError
from bot.sources.poller import Poller, WatchPolicy
from bot.sources.store import SourceStore
from bot.sources.watch import Watcher


class _Bad(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the stdlib's name
        if self.path == "/robots.txt":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/huge.html":  # no Content-Length: the cap must count what arrives
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                for _ in range(64):
                    self.wfile.write(b"<p>" + b"x" * 65536 + b"</p>")
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if self.path == "/drip-headers.html":  # each header byte in time for the read timeout, never done
            try:
                for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Slow: " + b"x" * 200:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
            return
        if self.path == "/drip.html":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                for _ in range(30):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(1.0)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        self.send_response(302)
        self.send_header("Location", "http://10.0.0.1/internal.html")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def bad_site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Bad)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def watcher(tmp_path):
    store = SourceStore.open(tmp_path / "planbrief.sqlite3")
    policy = WatchPolicy(host_spacing=0, timeout=0.5, max_bytes=1024 * 1024, failing_after=2)
    yield Watcher(store, tmp_path / "seeds", tmp_path, policy, allow_private=True)
    store.close()


def test_a_page_over_the_cap_is_refused(watcher, bad_site):
    source = watcher.store.add_source(bad_site + "/huge.html", "南通市", allow_private=True)
    report = watcher.run_round()
    (checked,) = report.sources
    assert checked.status == "failed" and "太大" in checked.error and checked.candidates == []
    assert watcher.store.get_source(source.id).failures == 1


def test_a_dripping_page_is_refused_within_the_timeout(watcher, bad_site):
    watcher.store.add_source(bad_site + "/drip.html", "南通市", allow_private=True)
    started = time.monotonic()
    (checked,) = watcher.run_round().sources
    assert checked.status == "failed" and "超时" in checked.error
    assert time.monotonic() - started < 5  # the per-read timeout (0.5 s), not the 30 s of dripping


def test_a_server_dripping_its_headers_is_refused_at_the_total_deadline(tmp_path, bad_site):
    """Every byte arrives within the read timeout, so only a bound on the whole request stops it: the
    fetch runs in a sandbox child whose main thread can take the deadline's signal."""
    store = SourceStore.open(tmp_path / "planbrief.sqlite3")
    policy = WatchPolicy(host_spacing=0, timeout=0.5, total_timeout=1.5, failing_after=2)
    watcher = Watcher(store, tmp_path / "seeds", tmp_path, policy, allow_private=True)
    watcher.store.add_source(bad_site + "/drip-headers.html", "南通市", allow_private=True)
    started = time.monotonic()
    (checked,) = watcher.run_round().sources
    took = time.monotonic() - started
    store.close()
    assert checked.status == "failed" and "超时" in checked.error and "\n" not in checked.error
    assert took < 1.5 + 3  # the 1.5 s deadline (and a child's start), not the 20 s the drip lasts


def test_a_redirect_to_a_private_address_is_refused(bad_site):
    """Only the test server's own host may be private here (as an intranet bureau's host would be);
    the redirect's target is checked again like any address — private, so refused."""
    with pytest.raises(FetchError, match="内网"):
        Poller(WatchPolicy(host_spacing=0)).get(bad_site + "/redirect.html", allow_private=frozenset({"127.0.0.1"}))
