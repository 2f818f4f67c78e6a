"""`planbrief`: the same answers as the bot, scriptable, and the way to run the bot itself.

The `--json` shapes are a contract for outside scripts: fields may be added, never renamed or dropped.
Errors print one line to stderr and exit non-zero; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.corpus.loader import CorpusError, load_corpus, plan_summary
from bot.models import PlanMeta

EXIT_NOT_FOUND = 3
EXIT_BAD_INPUT = 4
EXIT_INDEX = 5  # the search index location cannot hold an index (a file, a read-only folder)
# C0/C1 controls (terminal escape sequences start with ESC or CSI) and lone surrogates, never printed raw
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def short_name(name: str) -> str:
    """bot.corpus.regions.short_name, imported on first use: the region tables cost a start that
    prints JSON (or nothing with a place in it)."""
    from bot.corpus.regions import short_name as short

    return short(name)


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
    from bot.config import cli_english

    return cli_english()


def _L(zh: str, en: str) -> str:  # noqa: N802 - reads as a label at every call site
    """The reader's language for one message (see _english)."""
    return en if _english() else zh


def _list(items) -> str:
    return ", ".join(items) if _english() else "、".join(items)


def _not_found(query: str, suggestions: list[str]) -> str:
    tips = _L(f" 试试：{_list(suggestions)}", f" Try: {_list(suggestions)}") if suggestions else ""
    return _L(f"没有找到「{query}」的相关内容。", f"Nothing found for “{query}”.") + tips


def _unknown_place(name: str, corpus) -> str:
    from bot.search.places import covered_names

    known = _list(covered_names(corpus))
    return _L(f"没有找到地方「{name}」（已收录：{known}）", f"No place “{name}” (covered: {known})")


def _unknown_plan(plan_id: str, corpus) -> str:
    known = ", ".join(p.plan_id for p in corpus.plans)
    return _L(f"没有这份规划：{plan_id}（现有：{known}）", f"No plan “{plan_id}” (there are: {known})")


def _search_notice(result) -> str | None:
    """The engine's notice (Chinese) or, in English, the same facts from its fields."""
    if not _english():
        return result.notice
    notes = []
    if result.error == "too_long":
        notes.append("query too long; searched its first 64 characters")
    if result.translated:
        notes.extend(f"searched the Chinese term “{zh}” for “{en}”" for en, zh in result.translated)
    elif result.corrected:
        notes.append(f"showing results for “{result.corrected}”")
    if result.unknown and result.hits:
        notes.append("no plan mentions " + ", ".join(f"“{u}”" for u in result.unknown))
    return "; ".join(notes).capitalize() if notes else None


def cmd_plans(args, corpus) -> int:
    plans = [plan_summary(p) for p in corpus.plans]
    if args.json:
        _print_json({"plans": plans})
        return 0
    for p in plans:
        print(f"{p['plan_id']:<28} {p['year']}  {short_name(p['city'] or ''):<6} {p['kind']:<8} {p['title']}  "
              + _L(f"({p['passages']} 段)", f"({p['passages']} passages)"))
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
        return _fail(_unknown_plan(args.plan_id, corpus), EXIT_NOT_FOUND)
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
    facts = " · ".join(x for x in (m.kind, m.date, m.issuer) if x)
    print(f"{m.title}\n{short_name(m.city)}（{m.province}{'·' + m.parent_city if m.parent_city else ''}）· {facts}\n")
    print(_L("重点任务：", "Headline priorities:"))
    for pr in plan.priorities:
        print(f"  ■ {pr.title}")
        for item in pr.items:
            print(f"      - {item}")
    print(_L("\n结构（→ 计划  ← 回顾  · 其他）：", "\nOutline (→ plan  ← review  · other):"))
    for line in _outline_lines(plan.tree):
        print("  " + line)
    return 0


_ONE_SHOT = False  # this process is the command line's own (`run`): it does one command and exits


