"""Indexing a plan through jieba's dictionary read by first two characters (bot.search.tokenize.HeadTable)
gives exactly the tokens and lexicon of the full dictionary, and `planbrief add` then never loads the
full dictionary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.corpus.loader import load_corpus
from bot.search.tokenize import HeadTable, IndexTokenizer
from bot.textnorm import normalize

ROOT = Path(__file__).resolve().parents[1]
ODD = ["推进集团化办学和县管校聘，五育并举", "2024年实施“互联网+教育”行动，AI+教育、5G校园。", "abc def 3.5 C++ x_y%",
       "校聘\n县管\r\n和县", "孤\ud800字，后面还有字", "", "。；！", "区县教育局长会议讲话（2023年12月）"]


def test_the_head_table_cuts_every_seed_text_exactly_as_the_full_dictionary(tmp_path):
    path = tmp_path / "heads.sqlite"
    HeadTable.write(path)
    table = HeadTable.open(path)
    assert table is not None
    texts = list(ODD)
    for plan in load_corpus(ROOT / "seeds").plans:
        texts += [p.norm for p in plan.passages]
        texts += [normalize("\n".join(p.section)) for p in plan.passages]
    full, partial = IndexTokenizer(), IndexTokenizer(table)
    for text in texts:
        assert partial.text(text) == full.text(text), text
        assert partial.tokens(text) == full.tokens(text), text
    assert partial.words == full.words and partial.chars == full.chars
    assert 0 < len(table.freq) < 200_000  # the seeds need a fraction of the half-million entries


def test_a_table_of_another_dictionary_or_none_is_not_used(tmp_path):
    assert HeadTable.open(tmp_path / "missing.sqlite") is None
    (tmp_path / "junk.sqlite").write_bytes(b"not a database")
    assert HeadTable.open(tmp_path / "junk.sqlite") is None
    path = tmp_path / "heads.sqlite"
    HeadTable.write(path)
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = 'other' WHERE key = 'fingerprint'")
    assert not HeadTable.current(path)


def test_adding_a_plan_to_a_built_index_loads_neither_jieba_nor_its_dictionary(tmp_path):
    """Fresh processes: the build writes the table; adding one plan then reads it, and imports no jieba."""
    build = ("import sys\n"
             "from pathlib import Path\n"
             "from bot.corpus.loader import load_corpus\n"
             "from bot.search.tantivy_index import HEADS, TantivyIndex\n"
             "d = Path(sys.argv[2])\n"
             "TantivyIndex.open(d).sync(load_corpus(Path(sys.argv[1])).plans[1:])\n"
             "print((d / HEADS).exists())\n")
    add = ("import sys\n"
           "from pathlib import Path\n"
           "from bot.corpus.loader import load_corpus\n"
           "from bot.search.tantivy_index import TantivyIndex\n"
           "plans = load_corpus(Path(sys.argv[1])).plans\n"
           "d = Path(sys.argv[2])\n"
           "TantivyIndex.open(d).add(plans[:1])\n"
           "print('jieba' in sys.modules, TantivyIndex.open(d).searcher.num_docs == sum(len(p.passages) for p in plans))\n")
    out = []
    for probe in (build, add):
        done = subprocess.run([sys.executable, "-c", probe, str(ROOT / "seeds"), str(tmp_path / "index")], cwd=ROOT,
                              capture_output=True, text=True, env={**os.environ}, timeout=300)
        out += done.stdout.split() or [done.stderr[-500:]]
    assert out == ["True", "False", "True"]
