"""Pictures and briefs at corpus scale: `python -m bench.pictures_bench [--scale 100] [--runs 5]`.

Why: /compare, /themes and the weekly digest draw a picture on demand, and /brief writes a document for
a whole province; both must stay interactive with 500 plans (×100 seeds). Measured in one process, after
a warm-up draw (matplotlib's import and the CJK font's first load, ~1 s, are paid once per process and
reported apart):

- picture, cold: the themes matrix of every plan (memo cleared) plus the heatmap PNG;
- picture, drawn: the heatmap PNG alone (matrix memoised, as after the first request);
- picture, cached: the same scope and corpus generation again (served from figures.CACHE);
- brief: build_brief for a province (江苏: 400 plans, each searched on its own) + picture + .docx.

Medians over `--runs`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} ms (runs: {', '.join(f'{s * 1000:.0f}' for s in samples)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pb-pictures-"))
    os.environ["PLANBRIEF_DATA_DIR"] = str(work / "data")
    try:
        from bench.startup_bench import scaled_seeds
        from bot.corpus.loader import load_corpus
        from bot.digests import figures, themes
        from bot.digests.briefing import brief_docx, build_brief
        from bot.digests.content import plans_in_scope
        from bot.search.engine import SearchEngine
        from bot.search.places import resolve_place

        seeds = work / "seeds"
        seeds.mkdir()
        scaled_seeds(seeds, args.scale)
        corpus = load_corpus(seeds)
        engine = SearchEngine.from_corpus(corpus, cache_dir=work / "search")
        province = resolve_place("江苏", corpus).place
        plans = list(corpus.plans)
        print(f"{len(plans)} plans; 江苏 scope: {len(plans_in_scope(corpus, place=province))} plans")

        t = time.perf_counter()
        figures.text_png("预热")
        print(f"first draw in a process (matplotlib import + CJK font load): {(time.perf_counter() - t) * 1000:.0f} ms")

        cold, drawn, cached, matrix_only = [], [], [], []
        for run in range(args.runs):
            themes._MEMO.clear()
            t = time.perf_counter()
            matrix = themes.theme_matrix(plans)
            matrix_only.append(time.perf_counter() - t)
            figures.heatmap_png(matrix, "zh", f"全部{run}")
            cold.append(time.perf_counter() - t)
            t = time.perf_counter()
            figures.heatmap_png(themes.theme_matrix(plans), "zh", f"全部{run}")
            drawn.append(time.perf_counter() - t)
            figures.themes_picture(corpus, plans, "zh", f"scope{run}")
            t = time.perf_counter()
            figures.themes_picture(corpus, plans, "zh", f"scope{run}")
            cached.append(time.perf_counter() - t)
        print(f"themes matrix, {len(plans)} plans, memo cleared: {median_ms(matrix_only)}")
        print(f"picture cold (matrix + PNG):                {median_ms(cold)}")
        print(f"picture drawn (matrix memoised):            {median_ms(drawn)}")
        print(f"picture cached (same scope + generation):   {median_ms(cached)}")

        for memo in ("warm", "cold"):
            briefs, built, drawn_, written = [], [], [], []
            for run in range(args.runs):
                if memo == "cold":
                    themes._MEMO.clear()
                figures.CACHE = figures.PictureCache()
                t = time.perf_counter()
                brief = build_brief(engine, corpus, "双减", [province])
                t1 = time.perf_counter()
                png = figures.themes_picture(corpus, brief.stating, "zh", brief.scope)
                t2 = time.perf_counter()
                data = brief_docx(brief, png)
                t3 = time.perf_counter()
                briefs.append(t3 - t)
                built.append(t1 - t)
                drawn_.append(t2 - t1)
                written.append(t3 - t2)
                if run == 0 and memo == "warm":
                    print(f"brief: {len(brief.plans)} plans state the topic, {len(brief.places)} places, "
                          f"{len(brief.excerpts())} excerpts, .docx {len(data) // 1024} KB")
            print(f"province brief (江苏), themes memo {memo}, picture not cached: {median_ms(briefs)}")
            print(f"    search + matrix {median_ms(built)}; picture {median_ms(drawn_)}; .docx {median_ms(written)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
