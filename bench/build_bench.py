"""A first build (the first `search` on an empty data folder): wall, CPU and memory of the whole
process tree, so parsing in worker processes is charged in full.

Run: .venv/bin/python -m bench.build_bench SEEDS [--runs 3] [--root CHECKOUT] [--keep DATA]
SEEDS is a plan folder with its manifest (a `bench.scale_bench --keep` folder's x1000/seeds). Each run
builds into a fresh data folder with `python -m bot search 双减 --json` from CHECKOUT (default: this
one; another worktree's code with its own .venv compares versions on the same texts) and reports wall
time, CPU time of the process and every worker it waited for (user + system), the main process's peak
RSS, and the peak of the sum of RSS over its process group (sampled every 0.1 s), with the load
average before and after (a loaded machine stretches wall time, not CPU time). Medians are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _group_rss_mb(pgid: int) -> float:
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:  # field 5 of stat: the process group
                continue
            with open(f"/proc/{entry}/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1024


def build_once(seeds: Path, data: Path, root: Path, timeout: float) -> dict:
    python = root / ".venv" / "bin" / "python"
    env = {**os.environ, "PLANBRIEF_SEEDS": str(seeds), "PLANBRIEF_DATA_DIR": str(data)}
    env.pop("PLANBRIEF_CORPUS_CACHE", None)
    load = os.getloadavg()
    started = time.perf_counter()
    proc = subprocess.Popen([str(python if python.exists() else sys.executable), "-m", "bot", "search", "双减",
                             "--json"], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            peak[0] = max(peak[0], _group_rss_mb(proc.pid))
            if time.perf_counter() - started > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                return

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    watcher.join()
    code = os.waitstatus_to_exitcode(status)
    results = len(json.loads(out)["results"]) if code == 0 else 0
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "main_peak_mb": usage.ru_maxrss / 1024,
            "tree_peak_mb": peak[0], "exit": code, "results": results, "load_before": load[0],
            "load_after": os.getloadavg()[0], "stderr": err.decode(errors="replace")[-500:] if code else ""}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seeds", type=Path)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout whose code builds (its .venv)")
    ap.add_argument("--keep", type=Path, help="build into this data folder (one run) and keep it")
    ap.add_argument("--timeout", type=float, default=3600)
    args = ap.parse_args(argv)
    plans = len(json.loads((args.seeds / "manifest.json").read_text(encoding="utf-8"))["plans"])
    runs = []
    for n in range(1 if args.keep else args.runs):
        data = args.keep or Path(tempfile.mkdtemp(prefix="build-bench-"))
        try:
            run = build_once(args.seeds.resolve(), data, args.root.resolve(), args.timeout)
        finally:
            if not args.keep:
                shutil.rmtree(data, ignore_errors=True)
        runs.append(run)
        print(f"run {n + 1}: {json.dumps(run, ensure_ascii=False)}", flush=True)
        if run["exit"]:
            return 1
    med = {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "cpu_s", "main_peak_mb", "tree_peak_mb")}
    print(f"{plans} plans, {len(runs)} runs, {args.root}: wall {med['wall_s']:.1f} s (median), "
          f"CPU {med['cpu_s']:.1f} s = {1000 * med['cpu_s'] / plans:.1f} ms a plan, peak RSS main "
          f"{med['main_peak_mb']:.0f} MB, whole tree {med['tree_peak_mb']:.0f} MB; load average "
          f"{min(r['load_before'] for r in runs):.1f}–{max(r['load_after'] for r in runs):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
