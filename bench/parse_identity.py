"""Old reader against new reader: the same documents must parse to the same plans.

Run before a speed change with `--save FILE` (on the old code), after it with `--compare FILE`:
.venv/bin/python -m bench.parse_identity --save /tmp/before.pickle
.venv/bin/python -m bench.parse_identity --compare /tmp/before.pickle

It reads the seeds (with their manifest entries), every document of the development set
(tests/data/real/, with the entry `add` would write from what `metadata.detect` found) and `--synthetic N`
copies of the seeds as `bench.scale_bench` writes them, and records for each the detected metadata, the
parsed Plan (metadata, preamble, outline tree, passages with their normalised text, priorities) and the
body key. `--compare` says which documents differ and where, and the seconds each side took.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bot.corpus.loader import parse_plan, read_manifest, read_text
from bot.corpus.metadata import detect

ROOT = Path(__file__).resolve().parent.parent


def documents(synthetic: int) -> list[tuple[str, dict | None, str]]:
    """(name, manifest entry or None: detect one, text) for every document compared."""
    docs: list[tuple[str, dict | None, str]] = []
    seeds = ROOT / "seeds"
    for entry in read_manifest(seeds):
        docs.append((f"seeds/{entry['file']}", entry, read_text(seeds / entry["file"])))
    for path in sorted((ROOT / "tests" / "data" / "real").glob("*.txt")):
        docs.append((f"real/{path.name}", None, path.read_text(encoding="utf-8")))
    if synthetic:
        from bench.scale_bench import write_corpus

        with tempfile.TemporaryDirectory() as tmp:
            write_corpus(Path(tmp), synthetic)
            for entry in read_manifest(Path(tmp)):
                docs.append((f"x{synthetic}/{entry['file']}", entry, read_text(Path(tmp) / entry["file"])))
    return docs


def parsed(docs: list[tuple[str, dict | None, str]]) -> tuple[dict[str, tuple], float]:
    from bench.parse_eval import entry_for

    out: dict[str, tuple] = {}
    started = time.process_time()
    for name, entry, raw in docs:
        found = None
        if entry is None:
            found = detect(raw)
            entry = entry_for({"file": name.split("/", 1)[1]}, found)
        plan, body_key = parse_plan(entry, raw)
        out[name] = (asdict(found) if found is not None else None, plan, body_key)
    return out, time.process_time() - started


def _diff(a, b) -> str:
    """Where two records first differ, for a human."""
    for label, x, y in (("detected", a[0], b[0]), ("body key", a[2], b[2]), ("meta", a[1].meta, b[1].meta),
                        ("preamble", a[1].preamble, b[1].preamble), ("tree", a[1].tree, b[1].tree),
                        ("priorities", a[1].priorities, b[1].priorities)):
        if x != y:
            return f"{label}: {str(x)[:300]} != {str(y)[:300]}"
    for p, q in zip(a[1].passages, b[1].passages, strict=False):
        if p != q:
            return f"passage {p.id}: {p!r:.300} != {q!r:.300}"
    return f"passages: {len(a[1].passages)} != {len(b[1].passages)}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--save", metavar="FILE")
    ap.add_argument("--compare", metavar="FILE")
    ap.add_argument("--synthetic", type=int, default=20, help="copies of the seeds (×N) parsed too")
    args = ap.parse_args(argv)
    docs = documents(args.synthetic)
    records, seconds = parsed(docs)
    print(f"{len(records)} documents parsed in {seconds:.2f} s CPU")
    if args.save:
        Path(args.save).write_bytes(pickle.dumps({"records": records, "seconds": seconds}))
    if args.compare:
        old = pickle.loads(Path(args.compare).read_bytes())
        differ = [name for name in old["records"] if records.get(name) != old["records"][name]]
        missing = [name for name in old["records"] if name not in records]
        for name in differ[:20]:
            print(f"DIFFERS {name}: {_diff(old['records'][name], records[name]) if name in records else 'missing'}")
        print(f"{len(old['records']) - len(differ)}/{len(old['records'])} identical "
              f"({len(missing)} missing); CPU {old['seconds']:.2f} s before, {seconds:.2f} s now")
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
