"""Shared fixtures: the corpus and search engine once per session, and a running bot on the fake API.

Building the search index takes seconds, so it is built once (into a session temp dir, never the
working tree) and handed to every Application the tests build.
"""

from __future__ import annotations

import contextlib
import dataclasses

import pytest


@pytest.fixture(scope="session")
def shared_corpus():
    from bot.corpus import load_corpus

    return load_corpus()


@pytest.fixture(scope="session")
def shared_engine(shared_corpus, tmp_path_factory):
    from bot.search import SearchEngine

    return SearchEngine.from_corpus(shared_corpus, cache_dir=tmp_path_factory.mktemp("search-cache"))


@pytest.fixture
def fake_api():
    from tests.support.botapi import BotApiServer

    with BotApiServer() as server:
        yield server


@pytest.fixture
def bot_settings(fake_api, tmp_path):
    from bot.config import load_settings

    return load_settings({"TELEGRAM_BOT_TOKEN": fake_api.token, "TELEGRAM_API_URL": fake_api.root_url,
                          "PLANBRIEF_DATA_DIR": str(tmp_path)})


@pytest.fixture
def start_bot(fake_api, bot_settings, shared_corpus, shared_engine):
    """`async with start_bot(**overrides) as app`: the real Application polling the fake server."""
    from bot.app import build_application

    @contextlib.asynccontextmanager
    async def running(**overrides):
        settings = dataclasses.replace(bot_settings, **overrides)
        app = build_application(settings, corpus=shared_corpus, engine=shared_engine)
        async with app:
            await app.start()
            await app.updater.start_polling(poll_interval=0, timeout=1)
            try:
                yield app
            finally:
                await app.updater.stop()
                await app.stop()

    return running
