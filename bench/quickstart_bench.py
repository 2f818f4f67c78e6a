"""CLI start to first answer, with and without the start stamp: `python -m bench.quickstart_bench DIR [--runs 5]`.

Why: issue 20 asks a fresh `planbrief search 双减 --json` to answer in ≤ 0.5 s at ×1000 and ≤ 0.8 s at
×10,000. A start answers from the index alone when the stamp a full load left (bot.search.quickstart)
proves nothing changed; this times both paths on a built work folder and shows which part of the quick
path grows with the number of plans, so ×10,000 can be estimated without building it.

DIR is a work folder as `bench.scale_bench --keep ROOT` leaves it (ROOT/x1000 holds `seeds/` and `data/`;
give a copy: the runs write the stamp and, on the full path, the plan store). Every run is a fresh process
with scale_bench's environment (`PLANBRIEF_SEEDS`, `PLANBRIEF_DATA_DIR`, `PYTHONHASHSEED=0`), wall time
and CPU time (user + sys from wait4) reported as medians, with the load average: on a machine loaded past
its two cores CPU time is the steadier figure. Bytecode: whatever the caller's environment says
(`PYTHONDONTWRITEBYTECODE=1` without __pycache__ compiles bot/ at every start, about 0.08 s CPU).

- quick: the stamp is current (one warm-up run writes it);
- full: the stamp removed before each run, so the start loads the corpus, syncs and writes it again;
- check ×k: the stamp check alone (read, parse, a stat per plan file), in this process, on the stamp
  with its file list repeated k times: the part that grows with the corpus.

Measured on the 2-core machine, ×1000 (5,000 plans), PYTHONDONTWRITEBYTECODE=1, 7 fresh processes each,
medians, load 7 from other work: main's start 2.03 s wall, 1.28 s CPU; the quick start 0.65 s wall,
0.42 s CPU; the full start (stamp removed) 1.91 s wall, 1.25 s CPU. The check: 25 ms CPU for 5,000 files,
198 ms for 50,000 (×10,000), so ×10,000 ≈ 0.42 + 0.17 ≈ 0.6 s CPU plus what the query itself grows by.
With bytecode cached (no PYTHONDONTWRITEBYTECODE) the quick start is about 0.08 s CPU less. What is left is
mostly fixed: numpy's import (≈ 0.13 s CPU, then used by ranking; gone from the answer path since),
compiling bot/ without bytecode, tantivy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from array import array
from pathlib import Path

from bench.scale_bench import _env, _load, cli, run


def _runs(env: dict, runs: int, before=None) -> dict:
    walls, cpus = [], []
    for _ in range(runs):
        if before:
            before()
        t = time.perf_counter()
        _, status, usage = os.wait4(_spawn(env), 0)
        walls.append(time.perf_counter() - t)
        cpus.append(usage.ru_utime + usage.ru_stime)
        if os.waitstatus_to_exitcode(status):
            raise SystemExit("search failed")
    return {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus), "runs": runs}


def _spawn(env: dict) -> int:
    devnull = os.open(os.devnull, os.O_WRONLY)
    pid = os.fork()
    if pid == 0:  # the child: stdout and stderr to /dev/null, then the CLI
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.chdir(Path(__file__).resolve().parent.parent)
        os.execve(sys.executable, cli(["search", "双减", "--json"]), env)
    os.close(devnull)
    return pid


def check_cost(data: Path, seeds: Path, times: list[int]) -> dict:
    """The stamp check alone with the file list repeated k times (CPU ms, median of 3)."""
    os.environ["PLANBRIEF_DATA_DIR"], os.environ["PLANBRIEF_SEEDS"] = str(data), str(seeds)
    from bot.corpus.loader import folders_for
    from bot.search import quickstart
    from bot.search.engine import index_dir

    directory = index_dir(None)
    stamp = quickstart.read_stamp()
    out = {}
    for k in times:
        grown = dict(stamp, paths="\n".join([stamp["paths"]] * k), stats=array("q", list(stamp["stats"]) * k))
        raw = quickstart.encode_stamp(grown)
        samples = []
        for _ in range(3):
            t = time.process_time()
            assert quickstart._current(quickstart.decode_stamp(raw), folders_for(None), directory)
            samples.append((time.process_time() - t) * 1000)
        out[k] = {"files": len(grown["paths"].split("\n")), "cpu_ms": statistics.median(samples),
                  "stamp_mb": len(raw) / 2**20}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("work", help="a work folder with seeds/ and data/ (a copy: runs write to it)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--times", default="1,10", help="file-list repeats for the check cost")
    a = ap.parse_args(argv)
    work = Path(a.work).resolve()
    seeds, data = work / "seeds", work / "data"
    env = _env(seeds, data)
    warm = run(cli(["search", "双减", "--json"]), env, 1800, 1e9)  # writes the stamp (and warms the page cache)
    if warm.failure:
        raise SystemExit(f"warm-up failed: {warm.failure} {warm.stderr[-300:]}")
    plans = len(json.loads((seeds / "manifest.json").read_text(encoding="utf-8"))["plans"])
    print(f"{plans} plans; PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}; "
          f"load {_load()}")
    quick = _runs(env, a.runs)
    print(f"quick start (stamp current): wall {quick['wall_s']:.2f} s, CPU {quick['cpu_s']:.2f} s "
          f"(medians of {a.runs}); load {_load()}")
    index = data / "search"
    from bot.search.quickstart import stamp_path

    full = _runs(env, a.runs, before=lambda: stamp_path(index).unlink(missing_ok=True))
    print(f"full start (stamp removed):  wall {full['wall_s']:.2f} s, CPU {full['cpu_s']:.2f} s "
          f"(medians of {a.runs}); load {_load()}")
    for k, figures in check_cost(data, seeds, [int(x) for x in a.times.split(",")]).items():
        print(f"stamp check ×{k}: {figures['files']} files, {figures['cpu_ms']:.0f} ms CPU, "
              f"stamp {figures['stamp_mb']:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
