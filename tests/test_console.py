"""`planbrief console` as a newcomer runs it: no token, no network, input piped on stdin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_console(lines: list[str], tmp_path: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env.update(PLANBRIEF_DATA_DIR=str(tmp_path), TELEGRAM_API_URL="http://127.0.0.1:9",
               HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    proc = subprocess.run([sys.executable, "-m", "bot", "console", *args], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, encoding="utf-8", env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout


def test_console_answers_topics_and_pages_with_numbered_buttons(tmp_path):
    out = run_console(["/topic 双减", "1", "/city 无锡", "/plan nope", "你好", "/help"], tmp_path)
    assert "离线控制台" in out
    assert "「双减」 · 共" in out and "第 1–5 段" in out
    assert "[1] 下一页 »" in out and "[2] 分享" in out
    assert "第 6–10 段" in out and "（已更新）" in out  # button 1 paged the same message
    assert "jiangyin-2023-speech" in out  # /city 无锡 covers 江阴
    assert "没有这份规划" in out
    assert "/topic 你好" in out  # plain text gets a pointer
    assert "<b>" not in out and "&lt;" not in out  # HTML turned into terminal text


def test_console_in_english(tmp_path):
    out = run_console(["/help"], tmp_path, "--lang", "en")
    assert "offline console" in out and "How to use" in out
