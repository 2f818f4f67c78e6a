"""`planbrief`: the same answers as the bot, scriptable, and the way to run the bot itself.

The `--json` shapes are a contract for outside scripts: fields may be added, never renamed or dropped.
Errors print one line to stderr and exit non-zero; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.corpus.loader import CorpusError, load_corpus, plan_summary

EXIT_NOT_FOUND = 3
EXIT_BAD_INPUT = 4
# C0/C1 controls (terminal escape sequences start with ESC or CSI) and lone surrogates, never printed raw
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(text: str) -> str:
    """Text safe for a terminal: a query like `\x1b]0;pwned\x07` is shown, never executed."""
    return _UNPRINTABLE.sub("", text)


class _PrintableStream:
    """Wraps stdout for the human-readable output, so every echo of user text is filtered in one place."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(printable(text))

    def __getattr__(self, name):
        return getattr(self._stream, name)


@dataclass(frozen=True)
class BadLine:
    """A query that is not valid text (bad UTF-8, lone surrogates): answered with an error, batch goes on."""

    number: int  # stdin line number; 0 for the query given as an argument
    shown: str  # the line with the undecodable bytes replaced, so the reader can find it

    @property
    def message(self) -> str:
        where = f"第 {self.number} 行" if self.number else "查询"
        return f"{where}不是有效的 UTF-8 文本，已跳过"


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _fail(message: str, code: int = 1) -> int:
    sys.stderr.write(f"planbrief: {printable(message)}\n")
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
    from bot.corpus.fetch import FetchError, is_url
    from bot.corpus.ingest import AddError, batch_files

    paths = [Path(f) for f in args.files]
    if len(args.files) == 1 and (is_url(args.files[0]) or not paths[0].is_dir()):
        try:
            entry = _add_one(args, corpus, args.files[0])
        except (AddError, FetchError) as exc:
            return _fail(_said(exc))
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
            added.append(_add_one(args, corpus, str(path)))
            added[-1]["file_added"] = str(path)
        except (AddError, FetchError) as exc:
            refused.append({"file": str(path), "reason": _said(exc)})
    sys.stderr.write("\n")
    if args.json:
        _print_json({"added": added, "refused": refused})
    else:
        _print_batch_table(added, refused)
    return 0 if not refused else 1


def _add_one(args, corpus, target: str) -> dict:
    """One file or link through the add pipeline; a link is fetched first and its file removed after."""
    from bot.corpus.fetch import fetch, is_url
    from bot.corpus.ingest import add_plan

    fetched = fetch(target, allow_private=args.allow_private) if is_url(target) else None
    try:
        return add_plan(corpus.seeds_dir, fetched.path if fetched else Path(target), city=args.city,
                        year=args.year, title=args.title, kind=args.kind, issuer=args.issuer, date=args.date,
                        source_site=args.source or (fetched.site if fetched else None),
                        original_name=fetched.url if fetched else None)
    finally:
        if fetched:
            fetched.path.unlink(missing_ok=True)


def _said(exc: Exception) -> str:
    """The refusal in the reader's language where the error carries an English wording."""
    english = getattr(exc, "en", None)
    return english if english and _english() else str(exc)


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


def cmd_remove(args, corpus) -> int:
    from bot.corpus.ingest import RemoveError, remove_plan

    try:
        entry = remove_plan(corpus.seeds_dir, args.plan_id)
    except RemoveError as exc:
        return _fail(str(exc), EXIT_NOT_FOUND if exc.not_found else 1)
    if args.json:
        _print_json({"removed": entry})
    else:
        print(f"已撤下：{entry['plan_id']}  {entry.get('city', '')} {entry.get('year', '')}「{entry.get('title', '')}」")
    return 0


def _queries(query: str) -> Iterator[str | BadLine]:
    """`-` reads one query per stdin line (batch use); otherwise the one query given.

    Lines are decoded one at a time, so one bad line is answered with an error and the rest still run.
    """
    if query != "-":
        yield _checked(query, 0)
        return
    raw_lines = getattr(sys.stdin, "buffer", None)
    if raw_lines is None:  # stdin replaced by a text stream (tests, embedding): already decoded
        for n, line in enumerate(sys.stdin, 1):
            yield _checked(line.rstrip("\n"), n)
        return
    for n, raw in enumerate(raw_lines, 1):
        raw = raw.rstrip(b"\n").rstrip(b"\r")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield BadLine(n, raw.decode("utf-8", "replace"))
            continue
        yield line.removeprefix("\ufeff") if n == 1 else line


