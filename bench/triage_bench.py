"""Triage precision and recall on the development set of real titles (tests/data/triage/titles.tsv).

    .venv/bin/python -m bench.triage_bench [--by-source] [--misses]

Each row is a title with my label (1 = an editor wants it proposed) and where it was found; the bench
runs the same `triage()` that `planbrief sources check` and `sources triage` use, and prints precision,
recall, every false positive and every miss with the words that decided, so a change to the kind words
in bot/corpus/metadata.py is judged on the whole set.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

from bot.sources.triage import triage

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "triage" / "titles.tsv"


def load(path: Path = DATA) -> list[tuple[str, bool, str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        title, label, kind, source = line.split("\t")
        rows.append((title, label == "1", kind, source))
    return rows


def scores(rows) -> tuple[float, float, list, list]:
    tp = fp = fn = 0
    false_pos, misses = [], []
    for title, wanted, kind, _ in rows:
        verdict = triage(title)
        if verdict.candidate and wanted:
            tp += 1
        elif verdict.candidate:
            fp += 1
            false_pos.append((title, kind, verdict))
        elif wanted:
            fn += 1
            misses.append((title, kind, verdict))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, false_pos, misses


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--by-source", action="store_true", help="precision/recall per source type")
    args = parser.parse_args(argv)
    rows = load()
    started = time.perf_counter()
    precision, recall, false_pos, misses = scores(rows)
    elapsed = time.perf_counter() - started
    positives = sum(1 for r in rows if r[1])
    print(f"titles: {len(rows)} ({positives} plans, {len(rows) - positives} other)  "
          f"triage time: {elapsed * 1000 / len(rows):.2f} ms/title")
    print(f"precision: {precision:.3f}   recall: {recall:.3f}")
    if args.by_source:
        groups = defaultdict(list)
        for row in rows:
            groups[row[2]].append(row)
        for kind, group in sorted(groups.items()):
            p, r, _, _ = scores(group)
            print(f"  {kind:<7} n={len(group):<4} precision {p:.3f}  recall {r:.3f}")
    for label, found in (("false positives", false_pos), ("missed", misses)):
        print(f"\n{label} ({len(found)}):")
        for title, kind, verdict in found:
            print(f"  [{kind}] {title}  — why: {'、'.join(verdict.why) or '(no plan word)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
