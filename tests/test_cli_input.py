"""Hostile or careless input to the command line: one line, a non-zero exit, nothing half-done.

Batch mode answers each bad line with an error object and goes on; text output never carries a
terminal escape sequence; concurrent adds lose nothing; a read-only or unwritable seeds folder is one
line, not a traceback.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.corpus.ingest import AddError, add_plan
from bot.corpus.loader import default_seeds_dir, load_corpus, read_manifest
from tests.test_add_and_cli import PLAN_TEXT

ROOT = Path(__file__).resolve().parent.parent
SEEDS = default_seeds_dir()


def _cli(*argv: str, stdin: bytes = b"", seeds: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "bot", *(["--seeds", str(seeds)] if seeds else []), *argv]
    return subprocess.run(cmd, input=stdin, capture_output=True, cwd=ROOT, timeout=120)


@pytest.mark.parametrize(("command", "key", "first"), [("search", "results", "双减"), ("city", "plans", "无锡")])
def test_batch_answers_bad_lines_and_goes_on(command, key, first):
    stdin = f"{first}\n".encode() + b"\xff\xfe bad\n" + b"\xed\xa0\x80\n" + b"wuxi\n"
    done = _cli(command, "-", "--json", stdin=stdin)
    lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert len(lines) == 4, done.stderr
    assert lines[0][key] and lines[3][key]  # the good lines are answered in full
    for bad in lines[1:3]:
        assert bad["error"] == "invalid_encoding" and bad[key] == [] and "UTF-8" in bad["message"]
    assert done.returncode != 0 and b"Traceback" not in done.stderr


def test_batch_text_mode_reports_bad_line_on_stderr():
    done = _cli("city", "-", stdin="无锡\n".encode() + b"\xff\n")
    assert "无锡" in done.stdout.decode()
    assert done.stderr.decode().strip() == "planbrief: 第 2 行不是有效的 UTF-8 文本，已跳过"
    assert done.returncode != 0


def test_undecodable_argument_is_one_line():
    done = subprocess.run([sys.executable.encode(), b"-m", b"bot", b"search", b"\xff\xfe", b"--json"],
                          capture_output=True, cwd=ROOT, timeout=120)
    assert json.loads(done.stdout)["error"] == "invalid_encoding"
    assert done.returncode != 0 and b"Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["city", "search"])
def test_text_output_strips_terminal_escapes(command):
    hostile = "\x1b]0;pwned\x07\x1b[2J火星\x9b31m双减"
    done = _cli(command, hostile)
    shown = done.stdout.decode() + done.stderr.decode()
    assert shown.strip() and done.returncode in (0, 3)
    assert command == "search" or "火星" in shown  # city echoes the place it could not find
    assert not any(ch in shown for ch in "\x1b\x07\x9b")


@pytest.mark.parametrize("year", ["-5", "0", "3024"])
def test_absurd_year_is_refused_untouched(seeds, tmp_path, year):
    src = tmp_path / "plan.txt"
    src.write_text(PLAN_TEXT, encoding="utf-8")
    before = sorted(p.name for p in seeds.iterdir())
    done = _cli("add", str(src), "--year", year, seeds=seeds)
    assert done.returncode != 0 and "年份不合理" in done.stderr.decode()
    assert b"Traceback" not in done.stderr
    assert sorted(p.name for p in seeds.iterdir()) == before


def _read_only_add(seeds: Path, src: Path) -> subprocess.CompletedProcess:
    """Root ignores permission bits, so as root the folder is made read-only by a private bind mount."""
    add = [sys.executable, "-m", "bot", "--seeds", str(seeds), "add", str(src)]
    if os.geteuid() != 0:
        seeds.chmod(0o555)
        try:
            return subprocess.run(add, capture_output=True, cwd=ROOT, timeout=120)
        finally:
            seeds.chmod(0o755)
    if not shutil.which("unshare"):
        pytest.skip("running as root without unshare: cannot make a folder read-only")
    script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
    done = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(seeds), *add],
                          capture_output=True, cwd=ROOT, timeout=120)
    if b"mount" in done.stderr and done.returncode != 0 and b"planbrief" not in done.stderr:
        pytest.skip(f"no private mounts here: {done.stderr[:80]!r}")
    return done


def test_add_into_read_only_folder_is_one_line(seeds, tmp_path):
    src = tmp_path / "plan.txt"
    src.write_text(PLAN_TEXT, encoding="utf-8")
    before = {p.name: p.read_bytes() for p in seeds.iterdir()}
    done = _read_only_add(seeds, src)
    err = done.stderr.decode()
    assert done.returncode != 0 and "Traceback" not in err
    assert err.count("\n") == 1 and "不可写" in err
    assert {p.name: p.read_bytes() for p in seeds.iterdir()} == before


def test_stale_tmp_from_a_killed_writer_is_swept(seeds, tmp_path):
    (seeds / "manifest.json.tmp").write_text('{"plans": [', encoding="utf-8")
    (seeds / "orphan-2024-abcdef.txt.tmp").write_text("半截", encoding="utf-8")
    src = tmp_path / "plan.txt"
    src.write_text(PLAN_TEXT, encoding="utf-8")
    add_plan(seeds, src)
    assert not list(seeds.glob("*.tmp"))
    assert len(load_corpus(seeds).plans) == 6


def _add_at_once(seeds: str, src: str, start, results) -> None:
    start.wait(timeout=30)
    try:
        results.put(add_plan(Path(seeds), Path(src))["plan_id"])
    except AddError as exc:  # pragma: no cover - reported to the parent as a failure
        results.put(f"error: {exc}")


def test_two_processes_adding_at_once_lose_nothing(tmp_path):
    """20 rounds of two forked processes released together by a barrier, each adding its own plan."""
    ctx = multiprocessing.get_context("fork")
    texts = [PLAN_TEXT.replace("常州", city) for city in ("南通", "扬州")]
    for round_ in range(20):
        seeds = tmp_path / f"seeds{round_}"
        shutil.copytree(SEEDS, seeds)
        sources = []
        for n, text in enumerate(texts):
            src = tmp_path / f"r{round_}-{n}.txt"
            src.write_text(text.replace("20所", f"{20 + 2 * round_ + n}所"), encoding="utf-8")
            sources.append(src)
        start, results = ctx.Barrier(2), ctx.Queue()
        procs = [ctx.Process(target=_add_at_once, args=(str(seeds), str(s), start, results)) for s in sources]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=60)
        added = sorted(results.get(timeout=5) for _ in procs)
        listed = {entry["plan_id"] for entry in read_manifest(seeds)}
        assert all(not a.startswith("error") for a in added), added
        assert set(added) <= listed and len(listed) == 7, (round_, added)
        texts_on_disk = {p.name for p in seeds.glob("*.txt")}
        assert texts_on_disk == {entry["file"] for entry in read_manifest(seeds)}  # no orphan text
