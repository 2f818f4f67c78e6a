"""One topic across places (/compare, inline 对比, `planbrief compare`) and what changed across years
(/city, `planbrief changes`), on the real Application and the fake Bot API."""

from __future__ import annotations

import json

from bot.cli import main
from bot.digests.compare import compare
from bot.search.places import plan_place, resolve_place
from bot.search.tokenize import synonym_groups
from bot.telegram.render_compare import compare_data, parse_compare
from tests import test_bot_e2e as e2e
from tests.test_bot_e2e import new_id, say

# The same module-scoped bot on the fake server, and its "no errors, no rejected calls" check.
api, app, no_errors = e2e.api, e2e.app, e2e.no_errors

SHUANGJIAN = next(g for g in synonym_groups() if "双减" in g)


def _run(capsys, *argv) -> tuple[int, dict | None, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


# ----------------------------------------------------------------------------------- core and CLI


def test_cli_compare_gives_one_entry_per_covered_place(capsys, shared_corpus):
    code, data, _ = _run(capsys, "compare", "双减", "--json")
    assert code == 0 and data["query"] == "双减" and data["corrected"] is None
    places = [row["place"] for row in data["places"]]
    covered = {plan_place(p).short for p in shared_corpus.plans}
    assert sorted(places) == sorted(covered)  # each place once; each seed place states 双减 somewhere
    scores = [row["score"] for row in data["places"]]
    assert scores == sorted(scores, reverse=True)
    for row in data["places"]:
        assert {"place", "plan_id", "year", "passage_id", "section", "excerpt", "score"} <= set(row)
        assert any(word in row["excerpt"] for word in SHUANGJIAN), row
        passage = shared_corpus.passage(row["passage_id"])
        assert passage.plan_id == row["plan_id"] and list(passage.section) == row["section"]


def test_cli_compare_named_places_typos_and_errors(capsys):
    code, data, _ = _run(capsys, "compare", "双剑", "--city", "无锡", "--city", "suzhou", "--json")
    assert code == 0 and data["corrected"] == "双减"
    assert {row["place"] for row in data["places"]} == {"无锡", "苏州"}
    code, data, err = _run(capsys, "compare", "双减", "--city", "火星", "--json")
    assert code == 3 and data is None and "火星" in err and "无锡" in err
    code, data, _ = _run(capsys, "compare", "  ", "--json")
    assert code == 0 and data["places"] == [] and data["error"] == "empty" and data["suggestions"]


def test_compare_keeps_the_best_plan_of_a_place(shared_corpus, shared_engine):
    wuxi = resolve_place("无锡", shared_corpus).place
    (row,) = compare(shared_engine, shared_corpus, "双减", [wuxi]).places
    best = max((shared_engine.search("双减", plan_id=pid, limit=1).hits[0].score, pid)
               for pid in ("wuxi-2023-conference", "jiangyin-2023-speech"))
    assert (row.hit.score, row.meta.plan_id) == best


def test_a_county_named_beside_its_city_answers_for_itself(shared_corpus, shared_engine):
    wuxi, jiangyin = (resolve_place(n, shared_corpus).place for n in ("无锡", "江阴"))
    rows = {r.place: r for r in compare(shared_engine, shared_corpus, "双减", [wuxi, jiangyin]).places}
    assert rows["江阴"].meta.plan_id == "jiangyin-2023-speech"
    assert rows["无锡"].meta.plan_id in ("wuxi-2023-conference", "wuxi-2020-review-plan")
    assert rows["无锡"].hit.passage.id != rows["江阴"].hit.passage.id


def test_cli_changes_wuxi(capsys, shared_corpus):
    code, data, _ = _run(capsys, "changes", "无锡", "--json")
    assert code == 0 and data["place"] == "无锡"
    assert data["from"].items() >= {"plan_id": "wuxi-2020-review-plan", "year": 2020, "city": "无锡市"}.items()
    assert data["to"]["plan_id"] == "wuxi-2023-conference" and data["to"]["year"] == 2023
    assert data["added"] and data["dropped"]
    for key, plan_id in (("added", "wuxi-2023-conference"), ("dropped", "wuxi-2020-review-plan")):
        for change in data[key]:
            passage = shared_corpus.passage(change["passage_id"])
            assert passage.plan_id == plan_id and passage.orientation == "forward"
            assert set(change) >= {"theme", "passage_id", "excerpt"}
    older = shared_corpus.plan("wuxi-2020-review-plan")
    for change in data["added"]:  # stated by 2023, in none of 2020's forward-looking passages
        assert not any(change["theme"] in p.norm for p in older.passages if p.orientation == "forward")
    code, _, err = _run(capsys, "changes", "苏州", "--json")
    assert code == 3 and "苏州" in err


def test_compare_callback_data_round_trips_and_rejects_forgeries():
    assert parse_compare(compare_data("双减", "无锡 苏州", 5)).places == "无锡 苏州"
    long = compare_data("推进" * 30, "无锡", 0)
    assert long.startswith("k2|") and parse_compare(long).key
    for forged in ("k1|x||双减", "k1|5000||双减", "k2|0|xyz", "k1|0|无锡", "k3|0||a", "", None):
        assert parse_compare(forged) is None


# ---------------------------------------------------------------------------------------- the bot


def test_compare_command_pages_and_shares(api, app):
    chat = new_id()
    (msg,) = say(api, "/compare 双减", chat_id=chat)
    assert "对比「双减」" in msg.text and "4 个地方" in msg.text
    for place in ("随州", "江阴", "无锡", "苏州"):
        assert f". {place}" in msg.text
    assert msg.text.count("— ") == 4
    share = [b for b in msg.buttons if "switch_inline_query" in b]
    assert share and share[0]["switch_inline_query"] == "对比 双减"
    bold = [msg.text[e["offset"]:e["offset"] + e["length"]] for e in msg.entities if e["type"] == "bold"]
    assert "双减" in bold


def test_compare_named_places_paging_and_english(api, app, monkeypatch):
    from bot.telegram import render_compare

    chat = new_id()
    (msg,) = say(api, "/compare 双减 苏州 无锡 随州 江阴 苏州", chat_id=chat)
    assert "4 个地方" in msg.text and not any(b.get("callback_data", "").startswith("k") for b in msg.buttons)
    monkeypatch.setattr(render_compare, "PAGE_SIZE", 2)  # four seed places: pages of two to see paging
    (msg,) = say(api, "/compare 双减 苏州 无锡 随州", chat_id=chat)
    assert "第 1–2 个" in msg.text
    nxt = next(b["callback_data"] for b in msg.buttons if b["text"].startswith("下一页"))
    api.callback(chat, chat, msg.message_id, nxt)
    api.wait_for(lambda s: "第 3–3 个" in s.message(chat, msg.message_id).text, what="page 2")
    (msg,) = say(api, "/compare 双减 无锡", lang="en")
    assert "Compare “双减”" in msg.text and "places 1–1 of 1" in msg.text and "Share" in str(msg.buttons)


def test_compare_bad_input_is_answered_briefly(api, app):
    (msg,) = say(api, "/compare")
    assert "/compare 双减" in msg.text
    (msg,) = say(api, "/compare 双减 无锡 火星基地")
    assert "火星基地" in msg.text and "已收录" in msg.text
    (msg,) = say(api, "/compare <b>x</b>&")
    assert "<b>x</b>&" in msg.text
    (msg,) = say(api, "/compare", lang="en")
    assert "Add a topic" in msg.text


def test_inline_compare_posts_one_comparison(api, app):
    update = api.inline_query(new_id(), "对比 双减")
    answer = api.wait_for(lambda s: s.inline_answers(update["inline_query"]["id"]), what="inline")[0]
    (result,) = answer.results
    assert result["title"] == "对比：双减" and "4 个地方" in result["description"]
    text = result["input_message_content"]["message_text"]
    assert text.count("— ") == 4 and "<b>双减</b>" in text


def test_city_card_says_what_changed_across_years(api, app):
    chat = new_id()
    messages = say(api, "/city 无锡", chat_id=chat)
    text = "\n".join(m.text for m in messages)
    assert "无锡 2020 → 2023 年的变化" in text and "新增：" in text and "不再提及：" in text
    assert "＋ " in text and "— 无锡 · " in text
    assert any(b.get("switch_inline_query") == "无锡" for b in messages[-1].buttons)
    (msg,) = say(api, "/city 苏州")
    assert "的变化" not in msg.text  # one year only: nothing to compare
    text = "\n".join(m.text for m in say(api, "/city 无锡", lang="en"))
    assert "what changed 2020 → 2023" in text and "No longer mentioned" in text
