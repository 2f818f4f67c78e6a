"""`planbrief digest [--plan ID | --city C | --topic T] [--json]`: the bot's digest, scriptable.

The JSON shape is a contract (add keys, never rename): {"plans": [{"plan_id", "city", "year", "title",
"priorities": [{"title", "items"}], "targets", "new", …}], "city", "topic"}. Errors are one line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys

from bot.digest import build_digest, digest_text
from bot.places import covered_names, resolve_place

EXIT_NOT_FOUND = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """For bot/cli.py: `p = sub.add_parser("digest"); add_arguments(p); p.set_defaults(func=digest_main)`."""
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--plan", help="one plan id")
    scope.add_argument("--city", help="a city or county (无锡, wuxi, 江阴)")
    scope.add_argument("--topic", help="a topic; adds its best excerpts per plan (双减)")
    parser.add_argument("--json", action="store_true")


def _fail(message: str, code: int = EXIT_NOT_FOUND) -> int:
    sys.stderr.write(f"planbrief: {message}\n")
    return code


def _searcher(corpus):
    from bot.search import SearchEngine

    engine = SearchEngine.from_corpus(corpus)
    return lambda query, plan_id: engine.search(query, plan_id=plan_id, limit=2).hits


def digest_main(args, corpus) -> int:
    plan_id, city, topic = getattr(args, "plan", None), getattr(args, "city", None), getattr(args, "topic", None)
    if plan_id and corpus.plan(plan_id) is None:
        return _fail(f"没有这份规划：{plan_id}（现有：{', '.join(p.plan_id for p in corpus.plans)}）")
    place = None
    if city:
        match = resolve_place(city, corpus)
        if match is None:
            return _fail(f"没有找到地方「{city}」（已收录：{'、'.join(covered_names(corpus))}）")
        place = match.place
    search = _searcher(corpus) if topic else None
    digest = build_digest(corpus, plan_id=plan_id, place=place, topic=topic, search=search)
    if city and not digest.plans:
        return _fail(f"「{city}」暂无收录的规划（已收录：{'、'.join(covered_names(corpus))}）")
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(digest.as_dict(), ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(digest_text(digest))
    return 0
