"""Digest rendering: valid Telegram HTML, new plans first and marked, clean splits under 4096, and the
`planbrief digest` CLI contract."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from bot.cli import cmd_digest as digest_main
from bot.corpus.regions import find_place
from bot.digests.content import build_digest
from bot.telegram.render import utf16_len
from bot.telegram.render_digest import render_digest
from tests.support.botapi import parse_html


def search_with(engine):
    return lambda query, plan_id: engine.search(query, plan_id=plan_id, limit=2).hits


def test_every_plan_has_title_city_date_priorities_targets(shared_corpus):
    messages = render_digest(build_digest(shared_corpus))
    assert len(messages) >= 1
    text = "\n".join(parse_html(m)[0] for m in messages)
    for plan in shared_corpus.plans:
        assert plan.meta.city in text
        assert plan.meta.date in text
    assert "重点任务" in text and "量化目标" in text
    assert "全市新增义务教育阶段学位6000个" in text


def test_new_plans_first_and_marked(shared_corpus):
    digest = build_digest(shared_corpus, place=find_place("无锡"), seen_plan_ids={"wuxi-2023-conference"})
    text = parse_html(render_digest(digest)[0])[0]
    assert text.index("🆕") < text.index("无锡 · 无锡市2023年")
    assert "其中 2 份为新收录" in text
    assert text.count("🆕") == 2


def test_html_is_valid_and_escaped(shared_corpus):
    plan = shared_corpus.plans[0]
    from dataclasses import replace

    from bot.digests.content import Digest, PlanDigest
    from bot.models import Plan, Priority

    tricky = Plan(replace(plan.meta, title="<b>&规划>"), "", [], [], [Priority("一、a<b", ("x&y",))])
    digest = Digest([PlanDigest(tricky, tricky.priorities, ["达到 5 < 6 个"], True)])
    for message in render_digest(digest, "en"):
        plain, _ = parse_html(message)
        assert "<b>&规划>" in plain and "5 < 6" in plain and "NEW" in plain


@pytest.mark.parametrize("limit", [300, 800, 4096])
def test_long_digests_split_cleanly(shared_corpus, shared_engine, limit):
    digest = build_digest(shared_corpus, topic="双减", search=search_with(shared_engine))
    messages = render_digest(digest, limit=limit)
    assert all(utf16_len(m) <= limit for m in messages)
    for message in messages:
        parse_html(message)  # each part is well-formed on its own
    if limit == 300:
        assert len(messages) > 3
    joined = "".join(parse_html(m)[0] for m in messages)
    assert "双减" in joined


def test_topic_excerpts_are_cited(shared_corpus, shared_engine):
    digest = build_digest(shared_corpus, topic="双减", search=search_with(shared_engine))
    text = "\n".join(parse_html(m)[0] for m in render_digest(digest))
    assert "相关摘录" in text and "— " in text and "主题：双减" in text


def test_empty_digest_renders_nothing(shared_corpus):
    assert render_digest(build_digest(shared_corpus, plan_id="nope")) == []


def _args(**kw):
    return SimpleNamespace(plan=kw.get("plan"), city=kw.get("city"), topic=kw.get("topic"), json=kw.get("json", True))


def test_cli_json_contract(shared_corpus, capsys):
    assert digest_main(_args(city="wuxi"), shared_corpus) == 0
    data = json.loads(capsys.readouterr().out)
    ids = {p["plan_id"] for p in data["plans"]}
    assert ids == {"wuxi-2023-conference", "jiangyin-2023-speech", "wuxi-2020-review-plan"}
    for plan in data["plans"]:
        assert {"plan_id", "city", "year", "title", "priorities", "targets", "new"} <= set(plan)
        assert all({"title", "items"} <= set(p) for p in plan["priorities"])


def test_cli_plan_and_text(shared_corpus, capsys):
    assert digest_main(_args(plan="suizhou-2023-workpoints", json=False), shared_corpus) == 0
    out = capsys.readouterr().out
    assert "随州" in out and "6000个" in out


@pytest.mark.parametrize("kw", [{"city": "火星"}, {"plan": "nope"}])
def test_cli_errors_one_line_nonzero(shared_corpus, capsys, kw):
    assert digest_main(_args(**kw), shared_corpus) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
