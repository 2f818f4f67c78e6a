"""Shared fixtures: the corpus and search engine once per session, and a running bot on the fake API.

Building the search index takes seconds, so it is built once (into a session temp dir, never the
working tree) and handed to every Application the tests build.

The tests never read the user's data: before any test module is imported, PLANBRIEF_DATA_DIR points at
a fresh temporary folder (caches, database, and the user's added plans live there), and the settings
that would make the corpus or the database the user's own are blanked (a blank value also keeps a
`.env` from filling them in). A plan a test adds to that folder is swept after the test.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

_DATA = Path(tempfile.mkdtemp(prefix="planbrief-test-data-"))
atexit.register(shutil.rmtree, _DATA, True)
os.environ["PLANBRIEF_DATA_DIR"] = str(_DATA)
for _name in ("PLANBRIEF_SEEDS", "PLANBRIEF_DATABASE_URL"):
    os.environ[_name] = ""


@pytest.fixture(autouse=True)
def _no_added_plans_leak():
    """Each test starts with the shipped seeds only, whatever an earlier test added."""
    yield
    shutil.rmtree(_DATA / "plans", ignore_errors=True)


@pytest.fixture(scope="session")
def shared_corpus():
    from bot.corpus.loader import load_corpus

    return load_corpus()


@pytest.fixture(scope="session")
def shared_engine(shared_corpus, tmp_path_factory):
    from bot.search.engine import SearchEngine

    return SearchEngine.from_corpus(shared_corpus, cache_dir=tmp_path_factory.mktemp("search-cache"))


@pytest.fixture(scope="session")
def postgres_url():
    """One throwaway PostgreSQL server for the whole run (each test takes a fresh database on it with
    `tests.support.postgres.create_database`); skips where no server binaries are installed."""
    from tests.support.postgres import postgres_server, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with postgres_server() as url:
        yield url


@pytest.fixture
def fake_api():
    from tests.support.botapi import BotApiServer

    with BotApiServer() as server:
        yield server


@pytest.fixture
def seeds(tmp_path):
    """A private copy of the shipped seeds folder, for tests that add, remove or try to break plans
    (a lock or temp file some earlier run left beside them is not copied)."""
    from bot.corpus.loader import default_seeds_dir

    target = tmp_path / "seeds"
    shutil.copytree(default_seeds_dir(), target, ignore=shutil.ignore_patterns(".manifest.lock", "*.tmp"))
    return target
