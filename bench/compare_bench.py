"""One topic across every place: `python -m bench.compare_bench SEEDS DATA [--runs 3] [--check]`.

Why: `/compare 双减` with no place named asks every plan of the corpus for its own best passage. At
national scale (×10,000 the seeds, 50,000 plans) a search per plan took ~40 s; SearchEngine.plan_bests
answers the same in a few queries over batches of plans. This times `compare` across all places, in
one process on a built data folder (a `bench.scale_bench --keep` folder's xN/seeds and xN/data), each
query `--runs` times (median), after one untimed warm-up. `--check` also runs the comparison as first
written (a search per plan, the best of each place's plans) once per query and fails unless both give
the same places, plans, passages, scores and excerpts: the figure is only worth quoting if it is.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

QUERIES = ["双减", "师德师风", "课后延时服务", "shuangjian", "县管校聘", "教育", "不存在的词语"]


def by_definition(engine, corpus, query: str, places=None) -> list[tuple]:
    """The comparison as first written, a search per plan: each place's plans searched alone, the best
    one kept; (place, plan id, hit) best first. tests/test_plan_bests.py holds `compare` to it too."""
    from bot.digests.compare import _rows

    rows = []
    for name, plans in _rows(corpus, places):
        best = None
        for plan in plans:
            hits = engine.search(query, plan_id=plan.plan_id, limit=1).hits
            if hits and (best is None or hits[0].score > best[0].score):
                best = (hits[0], plan.plan_id)
        if best:
            rows.append((name, best[1], best[0]))
    return sorted(rows, key=lambda r: -r[2].score)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seeds")
    ap.add_argument("data")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--check", action="store_true", help="compare with a search per plan (slow)")
    ap.add_argument("--queries", nargs="*", default=QUERIES)
    args = ap.parse_args(argv)
    os.environ["PLANBRIEF_SEEDS"], os.environ["PLANBRIEF_DATA_DIR"] = args.seeds, args.data
    from bot import cli
    from bot.digests.compare import compare

    corpus = cli._load(None)
    engine = cli._engine(corpus)
    out = {"plans": len(corpus.plans), "queries": {}}
    failed = False
    for query in args.queries:
        compare(engine, corpus, query)  # warm: the query plan, the place of each plan
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            got = compare(engine, corpus, query)
            times.append(time.perf_counter() - t)
        row = {"median_s": round(statistics.median(times), 3), "runs_s": [round(t, 3) for t in times],
               "places": len(got.places), "plans_matched": len(got.plan_ids)}
        if args.check:
            t = time.perf_counter()
            want = by_definition(engine, corpus, query)
            row["per_plan_s"] = round(time.perf_counter() - t, 3)
            row["same"] = [(p.place, p.meta.plan_id, p.hit) for p in got.places] == want
            failed |= not row["same"]
        out["queries"][query] = row
        print(query, json.dumps(row, ensure_ascii=False), file=sys.stderr)
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
