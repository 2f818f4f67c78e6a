"""Hostile inputs, generated: PDFs built by hand (so their structure is exactly the attack), a page
of one huge line, and HTTP servers that drip or lie. Used by tests/test_sandbox.py and
bench/sandbox_bench.py."""

from __future__ import annotations

import socket
import threading
import time
import zlib
from pathlib import Path


def pdf_bytes(objects: list[bytes]) -> bytes:
    """A PDF whose numbered objects are `objects` (1-based), object 1 the catalog, with a correct
    cross-reference table, so a reader gets past the file structure to the attack inside."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def cycle_pdf(path: Path) -> Path:
    """A 1-page PDF whose /Contents is a reference to a reference to itself (objects 4 and 5 point
    at each other), which a reader resolving references follows forever."""
    path.write_bytes(pdf_bytes([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"5 0 R",
        b"4 0 R",
    ]))
    return path


def inflating_pdf(path: Path, inflated_mb: int) -> Path:
    """A small PDF whose page content stream inflates to `inflated_mb` MB (zeros compress ~1000:1)."""
    inflater = zlib.compressobj(9)
    chunk = b"\0" * (1 << 20)
    data = b"".join(inflater.compress(chunk) for _ in range(inflated_mb)) + inflater.flush()
    path.write_bytes(pdf_bytes([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        _stream(data, b"/Filter /FlateDecode "),
    ]))
    return path


def one_line_page(path: Path, megabytes: float = 19) -> Path:
    """A page of one line of `megabytes` MB (under the 20 MB download cap): text in nested inline
    tags, the shape that made the main-content extractor take minutes."""
    unit = "<span>教育<b>双减</b>课后服务</span>"
    count = int(megabytes * 1e6) // len(unit.encode())
    path.write_text("<html><head><title>页面</title></head><body><div>" + unit * count + "</div></body></html>",
                    encoding="utf-8")
    return path


class DripServer:
    """A TCP server on 127.0.0.1 that sends its response one byte every `interval` seconds, either the
    headers (`where="headers"`) or the body after prompt headers (`where="body"`)."""

    def __init__(self, where: str, interval: float = 0.2) -> None:
        self.where = where
        self.interval = interval
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/plan.html"

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n"
        body = b"<p>" + "教育".encode() * 20000
        try:
            conn.recv(65536)
            if self.where == "body":
                conn.sendall(head)
            for byte in (head + body if self.where == "headers" else body):
                if self.stop.is_set():
                    break
                conn.sendall(bytes([byte]))
                time.sleep(self.interval)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
