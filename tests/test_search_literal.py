"""A phrase that stands in the corpus as typed is searched as typed, never "corrected" to a neighbour.

家校协同育人 is one edit from the policy term 家校社协同育人; a plan that says 家校协同育人 must still be
found by it. The plan is added here through `add`, as a user would.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.cli import main
from bot.corpus.loader import load_corpus
from bot.search.engine import SearchEngine

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

PLAN = """扬州市教育局2024年工作要点
发布日期：2024-03-01
2024年，全市教育系统坚持以人民为中心发展教育，聚焦质量与公平两条主线，加快建设高质量教育体系，努力办好人民满意的教育。
一、坚持立德树人
1. 推进家校协同育人。办好家长学校，建设家庭教育指导中心，开展家庭教育公益讲座一百场，让学校和家庭形成育人合力。
2. 深化思政课改革创新。推进大中小学思政课一体化建设，打造一批思政课示范课堂。
二、促进教育公平
3. 扩大优质学位供给。新建改扩建中小学幼儿园二十所，新增学位一万五千个。
"""


def test_verbatim_phrase_is_not_corrected(tmp_path, capsys):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    plan = tmp_path / "yangzhou.txt"
    plan.write_text(PLAN, encoding="utf-8")
    assert main(["--seeds", str(seeds), "add", str(plan)]) == 0
    capsys.readouterr()
    engine = SearchEngine.from_corpus(load_corpus(seeds))
    literal = engine.search("家校协同育人")
    assert literal.corrected is None
    assert any("家校协同育人" in hit.passage.text for hit in literal.hits[:10])
    # the policy term itself is still found where the seeds say it
    policy = engine.search("家校社协同育人")
    assert any("家校社协同育人" in hit.passage.text for hit in policy.hits[:3])
