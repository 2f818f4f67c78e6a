"""Hostile inputs end with one line, within the configured deadline: files and pages read in the
sandbox's limited child, links fetched with a total deadline to the address that was checked.

Everything is generated or served from 127.0.0.1; deadlines are set small through the settings so the
suite stays fast. What each test asserts is the outcome (one line saying why, the corpus untouched),
never a timing: the timings are in bench/sandbox_bench.py.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.cli import main
from bot.corpus import sandbox
from bot.corpus.fetch import FetchError, effective_address, fetch, is_public, looks_like_url
from bot.corpus.ingest import AddError, RemoveError, _with_id, remove_plan
from bot.corpus.loader import read_manifest, write_manifest
from tests.support import hostile
from tests.support.folders import folder_bytes
from tests.test_add_and_cli import PLAN_TEXT

FAST = sandbox.SandboxLimits(seconds=3, cpu_seconds=3)


@pytest.fixture
def small_deadline(monkeypatch):
    monkeypatch.setenv("PLANBRIEF_SANDBOX_SECONDS", "2")
    monkeypatch.setenv("PLANBRIEF_SANDBOX_CPU_SECONDS", "2")


def _cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------------------------------------ files


def test_reference_cycle_pdf_is_stopped_at_the_deadline(seeds, tmp_path, capsys, small_deadline):
    before = folder_bytes(seeds)
    pdf = hostile.cycle_pdf(tmp_path / "cycle.pdf")
    code, _, err = _cli(capsys, "--seeds", str(seeds), "add", str(pdf))
    assert code == 1
    assert "超过 2 秒" in _one_line(err) and "cycle.pdf" in err
    assert folder_bytes(seeds) == before


def test_inflating_pdf_is_refused_by_the_stream_bound(seeds, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PLANBRIEF_MAX_DOCX_MEMBER_MB", "8")
    pdf = hostile.inflating_pdf(tmp_path / "bomb.pdf", 64)
    assert pdf.stat().st_size < 200_000
    code, _, err = _cli(capsys, "--seeds", str(seeds), "add", str(pdf))
    assert code == 1
    assert "解压后过大" in _one_line(err)


@pytest.fixture(params=["fork", "spawn"])
def alone_method(request, monkeypatch):
    """A child alone starts either way (`sandbox._alone_method`: a fork of a one-thread process, else a
    fresh interpreter); each is held to the same limits."""
    monkeypatch.setattr(sandbox, "_alone_method", lambda: request.param)
    return request.param


def test_a_child_alone_is_a_fork_only_of_a_process_with_one_thread():
    """Asked in a process of its own (pytest's may have threads left by other tests): one thread, a
    fork (on Linux); a second thread running, a fresh interpreter, and the read still works."""
    probe = ("import os, threading\n"
             "from bot.corpus import sandbox\n"
             "print(sandbox._alone_method())\n"
             "stop = threading.Event()\n"
             "other = threading.Thread(target=stop.wait)\n"
             "other.start()\n"
             "print(sandbox._alone_method(), sandbox.run(os.getppid, alone=True) == os.getpid())\n"
             "stop.set()\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    first = "fork" if sys.platform.startswith("linux") else "spawn"
    assert out.stdout.split() == [first, "spawn", "True"]


@pytest.mark.parametrize("alone", [False, "fork", "spawn"], ids=["forkserver", "alone-fork", "alone-spawn"])
def test_inflating_pdf_over_the_memory_limit_still_gets_one_line(tmp_path, monkeypatch, alone):
    """With the stream bound set out of the way, the child's address-space limit is what stops it,
    in a fork of the forkserver, a fork of this process and a fresh interpreter alike."""
    if alone:
        monkeypatch.setattr(sandbox, "_alone_method", lambda: alone)
    monkeypatch.setenv("PLANBRIEF_MAX_DOCX_MEMBER_MB", "4096")
    pdf = hostile.inflating_pdf(tmp_path / "bomb.pdf", 900)
    with pytest.raises(AddError) as caught:
        sandbox.read_untrusted(pdf, limits=sandbox.SandboxLimits(memory_bytes=700 * 2**20, seconds=20),
                               alone=bool(alone))
    assert "\n" not in str(caught.value) and "bomb.pdf" in str(caught.value)


def test_19_mb_one_line_page_ends_with_one_line(tmp_path):
    page = hostile.one_line_page(tmp_path / "huge.html", 19)
    with pytest.raises(AddError) as caught:
        sandbox.read_untrusted(page, limits=sandbox.SandboxLimits(seconds=20, cpu_seconds=20))
    assert "正文太长" in str(caught.value) and "\n" not in str(caught.value)


def test_a_normal_file_reads_the_same_in_the_child(tmp_path):
    from bot.corpus.ingest import prepare_plan

    path = tmp_path / "plan.txt"
    path.write_text(PLAN_TEXT, encoding="utf-8")
    inside, outside = sandbox.read_untrusted(path, limits=FAST), prepare_plan(path)
    assert inside.entry == outside.entry
    assert [p.text for p in inside.plan.passages] == [p.text for p in outside.plan.passages]


def test_a_child_alone_reads_the_same_and_is_our_own_child(tmp_path, alone_method):
    """`alone` (the CLI's one read): no forkserver in between, the same Draft as the forkserver's child."""
    path = tmp_path / "plan.txt"
    path.write_text(PLAN_TEXT, encoding="utf-8")
    alone, forked = sandbox.read_untrusted(path, limits=FAST, alone=True), sandbox.read_untrusted(path, limits=FAST)
    assert not alone.named and alone.body_key == forked.body_key  # its id is given by publish, in the parent
    named = _with_id(alone, forked.entry["plan_id"])
    assert named.entry == forked.entry and named.named
    assert named.plan == forked.plan and named.plan.content_hash == forked.plan.content_hash
    assert sandbox.run(os.getppid, limits=FAST, alone=True) == os.getpid()


def test_a_spinning_child_alone_is_stopped_at_the_deadline_counted_from_its_start(tmp_path, small_deadline,
                                                                                  alone_method):
    """The deadline is the input's: a fresh interpreter's imports are not charged to it, and a cycle
    still ends at it with one line, in a fork as in a fresh interpreter."""
    pdf = hostile.cycle_pdf(tmp_path / "cycle.pdf")
    with pytest.raises(AddError) as caught:
        sandbox.read_untrusted(pdf, alone=True)
    assert "超过 2 秒" in str(caught.value) and "\n" not in str(caught.value)


def test_work_done_meanwhile_neither_breaks_a_read_nor_stretches_a_deadline(tmp_path, small_deadline):
    """The CLI loads its tokenizer while the child reads (`meanwhile`): a failure there is ignored, a
    normal file reads as ever, and a spinning input is still refused at its own deadline even when the
    parent was busy past it."""
    import time as clock

    path = tmp_path / "plan.txt"
    path.write_text(PLAN_TEXT, encoding="utf-8")

    def fails():
        raise RuntimeError("tokenizer unavailable")

    assert sandbox.read_untrusted(path, alone=True, meanwhile=fails).plan.passages
    pdf = hostile.cycle_pdf(tmp_path / "cycle.pdf")
    with pytest.raises(AddError) as caught:
        sandbox.read_untrusted(pdf, alone=True, meanwhile=lambda: clock.sleep(3))
    assert "超过 2 秒" in str(caught.value) and "\n" not in str(caught.value)


def test_english_wording_survives_the_child(tmp_path, monkeypatch):
    path = tmp_path / "empty.txt"
    path.write_text("   \n", encoding="utf-8")
    with pytest.raises(AddError) as caught:
        sandbox.read_untrusted(path, limits=FAST)
    assert caught.value.en.startswith("the file is empty") and "文件是空的" in str(caught.value)


# ------------------------------------------------------------------------------------------ fetch


@pytest.mark.parametrize("where", ["headers", "body"])
def test_drip_server_is_cut_by_the_total_deadline(where):
    server = hostile.DripServer(where, interval=0.1)
    try:
        with pytest.raises(FetchError) as caught:
            fetch(server.url, allow_private=True, timeout=5, total_timeout=1)
        assert "下载超时" in str(caught.value)
    finally:
        server.close()


@pytest.mark.parametrize("where", ["headers", "body"])
def test_drip_server_through_the_cli_ends_in_one_line(seeds, capsys, small_deadline, where):
    server = hostile.DripServer(where, interval=0.1)
    try:
        code, _, err = _cli(capsys, "--seeds", str(seeds), "add", server.url, "--allow-private")
    finally:
        server.close()
    assert code == 1
    assert "超时" in _one_line(err)


class _Site(BaseHTTPRequestHandler):
    seen_hosts: list[str] = []

    def do_GET(self):  # noqa: N802 - the stdlib's name
        _Site.seen_hosts.append(self.headers.get("Host", ""))
        if self.path.startswith("/bad-location"):
            self.send_response(302)
            self.send_header("Location", {"port": "http://127.0.0.1:99999999/x", "bracket": "http://[::1/x",
                                          "empty": ""}[self.path.rsplit("/", 1)[1]])
            self.end_headers()
            return
        body = ("<html><body>" + "".join(f"<p>{line}</p>" for line in PLAN_TEXT.splitlines())
                + "</body></html>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def _resolver(monkeypatch, answers: list[str]):
    """A resolver for names ending in .test: the next answer each time it is asked (the last repeats)."""
    real = socket.getaddrinfo
    asked = []

    def getaddrinfo(host, port, *args, **kwargs):
        if not str(host).endswith(".test"):
            return real(host, port, *args, **kwargs)
        answer = answers[min(len(asked), len(answers) - 1)]
        asked.append(answer)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_dns_rebinding_public_then_loopback_is_refused(site, monkeypatch):
    asked = _resolver(monkeypatch, ["93.184.216.34", "127.0.0.1"])
    with pytest.raises(FetchError) as caught:
        fetch(f"http://rebind.test:{site}/plan.html")
    assert "拒绝访问内网或本机地址" in str(caught.value) and "127.0.0.1" in str(caught.value)
    assert len(asked) == 2  # checked, then asked again at connect time: the second answer is what is judged


def test_connection_goes_to_the_resolved_address_with_the_original_host(site, monkeypatch):
    _Site.seen_hosts.clear()
    _resolver(monkeypatch, ["127.0.0.1"])
    fetched = fetch(f"http://plans.test:{site}/plan.html", allow_private=True)
    try:
        assert fetched.site == "plans.test"
        assert _Site.seen_hosts == [f"plans.test:{site}"]
    finally:
        fetched.path.unlink()


@pytest.mark.parametrize("address,public", [
    ("::ffff:127.0.0.1", False), ("::127.0.0.1", False), ("::10.0.0.1", False), ("64:ff9b::7f00:1", False),
    ("64:ff9b::a9fe:a9fe", False), ("2002:7f00:1::", False), ("::ffff:8.8.8.8", True), ("64:ff9b::808:808", True),
    ("2606:4700::1111", True), ("::1", False),
])
def test_ipv6_forms_are_judged_by_the_ipv4_address_they_embed(address, public):
    assert is_public(ipaddress.ip_address(address)) is public
    assert effective_address(ipaddress.ip_address("::ffff:10.1.2.3")) == ipaddress.ip_address("10.1.2.3")


@pytest.mark.parametrize("kind", ["port", "bracket", "empty"])
def test_malformed_location_is_one_line(site, kind):
    with pytest.raises(FetchError) as caught:
        fetch(f"http://127.0.0.1:{site}/bad-location/{kind}", allow_private=True)
    line = str(caught.value)
    assert "\n" not in line and any(word in line for word in ("重定向", "链接格式不正确", "下载失败"))


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/a\x01b", "http://127.0.0.1:{port}/\x7f", "http://[::1/x",
                                 "http://127.0.0.1:99999999/"])
def test_invalid_url_through_the_cli_is_one_line(seeds, site, capsys, url):
    code, _, err = _cli(capsys, "--seeds", str(seeds), "add", url.format(port=site), "--allow-private")
    assert code == 1
    line = _one_line(err)
    assert "链接" in line or "下载失败" in line


@pytest.mark.parametrize("url", ["ftp://example.gov.cn/plan.pdf", "file:///etc/passwd", "gopher://x/"])
def test_other_schemes_are_refused_as_schemes(seeds, capsys, url):
    assert looks_like_url(url)
    code, _, err = _cli(capsys, "--seeds", str(seeds), "add", url)
    assert code == 1
    assert "只接受 http/https" in _one_line(err)


def test_fetch_in_the_sandbox_hands_back_a_file(site):
    fetched = sandbox.fetch_untrusted(f"http://127.0.0.1:{site}/plan.html", allow_private=True, limits=FAST)
    try:
        assert fetched.path.read_text(encoding="utf-8").startswith("<html>")
    finally:
        fetched.path.unlink()


def test_fetch_and_prepare_reads_a_page_in_one_child(site):
    fetched, draft = sandbox.fetch_and_prepare(f"http://127.0.0.1:{site}/plan.html", limits=FAST,
                                               fetch_kwargs={"allow_private": True})
    try:
        assert draft.entry["city"] == "常州市" and draft.entry["source_site"] == "127.0.0.1"
    finally:
        fetched.path.unlink()


def _round_parent_and_its_readers_parent() -> tuple[int, int, bool]:
    from multiprocessing import forkserver

    reader_parent = sandbox.run(os.getppid, limits=FAST)
    return os.getppid(), reader_parent, forkserver._forkserver._forkserver_pid is None


def test_a_child_reading_in_children_of_its_own_uses_the_same_forkserver():
    """A source round (run_apart) reads its pages in children of the bot's one forkserver: before,
    each round spawned and preloaded a server of its own, seconds of CPU on a loaded machine."""
    round_parent, reader_parent, spawned_none = sandbox.run_apart(_round_parent_and_its_readers_parent, limits=FAST)
    assert reader_parent == round_parent  # siblings, both forked by the server this process started
    assert spawned_none


def _policies_of_a_round_and_its_reader() -> tuple[int, int]:
    return os.sched_getscheduler(0), sandbox.run(os.sched_getscheduler, 0, limits=FAST)


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_a_background_round_and_every_read_it_makes_run_on_idle_cpu_only():
    """A source round is work nobody waits for: it and its fetching children are SCHED_IDLE, so
    they never take a core from the bot answering `/topic` (niced, they still took turns on it)."""
    background = sandbox.SandboxLimits(seconds=10, cpu_seconds=10, background=True)
    round_policy, reader_policy = sandbox.run_apart(_policies_of_a_round_and_its_reader, limits=background)
    assert round_policy == reader_policy == os.SCHED_IDLE
    assert sandbox.run(os.sched_getscheduler, 0, limits=FAST) == os.sched_getscheduler(0)  # an editor's read


def _start_of(path, url: str, prefix: str) -> str:
    with open(path, encoding="utf-8") as page:
        return f"{prefix}{page.read(6)} @ {url}"


def test_fetch_and_read_reads_the_page_in_the_fetching_child(site):
    url = f"http://127.0.0.1:{site}/plan.html"
    fetched, start = sandbox.fetch_and_read(url, _start_of, "read: ", limits=FAST, allow_private=True)
    try:
        assert fetched.path.exists() and start == f"read: <html> @ {url}"
    finally:
        fetched.path.unlink()
    with pytest.raises(FetchError):
        sandbox.fetch_and_read(url, _start_of, "read: ", limits=FAST)  # the private-address guard still holds


def test_what_a_fetching_child_unpickles_does_not_import_the_store():
    """The readers named in every fetching child's arguments (bot.sources.pages) must import cheaply:
    from bot.sources.watch, each child imported SQLAlchemy and the store, ~0.4 s of CPU per page."""
    import subprocess
    import sys

    probe = "import sys, bot.sources.pages; print(sorted(m for m in ('sqlalchemy', 'bot.sources.store', " \
            "'bot.digests.store') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ------------------------------------------------------------------------------------------ messages


def test_superscript_digits_in_callback_data_are_not_numbers():
    from bot.digests.subscribe import parse_dm, parse_unsubscribe
    from bot.telegram.render import parse_callback, parse_paged

    for data in ("t1|²|无锡|双减", "t1|١٢|无锡|双减", "t2|③|0123456789ab", "t1|1²|无锡|双减"):
        assert parse_callback(data) is None
    assert parse_paged("²|abc|双减", keyed=False) is None
    assert parse_callback("t1|5|无锡|双减") is not None
    assert parse_unsubscribe(["²"]) is None and parse_unsubscribe(["#12"]) == "12"
    assert parse_dm("dm|x|١٢") is None and parse_dm("dm|x|12") is not None


def test_removal_refusal_on_a_200_plan_corpus_is_short(seeds):
    entries = read_manifest(seeds)
    write_manifest(seeds, entries + [{**entries[0], "plan_id": f"place-{n:03d}-plan"} for n in range(200)])
    with pytest.raises(RemoveError) as caught:
        remove_plan(seeds, "nowhere-2020-abcdef")
    message = str(caught.value)
    assert caught.value.not_found and len(message) < 300 and "等 20" in message


def test_no_reply_is_longer_than_telegram_allows():
    from bot.telegram.render import MAX_MESSAGE, Reply, utf16_len

    reply = Reply("未能撤下：<code>" + "、".join(f"plan-{n}" for n in range(2000)) + "</code>")
    assert utf16_len(reply.text) <= MAX_MESSAGE and reply.text.endswith("</code>…")
    assert Reply("短").text == "短"


def test_manifest_json_is_untouched_by_a_refused_remove(seeds):
    before = json.loads((seeds / "manifest.json").read_text(encoding="utf-8"))
    with pytest.raises(RemoveError):
        remove_plan(seeds, "nowhere-2020-abcdef")
    assert json.loads((seeds / "manifest.json").read_text(encoding="utf-8")) == before


def test_stop_all_ends_running_reads_at_once_with_one_line(tmp_path):
    """A stopping bot does not wait out the deadline of reads in flight."""
    from concurrent.futures import ThreadPoolExecutor

    pdf = hostile.cycle_pdf(tmp_path / "cycle.pdf")
    slow = sandbox.SandboxLimits(seconds=60, cpu_seconds=60)
    with ThreadPoolExecutor(1) as pool:
        reading = pool.submit(sandbox.read_untrusted, pdf, limits=slow)
        while not sandbox._live:
            threading.Event().wait(0.05)
        sandbox.stop_all()
        with pytest.raises(AddError) as caught:
            reading.result(timeout=30)
    assert "机器人正在停止" in str(caught.value) and not sandbox._live
