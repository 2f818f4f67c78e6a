"""Cold start of the CLI at corpus scale: `python -m bench.startup_bench [--scale 100] [--runs 5]`.

Why: every `planbrief` call, bot start and reload loads the corpus; it must not grow with the number of
plans. Builds a seeds folder of the five seeds re-issued for `scale` cities (5 × scale plans), warms the
caches once (the first call parses and indexes, timed apart), then times fresh processes of `search`,
`show` and `plans --json`, and the same with the corpus cache turned off for comparison. Medians.
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

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


def scaled_seeds(target: Path, scale: int) -> str:
    """5 × scale plans: each seed text under `scale` plan ids (texts differ by a line so hashes differ)."""
    entries = json.loads((SEEDS / "manifest.json").read_text(encoding="utf-8"))["plans"]
    out = []
    for k in range(scale):
        for e in entries:
            name = f"{k:03d}-{e['file']}"
            text = (SEEDS / e["file"]).read_text(encoding="utf-8")
            (target / name).write_text(text + f"\n（第{k}份）\n", encoding="utf-8")
            out.append({**e, "plan_id": f"{e['plan_id']}-{k:03d}", "file": name})
    (target / "manifest.json").write_text(json.dumps({"plans": out}, ensure_ascii=False), encoding="utf-8")
    return out[0]["plan_id"]


def cold(argv: list[str], env: dict) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bot", *argv], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pb-startup-"))
    try:
        seeds = work / "seeds"
        seeds.mkdir()
        plan_id = scaled_seeds(seeds, args.scale) if args.scale > 1 else None
        seeds = seeds if plan_id else SEEDS
        plan_id = plan_id or "jiangyin-2023-speech"
        env = {**os.environ, "PLANBRIEF_DATA_DIR": str(work / "data"), "PLANBRIEF_SEEDS": str(seeds)}
        first = cold(["search", "双减", "--json"], env)
        print(f"scale x{args.scale}: {len(json.loads((seeds / 'manifest.json').read_text())['plans'])} plans; "
              f"first call (parse + index + caches) {first:.2f} s")
        commands = {"search": ["search", "双减", "--json"], "show": ["show", plan_id, "--json"],
                    "plans": ["plans", "--json"]}
        for label, extra in (("cached", {}), ("no corpus cache", {"PLANBRIEF_CORPUS_CACHE": "0"})):
            for name, argv in commands.items():
                runs = [cold(argv, {**env, **extra}) for _ in range(args.runs)]
                print(f"  {label:<16} {name:<7} median {statistics.median(runs):.3f} s  (min {min(runs):.3f})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