def cmd_add(args, corpus) -> int:
    if _ONE_SHOT:  # the readings the add needs later load beside it, off its critical path
        from bot.pinyin import start_helper

        start_helper()
    import bot.digests.themes  # noqa: F401  (the plan is stored with its theme counts, see _load)
    from bot.corpus.fetch import FetchError, looks_like_url
    from bot.corpus.ingest import AddError, batch_files
    from bot.corpus.loader import folders_for

    folders = corpus.folders if corpus is not None else folders_for(args.seeds)  # add loads no corpus
    paths = [Path(f) for f in args.files]
    if len(args.files) == 1 and (looks_like_url(args.files[0]) or not paths[0].is_dir()):
        try:
            entry, draft = _add_one(args, folders, args.files[0], alone=True)
        except (AddError, FetchError) as exc:
            return _fail(_said(exc))
        _index_added(folders, [draft])
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
    added, refused, drafts = [], [], []
    for n, path in enumerate(files, 1):
        _progress(n, len(files), path.name)
        try:
            entry, draft = _add_one(args, folders, str(path))
            added.append(entry)
            drafts.append(draft)
            added[-1]["file_added"] = str(path)
        except (AddError, FetchError) as exc:
            refused.append({"file": str(path), "reason": _said(exc)})
    sys.stderr.write("\n")
    if added:
        _index_added(folders, drafts)
    if args.json:
        _print_json({"added": added, "refused": refused})
    else:
        _print_batch_table(added, refused)
    return 0 if not refused else 1


def _warm_writer() -> None:
    """Load the index writer's tokenizer (jieba's dictionary unless the head table serves; pypinyin
    unless its helper loads it) and what the publish will want (the places by name that naming the
    plan looks up, the file lock) while the sandbox child reads the file: on two cores the two
    overlap. Here, not in a thread beside the publish: a thread holding the GIL through jieba's load
    made the publish's thousands of stats wait."""
    import filelock  # noqa: F401 - the manifest lock's, imported now rather than under the lock

    from bot.corpus.regions import find_places
    from bot.search.engine import index_dir
    from bot.search.tantivy_index import STATE, warm_writer

    find_places("北京")  # builds the name index once (0.08 s)
    if (index_dir(None) / STATE).exists():
        warm_writer(index_dir(None))


def _index_added(folders, drafts) -> None:
    """Put the added plans into the search index now, so the next search starts at once: only these
    plans are written, the others are not even read, and the quick-start stamp is carried over to
    them when it was current (bot.search.quickstart.index_added), so that search loads no corpus
    either. A data folder without an index yet is left for the first search to build; an index that
    cannot be written now (busy, unusable, damaged) likewise: the next search's sync brings it up to
    the corpus."""
    from bot.search.quickstart import index_added
    from bot.search.tantivy_index import IndexBusy, IndexUnusable

    written = [d.written for d in drafts]
    with contextlib.suppress(CorpusError, IndexBusy, IndexUnusable, OSError, ValueError, RuntimeError):
        index_added([d.plan for d in drafts], folders, written if None not in written else [])


def _add_one(args, folders, target: str, alone: bool = False) -> tuple[dict, object]:
    """One file or link through the add pipeline; a link is fetched first and its file removed after.
    Fetching and reading happen in a limited child process (bot.corpus.sandbox); writing here. The
    `add --json` entry and the draft as published (its plan, what it wrote)."""
    from bot.config import allow_private_urls
    from bot.corpus.fetch import looks_like_url
    from bot.corpus.ingest import publish
    from bot.corpus.sandbox import fetch_untrusted, read_untrusted

    allow = args.allow_private or allow_private_urls()
    fetched = fetch_untrusted(target, allow_private=allow, alone=alone) if looks_like_url(target) else None
    try:
        draft = read_untrusted(fetched.path if fetched else Path(target), city=args.city,
                               year=args.year, title=args.title, kind=args.kind, issuer=args.issuer, date=args.date,
                               source_site=args.source or (fetched.site if fetched else None),
                               original_name=fetched.url if fetched else None, alone=alone,
                               meanwhile=_warm_writer if alone else None)
        draft = publish(folders, draft)
        return draft.summary(), draft
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
        entry = remove_plan(corpus.folders, args.plan_id)
    except RemoveError as exc:
        return _fail(_said(exc), EXIT_NOT_FOUND if exc.not_found else 1)
    if args.json:
        _print_json({"removed": entry})
    else:
        print(_L("已撤下：", "Removed: ")
              + f"{entry['plan_id']}  {entry.get('city', '')} {entry.get('year', '')}「{entry.get('title', '')}」")
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


