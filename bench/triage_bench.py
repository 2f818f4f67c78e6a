"""Triage precision and recall on the development set of real titles (tests/data/triage/titles.tsv).

    .venv/bin/python -m bench.triage_bench [--by-source] [--batch N] [--history]

Each row is a title with my label (1 = an editor wants it proposed) and where it was found; the bench
runs the same `triage()` that `planbrief sources check` and `sources triage` use, and prints precision,
recall, every false positive and every miss with the words that decided, so a change to the kind words
in bot/corpus/metadata.py is judged on the whole set.

The set grows in batches (a `# batch N ...` line in titles.tsv starts one; rows before the first such
line are batch 1). A batch is labelled before triage sees it, then scored alone (`--batch N`): that
blind figure is what triage is worth on titles it was not tuned on, and history.json keeps it next to
the figure after the rules were changed for the batch. Blind figures are recorded once and never edited.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import defaultdict
from pathlib import Path

from bot.sources.triage import triage

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "triage" / "titles.tsv"
HISTORY = DATA.with_name("history.json")
_BATCH = re.compile(r"#\s*batch\s+(\d+)\b")


def load_batches(path: Path = DATA) -> list[tuple[int, tuple[str, bool, str, str]]]:
    """Every row with the batch it came in (1 until the first `# batch N` line)."""
    rows, batch = [], 1
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            if m := _BATCH.match(line):
                batch = int(m.group(1))
            continue
        if not line.strip():
            continue
        title, label, kind, source = line.split("\t")
        rows.append((batch, (title, label == "1", kind, source)))
    return rows


def load(path: Path = DATA) -> list[tuple[str, bool, str, str]]:
    return [row for _, row in load_batches(path)]


def history(path: Path = HISTORY) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["batches"] if path.exists() else []


def _figure(entry: dict | None) -> str:
    if not entry:
        return "—"
    return f"P {entry['precision']:.3f} R {entry['recall']:.3f} (n={entry['titles']})"


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
    parser.add_argument("--batch", type=int, help="score one batch alone (its blind figure, before tuning)")
    parser.add_argument("--history", action="store_true", help="print every batch's blind and after figures")
    args = parser.parse_args(argv)
    batches = load_batches()
    rows = [row for batch, row in batches if args.batch is None or batch == args.batch]
    if not rows:
        print(f"no rows in batch {args.batch}")
        return 1
    started = time.perf_counter()
    precision, recall, false_pos, misses = scores(rows)
    elapsed = time.perf_counter() - started
    positives = sum(1 for r in rows if r[1])
    print(f"titles: {len(rows)} ({positives} plans, {len(rows) - positives} other)  "
          f"triage time: {elapsed * 1000 / len(rows):.2f} ms/title")
    print(f"precision: {precision:.3f}   recall: {recall:.3f}"
          + (f"   (batch {args.batch} alone)" if args.batch is not None else ""))
    counts = defaultdict(lambda: [0, 0])
    for _, (_, wanted, source_type, _) in [b for b in batches if args.batch is None or b[0] == args.batch]:
        counts[source_type][0 if wanted else 1] += 1
    print("by source type (plans/other): " + ", ".join(
        f"{k} {v[0]}/{v[1]}" for k, v in sorted(counts.items())))
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
    records = history()
    if records:
        print("\nhistory (blind = a batch alone before rules were changed for it; after = whole set after):")
        for rec in records:
            print(f"  batch {rec['batch']}: +{rec['rows']} titles  blind {_figure(rec.get('blind'))}"
                  f"  after {_figure(rec.get('after'))}")
            if args.history:
                for key in ("source", "changes", "missed", "note"):
                    if rec.get(key):
                        print(f"      {key}: {rec[key]}")
        blind = [rec["blind"] for rec in records if rec.get("blind") and "true_pos" in rec["blind"]]
        if blind:
            tp, fp, fn = (sum(b[k] for b in blind) for k in ("true_pos", "false_pos", "missed"))
            print(f"  pooled blind over {len(blind)} batches ({sum(b['titles'] for b in blind)} titles): "
                  f"P {tp / (tp + fp):.3f} R {tp / (tp + fn):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
