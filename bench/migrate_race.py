"""Proof for the start-up race: `test_two_processes_opening_at_once_migrate_once` looped many times.

Four threads open one fresh SQLite file at once (as four bot processes starting together would) and each
applies the migrations; exactly one must apply them and none may fail with "database is locked". A race
that shows up 1 run in 8 needs a few hundred runs to show it is gone, which is too slow for the default
suite, so the loop lives here:

    .venv/bin/python -m bench.migrate_race [RUNS]     # default 200; prints failures / runs
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from tests.test_store import test_two_processes_opening_at_once_migrate_once as once

    runs = int((argv or sys.argv[1:] or ["200"])[0])
    failures: Counter[str] = Counter()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(runs):
            try:
                once(Path(tmp) / f"race-{n}.sqlite3")
            except AssertionError as exc:
                failures[(str(exc).splitlines() or ['assertion'])[0][:160]] += 1
    took = time.perf_counter() - started
    print(f"{sum(failures.values())} failed of {runs} runs ({took:.1f} s)")
    for reason, count in failures.most_common():
        print(f"  {count} × {reason}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