def _load(seeds: str | None):
    """The corpus, with the theme counts a digest reads stored beside any plan this load parses (a
    first build, an add): bot.digests.themes registers them when imported. Not imported before a
    search the index answers alone, where its ~15 ms would count against every start."""
    import bot.digests.themes  # noqa: F401

    return load_corpus(seeds)


class _Deferred:
    """The corpus of a start that answers from the index alone (bot.search.quickstart): loaded only if a
    message needs it (an unknown place or plan, said with the ones there are)."""

    def __init__(self, seeds: str | None, engine) -> None:
        self.engine = engine
        self._seeds = seeds
        self._corpus = None

    def __getattr__(self, name: str):
        if self._corpus is None:
            self._corpus = _load(self._seeds)
        return getattr(self._corpus, name)

    def listing(self) -> _Listing:
        """The plans as far as a command that needs only their metadata sees them (compare): the index's
        list, in corpus order, without loading the corpus."""
        if self._corpus is not None:
            return self._corpus
        return _Listing([_Listed(meta) for meta in self.engine.index.plans])


@dataclass(frozen=True)
class _Listed:
    """A plan as its metadata alone: where it is from (bot.search.places reads `meta`) and its id."""

    meta: PlanMeta

    @property
    def plan_id(self) -> str:
        return self.meta.plan_id


@dataclass
class _Listing:
    plans: list[_Listed]


def _engine(corpus, remember: bool = False):
    if isinstance(corpus, _Deferred):
        return corpus.engine
    from bot.search.engine import SearchEngine

    engine = SearchEngine.from_corpus(corpus)
    if remember:
        from bot.search.quickstart import remember as stamp

        stamp(corpus, engine)
    return engine


QUICK = ("search", "compare")  # commands a quick start (the index alone, no corpus load) can answer


def _quick(args):
    """A `search` start that needs no corpus: the index answers when nothing changed since the last full
    load (bot.search.quickstart); None when something did (or might have)."""
    from bot.corpus.loader import folders_for
    from bot.search.quickstart import quick_engine

    engine = quick_engine(folders_for(args.seeds), lambda: _load(args.seeds).plans)
    return _Deferred(args.seeds, engine) if engine is not None else None


def cmd_search(args, corpus) -> int:
    engine = _engine(corpus, remember=True)
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
        if notice := _search_notice(result):
            print(notice)
        if result.error == "unknown_city":
            print(_unknown_place(args.city, corpus))
        elif result.error == "unknown_plan":
            print(_unknown_plan(args.plan, corpus))
        elif not result.hits:
            print(_not_found(query, result.suggestions))
        for n, hit in enumerate(result.hits, 1):
            meta = result.plans[hit.passage.plan_id]
            print(f"{n}. {short_name(meta.city)} · {meta.title} · {' › '.join(hit.passage.section)}")
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
            place = match["name"] if match else query
            print(_L(f"「{place}」暂无收录的规划。已收录：{_list(data['suggestions'])}",
                     f"No plans for “{place}” yet. Covered: {_list(data['suggestions'])}"))
            continue
        if match and match.get("corrected"):
            print(_L(f"按「{match['corrected']}」查找", f"Showing “{match['corrected']}”"))
        for plan in data["plans"]:
            print(f"{plan['year']} {short_name(plan['city'] or '')} · {plan['title']}（{plan['plan_id']}）")
            for title in plan["priorities"]:
                print(f"   ■ {title}")
    return code


