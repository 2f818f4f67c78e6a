"""`planbrief`: the same answers as the bot, scriptable, and the way to run the bot itself.

The `--json` shapes are a contract for outside scripts: fields may be added, never renamed or dropped.
Errors print one line to stderr and exit non-zero; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.corpus.loader import CorpusError, load_corpus, plan_summary

EXIT_NOT_FOUND = 3


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _fail(message: str, code: int = 1) -> int:
    sys.stderr.write(f"planbrief: {message}\n")
    return code


def _english() -> bool:
    """Messages follow the user's locale: Chinese first, English for an English locale."""
    import os

    for name in ("PLANBRIEF_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        if value := os.environ.get(name):
            return value.lower().startswith("en")
    return False


def cmd_plans(args, corpus) -> int:
    plans = [plan_summary(p) for p in corpus.plans]
    if args.json:
        _print_json({"plans": plans})
        return 0
    for p in plans:
        print(f"{p['plan_id']:<28} {p['year']}  {p['city']:<6} {p['kind']:<8} {p['title']}  ({p['passages']} 段)")
    return 0


def _outline_lines(nodes, depth=0):
    for node in nodes:
        if node.heading:
            marker = {"forward": "→", "backward": "←", "neutral": "·"}[node.orientation]
            yield "  " * depth + f"{marker} {node.heading}"
        yield from _outline_lines(node.children, depth + (1 if node.heading else 0))


def cmd_show(args, corpus) -> int:
    plan = corpus.plan(args.plan_id)
    if plan is None:
        known = ", ".join(p.plan_id for p in corpus.plans)
        return _fail(f"没有这份规划：{args.plan_id}（现有：{known}）", EXIT_NOT_FOUND)
    if args.json:
        _print_json({
            **plan_summary(plan),
            "preamble": plan.preamble,
            "tree": [n.as_dict() for n in plan.tree],
            "priorities": [p.as_dict() for p in plan.priorities],
            "passage_count": len(plan.passages),
            "passages": [{"id": p.id, "section": list(p.section), "text": p.text,
                          "orientation": p.orientation} for p in plan.passages],
        })
        return 0
    m = plan.meta
    print(f"{m.title}\n{m.city}（{m.province}{'·' + m.parent_city if m.parent_city else ''}）· {m.kind} · "
          f"{m.date} · {m.issuer}\n")
    print("重点任务：")
    for pr in plan.priorities:
        print(f"  ■ {pr.title}")
        for item in pr.items:
            print(f"      - {item}")
    print("\n结构（→ 计划  ← 回顾  · 其他）：")
    for line in _outline_lines(plan.tree):
        print("  " + line)
    return 0


def cmd_add(args, corpus) -> int:
    from bot.corpus.ingest import AddError, add_plan, batch_files

    paths = [Path(f) for f in args.files]
    if len(paths) == 1 and not paths[0].is_dir():
        try:
            entry = add_plan(corpus.seeds_dir, paths[0], city=args.city, year=args.year, title=args.title,
                             kind=args.kind, issuer=args.issuer, date=args.date, source_site=args.source)
        except AddError as exc:
            return _fail(exc.en if _english() else str(exc))
        if args.json:
            _print_json(entry)
        else:
            print(f"已加入：{entry['plan_id']}  {entry['city']} {entry['year']}「{entry['title']}」"
                  f"（{entry['passages']} 段，{len(entry['priorities'])} 项重点）")
        return 0
    if args.title:
        return _fail("--title 只能用于单个文件" if not _english() else "--title needs a single file")
    files = batch_files(paths)
    if not files:
        return _fail("没有可添加的文件" if not _english() else "no files to add")
    added, refused = [], []
    for n, path in enumerate(files, 1):
        _progress(n, len(files), path.name)
        try:
            added.append(add_plan(corpus.seeds_dir, path, city=args.city, year=args.year, kind=args.kind,
                                  issuer=args.issuer, date=args.date, source_site=args.source))
            added[-1]["file_added"] = str(path)
        except AddError as exc:
            refused.append({"file": str(path), "reason": exc.en if _english() else str(exc)})
    sys.stderr.write("\n")
    if args.json:
        _print_json({"added": added, "refused": refused})
    else:
        _print_batch_table(added, refused)
    return 0 if not refused else 1


def _progress(done: int, total: int, name: str) -> None:
    """A one-line bar on stderr, redrawn in place, so stdout stays the summary (or JSON) alone."""
    width = 24
    filled = round(width * done / total)
    sys.stderr.write(f"\r[{'#' * filled}{'-' * (width - filled)}] {done}/{total} {name[:40]:<40}")
    sys.stderr.flush()


def _print_batch_table(added: list[dict], refused: list[dict]) -> None:
    english = _english()
    header = ("file", "result", "plan / reason") if english else ("文件", "结果", "规划 / 原因")
    rows = [(Path(e["file_added"]).name, "added" if english else "已加入",
             f"{e['plan_id']}  {e['city']} {e['year']}「{e['title']}」") for e in added]
    rows += [(Path(r["file"]).name, "refused" if english else "未加入", r["reason"]) for r in refused]
    width = max(len(r[0]) for r in [header, *rows])
    for row in [header, *rows]:
        print(f"{row[0]:<{width}}  {row[1]:<7}  {row[2]}")
    print(f"{len(added)} added, {len(refused)} refused" if english
          else f"共 {len(added) + len(refused)} 个文件：加入 {len(added)}，未加入 {len(refused)}")


def _queries(query: str):
    """`-` reads one query per stdin line (batch use); otherwise the one query given."""
    if query != "-":
        yield query
        return
    for line in sys.stdin:
        yield line.rstrip("\n")


def _engine(corpus):
    from bot.search.engine import SearchEngine

    return SearchEngine.from_corpus(corpus)


def cmd_search(args, corpus) -> int:
    engine = _engine(corpus)
    for query in _queries(args.query):
        result = engine.search(query, city=args.city, year=args.year, plan_id=args.plan, limit=args.limit)
        if args.json:
            _print_json(result.as_json())
            continue
        if result.notice:
            print(result.notice)
        if not result.hits:
            print(f"没有找到「{query}」的相关内容。" + (f" 试试：{'、'.join(result.suggestions)}"
                                                    if result.suggestions else ""))
        for n, hit in enumerate(result.hits, 1):
            meta = corpus.plan(hit.passage.plan_id).meta
            print(f"{n}. {meta.city} · {meta.title} · {' › '.join(hit.passage.section)}")
            print(f"   {hit.excerpt}")
    return 0


def cmd_city(args, corpus) -> int:
    from bot.search.places import city_json

    for query in _queries(args.query):
        data = city_json(query, corpus)
        if args.json:
            _print_json(data)
            continue
        match = data["match"]
        if not data["plans"]:
            place = f"「{match['name']}」" if match else f"「{query}」"
            print(f"{place}暂无收录的规划。已收录：{'、'.join(data['suggestions'])}")
            continue
        if match and match.get("corrected"):
            print(f"按「{match['corrected']}」查找")
        for plan in data["plans"]:
            print(f"{plan['year']} {plan['city']} · {plan['title']}（{plan['plan_id']}）")
            for title in plan["priorities"]:
                print(f"   ■ {title}")
    return 0


def _searcher(corpus):
    engine = _engine(corpus)
    return lambda query, plan_id: engine.search(query, plan_id=plan_id, limit=2).hits


def cmd_digest(args, corpus) -> int:
    plan_id, city, topic = getattr(args, "plan", None), getattr(args, "city", None), getattr(args, "topic", None)
    if plan_id and corpus.plan(plan_id) is None:
        return _fail(f"没有这份规划：{plan_id}（现有：{', '.join(p.plan_id for p in corpus.plans)}）", EXIT_NOT_FOUND)
    from bot.digests.content import build_digest, digest_text
    from bot.search.places import covered_names, resolve_place

    place = None
    if city:
        match = resolve_place(city, corpus)
        if match is None:
            return _fail(f"没有找到地方「{city}」（已收录：{'、'.join(covered_names(corpus))}）", EXIT_NOT_FOUND)
        place = match.place
    search = _searcher(corpus) if topic else None
    digest = build_digest(corpus, plan_id=plan_id, place=place, topic=topic, search=search)
    if city and not digest.plans:
        return _fail(f"「{city}」暂无收录的规划（已收录：{'、'.join(covered_names(corpus))}）", EXIT_NOT_FOUND)
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(digest.as_dict(), ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(digest_text(digest))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="planbrief", description="PlanBrief 教育规划简报")
    parser.add_argument("--seeds", help="seeds folder (default: $PLANBRIEF_SEEDS or ./seeds)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("plans", help="list the plans in the corpus")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plans)

    p = sub.add_parser("show", help="one plan's outline and headline priorities")
    p.add_argument("plan_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("add", help="add plans (.txt/.html/.docx/.pdf; files or a folder) to the seeds folder")
    p.add_argument("files", nargs="+", metavar="FILE", help="one or more files, or a folder of them")
    p.add_argument("--city")
    p.add_argument("--year", type=int)
    p.add_argument("--title")
    p.add_argument("--kind")
    p.add_argument("--issuer")
    p.add_argument("--date")
    p.add_argument("--source", help="source site")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("search", help="fuzzy topic search across all plans ('-' reads queries from stdin)")
    p.add_argument("query")
    p.add_argument("--city")
    p.add_argument("--year", type=int)
    p.add_argument("--plan")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("city", help="plans for a city, county or province ('-' reads queries from stdin)")
    p.add_argument("query")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_city)

    p = sub.add_parser("digest", help="a digest of headline priorities and targets (--plan/--city/--topic)")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--plan", help="one plan id")
    scope.add_argument("--city", help="a city or county (无锡, wuxi, 江阴)")
    scope.add_argument("--topic", help="a topic; adds its best excerpts per plan (双减)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_digest)

    p = sub.add_parser("run", help="run the Telegram bot (polling, or webhook if PLANBRIEF_WEBHOOK_URL)")
    p.set_defaults(func=_lazy("bot.telegram.app", "run_main"))

    p = sub.add_parser("console", help="chat with the real handlers offline in this terminal")
    p.add_argument("--lang", default="zh", help="zh or en")
    p.set_defaults(func=_lazy("bot.telegram.console", "console_main"))
    return parser


def _lazy(module: str, name: str):
    """Import the Telegram side only for the commands that need it, so `plans`/`search` stay fast."""

    def call(args, corpus):
        import importlib

        return getattr(importlib.import_module(module), name)(args, corpus)

    return call


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "no_corpus", False):
        return args.func(args, None)
    try:
        corpus = load_corpus(args.seeds)
    except CorpusError as exc:
        return _fail(str(exc))
    try:
        return args.func(args, corpus)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
