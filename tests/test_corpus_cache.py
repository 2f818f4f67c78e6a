"""The parsed-corpus cache: an unchanged corpus is read back, any change to a plan, the manifest or the
corpus code parses again, and a damaged cache is never fatal."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.corpus import cache
from bot.corpus.loader import load_corpus

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


@pytest.fixture()
def seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANBRIEF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PLANBRIEF_CORPUS_CACHE", raising=False)
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


def _files(tmp_path) -> list[Path]:
    return sorted((tmp_path / "data" / "corpus").glob("corpus-*.pickle"))


def test_unchanged_corpus_is_read_back_identically(seeds, tmp_path, monkeypatch):
    parsed = load_corpus(seeds)
    assert len(_files(tmp_path)) == 1
    import bot.corpus.loader as loader

    def no_parse(*_a, **_k):
        raise AssertionError("an unchanged corpus must not be parsed again")

    monkeypatch.setattr(loader, "build_plan", no_parse)
    again = load_corpus(seeds)
    assert again.fingerprint == parsed.fingerprint
    assert [p.meta for p in again.plans] == [p.meta for p in parsed.plans]
    assert again.passages == parsed.passages
    assert [p.priorities for p in again.plans] == [p.priorities for p in parsed.plans]
    assert again.seeds_dir == seeds


def test_an_edited_plan_is_parsed_again(seeds, tmp_path):
    before = load_corpus(seeds)
    path = seeds / "jiangyin-2023-speech.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("修师德", "修师德修身"), encoding="utf-8")
    after = load_corpus(seeds)
    assert after.fingerprint != before.fingerprint
    assert any("修师德修身" in p.text for p in after.passages)
    assert len(_files(tmp_path)) == 2


def test_code_change_changes_the_key(tmp_path, monkeypatch):
    """Editing any bot/corpus/*.py (a reader fix) must invalidate every cached parse."""
    bot_copy = tmp_path / "bot"
    shutil.copytree(cache.BOT / "corpus", bot_copy / "corpus")
    for name in ("models.py", "textnorm.py"):
        shutil.copy(cache.BOT / name, bot_copy / name)
    monkeypatch.setattr(cache, "BOT", bot_copy)
    monkeypatch.setattr(cache, "CODE", (bot_copy / "models.py", bot_copy / "textnorm.py"))
    cache.code_fingerprint.cache_clear()
    try:
        first = cache.corpus_key(b"{}", [])
        (bot_copy / "corpus" / "outline.py").write_text("# changed\n", encoding="utf-8")
        cache.code_fingerprint.cache_clear()
        assert cache.corpus_key(b"{}", []) != first
    finally:
        cache.code_fingerprint.cache_clear()


def test_damaged_cache_is_rebuilt_not_fatal(seeds, tmp_path):
    parsed = load_corpus(seeds)
    (path,) = _files(tmp_path)
    path.write_bytes(b"not a pickle")
    again = load_corpus(seeds)
    assert again.passages == parsed.passages
    assert path.read_bytes() != b"not a pickle"


def test_cache_can_be_turned_off(seeds, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANBRIEF_CORPUS_CACHE", "0")
    load_corpus(seeds)
    assert _files(tmp_path) == []


def test_missing_file_still_reports_the_file(seeds):
    from bot.corpus.loader import CorpusError

    (seeds / "suzhou-2023-workpoints.txt").unlink()
    with pytest.raises(CorpusError, match="suzhou-2023-workpoints.txt"):
        load_corpus(seeds)
