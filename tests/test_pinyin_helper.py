"""Readings from the helper process are pypinyin's own, and a helper that fails changes nothing.

`planbrief add` leaves pypinyin's load (~0.35 s of CPU) to a helper process (bot.pinyin), so the
add's own process never imports it: the plan's id and the index's pinyin table come from the helper.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import bot.pinyin as pinyin

ROOT = Path(__file__).resolve().parent.parent
# heteronyms decided by the phrase (银行/行长, 重庆/重要), ü (吕梁, 女子), a place's short name, mixed text
WORDS = ["银行", "行长", "重庆", "重要", "吕梁", "女子学校", "长沙", "江阴", "双减", "A股市场", "2024年"]


def _fresh_helper(monkeypatch) -> pinyin._Helper:
    """A helper for this test, though pytest has imported pypinyin already (the guard that keeps a
    process which has it from starting one)."""
    pinyin.stop_helper()
    monkeypatch.delitem(sys.modules, "pypinyin", raising=False)
    assert pinyin.start_helper()
    helper = pinyin._helper
    assert helper is not None
    return helper


def test_the_helpers_readings_are_pypinyins_own(monkeypatch):
    helper = _fresh_helper(monkeypatch)
    try:
        assert helper.ask(WORDS) == pinyin._local(WORDS)
        assert pinyin.readings(WORDS) == pinyin._local(WORDS)
        assert pinyin._helper is helper  # it answered: still asked
    finally:
        pinyin.stop_helper()
    assert helper.process.poll() is not None  # stopped, not left behind
    assert pinyin._helper is None


def test_a_helper_that_died_is_dropped_and_the_readings_are_computed_here(monkeypatch):
    helper = _fresh_helper(monkeypatch)
    helper.process.kill()
    helper.process.wait()
    assert pinyin.readings(WORDS) == pinyin._local(WORDS)
    assert pinyin._helper is None  # not asked again


def test_a_helper_too_slow_to_answer_is_dropped(monkeypatch):
    helper = _fresh_helper(monkeypatch)
    os.kill(helper.process.pid, 19)  # SIGSTOP: alive, never answering
    monkeypatch.setattr(pinyin, "HELPER_WAIT_SECONDS", 0.2)
    try:
        assert pinyin.readings(["双减"]) == pinyin._local(["双减"])
        assert pinyin._helper is None
    finally:
        pinyin.stop_helper()
        helper.stop()
    assert helper.process.poll() is not None


def test_no_helper_in_a_process_that_has_pypinyin_or_outside_the_command_line(monkeypatch, tmp_path):
    import pypinyin  # noqa: F401 - loaded here: a helper would only repeat the load

    pinyin.stop_helper()
    assert not pinyin.start_helper()
    assert pinyin._helper is None


def test_the_add_command_names_and_indexes_the_plan_without_loading_pypinyin_itself(tmp_path):
    """`python -X importtime` lists every module the add's own process imports (the sandbox child's
    imports are its own, and pypinyin is not among them): pypinyin must not be one, yet the plan gets
    its readable id (the helper's reading of the city) and its new words reach the index's pinyin
    table (研学实践, new to the seeds, is found by its pinyin)."""
    seeds = tmp_path / "seeds"
    shutil.copytree(ROOT / "seeds", seeds)
    data = tmp_path / "data"
    env = {**os.environ, "PLANBRIEF_SEEDS": str(seeds), "PLANBRIEF_DATA_DIR": str(data), "PLANBRIEF_LANG": "zh"}
    first = subprocess.run([sys.executable, "-m", "bot", "search", "双减", "--json"], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr  # the index exists: the add writes the new plan into it
    plan = tmp_path / "plan.txt"
    plan.write_text("吕梁市教育局2025年工作要点\n一、推进鳌鱼湾研学基地建设\n1. 建成鳌鱼湾研学基地，开展研学实践活动。\n",
                    encoding="utf-8")
    added = subprocess.run([sys.executable, "-X", "importtime", "-m", "bot", "add", str(plan), "--json"],
                           env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert added.returncode == 0, added.stderr[-2000:]
    assert json.loads(added.stdout)["plan_id"] == "lvliang-2025-workpoints"
    imported = [line.rsplit("|", 1)[-1].strip() for line in added.stderr.splitlines() if "import time:" in line]
    assert "bot.corpus.ingest" in imported and not [m for m in imported if m.startswith("pypinyin")]
    found = subprocess.run([sys.executable, "-m", "bot", "search", "yanxueshijian", "--json"], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=600)
    assert found.returncode == 0, found.stderr
    answer = json.loads(found.stdout)
    assert answer["corrected"] == "研学实践"
    assert any("研学实践" in r["text"] for r in answer["results"])


@pytest.fixture(autouse=True)
def _no_helper_left():
    yield
    pinyin.stop_helper()
