"""Every CLI `--json` answer over the seeds, in one file: `python -m bench.cli_snapshot OUT`.

Why: a refactor (moving modules, swapping the engine) must not change what outside scripts read. The
queries are the string constants the tests already use plus the search bench's, so the snapshot grows
with the tests; `diff` two snapshots taken before and after a change to prove the answers byte-identical.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CJK_OR_WORD = re.compile(r"[\u3400-\u9fff]|^[A-Za-z][A-Za-z \-]{2,30}$")


def test_strings() -> list[str]:
    """Short string constants from tests/ and bench/: the queries the project already pins."""
    found: set[str] = set()
    for path in sorted([*(ROOT / "tests").glob("test_*.py"), ROOT / "bench" / "search_bench.py"]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value.strip()
                if 1 <= len(text) <= 24 and "\n" not in text and CJK_OR_WORD.search(text):
                    found.add(text)
    return sorted(found)


def run_cli(argv: list[str], stdin: str = "") -> str:
    from bot.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        sys.stdin = old_stdin
    return f"$ planbrief {' '.join(argv)}\n[exit {code}]\n{out.getvalue()}{err.getvalue()}"


def snapshot(queries: list[str]) -> str:
    from bot.corpus.loader import load_corpus

    batch = "\n".join(queries) + "\n"
    parts = [run_cli(["plans", "--json"])]
    for plan in load_corpus().plans:
        parts.append(run_cli(["show", plan.plan_id, "--json"]))
        parts.append(run_cli(["digest", "--plan", plan.plan_id, "--json"]))
    parts.append(run_cli(["search", "-", "--json"], batch))
    parts.append(run_cli(["search", "-", "--json", "--city", "无锡"], batch))
    parts.append(run_cli(["search", "-", "--json", "--year", "2023", "--limit", "3"], batch))
    parts.append(run_cli(["city", "-", "--json"], batch))
    for q in ["无锡", "江阴", "江苏", "随州", "苏州", "湖北"]:
        parts.append(run_cli(["digest", "--city", q, "--json"]))
    for q in ["双减", "县管校聘", "课后服务", "shuangjian"]:
        parts.append(run_cli(["digest", "--topic", q, "--json"]))
    parts.append(run_cli(["digest", "--json"]))
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="file to write the snapshot to")
    parser.add_argument("--queries", help="one query per line (default: the tests' strings); pass the same "
                                          "file to both runs when the tests themselves changed in between")
    parser.add_argument("--save-queries", help="write the queries used to this file")
    args = parser.parse_args()
    queries = (Path(args.queries).read_text(encoding="utf-8").splitlines() if args.queries else test_strings())
    if args.save_queries:
        Path(args.save_queries).write_text("\n".join(queries) + "\n", encoding="utf-8")
    Path(args.out).write_text(snapshot(queries), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
