"""`planbrief console` as a newcomer runs it: no token, no network, input piped on stdin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_console(lines: list[str], tmp_path: Path, *args: str, **extra_env: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env.update(PLANBRIEF_DATA_DIR=str(tmp_path), TELEGRAM_API_URL="http://127.0.0.1:9",
               HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    env.update(extra_env)
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


def _after(out: str, typed: str, nth: int = 1) -> str:
    """What the console printed in answer to the nth time this line was typed (up to the next prompt)."""
    return out.split(f"> {typed}\n")[nth].split("\n> ", 1)[0]


def test_a_number_presses_only_the_latest_answers_buttons(tmp_path):
    out = run_console(["/topic 双减", "/topic 教师", "1", "1.1", "2.2", "/help", "1", "7.1"], tmp_path)
    assert "#1  [1] 下一页 »  [2] 分享" in out  # buttons numbered within their message, which is numbered
    assert "#2  [1] 下一页 »  [2] 分享" in out
    assert "「教师」" in _after(out, "1") and "第 6–10 段" in _after(out, "1")  # the latest answer's button
    assert "「双减」" in _after(out, "1.1") and "第 6–10 段" in _after(out, "1.1")  # an older one, by number
    assert "#1  [1] « 上一页  [2] 下一页 »  [3] 分享" in _after(out, "1.1")
    # the edits of messages 1 and 2 renumbered nothing: 2.2 is still message 2's 下一页
    assert "「教师」" in _after(out, "2.2") and "第 11–15 段" in _after(out, "2.2")
    assert "最新的回答没有按钮" in _after(out, "1", nth=2)  # after /help, which has none: nothing old pressed
    assert "没有第 7 条带按钮的消息" in _after(out, "7.1")


def test_inline_mode_can_be_tried_with_an_at_sign(tmp_path):
    out = run_console(["@ 双减", "1"], tmp_path)
    listed = _after(out, "@ 双减")
    assert "  1. " in listed and "双减" in listed
    posted = _after(out, "1")
    assert "(via @planbrief_bot)" in posted and "双减" in posted


def test_the_console_user_can_be_an_editor_and_add_a_local_file(tmp_path):
    from tests.test_add_and_cli import PLAN_TEXT

    plan = tmp_path / "changzhou.txt"
    plan.write_text(PLAN_TEXT, encoding="utf-8")
    data = tmp_path / "data"
    out = run_console([str(plan), "1", "/plan changzhou-2024-workpoints", "/remove wuxi-2023-conference"],
                      tmp_path, PLANBRIEF_EDITORS="1000", PLANBRIEF_DATA_DIR=str(data))
    assert "PLANBRIEF_EDITORS" in out.split("> ", 1)[0]  # the intro says how to use the desk
    preview = _after(out, str(plan))
    assert "常州市教育局2024年工作要点" in preview and "[1] 收录" in preview
    assert "已收录：changzhou-2024-workpoints" in _after(out, "1")
    assert "一、坚持立德树人" in _after(out, "/plan changzhou-2024-workpoints")
    assert (data / "plans" / "changzhou-2024-workpoints.txt").exists()  # the user's plans folder
    assert "随附" in _after(out, "/remove wuxi-2023-conference")


def test_a_console_user_who_is_not_an_editor_is_refused_the_desk(tmp_path):
    plan = tmp_path / "plan.txt"
    plan.write_text("常州市教育局2024年工作要点", encoding="utf-8")
    out = run_console([f"/add {plan}"], tmp_path, PLANBRIEF_EDITORS="")
    assert "只有编辑" in _after(out, f"/add {plan}")
    assert not (tmp_path / "plans").exists()