def _checked(text: str, number: int) -> str | BadLine:
    """argv arrives with undecodable bytes as lone surrogates (surrogateescape); they are not text."""
    if re.search("[\ud800-\udfff]", text):
        return BadLine(number, text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
    return text


def _bad_line(bad: BadLine, as_json: bool, shape: dict) -> None:
    if as_json:
        _print_json({"query": bad.shown, **shape, "error": "invalid_encoding", "message": bad.message})
    else:
        sys.stderr.write(f"planbrief: {printable(bad.message)}\n")


def _engine(corpus):
    from bot.search.engine import SearchEngine

    return SearchEngine.from_corpus(corpus)


def cmd_search(args, corpus) -> int:
    engine = _engine(corpus)
    code = 0
    for query in _queries(args.query):
        if isinstance(query, BadLine):
            _bad_line(query, args.json, {"corrected": None, "notice": None, "total": 0, "suggestions": [],
                                         "results": []})
            code = EXIT_BAD_INPUT
            continue
        result = engine.search(query, city=args.city, year=args.year, plan_id=args.plan, limit=args.limit)
        if getattr(args, "csv", None) and args.query != "-":
            from bot.digests.briefing import hit_rows

            _write_csv(args.csv, hit_rows(result.hits, result.plans))
            if args.csv == "-" and not args.json:
                continue
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
    return code


def cmd_city(args, corpus) -> int:
    from bot.search.places import city_json

    code = 0
    for query in _queries(args.query):
        if isinstance(query, BadLine):
            _bad_line(query, args.json, {"match": None, "plans": [], "suggestions": []})
            code = EXIT_BAD_INPUT
            continue
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
    return code


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


def _places(names, corpus):
    """Resolve --city names; (places, None) or (None, the first name no plan covers)."""
    from bot.search.places import plans_for_place, resolve_place

    places = []
    for name in names or []:
        match = resolve_place(name, corpus)
        if match is None or not plans_for_place(match.place, corpus):
            return None, name
        places.append(match.place)
    return places, None


def cmd_compare(args, corpus) -> int:
    """One topic across places: each place's single best excerpt, most relevant first."""
    from bot.digests.compare import compare
    from bot.search.places import covered_names

    places, unknown = _places(args.city, corpus)
    if unknown is not None:
        return _fail(f"没有找到地方「{unknown}」（已收录：{'、'.join(covered_names(corpus))}）", EXIT_NOT_FOUND)
    result = compare(_engine(corpus), corpus, args.query, places)
    if getattr(args, "csv", None):
        from bot.digests.briefing import comparison_rows

        _write_csv(args.csv, comparison_rows(result))
        if args.csv == "-" and not args.json:
            return 0
    if args.json:
        _print_json(result.as_dict())
        return 0
    if result.corrected:
        print(f"按「{result.corrected}」查找")
    if not result.places:
        tips = f" 试试：{'、'.join(result.suggestions)}" if result.suggestions else ""
        print(f"没有找到「{args.query}」的相关内容。{tips}")
    for n, row in enumerate(result.places, 1):
        print(f"{n}. {row.place} · {row.meta.year}《{row.meta.short_title or row.meta.title}》 · "
              f"{' › '.join(row.hit.passage.section)}")
        print(f"   {row.hit.excerpt}")
    return 0


def cmd_changes(args, corpus) -> int:
    """What a place's newest plan adds and no longer mentions, compared with its oldest."""
    from bot.digests.themes import changes_for_place
    from bot.search.places import covered_names

    places, unknown = _places([args.place], corpus)
    if unknown is not None:
        return _fail(f"没有找到地方「{unknown}」（已收录：{'、'.join(covered_names(corpus))}）", EXIT_NOT_FOUND)
    changes = changes_for_place(places[0], corpus)
    if changes is None:
        return _fail(f"「{args.place}」只有同一年的规划，无从比较", EXIT_NOT_FOUND)
    if getattr(args, "png", None):
        from bot.digests.figures import year_shift_picture

        Path(args.png).write_bytes(year_shift_picture(corpus, changes, "en" if _english() else "zh"))
    if args.json:
        _print_json(changes.as_dict())
        return 0
    print(f"{changes.place}：{changes.older.year}《{changes.older.title}》→ {changes.newer.year}《{changes.newer.title}》")
    for label, items in (("新增", changes.added), ("不再提及", changes.dropped)):
        print(f"{label}：")
        for change in items:
            print(f"  {change.theme}「{change.excerpt}」—— {' › '.join(change.passage.section)}")
    return 0


def _write_csv(target: str, rows) -> None:
    """`--csv FILE` ('-' for stdout): UTF-8 with a BOM, so Excel and WPS open the Chinese correctly."""
    from bot.digests.briefing import rows_csv

    text = rows_csv(rows, "en" if _english() else "zh")
    if target == "-":
        sys.stdout.write(text)
    else:
        Path(target).write_text("\ufeff" + text, encoding="utf-8", newline="")


def _scope_plans(names, corpus):
    """(plans, scope label, None) for --city names (all plans without), or (None, None, unknown name)."""
    from bot.digests.briefing import scope_plans

    places, unknown = _places(names, corpus)
    if unknown is not None:
        return None, None, unknown
    return scope_plans(corpus, places), "、".join(p.short for p in places), None


def cmd_themes(args, corpus) -> int:
    """Themes by places for a scope: the shared-themes line's counts as a matrix, a picture on request."""
    from bot.digests.themes import theme_matrix
    from bot.search.places import covered_names

    plans, scope, unknown = _scope_plans(args.city, corpus)
    if unknown is not None:
        return _fail(f"没有找到地方「{unknown}」（已收录：{'、'.join(covered_names(corpus))}）", EXIT_NOT_FOUND)
    matrix = theme_matrix(plans)
    if args.png:
        from bot.digests.figures import themes_picture

        png = themes_picture(corpus, plans, "en" if _english() else "zh", scope)
        if png is None:
            return _fail("这些规划没有共同主题，无图可画" if not _english() else "no shared theme to draw")
        Path(args.png).write_bytes(png)
    if args.json:
        _print_json({"scope": scope, **matrix.as_dict()})
        return 0
    if args.png:
        print(f"已写入：{args.png}" if not _english() else f"written: {args.png}")
        return 0
    width = max([len(r.label) for r in matrix.rows] + [2])
    print(" " * (width * 2) + "  " + " ".join(t.theme for t in matrix.themes))
    for row, cells in zip(matrix.rows, matrix.cells, strict=True):
        line = " ".join(f"{v:>{len(t.theme) * 2}}" for v, t in zip(cells, matrix.themes, strict=True))
        print(f"{row.label:　<{width}}  {line}")
    if matrix.hidden_rows:
        print(f"（另有 {matrix.hidden_rows} 地未列出）")
    return 0


def cmd_brief(args, corpus) -> int:
    """A briefing (简报) on a topic: .docx, Markdown (with the picture beside it), JSON or CSV rows."""
    from bot.digests.briefing import brief_docx, brief_markdown, build_brief, export_row
    from bot.digests.figures import themes_picture
    from bot.search.places import covered_names

    places, unknown = _places(args.city, corpus)
    if unknown is not None:
        return _fail(f"没有找到地方「{unknown}」（已收录：{'、'.join(covered_names(corpus))}）", EXIT_NOT_FOUND)
    lang = "en" if _english() else "zh"
    brief = build_brief(_engine(corpus), corpus, args.query, places)
    if brief.error == "empty":
        return _fail("请给出主题，例如：planbrief brief 双减" if lang == "zh" else "give a topic: planbrief brief 双减",
                     EXIT_BAD_INPUT)
    drawn = brief.stating and (args.docx or args.md)  # JSON, CSV and stdout Markdown need no picture
    picture = themes_picture(corpus, brief.stating, lang, brief.scope) if drawn else None
    if args.docx:
        Path(args.docx).write_bytes(brief_docx(brief, picture, lang))
    if args.md:
        target = Path(args.md)
        name = None
        if picture:
            name = target.with_suffix(".png").name
            target.with_suffix(".png").write_bytes(picture)
        target.write_text(brief_markdown(brief, name, lang), encoding="utf-8")
    if args.csv:
        _write_csv(args.csv, [export_row(e.place, e.meta, e.passage, e.text) for e in brief.excerpts()])
    if args.json:
        _print_json(brief.as_dict())
    elif not (args.docx or args.md or args.csv == "-"):
        sys.stdout.write(brief_markdown(brief, None, lang))
    return 0 if brief.plans else EXIT_NOT_FOUND


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

    p = sub.add_parser("add", help="add plans (.txt/.html/.docx/.pdf; files, a folder, or an http(s) link)")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="one or more files, a folder of them, or an http(s):// address")
    p.add_argument("--allow-private", action="store_true",
                   help="allow links to loopback/private addresses (off: a link cannot probe this host's network)")
    p.add_argument("--city")
    p.add_argument("--year", type=int)
    p.add_argument("--title")
    p.add_argument("--kind")
    p.add_argument("--issuer")
    p.add_argument("--date")
    p.add_argument("--source", help="source site")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("remove", help="withdraw a plan from the seeds folder, as if it had never been added")
    p.add_argument("plan_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("search", help="fuzzy topic search across all plans ('-' reads queries from stdin)")
    p.add_argument("query")
    p.add_argument("--city")
    p.add_argument("--year", type=int)
    p.add_argument("--plan")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.add_argument("--csv", metavar="FILE", help="also write the rows as CSV ('-' for stdout)")
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

    p = sub.add_parser("compare", help="one topic across places: each place's best excerpt (--city repeats)")
    p.add_argument("query")
    p.add_argument("--city", action="append", help="a place to include; repeat for several (default: all)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--csv", metavar="FILE", help="also write the rows as CSV ('-' for stdout)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("changes", help="what a place's newer plan adds and drops, as themes with excerpts")
    p.add_argument("place")
    p.add_argument("--json", action="store_true")
    p.add_argument("--png", metavar="FILE", help="write the two-column picture (added | dropped)")
    p.set_defaults(func=cmd_changes)

    p = sub.add_parser("themes", help="themes by places for a scope (the shared-themes counts as a matrix)")
    p.add_argument("--city", action="append", help="a place; repeat for several (default: every plan)")
    p.add_argument("--png", metavar="FILE", help="write the heatmap picture")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_themes)

    p = sub.add_parser("brief", help="a briefing (简报) on a topic: --docx FILE, --md FILE, --csv FILE, --json")
    p.add_argument("query")
    p.add_argument("--city", action="append", help="a place to cover; repeat for several (default: all)")
    p.add_argument("--docx", metavar="FILE", help="write a Word document")
    p.add_argument("--md", metavar="FILE", help="write Markdown (and the picture as FILE.png beside it)")
    p.add_argument("--csv", metavar="FILE", help="write the excerpts as CSV rows ('-' for stdout)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_brief)

    p = sub.add_parser("run", help="run the Telegram bot (polling, or webhook if PLANBRIEF_WEBHOOK_URL)")
    p.set_defaults(func=_lazy("bot.telegram.app", "run_main"))

    p = sub.add_parser("serve", help="run the bot as a web service: webhook, /healthz, /readyz, /metrics (uvicorn)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (PostgreSQL for more than one)")
    p.set_defaults(func=_lazy("bot.service.serve", "serve_main"), no_corpus=True)
    p = sub.add_parser("stats", help="the operator's view: usage, subscriptions, digests, corpus and index")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_lazy("bot.service.serve", "stats_main"))
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
    if args.command not in ("run", "console") and not getattr(args, "json", False):
        sys.stdout = _PrintableStream(sys.stdout)
    try:
        return args.func(args, corpus)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        if isinstance(sys.stdout, _PrintableStream):
            sys.stdout = sys.stdout._stream


if __name__ == "__main__":
    sys.exit(main())
