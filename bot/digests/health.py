"""Open the digest store for a long-running bot and say in one line what is wrong if it cannot be used.

Why: `planbrief run` used to print a traceback on every start when the SQLite file was corrupt,
truncated or unwritable, when PostgreSQL was unreachable, or when its driver was missing — so a
supervisor restarted it in a loop with no clear reason — and a read-only database was only noticed
at the first /subscribe. open_checked opens, migrates and then probes a write (rolled back), and
turns every failure into a DatabaseProblem whose message names the database (never its password)
and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from bot.digests.store import Store, open_store, resolve_url

POSTGRES_EXTRA = "pip install 'planbrief[postgres]'"
_POSTGRES_DRIVERS = ("psycopg", "psycopg2", "asyncpg", "pg8000")


class DatabaseProblem(Exception):
    """The database cannot be used; the message is one line for the operator."""


def open_checked(url_or_path: str | os.PathLike | None = None, *,
                 clock: Callable[[], datetime] | None = None) -> Store:
    """open_store, then a write probe; raises DatabaseProblem (one line) instead of any traceback."""
    url = os.fspath(url_or_path) if url_or_path is not None else None
    try:
        url = resolve_url(url_or_path)
        store = open_store(url, clock=clock)
    except (SQLAlchemyError, OSError, ImportError) as exc:
        raise DatabaseProblem(describe(exc, url)) from None
    try:
        probe_write(store)
    except SQLAlchemyError as exc:
        store.close()
        raise DatabaseProblem(describe(exc, url)) from None
    return store


def probe_write(store: Store) -> None:
    """A real write, rolled back: read-only files and read-only PostgreSQL both refuse it now."""
    with store.engine.connect() as conn:
        transaction = conn.begin()
        try:
            conn.execute(text("UPDATE schema_version SET description = description"))
        finally:
            transaction.rollback()


def _where(url: str | None) -> str:
    """The database as the operator knows it: the SQLite path, or the URL without its password."""
    if not url:
        return "the database"
    if "://" not in url:
        return url
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "the database URL"
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or "the SQLite database"
    return parsed.render_as_string(hide_password=True)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0][:200] if lines else type(orig).__name__


def _hide_password(line: str, url: str | None) -> str:
    try:
        password = make_url(url).password if url and "://" in url else None
    except ArgumentError:
        password = None
    return line.replace(str(password), "***") if password else line


def describe(exc: BaseException, url: str | None) -> str:
    """One line: which database, what is wrong with it, and what to do."""
    where = _where(url)
    reason = _hide_password(_first_line(exc), url)
    low = reason.lower()
    if isinstance(exc, NoSuchModuleError) or (
        isinstance(exc, ImportError) and (exc.name or "").split(".")[0] in _POSTGRES_DRIVERS
    ):
        return f"the PostgreSQL driver is not installed ({reason}): {POSTGRES_EXTRA}"
    if isinstance(exc, OSError):
        return f"cannot create the database folder for {where}: {exc.strerror or exc}"
    if "readonly" in low or "read-only" in low:
        return f"the database {where} is read-only ({reason}): the bot must write subscriptions and deliveries"
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        return f"the SQLite database {where} is corrupt or not a database ({reason}): move it aside or restore a backup"
    if "unable to open" in low:
        return f"cannot open the SQLite database {where} ({reason}): check that its folder exists and is writable"
    if url and "://" in url and not url.startswith("sqlite"):
        return f"cannot use PostgreSQL at {where}: {reason}"
    return f"the database {where} cannot be used: {reason}"
