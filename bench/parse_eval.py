"""How well the plan reader reads real documents it was not written against (tests/data/real/).

Run: .venv/bin/python -m bench.parse_eval [--dir tests/data/real] [--verbose] [--batch N] [--history]
Prints headline-priority recall and precision, metadata accuracy (city, year, kind, title), furniture
lines left in passages and review items shown as priorities, over the development set's hand-written gold
(gold.json beside the texts). tests/test_real_documents.py pins the floors, so a later change to the
reader cannot quietly lower them.

A detected priority matches a gold phrase when one contains the other after normalisation (simplified,
half-width, no punctuation or spaces): gold phrases are the words that name the priority, while the
reader's heading may carry the rest of its clause.

The set grows in batches (gold entries carry "batch": N; the original set is batch 0). Each batch's gold is
written before the reader first runs on it, and that first score is recorded as the batch's blind score
(`--record blind --batch N`), then the score after rule changes (`--record after --batch N`). history.json
beside the gold keeps both; a blind score, once written, is never overwritten (the honest estimate of
what a user gets on text the rules were not written against). `--history` prints them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.corpus.clean import strip_ruby
from bot.corpus.loader import build_plan
from bot.corpus.metadata import detect
from bot.textnorm import normalize

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "real"
META_FIELDS = ("city", "year", "kind", "title")
_NOT_WORD = re.compile(r"[\W_]+")


def squash(text: str) -> str:
    """The comparison form: normalised, ruby-free, letters and digits only; 著 and 着 as one (OpenCC
    leaves a traditional text's 著力 as it is, the gold is written 着力)."""
    return _NOT_WORD.sub("", normalize(strip_ruby(text))).replace("著", "着")


def matches(found: str, phrase: str) -> bool:
    a, b = squash(found), squash(phrase)
    return bool(a and b) and (b in a or (len(a) >= 4 and a in b))


@dataclass
class DocResult:
    """One document's score against its gold; `misses` and `extras` say what to look at."""

    file: str
    gold_priorities: int
    found_priorities: int
    hits: int
    correct_found: int
    meta_right: dict[str, bool]
    furniture_left: list[str] = field(default_factory=list)
    review_shown: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    detected: dict = field(default_factory=dict)


@dataclass
class Report:
    docs: list[DocResult]

    @property
    def recall(self) -> float:
        gold = sum(d.gold_priorities for d in self.docs)
        return sum(d.hits for d in self.docs) / gold if gold else 1.0

    @property
    def precision(self) -> float:
        found = sum(d.found_priorities for d in self.docs)
        return sum(d.correct_found for d in self.docs) / found if found else 1.0

    def meta_accuracy(self, name: str | None = None) -> float:
        names = (name,) if name else META_FIELDS
        marks = [d.meta_right[n] for d in self.docs for n in names if n in d.meta_right]
        return sum(marks) / len(marks) if marks else 1.0

    @property
    def furniture_left(self) -> int:
        return sum(len(d.furniture_left) for d in self.docs)

    @property
    def review_shown(self) -> int:
        return sum(len(d.review_shown) for d in self.docs)


def entry_for(gold: dict, found) -> dict:
    """A manifest entry as `add` would write it, with what the reader detected (placeholders where not)."""
    return {
        "plan_id": Path(gold["file"]).stem,
        "file": gold["file"],
        "city": found.city or "未知",
        "year": found.year or 0,
        "kind": found.kind,
        "title": found.title or "",
    }


def score(gold: dict, raw: str) -> DocResult:
    found = detect(raw)
    plan = build_plan(entry_for(gold, found), raw)
    headings = [p.title for p in plan.priorities]
    remaining = list(gold["priorities"])
    hits = 0
    for heading in headings:
        hit = next((g for g in remaining if matches(heading, g)), None)
        if hit is not None:
            remaining.remove(hit)
            hits += 1
    accepted = gold["priorities"] + gold.get("also_ok", [])
    correct = [h for h in headings if any(matches(h, g) for g in accepted)]
    meta = {}
    for name in META_FIELDS:
        want = gold.get(name)
        got = getattr(found, name)
        if name == "title" and want is None:
            continue  # the text has no headline: nothing to compare
        if name == "title":
            meta[name] = got is not None and squash(got) == squash(want)
        else:
            meta[name] = got == want
    shown = [p.text for p in plan.passages] + headings + [found.title or ""]
    left = [f for f in gold.get("furniture", []) if any(squash(f) in squash(s) for s in shown)]
    review = [r for r in gold.get("review", []) if any(matches(h, r) for h in headings)]
    return DocResult(
        file=gold["file"],
        gold_priorities=len(gold["priorities"]),
        found_priorities=len(headings),
        hits=hits,
        correct_found=len(correct),
        meta_right=meta,
        furniture_left=left,
        review_shown=review,
        misses=remaining,
        extras=[h for h in headings if h not in correct],
        detected={"city": found.city, "year": found.year, "kind": found.kind, "title": found.title},
    )


def evaluate(directory: Path = DEFAULT_DIR, batch: int | None = None) -> Report:
    gold = json.loads((directory / "gold.json").read_text(encoding="utf-8"))
    docs = []
    for item in gold["documents"]:
        if batch is not None and item.get("batch", 0) != batch:
            continue
        raw = (directory / item["file"]).read_text(encoding="utf-8")
        docs.append(score(item, raw))
    return Report(docs)


def summary(report: Report) -> dict:
    return {
        "documents": len(report.docs),
        "recall": round(report.recall, 3),
        "precision": round(report.precision, 3),
        "metadata": round(report.meta_accuracy(), 3),
        **{n: round(report.meta_accuracy(n), 3) for n in META_FIELDS},
    }


def read_history(directory: Path = DEFAULT_DIR) -> dict:
    path = directory / "history.json"
    if not path.exists():
        return {"batches": []}
    return json.loads(path.read_text(encoding="utf-8"))


def record(directory: Path, batch: int, phase: str, note: str = "") -> dict:
    """Write a batch's blind or after score; a blind score already written is never replaced."""
    history = read_history(directory)
    entry = next((b for b in history["batches"] if b["batch"] == batch), None)
    if entry is None:
        entry = {"batch": batch}
        history["batches"].append(entry)
        history["batches"].sort(key=lambda b: b["batch"])
    if phase == "blind" and "blind" in entry:
        raise SystemExit(f"batch {batch} already has a blind score; it is never rewritten")
    entry[phase] = {**summary(evaluate(directory, batch)), "date": datetime.date.today().isoformat()}
    if note:
        entry[f"{phase}_note"] = note
    (directory / "history.json").write_text(json.dumps(history, ensure_ascii=False, indent=1) + "\n",
                                            encoding="utf-8")
    return entry


def print_history(directory: Path = DEFAULT_DIR) -> None:
    history = read_history(directory)
    print("batch  docs  blind P / R / meta        after P / R / meta        now P / R / meta")
    for entry in history["batches"]:
        now = summary(evaluate(directory, entry["batch"]))
        cells = []
        for phase in ("blind", "after"):
            s = entry.get(phase)
            cells.append(f"{s['precision']:.3f} / {s['recall']:.3f} / {s['metadata']:.3f}" if s else "—".ljust(21))
        cells.append(f"{now['precision']:.3f} / {now['recall']:.3f} / {now['metadata']:.3f}")
        print(f"{entry['batch']:>5}  {now['documents']:>4}  " + "     ".join(cells))
        for phase in ("blind", "after"):
            if entry.get(f"{phase}_note"):
                print(f"       {phase}: {entry[phase + '_note']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--verbose", action="store_true", help="list each document's misses and extras")
    parser.add_argument("--batch", type=int, help="score only this batch of the development set")
    parser.add_argument("--history", action="store_true", help="print each batch's blind and after scores")
    parser.add_argument("--record", choices=("blind", "after"), help="write the batch's score to history.json")
    parser.add_argument("--note", default="", help="with --record: what changed")
    args = parser.parse_args()
    if args.history:
        print_history(args.dir)
        return
    if args.record:
        if args.batch is None:
            raise SystemExit("--record needs --batch N")
        print(json.dumps(record(args.dir, args.batch, args.record, args.note), ensure_ascii=False))
        return
    report = evaluate(args.dir, args.batch)
    if args.verbose:
        for doc in report.docs:
            wrong = [n for n, ok in doc.meta_right.items() if not ok]
            if doc.misses or doc.extras or wrong or doc.furniture_left or doc.review_shown:
                print(f"- {doc.file}: {doc.hits}/{doc.gold_priorities} found, {doc.found_priorities} shown")
                for label, values in (("missed", doc.misses), ("extra", doc.extras),
                                      ("furniture", doc.furniture_left), ("review", doc.review_shown)):
                    for value in values:
                        print(f"    {label}: {value[:70]}")
                if wrong:
                    print(f"    metadata wrong: {', '.join(wrong)} (detected {doc.detected})")
    gold = sum(d.gold_priorities for d in report.docs)
    print(f"documents                     {len(report.docs)}")
    print(f"headline priorities           recall {report.recall:.3f}  precision {report.precision:.3f}  "
          f"(gold {gold})")
    parts = "  ".join(f"{n} {report.meta_accuracy(n):.3f}" for n in META_FIELDS)
    print(f"metadata accuracy             {report.meta_accuracy():.3f}  ({parts})")
    print(f"furniture lines in passages   {report.furniture_left}")
    print(f"review items as priorities    {report.review_shown}")


if __name__ == "__main__":
    main()
