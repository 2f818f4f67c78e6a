"""The editor's desk: time from 收录 to the first answer that finds the new plan, and memory over swaps.

Run: .venv/bin/python -m bench.desk_bench [--runs 5] [--scale 100] [--swaps 50]

"From 收录" is what the bot does after the press: publish_plan (lock, duplicate check, two writes), then
Library.refresh (reload the corpus reusing unchanged plans, write the new plan into the live tantivy
index, swap), then one search for a phrase only the new plan contains; the part after publish_plan is
reported on its own (publish_plan's duplicate check reads every plan's text, so it grows with the corpus).
The tokenizer is warmed before the press, as the bot does while the preview card is shown. Measured at the seeds' size and at ×scale (the five seeds re-issued for `scale`
prefecture-level cities, as in the search bench). Memory: RSS after each of `swaps` publish/withdraw
swaps at the seeds' size; flat means the old snapshots are released.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

UNIQUE = "建设青少年航天科普基地"
PLAN = """南通市教育局2024年工作要点
发布日期:2024-02-20
2024年，全市教育系统坚持以习近平新时代中国特色社会主义思想为指导，全面贯彻党的教育方针，落实立德树人根本任务，加快建设高质量教育体系。
一、坚持立德树人
1. 深化思政课改革创新。推进大中小学思政课一体化建设，打造一批思政课示范课堂，{unique}，新建思政课名师工作室{n}个。
2. 推进“双减”提质增效。规范校外培训，提升课后服务质量，课后服务覆盖率保持100%。
二、促进教育公平
3. 扩大优质学位供给。新建改扩建中小学幼儿园20所，新增学位15000个。
"""


def scaled_seeds(target: Path, scale: int) -> Path:
    """The seeds, plus each seed re-issued for `scale - 1` other cities (text and manifest rewritten)."""
    from bot.corpus.loader import MANIFEST, default_seeds_dir, read_manifest
    from bot.corpus.regions import LEVEL_CITY, all_places, short_name

    source = default_seeds_dir()
    shutil.copytree(source, target)
    if scale <= 1:
        return target
    entries = read_manifest(source)
    seeded = {short_name(e["city"]) for e in entries} | {"江阴"}
    cities = [p for p in all_places() if p.level == LEVEL_CITY and p.short not in seeded][: scale - 1]
    out = list(entries)
    for n, place in enumerate(cities):
        for entry in entries:
            text = (source / entry["file"]).read_text(encoding="utf-8")
            old = short_name(entry["city"])
            plan_id = f"{entry['plan_id']}-x{n}"
            (target / f"{plan_id}.txt").write_text(text.replace(old, place.short), encoding="utf-8")
            out.append({**entry, "plan_id": plan_id, "file": f"{plan_id}.txt", "city": place.name,
                        "province": place.province, "parent_city": None, "admin_level": place.level,
                        "title": entry["title"].replace(old, place.short)})
    (target / MANIFEST).write_text(json.dumps({"plans": out}, ensure_ascii=False), encoding="utf-8")
    return target


def new_plan(folder: Path, n: int) -> Path:
    path = folder / f"new{n}.txt"
    path.write_text(PLAN.format(unique=UNIQUE, n=10 + n), encoding="utf-8")
    return path


def publish_to_answer(seeds: Path, library, draft_path: Path) -> tuple[float, float]:
    """Seconds from the press to the first answer, and of those the part after publish_plan wrote the
    plan (the library's refresh: corpus reload, index update, swap, first search)."""
    from bot.corpus.ingest import prepare_plan, publish_plan
    from bot.search.tantivy_index import warm_writer

    draft = prepare_plan(draft_path)  # done before the card is shown, not after the press
    warm_writer()  # as handlers/editor.py does while the card is shown
    t = time.perf_counter()
    publish_plan(seeds, draft)
    published = time.perf_counter()
    library.refresh()
    hits = library.current.engine.search(UNIQUE).hits
    elapsed = time.perf_counter() - t
    assert hits and UNIQUE in hits[0].passage.norm, "the new plan was not found"
    return elapsed, time.perf_counter() - published


def withdraw(seeds: Path, library) -> None:
    from bot.corpus.ingest import remove_plan
    from bot.corpus.loader import read_manifest

    for entry in read_manifest(seeds):
        if entry["city"] == "南通市":
            remove_plan(seeds, entry["plan_id"])
    library.refresh()


def measure(scale: int, runs: int, work: Path) -> tuple[list[tuple[float, float]], int]:
    from bot.search.library import Library

    seeds = scaled_seeds(work / f"seeds{scale}", scale)
    library = Library(seeds, work / f"cache{scale}")
    library.refresh()  # the bot's start-up: not part of the figure
    samples = []
    for n in range(runs):
        samples.append(publish_to_answer(seeds, library, new_plan(work, n)))
        withdraw(seeds, library)
    return samples, len(library.current.corpus.plans)


def memory(swaps: int, work: Path) -> list[float]:
    import gc

    import psutil

    from bot.search.library import Library

    seeds = scaled_seeds(work / "seeds-mem", 1)
    library = Library(seeds, work / "cache-mem")
    library.refresh()
    proc, rss = psutil.Process(), []
    for n in range(swaps):
        publish_to_answer(seeds, library, new_plan(work, 1000 + n))
        withdraw(seeds, library)
        gc.collect()
        rss.append(proc.memory_info().rss / 1e6)
    return rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--swaps", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="desk-bench-") as tmp:
        work = Path(tmp)
        rss = memory(args.swaps, work)  # first, so the large corpus below has not inflated the heap yet
        print(f"RSS over {args.swaps} swaps (seeds): after 5 {rss[4]:.0f} MB, after {args.swaps} {rss[-1]:.0f} MB, "
              f"peak {max(rss):.0f} MB")
        for scale in (1, args.scale):
            samples, plans = measure(scale, args.runs, work)
            totals, after = [s[0] for s in samples], [s[1] for s in samples]
            print(f"x{scale:<4} ({plans} plans) 收录 → first answer: median {statistics.median(totals):6.2f} s "
                  f"(min {min(totals):.2f}, max {max(totals):.2f}, {args.runs} runs); after publish_plan "
                  f"(reload, index update, swap, answer): median {statistics.median(after):.2f} s")


if __name__ == "__main__":
    main()
