"""Issue 16: `changes` compares like with like when it can, and says so when the two documents are of
different kinds (a 2023 会议报道 against a 2020 半年总结与计划 is weak evidence of what was dropped)."""

from __future__ import annotations

import json
from dataclasses import replace

from bot.corpus.regions import find_place
from bot.digests.themes import changes_for_place, year_pair
from bot.telegram.render_digest import changes_block
from tests.support.botapi import parse_html


def test_different_kinds_are_said_in_digest_cli_and_json(shared_corpus, capsys):
    changes = changes_for_place(find_place("无锡"), shared_corpus)
    assert not changes.same_kind and changes.as_dict()["same_kind"] is False
    assert changes.as_dict()["from"]["kind"] == "半年总结与计划"
    text = parse_html(changes_block(changes))[0]
    assert "两份文件类型不同（会议报道 vs 半年总结与计划），比较仅供参考" in text
    from bot.cli import main

    assert main(["changes", "无锡"]) == 0
    assert "两份文件类型不同" in capsys.readouterr().out
    assert main(["changes", "无锡", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["same_kind"] is False


def test_like_with_like_is_preferred(shared_corpus):
    old_review = shared_corpus.plan("wuxi-2020-review-plan")
    newest = shared_corpus.plan("wuxi-2023-conference")
    old_report = replace(old_review, meta=replace(old_review.meta, plan_id="wuxi-2021-report", year=2021,
                                                  kind=newest.meta.kind))
    older, newer = year_pair([old_review, old_report, newest])
    assert newer is newest and older.plan_id == "wuxi-2021-report"  # same kind beats oldest
    older, newer = year_pair([old_review, newest])
    assert older is old_review  # no plan of the same kind: the oldest, with the warning
