"""Where a full answer's time goes, beside bare tantivy's: `python -m bench.answer_parts WORK`.

Why: issue 20 asks the full answer to cost at most 2× (p50) and 1.5× (p99) bare tantivy's top 10 with
its ten stored texts. The scale bench gives the ratio; this splits it, per query of its list, into CPU
medians (process time, so a shared machine's waits stay out) of nested steps of one answer:

- `bare`: the peer (`bench.scale_bench.bare_page`); `b10` / `b200`: the peer's top 10 / 200 alone;
- `o10` / `o200`: PlanBrief's own query (same weighted terms, the plan filter off) top 10 / 200 alone —
  the answer needs the best SCAN (200): the relative cutoff and the `total` of the `--json` contract
  are computed over them;
- `top`: o200 plus turning hits into candidates (cutoff, part scores, ties, `ord`/`orient` fast fields);
- `rank`: top plus orientation and the phrase bonus (documents read best-first);
- `full`: `engine.search`: rank plus planning (cached), the page's passages, snippets, marks, glossary.

WORK is a folder `bench.scale_bench --keep` built (the `xN` inside it: data/search/tantivy-vN and
tantivy-bare). Read-only on both indexes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

COLUMNS = ("full", "bare", "b10", "b200", "o10", "o200", "top", "rank")


def cpu_ms(call, runs: int) -> float:
    for _ in range(2):
        call()
    samples = []
    for _ in range(runs):
        start = time.process_time()
        call()
        samples.append((time.process_time() - start) * 1000)
    return statistics.median(samples)


def main(argv=None) -> int:
    from bench.scale_bench import QUERIES, _tantivy_open, _tantivy_queries, bare_page
    from bench.search_bench import planned_terms
    from bot.search.engine import _CUTOFF, _PART, PART_WEIGHT, SearchEngine
    from bot.search.tantivy_index import FORMAT, TantivyIndex
    from bot.textnorm import normalize

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("work", help="an xN folder of a kept scale bench (holds data/ and tantivy-bare/)")
    ap.add_argument("--runs", type=int, default=21, help="samples per figure (median)")
    a = ap.parse_args(argv)
    work = Path(a.work)
    engine = SearchEngine(TantivyIndex.open(work / "data" / "search" / f"tantivy-v{FORMAT}"))
    index = engine.index
    terms = {q: planned_terms(engine, q) for q in QUERIES}
    same = [q for q in QUERIES if terms[q]]
    schema, bare_index = _tantivy_open(str(work / "tantivy-bare"))
    bare = bare_index.searcher()
    bare_queries = dict(zip(same, _tantivy_queries(schema, {q: terms[q] for q in same}), strict=True))

    def plan_of(query: str):
        norm = normalize(query)
        english = engine._english(norm)
        parts = [p for zh in english.terms for p in _PART.findall(zh)] + list(english.rest) if english \
            else _PART.findall(norm)
        return engine._plan(engine._join_pinyin(parts), report_unknown=not english)

    table: dict[str, list[float]] = {c: [] for c in COLUMNS}
    print(f"{index.n_docs} passages; CPU ms, median of {a.runs}\n")
    print("| query | " + " | ".join(COLUMNS) + " | full/bare |")
    print("| --- | " + " | ".join("---:" for _ in COLUMNS) + " | ---: |")
    for q in same:
        plan = plan_of(q)
        ours = index._query(list(plan.terms), None)
        parts = [(t, w) for t, w in plan.terms if w == PART_WEIGHT]
        rest = [(t, w) for t, w in plan.terms if w != PART_WEIGHT]
        row = {
            "full": cpu_ms(lambda q=q: engine.search(q), a.runs),
            "bare": cpu_ms(lambda q=q: bare_page(bare, bare_queries[q]), a.runs),
            "b10": cpu_ms(lambda q=q: bare.search(bare_queries[q], limit=10, count=False), a.runs),
            "b200": cpu_ms(lambda q=q: bare.search(bare_queries[q], limit=200, count=False), a.runs),
            "o10": cpu_ms(lambda ours=ours: index.searcher.search(ours, limit=10, count=False), a.runs),
            "o200": cpu_ms(lambda ours=ours: index.searcher.search(ours, limit=200, count=False), a.runs),
            "top": cpu_ms(lambda parts=parts, rest=rest: index.top(parts, rest, None, _CUTOFF, 40), a.runs),
            "rank": cpu_ms(lambda plan=plan: engine._rank(plan.terms, plan.phrases, None, 10, plan.absent), a.runs),
        }
        for c in COLUMNS:
            table[c].append(row[c])
        print(f"| {q} | " + " | ".join(f"{row[c]:.2f}" for c in COLUMNS) + f" | {row['full'] / row['bare']:.1f} |")
    for name, pick in (("p50 over queries", statistics.median), ("max over queries", max)):
        cells = {c: pick(table[c]) for c in COLUMNS}
        print(f"| {name} | " + " | ".join(f"{cells[c]:.2f}" for c in COLUMNS)
              + f" | {cells['full'] / cells['bare']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
