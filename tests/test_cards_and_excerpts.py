"""Issue 16, cards and excerpts: the plan card is one list (split only at Telegram's limit), hits that
share a citation are merged, each excerpt says 〔计划〕 or 〔回顾〕, a place has one display name, and an
English answer explains each glossary term once, not under every excerpt."""

from __future__ import annotations

from bot.telegram.render import MAX_MESSAGE, citation, plan_answer, topic_answer, utf16_len
from tests.support.botapi import parse_html


def _plain(reply) -> str:
    return parse_html(reply.text)[0]


def test_plan_card_is_one_list_without_blank_lines_every_twelve(shared_corpus):
    for plan in shared_corpus.plans:
        answer = plan_answer(plan, "zh")
        text = "\n".join(parse_html(r.text)[0] for r in answer.messages)
        assert all(utf16_len(r.text) <= MAX_MESSAGE for r in answer.messages)
        listing = text[text.index("重点任务"):]
        listing = listing[:listing.index("\n\n")] if "\n\n" in listing else listing
        n_items = sum(len(p.items[:8]) + 1 for p in plan.priorities)
        assert len(listing.splitlines()) == n_items + 1, plan.plan_id  # the heading, then every line, no gap


def test_hits_sharing_a_citation_are_merged_and_tagged(shared_engine):
    result = shared_engine.search("双减", limit=5)
    cites = [citation(result.plans[h.passage.plan_id], h.passage.section) for h in result.hits]
    assert any(a == b for a, b in zip(cites, cites[1:], strict=False))  # the case the merge is for
    text = _plain(topic_answer(result, "zh", query="双减"))
    shown = [line for line in text.splitlines() if line.startswith("— ")]
    assert all(a != b for a, b in zip(shown, shown[1:], strict=False))
    assert "2–3." in text or "1–2." in text or "3–4." in text or "4–5." in text
    tags = text.count("〔计划〕") + text.count("〔回顾〕")
    neutral = sum(h.passage.orientation == "neutral" for h in result.hits)
    assert tags == len(result.hits) - neutral and tags > 0


def test_at_equal_relevance_the_plan_ranks_above_the_review_and_both_are_tagged(tmp_path):
    from bot.models import Passage, PlanMeta
    from bot.search.engine import SearchEngine
    from bot.textnorm import normalize

    meta = PlanMeta("p", "无锡", "江苏省", None, "city", 2023, "工作要点", "测试", "", "2023", "", "t.txt")
    text = "深入推进县管校聘管理改革，统筹教师编制。"
    passages = [Passage(f"p:{i}", "p", (head,), text, normalize(text), orient, f"n{i}")
                for i, (head, orient) in enumerate([("一、2022年工作回顾", "backward"),
                                                    ("二、2023年工作任务", "forward")])]
    engine = SearchEngine.from_passages(passages, [meta], "", tmp_path)
    result = engine.search("县管校聘")
    assert [h.passage.orientation for h in result.hits] == ["forward", "backward"]
    text = _plain(topic_answer(result, "zh", query="县管校聘"))
    assert text.index("〔计划〕") < text.index("〔回顾〕")


def test_one_display_name_per_place(shared_corpus, shared_engine):
    result = shared_engine.search("县管校聘", limit=10)
    text = _plain(topic_answer(result, "zh", query="县管校聘"))
    for line in text.splitlines():
        if line.startswith("— "):
            assert not line.startswith("— 无锡市") and not line.startswith("— 江阴市"), line
    card = "\n".join(parse_html(r.text)[0] for r in plan_answer(shared_corpus.plan("wuxi-2020-review-plan"),
                                                                    "zh").messages)
    assert "\n无锡（" in card


def test_english_glossary_is_shown_once_per_answer(shared_engine):
    result = shared_engine.search("double reduction", limit=5)
    text = _plain(topic_answer(result, "en", query="double reduction"))
    assert text.count("Terms:") == 1 and text.count("双减 = ") == 1
