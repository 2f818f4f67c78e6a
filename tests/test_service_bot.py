"""The small service items in a running bot: /stats for admins only, `/topic@other_bot` costs nothing,
and APScheduler's per-run lines stay out of an INFO log."""

from __future__ import annotations

import logging

import pytest

from bot.config import load_settings
from bot.service.app import build_application, quiet_scheduler
from tests.support.botapi import DEFAULT_BOT_USERNAME, BotApiServer
from tests.test_bot_e2e import BotThread, say

ADMIN, EDITOR, READER = 9101, 9102, 9103


@pytest.fixture(scope="module")
def api():
    with BotApiServer() as server:
        yield server


@pytest.fixture(scope="module")
def app(api, shared_corpus, shared_engine, tmp_path_factory):
    env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.root_url,
           "PLANBRIEF_DATA_DIR": str(tmp_path_factory.mktemp("data")), "PLANBRIEF_THROTTLE_BURST": "1",
           "PLANBRIEF_THROTTLE_WINDOW": "3600", "PLANBRIEF_ADMINS": str(ADMIN), "PLANBRIEF_EDITORS": str(EDITOR)}
    application = build_application(load_settings(env), corpus=shared_corpus, engine=shared_engine)
    with BotThread(application):
        yield application


def test_stats_for_admins_and_editors_only(api, app):
    (msg,) = say(api, "/stats", chat_id=ADMIN)
    assert "运行概况" in msg.text and "规划 / 段落" in msg.text
    (msg,) = say(api, "/stats", chat_id=EDITOR, lang="en")
    assert "Operator's view" in msg.text
    (msg,) = say(api, "/stats", chat_id=READER)
    assert "只有管理员" in msg.text and "规划 / 段落" not in msg.text


def test_a_command_for_another_bot_costs_no_budget_and_gets_no_word(api, app):
    group, user = -9200, 9201  # a budget of one message an hour
    for _ in range(3):
        api.user_message(group, user, "/topic@other_bot 双减", chat_type="group")
    (msg,) = say(api, f"/topic@{DEFAULT_BOT_USERNAME} 双减", chat_id=group, user_id=user, chat_type="group")
    assert "「双减」" in msg.text  # the one message of budget was still there
    assert len(api.messages(group)) == 1


def test_scheduler_run_lines_are_debug(caplog):
    quiet_scheduler()
    logger = logging.getLogger("apscheduler.executors.default")
    with caplog.at_level(logging.INFO):
        logger.info('Running job "corpus-reload" (scheduled at …)')
        logger.warning('Run time of job "digest-tick" was missed by 0:00:03')
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    with caplog.at_level(logging.DEBUG):
        logger.info('Job "corpus-reload" executed successfully')
    assert caplog.records[-1].levelname == "DEBUG"


def test_serve_without_a_webhook_url_says_so_in_one_line(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLANBRIEF_", "TELEGRAM_"))}
    env.update({"TELEGRAM_BOT_TOKEN": "123456:abcdefghijk", "PLANBRIEF_DATA_DIR": str(tmp_path)})
    done = subprocess.run([sys.executable, "-m", "bot", "serve"], cwd=Path(__file__).resolve().parent.parent,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "PLANBRIEF_WEBHOOK_URL" in done.stderr
    assert "abcdefghijk" not in done.stderr
