"""The import direction seeds → corpus → index → answers → messages, enforced on the real imports.

Every `import` and `from … import` in bot/ and handlers/ (at any depth, lazy ones included) is read
with ast and checked against the rooms' order. A new module is checked the moment it exists: the rules
name rooms, not files.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# rank of each room: a module may import its own room and rooms of lower rank, never higher
# bot.sources sits between the digests (whose store and migrations it uses) and the Telegram side (whose
# job drives it): it may import digests, never the other way round
# handlers sit above bot/telegram (rendering, i18n, jobs), and the service room — the composition root that
# builds the Application and wires every handler in — sits above all: no room imports a room after it
ROOMS = {"bot.corpus": 1, "bot.search": 2, "bot.digests": 3, "bot.sources": 4, "bot.telegram": 5, "handlers": 6,
         "bot.service": 7}
SHARED = {"bot.models", "bot.textnorm", "bot.config", "bot.pinyin"}  # used by every room; import no room themselves
ENTRY = {"bot.cli", "bot.__main__"}  # the command line sits above everything
TELEGRAM_SIDE = {"bot.telegram", "handlers", "bot.service"}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import; relative ones resolved against `module`."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            # `from bot import corpus` imports the submodule bot.corpus
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def room_of(name: str) -> str | None:
    for room in sorted([*ROOMS, *SHARED, *ENTRY], key=len, reverse=True):
        if name == room or name.startswith(room + "."):
            return room
    return None


def rule_broken(source: str, target: str) -> str | None:
    """Why `source` may not import `target`, or None when it may."""
    if target == "telegram" or target.startswith("telegram."):
        return None if source in TELEGRAM_SIDE or source in ENTRY else "the core never imports telegram"
    dest = room_of(target)
    if dest is None or dest == source:
        return None
    if source in SHARED:
        return None if dest in SHARED else f"shared module imports the {dest} room"
    if dest in SHARED:
        return None
    if dest in ENTRY:
        return None if source in ENTRY else "only the command line imports the command line"
    if source in ENTRY:
        return None
    if ROOMS[dest] > ROOMS[source]:
        return f"{source} imports upward into {dest}"
    return None


def violations(root: Path) -> list[str]:
    found = []
    for path in sorted([*root.glob("bot/**/*.py"), *root.glob("handlers/**/*.py")]):
        module = module_name(path, root)
        if module in ("bot", "handlers"):  # package markers: they hold no code
            continue
        source = room_of(module)
        if source is None:
            found.append(f"{path.relative_to(root)}: not in any room (add it to one)")
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        flagged = set()
        for line, target in imported(tree, module, path.name == "__init__.py"):
            why = rule_broken(source, target)
            if why and line not in flagged:
                flagged.add(line)
                found.append(f"{path.relative_to(root)}:{line}: {target} — {why}")
    return found


def test_project_follows_the_import_direction():
    assert violations(ROOT) == []


def test_every_room_says_what_it_may_import():
    for room in ("corpus", "search", "digests", "sources", "telegram"):
        doc = ast.get_docstring(ast.parse((ROOT / "bot" / room / "__init__.py").read_text(encoding="utf-8")))
        assert doc and "May import" in doc and "Must not import" in doc, room


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, body in {"bot/__init__.py": "", "bot/corpus/__init__.py": "", "bot/search/__init__.py": "",
                       "bot/digests/__init__.py": "", "bot/telegram/__init__.py": "", **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body), encoding="utf-8")
    return tmp_path


def test_checker_flags_each_forbidden_kind(tmp_path):
    root = _tree(tmp_path, {
        "bot/sources/__init__.py": "",
        "bot/sources/watch.py": "from bot.telegram import render\n",
        "bot/digests/ledger.py": "from bot.sources import watch\n",
        "bot/corpus/reader.py": "from bot.search.engine import SearchEngine\n",
        "bot/search/engine.py": "def f():\n    import telegram\n",  # lazy imports count too
        "bot/digests/jobs.py": "from bot.telegram import render\n",
        "bot/models.py": "from .corpus import reader\n",  # relative, resolved
        "bot/stray.py": "",
        "handlers/topic.py": "from telegram import Update\nfrom bot.search import engine\n",
    })
    found = "\n".join(violations(root))
    assert "bot/corpus/reader.py:1: bot.search.engine — bot.corpus imports upward into bot.search" in found
    assert "bot/search/engine.py:2: telegram — the core never imports telegram" in found
    assert "bot/digests/jobs.py:1: bot.telegram — bot.digests imports upward into bot.telegram" in found
    assert "bot/models.py:1: bot.corpus — shared module imports the bot.corpus room" in found
    assert "bot/stray.py: not in any room" in found
    assert "bot/sources/watch.py:1: bot.telegram — bot.sources imports upward into bot.telegram" in found
    assert "bot/digests/ledger.py:1: bot.sources — bot.digests imports upward into bot.sources" in found
    assert "handlers/topic.py" not in found


def test_checker_allows_the_direction_the_data_flows(tmp_path):
    root = _tree(tmp_path, {
        "bot/corpus/reader.py": "from bot.models import Plan\nfrom bot.textnorm import normalize\n",
        "bot/search/engine.py": "from bot.corpus import reader\nfrom . import tokenize\n",
        "bot/search/tokenize.py": "",
        "bot/digests/content.py": "from bot.search.engine import x\nfrom bot.corpus.reader import y\n",
        "handlers/topic.py": "import telegram\nfrom bot.telegram import render\nfrom bot.digests import content\n",
        "bot/service/app.py": "import telegram\nfrom handlers import topic\nfrom bot.digests import content\n",
        "bot/cli.py": "from bot.service import app\n",
    })
    assert violations(root) == []


def test_the_rendering_room_never_imports_the_handlers(tmp_path):
    """The composition root used to live in bot/telegram and import handlers/: the one import against
    the flow. Now bot/telegram (render, i18n, jobs) importing handlers is a violation like any other."""
    root = _tree(tmp_path, {
        "bot/telegram/app.py": "from handlers import topic\n",
        "handlers/topic.py": "",
    })
    assert violations(root) == ["bot/telegram/app.py:1: handlers — bot.telegram imports upward into handlers"]
