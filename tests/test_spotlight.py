"""Scheduled digest content without Telegram: which plan is in the spotlight, what a single-plan scope
gets when nothing is new, the shared-themes line, and the English labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.corpus.regions import find_place
from bot.digests.content import build_digest
from bot.digests.spotlight import narrow
from bot.digests.store import Featured
from bot.digests.themes import shared_themes
from bot.telegram.render_digest import render_digest, themes_line
from tests.support.botapi import parse_html

T0 = datetime(2024, 3, 4, 0, 0, tzinfo=UTC)


def _text(digest, lang="zh") -> str:
    return "\n".join(parse_html(m)[0] for m in render_digest(digest, lang, tz="Asia/Shanghai"))


def test_new_plans_lead_and_replace_the_spotlight(shared_corpus):
    everything = {p.plan_id for p in shared_corpus.plans}
    digest = narrow(build_digest(shared_corpus, seen_plan_ids=everything - {"suzhou-2023-workpoints"}), {})
    assert digest.mode == "new" and [e.plan.plan_id for e in digest.plans] == ["suzhou-2023-workpoints"]
    assert set(digest.scope_ids) == everything  # the chat now knows of every plan in scope
    assert "🆕" in _text(digest) and "🔦" not in _text(digest)


def test_spotlight_is_the_least_recently_featured(shared_corpus):
    ids = [p.plan_id for p in shared_corpus.plans]
    featured = {pid: Featured(T0 + timedelta(days=i), 1) for i, pid in enumerate(ids)}
    featured[ids[3]] = Featured(T0 - timedelta(days=1), 2)
    digest = narrow(build_digest(shared_corpus, seen_plan_ids=set(ids)), featured)
    assert digest.mode == "spotlight" and [e.plan.plan_id for e in digest.plans] == [ids[3]]
    assert digest.plans[0].spotlight and digest.since == T0 + timedelta(days=4)
    unseen = narrow(build_digest(shared_corpus, seen_plan_ids=set(ids)), {ids[0]: featured[ids[0]]})
    assert unseen.plans[0].plan.plan_id == ids[1]  # never featured beats featured; newest first among them


def test_single_plan_scope_says_no_new_plans_and_reads_another_priority(shared_corpus):
    """Issue 16: a one-plan scope seen before gets one short line, 无新规划, and the next 细读 passage
    (not the same card again): fourteen mornings, fourteen different passages, no card, no themes."""
    place = find_place("苏州")
    full = build_digest(shared_corpus, place=place, seen_plan_ids={"suzhou-2023-workpoints"})
    first = _text(narrow(full, {}))
    assert "重点任务" in first and "细读：" in first  # the first time: the card, with a priority in full
    readings = []
    for day in range(14):
        featured = {"suzhou-2023-workpoints": Featured(T0 + timedelta(days=day), day + 1)}
        text = _text(narrow(full, featured))
        assert f"无新规划（上次简报 2024-03-{4 + day:02d}）" in text and "🔦 聚焦 苏州 · 苏州市2023" in text
        assert "重点任务" not in text and "🔗" not in text and len(text.splitlines()) <= 7
        readings.append(text[text.index("细读："):])
    assert len(set(readings)) == 14


def test_themes_line_is_the_computed_counts(shared_corpus):
    digest = build_digest(shared_corpus)
    line = parse_html(themes_line(digest))[0]
    first, *rest = shared_themes(shared_corpus.plans)
    expected = f"🔗 共同主题：{first.theme} · {first.plans} 份规划" + "".join(
        f"｜{t.theme} · {t.plans}" for t in rest)
    assert line == expected
    assert "双减 · 4" in line


def test_english_digest_has_english_labels_and_chinese_excerpts(shared_corpus):
    ids = {p.plan_id for p in shared_corpus.plans}
    digest = narrow(build_digest(shared_corpus, place=find_place("无锡"), seen_plan_ids=ids),
                    {"wuxi-2020-review-plan": Featured(T0, 1), "jiangyin-2023-speech": Featured(T0, 1)})
    text = _text(digest, "en")
    for label in ("Education plan digest", "1 in the spotlight", "No new plans since 2024-03-04",
                  "Shared themes: ", "🔦 SPOTLIGHT", "In full: ", "what changed 2020 → 2023", "New: "):
        assert label in text, label
    assert "重点任务" not in text and "聚焦" not in text
    assert "「" in text and "双减" in text  # excerpts stay Chinese


def test_a_plan_that_supersedes_an_older_one_brings_what_changed(shared_corpus):
    """无锡 2023 new to the chat (or in the spotlight) in an all-plans digest: 2020 → 2023 comes with it."""
    from bot.digests.themes import changes_into

    ids = {p.plan_id for p in shared_corpus.plans}
    changes_of = lambda plan: changes_into(plan, shared_corpus)  # noqa: E731
    new = narrow(build_digest(shared_corpus, seen_plan_ids=ids - {"wuxi-2023-conference"}), {}, changes_of)
    assert new.mode == "new" and new.changes.newer.plan_id == "wuxi-2023-conference"
    assert "无锡 2020 → 2023 年的变化" in _text(new)
    spot = narrow(build_digest(shared_corpus, seen_plan_ids=ids), {}, changes_of)
    assert spot.plans[0].plan.plan_id == "wuxi-2023-conference" and spot.changes is not None
    later = {p: Featured(T0, 1) for p in ids - {"suzhou-2023-workpoints"}}
    other = narrow(build_digest(shared_corpus, seen_plan_ids=ids), later, changes_of)
    assert other.plans[0].plan.plan_id == "suzhou-2023-workpoints" and other.changes is None
    assert changes_into(shared_corpus.plan("wuxi-2020-review-plan"), shared_corpus) is None  # the older one
