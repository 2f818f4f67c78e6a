"""Bounds on what `add` reads: file size, a .docx's unpacked members, text length and parse time.

The zip bomb runs the real command line in a child process under an address-space limit: it must be
refused with one line, quickly, and without the memory a parse of its unpacked XML would take.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from bot.corpus.ingest import AddError, prepare_plan
from tests.support.folders import folder_bytes as snapshot
from tests.test_add_and_cli import PLAN_TEXT

ROOT = Path(__file__).resolve().parent.parent
ADDRESS_SPACE = 1024 * 1024 * 1024  # 1 GB: the CLI needs ~0.5; parsing the bomb's XML would need several


def docx_bomb(path: Path, unpacked_mb: int = 256) -> None:
    """A real .docx (python-docx opens it) whose document.xml is `unpacked_mb` of paragraphs, ~1 MB zipped."""
    import io

    import docx

    template = io.BytesIO()
    docx.Document().save(template)
    paragraph = b"<w:p><w:r><w:t>" + "教育".encode() * 40 + b"</w:t></w:r></w:p>"
    chunk = paragraph * (1024 * 1024 // len(paragraph) + 1)
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in source.infolist():
            if item.filename != "word/document.xml":
                archive.writestr(item, source.read(item))
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                         b"<w:body>")
            for _ in range(unpacked_mb):
                member.write(chunk)
            member.write(b"</w:body></w:document>")


def _limited():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def test_docx_bomb_is_refused_under_an_address_space_limit(seeds, tmp_path):
    bomb = tmp_path / "plan.docx"
    docx_bomb(bomb)
    assert bomb.stat().st_size < 5 * 1024 * 1024  # small on disk, so the file-size bound does not catch it
    before = snapshot(seeds)
    done = subprocess.run([sys.executable, "-m", "bot", "--seeds", str(seeds), "add", str(bomb)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, preexec_fn=_limited)
    assert done.returncode != 0
    assert "压缩炸弹" in done.stderr and "word/document.xml" in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr and "MemoryError" not in done.stderr
    assert snapshot(seeds) == before


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("PLANBRIEF_MAX_FILE_MB", "0.0005", "文件太大"),
    ("PLANBRIEF_MAX_TEXT_CHARS", "100", "正文太长"),
    ("PLANBRIEF_MAX_PARSE_SECONDS", "0.000001", "解析超时"),
])
def test_each_bound_is_a_setting_and_refuses_untouched(seeds, tmp_path, setting, value, message):
    src = tmp_path / "plan.txt"
    src.write_text(PLAN_TEXT, encoding="utf-8")
    before = snapshot(seeds)
    done = subprocess.run([sys.executable, "-m", "bot", "--seeds", str(seeds), "add", str(src)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env={**_env(), setting: value})
    assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr
    assert snapshot(seeds) == before
    ok = subprocess.run([sys.executable, "-m", "bot", "--seeds", str(seeds), "add", str(src)], cwd=ROOT,
                        capture_output=True, text=True, timeout=120, env=_env())
    assert ok.returncode == 0, ok.stderr  # the same file within the default bounds


def _env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PLANBRIEF_MAX_")}


def test_parse_time_is_bounded_off_the_main_thread_too(tmp_path, monkeypatch):
    """The bot prepares drafts in a worker thread, where no alarm can interrupt: the stage checks do."""
    monkeypatch.setenv("PLANBRIEF_MAX_PARSE_SECONDS", "0.000001")
    src = tmp_path / "plan.txt"
    src.write_text(PLAN_TEXT, encoding="utf-8")
    errors: list[Exception] = []

    def work():
        try:
            prepare_plan(src)
        except AddError as exc:
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(60)
    assert errors and "解析超时" in str(errors[0])
