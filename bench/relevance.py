"""Relevance of `/topic` answers against judged passages: `python -m bench.relevance [--by-query]`.

Why: ranking changes (segmentation, weights, a new engine) must be shown to help readers, not only to
run faster. Each judgment file in tests/data/relevance/ names its corpus ("seeds" for the project's seed
plans, or a seeds-style folder relative to the repository, e.g. "tests/data/real") and lists concepts,
each with graded passages (2 about it, 1 mentions it) and the queries a reader would type for it
(Chinese, traditional, pinyin, typos, English). Add a file to add judged queries over another corpus;
a file whose corpus folder is absent is skipped with a note.

Prints nDCG@10 (gain 2^grade - 1) and recall@10 per query kind and overall; `--json FILE` saves the
figures so a before/after pair can be compared.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JUDGMENTS = ROOT / "tests" / "data" / "relevance"
K = 10


@dataclass(frozen=True)
class Judged:
    """One query with the graded passages a reader wants for it."""

    query: str
    kind: str
    concept: str
    relevant: dict[str, int]


@dataclass(frozen=True)
class Score:
    query: Judged
    ndcg: float
    recall: float
    ranked: tuple[str, ...]


def load_judgments(path: Path) -> tuple[str, list[Judged]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    judged = [Judged(q["q"], q["kind"], c["concept"], dict(c["relevant"]))
              for c in data["concepts"] for q in c["queries"]]
    return data.get("corpus", "seeds"), judged


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int = K) -> float:
    dcg = sum((2 ** relevant.get(pid, 0) - 1) / math.log2(i + 2) for i, pid in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], relevant: dict[str, int], k: int = K) -> float:
    found = sum(1 for pid in ranked[:k] if relevant.get(pid, 0) > 0)
    return found / len(relevant) if relevant else 0.0


def score_file(path: Path) -> list[Score] | None:
    from bot.corpus.loader import load_corpus
    from bot.search.engine import SearchEngine

    corpus_name, judged = load_judgments(path)
    seeds = None if corpus_name == "seeds" else ROOT / corpus_name
    if seeds is not None and not (seeds / "manifest.json").exists():
        print(f"skip {path.name}: corpus {corpus_name} not present", file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory() as cache:
        engine = SearchEngine.from_corpus(load_corpus(seeds), cache)
        scores = []
        for j in judged:
            ranked = [h.passage.id for h in engine.search(j.query, limit=K).hits]
            scores.append(Score(j, ndcg_at(ranked, j.relevant), recall_at(ranked, j.relevant), tuple(ranked)))
    return scores


def summary(scores: list[Score]) -> dict:
    groups: dict[str, list[Score]] = defaultdict(list)
    for s in scores:
        groups[s.query.kind].append(s)
    groups["ALL"] = list(scores)
    return {kind: {"n": len(ss), "ndcg@10": sum(s.ndcg for s in ss) / len(ss),
                   "recall@10": sum(s.recall for s in ss) / len(ss)} for kind, ss in groups.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--by-query", action="store_true", help="print every query's figures")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    report = {}
    for path in sorted(JUDGMENTS.glob("*.json")):
        scores = score_file(path)
        if scores is None:
            continue
        table = summary(scores)
        report[path.stem] = {"summary": table,
                             "queries": {s.query.query: [round(s.ndcg, 4), round(s.recall, 4)] for s in scores}}
        print(f"{path.stem}: {len(scores)} judged queries")
        print(f"  {'kind':<12} {'n':>3} {'nDCG@10':>8} {'recall@10':>9}")
        for kind in sorted(table, key=lambda k: (k == "ALL", k)):
            row = table[kind]
            print(f"  {kind:<12} {row['n']:>3} {row['ndcg@10']:>8.3f} {row['recall@10']:>9.3f}")
        if args.by_query:
            for s in scores:
                print(f"    {s.ndcg:5.3f} {s.recall:5.3f}  [{s.query.kind}] {s.query.query}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
