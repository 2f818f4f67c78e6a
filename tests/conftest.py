"""Shared fixtures: the corpus and search engine once per session, and a running bot on the fake API.

Building the search index takes seconds, so it is built once (into a session temp dir, never the
working tree) and handed to every Application the tests build.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def shared_corpus():
    from bot.corpus.loader import load_corpus

    return load_corpus()


@pytest.fixture(scope="session")
def shared_engine(shared_corpus, tmp_path_factory):
    from bot.search.engine import SearchEngine

    return SearchEngine.from_corpus(shared_corpus, cache_dir=tmp_path_factory.mktemp("search-cache"))


@pytest.fixture
def fake_api():
    from tests.support.botapi import BotApiServer

    with BotApiServer() as server:
        yield server


@pytest.fixture
def seeds(tmp_path):
    """A private copy of the seeds folder, for tests that add, remove or try to break plans."""
    import shutil

    from bot.corpus.loader import default_seeds_dir

    target = tmp_path / "seeds"
    shutil.copytree(default_seeds_dir(), target)
    return target
