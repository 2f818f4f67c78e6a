"""Start-up, memory, adds and disk at corpus scale: `python -m bench.store_bench [--scale 1000] [--runs 3]`.

Why: issue 20 — every process loaded the whole parsed corpus at every start, an add re-parsed it, and
a cache file per corpus state piled up. Builds a seeds folder of 5 × scale plans (bench.startup_bench),
builds the data folder once (timed apart), then measures with fresh processes:

- CLI start to first answer: `planbrief search 双减 --json`, data folder warm (median of --runs);
- RSS of a process holding the corpus and engine after one answer (peak and current);
- `planbrief add FILE` (one plan) and the next `search` for a word only that plan holds, --adds times;
- the data folder's size after those adds, by subfolder, and any file that is neither the index,
  the plans nor the plan store.

`--root DIR` runs another checkout's `bot` package (e.g. an export of main, for before/after figures)
with this interpreter. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.startup_bench import scaled_seeds

ROOT = Path(__file__).resolve().parent.parent
CITIES = ("常州", "镇江", "扬州", "泰州", "南通", "盐城", "淮安", "宿迁", "徐州", "南京", "杭州", "宁波")
PLAN = """{city}市教育局2024年工作要点
发布日期:2024-02-20
2024年，全市教育系统坚持以习近平新时代中国特色社会主义思想为指导，全面贯彻党的教育方针，落实立德树人根本任务，加快建设高质量教育体系，努力办好人民满意的教育。
一、坚持立德树人
1. 深化思政课改革创新。推进大中小学思政课一体化建设，打造一批思政课示范课堂，全市新建思政课名师工作室{n}个。
2. 推进“双减”提质增效。规范校外培训，提升课后服务质量，课后服务覆盖率保持100%。
二、促进教育公平
3. 扩大优质学位供给。新建改扩建中小学幼儿园{n}所，新增学位15000个，建设{word}。
"""
HOLD = """
import json, resource, sys
from bot.corpus.loader import load_corpus
from bot.search.engine import SearchEngine
corpus = load_corpus()
engine = SearchEngine.from_corpus(corpus)
engine.search("双减")
rss = int(open("/proc/self/statm").read().split()[1]) * 4096 // 1024 // 1024
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, "rss_mb": rss}))
"""


def run(root: Path, argv: list[str], env: dict) -> tuple[float, str]:
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bot", *argv], cwd=root, env=env, check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return time.perf_counter() - t, done.stdout


def size_mb(path: Path) -> float:
    if not path.exists():
        return 0.0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--adds", type=int, default=10)
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args()
    root = args.root.resolve()
    work = Path(tempfile.mkdtemp(prefix="pb-store-"))
    out: dict = {"scale": args.scale, "plans": 5 * args.scale, "root": str(root)}
    try:
        seeds = work / "seeds"
        seeds.mkdir()
        scaled_seeds(seeds, args.scale)
        data = work / "data"
        env = {**os.environ, "PLANBRIEF_DATA_DIR": str(data), "PYTHONPATH": str(root),
               "PLANBRIEF_SEEDS": str(seeds), "PLANBRIEF_LANG": "zh"}
        out["first_build_s"] = round(run(root, ["search", "双减", "--json"], env)[0], 2)
        starts = [run(root, ["search", "双减", "--json"], env)[0] for _ in range(args.runs)]
        out["cli_search_s"] = round(statistics.median(starts), 3)
        listing = [run(root, ["plans", "--json"], env)[0] for _ in range(args.runs)]
        out["cli_plans_s"] = round(statistics.median(listing), 3)
        held = subprocess.run([sys.executable, "-c", HOLD], cwd=root, env=env, check=True,
                              capture_output=True, text=True)
        out["holding"] = json.loads(held.stdout.strip().splitlines()[-1])
        adds, searches = [], []
        for n in range(args.adds):
            word = f"青少年航天科普基地{n}号"
            path = work / f"add{n}.txt"
            path.write_text(PLAN.format(city=CITIES[n % len(CITIES)], n=30 + n, word=word), encoding="utf-8")
            took, said = run(root, ["add", str(path), "--json"], env)
            adds.append(took)
            plan_id = json.loads(said)["plan_id"]
            took, said = run(root, ["search", word, "--json"], env)
            searches.append(took)
            assert any(r["plan_id"] == plan_id for r in json.loads(said)["results"]), f"{plan_id} not found"
        out["add_s"] = round(statistics.median(adds), 3)
        out["add_max_s"] = round(max(adds), 3)
        out["next_search_s"] = round(statistics.median(searches), 3)
        out["next_search_max_s"] = round(max(searches), 3)
        out["disk_mb"] = {child.name: round(size_mb(child), 1) for child in sorted(data.iterdir())}
        out["disk_mb"]["plans (seeds folder)"] = round(size_mb(seeds), 1)
        out["disk_files"] = sorted(str(p.relative_to(data)) for p in (data / "corpus").rglob("*")) \
            if (data / "corpus").exists() else []
        print(json.dumps(out, ensure_ascii=False))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