def cmd_digest(args, corpus) -> int:
    plan_id, city, topic = getattr(args, "plan", None), getattr(args, "city", None), getattr(args, "topic", None)
    if plan_id and corpus.plan(plan_id) is None:
        return _fail(_unknown_plan(plan_id, corpus), EXIT_NOT_FOUND)
    from bot.digests.content import build_digest, digest_text
    from bot.search.places import covered_names, resolve_place

    place = None
    if city:
        match = resolve_place(city, corpus)
        if match is None:
            return _fail(_unknown_place(city, corpus), EXIT_NOT_FOUND)
        place = match.place
    search = topic_plans = found = None
    if topic:
        engine = _engine(corpus)
        search = lambda query, pid: engine.search(query, plan_id=pid, limit=2).hits  # noqa: E731
        found = engine.search(topic)
        topic_plans = {h.passage.plan_id for h in engine.search(topic, limit=50).hits}
    digest = build_digest(corpus, plan_id=plan_id, place=place, topic=topic, search=search,
                          topic_plans=topic_plans)
    if city and not digest.plans:
        known = _list(covered_names(corpus))
        return _fail(_L(f"「{city}」暂无收录的规划（已收录：{known}）", f"No plans for “{city}” yet (covered: {known})"),
                     EXIT_NOT_FOUND)
    if found is not None and not found.total:  # never a digest of plans that do not mention it
        if getattr(args, "json", False):
            out = digest.as_dict() | {"error": "no_match", "suggestions": found.suggestions}
            sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
            return EXIT_NOT_FOUND
        return _fail(_not_found(topic, found.suggestions), EXIT_NOT_FOUND)
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(digest.as_dict(), ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(digest_text(digest, "en" if _english() else "zh"))
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

    engine = _engine(corpus)
    if isinstance(corpus, _Deferred):  # a quick start: places from the plans' metadata, no corpus load
        corpus = corpus.listing()
    places, unknown = _places(args.city, corpus)
    if unknown is not None:
        return _fail(_unknown_place(unknown, corpus), EXIT_NOT_FOUND)
    result = compare(engine, corpus, args.query, places)
    if getattr(args, "csv", None):
        from bot.digests.briefing import comparison_rows

        _write_csv(args.csv, comparison_rows(result))
        if args.csv == "-" and not args.json:
            return 0
    if args.json:
        _print_json(result.as_dict())
        return 0
    if result.corrected:
        print(_L(f"按「{result.corrected}」查找", f"Showing results for “{result.corrected}”"))
    if not result.places:
        print(_not_found(args.query, result.suggestions))
    for n, row in enumerate(result.places, 1):
        print(f"{n}. {row.place} · {row.meta.year}《{row.meta.short_title or row.meta.title}》 · "
              f"{' › '.join(row.hit.passage.section)}")
        print(f"   {row.hit.excerpt}")
    return 0


def cmd_changes(args, corpus) -> int:
    """What a place's newest plan adds and no longer mentions, compared with its oldest."""
    from bot.digests.themes import changes_for_place

    places, unknown = _places([args.place], corpus)
    if unknown is not None:
        return _fail(_unknown_place(unknown, corpus), EXIT_NOT_FOUND)
    changes = changes_for_place(places[0], corpus)
    if changes is None:
        return _fail(_L(f"「{args.place}」只有同一年的规划，无从比较",
                        f"“{args.place}” has plans of one year only; nothing to compare"), EXIT_NOT_FOUND)
    if getattr(args, "png", None):
        from bot.digests.figures import year_shift_picture

        Path(args.png).write_bytes(year_shift_picture(corpus, changes, "en" if _english() else "zh"))
    if args.json:
        _print_json(changes.as_dict())
        return 0
    print(f"{changes.place}：{changes.older.year}《{changes.older.title}》→ {changes.newer.year}《{changes.newer.title}》")
    if not changes.same_kind:
        a, b = changes.newer.kind, changes.older.kind
        print(_L(f"注意：两份文件类型不同（{a} vs {b}），比较仅供参考",
                 f"Note: the two documents are of different kinds ({a} vs {b}); read the comparison with care"))
    for label, items in ((_L("新增", "New"), changes.added), (_L("不再提及", "No longer mentioned"), changes.dropped)):
        print(f"{label}{_L('：', ':')}")
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
    picture = themes_picture(corpus, brief.stating, lang, brief.scope, brief.matrix) if drawn else None
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
# ------------------------------------------------------------------------------------------ sources


def _source_store():
    from bot.digests.store import default_location
    from bot.sources.store import SourceStore

    return SourceStore.open(default_location())


def _watcher(store, corpus):
    import os

    from bot.config import allow_private_urls
    from bot.sources.poller import WatchPolicy
    from bot.sources.watch import Watcher

    return Watcher(store, corpus.folders, Path(os.environ.get("PLANBRIEF_DATA_DIR") or "data"),
                   WatchPolicy.from_env(), allow_private=allow_private_urls())


def cmd_sources(args, corpus) -> int:
    if args.action == "triage":
        return _sources_triage(args)
    store = _source_store()
    try:
        return _SOURCE_ACTIONS[args.action](args, corpus, store)
    finally:
        store.close()


def _sources_add(args, corpus, store) -> int:
    from bot.sources.watchlist import add_source

    if args.from_file:
        return _sources_from_file(args, store)
    if not args.url or not args.city:
        return _fail("用法：planbrief sources add URL --city 地名 [--selector CSS] [--every 6h] [--auto]",
                     EXIT_BAD_INPUT)
    source, error = add_source(store, args.url, args.city, selector=args.selector, every=args.every,
                               auto=args.auto, allow_private=args.allow_private, backfill=args.backfill)
    if error:
        return _fail(error, EXIT_BAD_INPUT)
    if args.json:
        _print_json(source.as_json())
    else:
        print(f"已关注 #{source.id}  {source.city}  {source.mode}  {source.url}")
    return 0


def _sources_from_file(args, store) -> int:
    import tomllib

    from bot.sources.watchlist import add_source

    try:
        data = tomllib.loads(Path(args.from_file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return _fail(f"无法读取 {args.from_file}：{exc}", EXIT_BAD_INPUT)
    added, refused = [], []
    for entry in data.get("source", []):
        source, error = add_source(store, entry.get("url", ""), entry.get("city", ""),
                                   selector=entry.get("selector"), every=str(entry.get("every", "6h")),
                                   auto=entry.get("mode") == "auto", allow_private=args.allow_private)
        if error:
            refused.append({"url": entry.get("url"), "reason": error})
        else:
            added.append(source.as_json())
    if args.json:
        _print_json({"added": added, "refused": refused})
    else:
        for s in added:
            print(f"已关注 #{s['id']}  {s['city']}  {s['url']}")
        for r in refused:
            print(f"未加入 {r['url']}：{r['reason']}")
    return 0


def _sources_list(args, corpus, store) -> int:
    rows = store.list_sources()
    if args.json:
        _print_json({"sources": [{**s.as_json(), "items": store.counts(s.id)} for s in rows]})
        return 0
    if not rows:
        print("还没有关注任何来源：planbrief sources add URL --city 地名")
    for s in rows:
        counts = store.counts(s.id)
        last = s.last_success_at.strftime("%Y-%m-%d %H:%M") if s.last_success_at else "—"
        print(f"#{s.id:<4} {s.state:<8} {s.mode:<8} {s.city:<8} 上次成功 {last}  "
              f"已见 {sum(counts.values())}  待审 {counts.get('proposed', 0)}  失败 {s.failures}  {s.url}")
    return 0


def _sources_remove(args, corpus, store) -> int:
    removed = store.remove_source(args.id)
    if removed is None:
        return _fail(f"没有这个来源：{args.id}", EXIT_NOT_FOUND)
    if args.json:
        _print_json({"removed": removed.as_json()})
    else:
        print(f"已取消关注 #{removed.id}  {removed.url}")
    return 0


def _sources_check(args, corpus, store) -> int:
    if args.id is not None and store.get_source(args.id) is None:
        return _fail(f"没有这个来源：{args.id}", EXIT_NOT_FOUND)
    report = _watcher(store, corpus).run_round([args.id] if args.id is not None else None)
    if args.json:
        _print_json(report.as_json())
        return 0
    for s in report.sources:
        print(f"#{s.source.id} {s.status} {s.http_status or ''} 列表 {s.items_seen} 条，新 {s.new_items} 条"
              + (f"  {s.error}" if s.error else "") + f"  {s.source.url}")
        for c in s.candidates:
            print(f"   [{c.status}] #{c.id} {c.title}  {c.url}")
    return 0


def _sources_candidates(args, corpus, store) -> int:
    waiting = store.items_with_status("proposed")
    if args.json:
        _print_json({"candidates": [c.as_candidate() for c in waiting]})
        return 0
    if not waiting:
        print("没有待审的候选。")
    for c in waiting:
        print(f"#{c.id}  {c.kind or ''}  {c.title}  {c.url}")
    return 0


def _sources_decide(args, corpus, store) -> int:
    from bot.sources.watch import CandidateError

    watcher = _watcher(store, corpus)
    try:
        item = watcher.accept(args.id) if args.action == "accept" else watcher.reject(args.id)
    except CandidateError as exc:
        return _fail(str(exc), EXIT_NOT_FOUND if "没有" in str(exc) else 1)
    if args.json:
        _print_json(item.as_candidate())
    elif item.status == "published":
        print(f"已收录：{item.plan_id}  {item.title}")
    else:
        print(f"已取消：#{item.id}  {item.title}")
    return 0


def _sources_triage(args) -> int:
    from bot.sources.triage import triage

    code = 0
    for line in _queries(args.titles):
        if isinstance(line, BadLine):
            _bad_line(line, args.json, {"title": line.shown, "candidate": False, "kind": None, "place": None,
                                        "year": None, "why": []})
            code = EXIT_BAD_INPUT
            continue
        title, _, url = line.partition("\t")
        if not title.strip():
            continue
        verdict = triage(title)
        out = verdict.as_json() | ({"url": url.strip()} if url.strip() else {})
        if args.json:
            _print_json(out)
        else:
            mark = "✔" if verdict.candidate else "✘"
            print(f"{mark} {verdict.title}  ({verdict.kind or '—'}; {'、'.join(verdict.why) or '无计划词'})")
    return code


_SOURCE_ACTIONS = {"add": _sources_add, "list": _sources_list, "remove": _sources_remove, "check": _sources_check,
                   "candidates": _sources_candidates, "accept": _sources_decide, "reject": _sources_decide}


def _sources_parser(sub) -> None:
    p = sub.add_parser("sources", help="watch bureau portal columns for new plans (add/list/remove/check/...)")
    actions = p.add_subparsers(dest="action", required=True)

    a = actions.add_parser("add", help="watch a column: sources add URL --city C [--selector CSS] [--every 6h]")
    a.add_argument("url", nargs="?")
    a.add_argument("--city")
    a.add_argument("--selector", help="CSS selector of the list area")
    a.add_argument("--every", default="6h", help="check interval: 6h, 30m, 1d (default 6h)")
    a.add_argument("--auto", action="store_true", help="publish clean candidates without an editor")
    a.add_argument("--backfill", type=int, default=0, help="on the first check, read N more list pages as new")
    a.add_argument("--allow-private", action="store_true", help="allow a loopback/private address")
    a.add_argument("--from", dest="from_file", help="add every [[source]] of a TOML file (sources.example.toml)")
    a.add_argument("--json", action="store_true")

    a = actions.add_parser("list", help="the watch list")
    a.add_argument("--json", action="store_true")

    for name, text in (("remove", "stop watching a source"), ("accept", "publish a proposed candidate (收录)"),
                       ("reject", "drop a proposed candidate (取消); it is never proposed again")):
        a = actions.add_parser(name, help=text)
        a.add_argument("id", type=int)
        a.add_argument("--json", action="store_true")

    a = actions.add_parser("check", help="one check round now (every source, or one ID): for cron and tests")
    a.add_argument("id", type=int, nargs="?")
    a.add_argument("--json", action="store_true")

    a = actions.add_parser("candidates", help="proposals waiting for an editor")
    a.add_argument("--json", action="store_true")

    a = actions.add_parser("triage", help="read titles ('-': one a line, TITLE<TAB>URL) and say which are plans")
    a.add_argument("titles")
    a.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sources)


def build_parser(parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = parser_class(prog="planbrief", description="PlanBrief 教育规划简报")
    parser.add_argument("--seeds", help="use this seeds folder alone, and add to it (default: $PLANBRIEF_SEEDS, "
                                        "else the shipped seeds plus your plans in $PLANBRIEF_DATA_DIR/plans)")
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

    p = sub.add_parser("remove", help="withdraw a plan you added, as if it had never been added")
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
    _sources_parser(sub)

    p = sub.add_parser("run", help="run the Telegram bot (polling, or webhook if PLANBRIEF_WEBHOOK_URL)")
    p.set_defaults(func=_lazy("bot.service.app", "run_main"))

    p = sub.add_parser("serve", help="run the bot as a web service: webhook, /healthz, /readyz, /metrics (uvicorn)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (PostgreSQL for more than one)")
    p.set_defaults(func=_lazy("bot.service.serve", "serve_main"), no_corpus=True)
    p = sub.add_parser("stats", help="the operator's view: usage, subscriptions, digests, corpus and index")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_lazy("bot.service.serve", "stats_main"))
    p = sub.add_parser("console", help="chat with the real handlers offline in this terminal")
    p.add_argument("--lang", default="zh", help="zh or en")
    p.add_argument("--editor", action="store_true",
                   help="be an editor here (as if PLANBRIEF_EDITORS listed the console user, id 1000)")
    p.set_defaults(func=_lazy("bot.service.console", "console_main"))
    return parser


def _lazy(module: str, name: str):
    """Import the Telegram side only for the commands that need it, so `plans`/`search` stay fast."""

    def call(args, corpus):
        import importlib

        return getattr(importlib.import_module(module), name)(args, corpus)

    return call


@contextlib.contextmanager
def _argparse_language():
    """argparse's own words (usage, errors, help) in the reader's language: it looks them up through
    gettext at the moment it prints, so they are swapped for the Chinese table while it parses."""
    if _english():
        yield
        return
    from bot.telegram.i18n import ARGPARSE_ZH

    saved = argparse._, argparse.ngettext
    argparse._ = lambda text: ARGPARSE_ZH.get(text, text)
    argparse.ngettext = lambda one, many, n: ARGPARSE_ZH.get(one if n == 1 else many, one if n == 1 else many)
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved


def _localise_help(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The CLI's help texts in Chinese under a Chinese locale (they are written in English)."""
    if _english():
        return parser
    from bot.telegram.i18n import HELP_ZH

    def walk(p: argparse.ArgumentParser) -> None:
        for action in p._actions:
            if action.help in HELP_ZH:
                action.help = HELP_ZH[action.help]
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    choice.help = HELP_ZH.get(choice.help, choice.help)
                for sub in dict.fromkeys(action.choices.values()):
                    walk(sub)

    walk(parser)
    return parser


class _Unsure(Exception):
    """The command line needs argparse to speak (an error): parse it again with the reader's words."""


class _SilentParser(argparse.ArgumentParser):
    def error(self, message: str):
        raise _Unsure(message)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """A command line that parses and asks for no help never shows argparse's own words, so it is
    parsed without loading the Chinese tables (bot.telegram.i18n: a start's worth of import); help and
    errors are parsed again with them."""
    words = sys.argv[1:] if argv is None else list(argv)
    if not any(w == "-h" or (len(w) > 3 and "--help".startswith(w)) for w in words):  # --he: argparse's abbreviation
        with contextlib.suppress(_Unsure):
            return build_parser(_SilentParser).parse_args(words)
    with _argparse_language():  # group titles and -h's help are looked up when the parser is built
        parser = _localise_help(build_parser())
        return parser.parse_args(words)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "sources" and args.action not in ("check", "accept", "reject"):
        args.no_corpus = True  # the watch list and triage need no corpus: answer at once
    if getattr(args, "no_corpus", False):
        return args.func(args, None)
    from bot.config import load_dotenv_file

    load_dotenv_file()  # PLANBRIEF_SEEDS / PLANBRIEF_DATA_DIR in .env choose the corpus, as for `run`
    try:
        if args.command == "add":
            corpus = None  # add reads only the manifests
        else:
            corpus = (_quick(args) if args.command in QUICK else None) or _load(args.seeds)
    except CorpusError as exc:
        return _fail(str(exc))
    if args.command not in ("run", "console") and not getattr(args, "json", False):
        sys.stdout = _PrintableStream(sys.stdout)
    from bot.search.tantivy_index import IndexUnusable

    try:
        return args.func(args, corpus)
    except CorpusError as exc:  # a deferred corpus (see _Deferred) that fails to load when a message needs it
        return _fail(str(exc))
    except IndexUnusable as exc:
        return _fail(str(exc), EXIT_INDEX)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        if isinstance(sys.stdout, _PrintableStream):
            sys.stdout = sys.stdout._stream


def run(argv: list[str] | None = None) -> None:
    """The command line's entry (`planbrief`, `python -m bot`): `main`, then a quick exit. The normal
    interpreter teardown frees every object one at a time (pypinyin's dictionaries, 50,000 manifest
    entries, tantivy's handles): 0.15-0.25 s of a 2 s `add` at ×10,000, for memory the OS takes back at
    once. The exit handlers still run first (logging, temporary folders, multiprocessing's helpers) and
    the output is flushed; while another thread is still running, the normal exit waits for it."""
    global _ONE_SHOT
    _ONE_SHOT = True
    code = main(argv)
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()  # what the normal exit would run first; no public name for it
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
