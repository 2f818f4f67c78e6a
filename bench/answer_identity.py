"""Every answer of a query list, in one file: `python -m bench.answer_identity OUT [--index DIR]`.

Why: ranking is made cheaper by reading less (fewer candidates, fewer documents, a bound that stops
the re-rank early), and each such change must leave every answer as it was. This writes the full
`--json` answer of each query (the scale bench's and the search bench's queries plus every judged
relevance query) in five shapes (plain, a city, a year, page two, fifty hits), one JSON line each,
so `diff` of two runs proves the answers identical — on the seeds (default), or on a built index of
a synthetic national corpus (`--index DIR`: a tantivy-vN folder, e.g. one scale_bench --keep made),
where passages tie by the thousand and the cut-down reads are most exercised.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

VARIANTS = ({}, {"city": "无锡"}, {"year": 2023}, {"limit": 5, "offset": 5}, {"limit": 50})


def queries() -> list[str]:
    from bench.relevance import JUDGMENTS, load_judgments
    from bench.scale_bench import QUERIES as SCALE
    from bench.search_bench import QUERIES as SEARCH

    judged = [j.query for path in sorted(JUDGMENTS.glob("*.json")) for j in load_judgments(path)[1]]
    extra = ["师德师风", "集团化办学", "推进集团化办学和县管校聘", "教师队伍建设", "课后服务", "量子计算"]
    return list(dict.fromkeys([*SCALE, *SEARCH, *judged, *extra]))


def engine_for(index: str | None, scratch: str):
    """The engine over a built index folder, or over the seeds indexed afresh in `scratch`."""
    from bot.search.engine import SearchEngine

    if index:
        from bot.search.tantivy_index import TantivyIndex

        return SearchEngine(TantivyIndex.open(Path(index)))
    from bot.corpus.loader import load_corpus

    root = Path(__file__).resolve().parent.parent
    return SearchEngine.from_corpus(load_corpus(root / "seeds"), scratch)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--index", help="a built tantivy index folder (default: the seeds, indexed afresh)")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="identity-") as scratch:
        lines = answers(engine_for(a.index, scratch))
    Path(a.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(queries())} queries × {len(VARIANTS)} shapes → {a.out}")
    return 0


def answers(engine) -> list[str]:
    lines = []
    for query in queries():
        for kwargs in VARIANTS:
            answer = engine.search(query, **kwargs).as_json()
            lines.append(json.dumps({"q": query, "args": kwargs, "answer": answer}, ensure_ascii=False,
                                    sort_keys=True))
        lines.append(json.dumps({"q": query, "plans_matching": sorted(engine.plans_matching(query))},
                                ensure_ascii=False))
    return lines


if __name__ == "__main__":
    sys.exit(main())
