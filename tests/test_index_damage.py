"""The search index is a cache of the corpus: damage of any kind is said in one WARNING line and
rebuilt, and the question is answered, from the command line and from a running engine alike. A
location that cannot hold an index at all is one line and exit code 5, never a traceback."""

from __future__ import annotations

import gc
import json
import logging
import os
from pathlib import Path

import pytest

from bot.cli import EXIT_INDEX, main
from bot.search.tantivy_index import FORMAT
from tests.test_editor_desk import desk, say  # noqa: F401 - the running bot fixture and its helper


def _replace(path: Path, data: bytes) -> None:
    """Damage lands as a new file under the old name. Rewriting in place would shrink pages that the
    first search's index, still mapped in this test process, may touch from tantivy's own threads:
    a SIGBUS that kills the test run, not the damage the product meets (a file replaced or cut
    while no process holds it)."""
    temporary = path.with_name(path.name + ".damaged")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _flip(path: Path, step: int = 7) -> None:
    data = bytearray(path.read_bytes())
    for i in range(0, len(data), step):
        data[i] ^= 0xFF
    _replace(path, bytes(data))


def _files(index: Path, suffix: str) -> list[Path]:
    found = sorted(index.glob(f"*{suffix}"))
    assert found, f"no {suffix} files in {index}"
    return found


DAMAGE = {
    "pos files deleted": lambda d: [p.unlink() for p in _files(d, ".pos")],
    "fast file flipped": lambda d: [_flip(p) for p in _files(d, ".fast")],
    "term file truncated": lambda d: [_replace(p, p.read_bytes()[:100]) for p in _files(d, ".term")],
    "idx file flipped": lambda d: [_flip(p, 3) for p in _files(d, ".idx")],
    "segment files deleted": lambda d: [p.unlink() for s in (".idx", ".term", ".store") for p in _files(d, s)],
    "meta.json garbage": lambda d: (d / "meta.json").write_text("{garbage", encoding="utf-8"),
    "meta.json empty": lambda d: (d / "meta.json").write_bytes(b""),
    "state.json garbage": lambda d: (d / "state.json").write_text('{"format":', encoding="utf-8"),
    "state.json missing keys": lambda d: (d / "state.json").write_text(json.dumps({"format": FORMAT}), encoding="utf-8"),
    "stored passages flipped": lambda d: [_flip(p) for p in _files(d, ".store")],
}


def _search(capsys, *extra) -> tuple[int, dict | None, str]:
    code = main(["search", "双减", "--json", *extra])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANBRIEF_DATA_DIR", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_damaged_index_is_rebuilt_with_one_warning_and_answers(data_dir, capsys, caplog, kind):
    code, first, _ = _search(capsys)
    assert code == 0 and first["results"]
    index = next((data_dir / "search").glob("tantivy-v*/"))
    gc.collect()  # let the first search's index go before its files are damaged
    DAMAGE[kind](index)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bot.search"):
        code, answer, err = _search(capsys)
    assert code == 0 and "Traceback" not in err
    assert [r["passage_id"] for r in answer["results"]] == [r["passage_id"] for r in first["results"]]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("bot.search")]
    if kind != "state.json missing keys" or warnings:  # an old-format sidecar may simply be replaced
        assert len(warnings) == 1 and "rebuilding" in warnings[0].getMessage(), [w.getMessage() for w in warnings]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bot.search"):
        code, again, _ = _search(capsys)
    assert code == 0 and again["results"] == answer["results"]
    assert not [r for r in caplog.records if r.name.startswith("bot.search")]  # rebuilt for good


@pytest.mark.parametrize("kind", ["pos files deleted", "fast file flipped", "stored passages flipped"])
def test_a_comparison_on_a_damaged_index_rebuilds_it_once_and_answers(data_dir, capsys, caplog, kind):
    def ask():
        code = main(["compare", "双减", "--json"])
        out, err = capsys.readouterr()
        assert code == 0 and "Traceback" not in err, err
        return json.loads(out)

    first = ask()
    _search(capsys)  # a full load that writes the quick-start stamp: the next compare opens the index as it is
    index = next((data_dir / "search").glob("tantivy-v*/"))
    gc.collect()
    DAMAGE[kind](index)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bot.search"):
        answer = ask()
    assert answer == first
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("bot.search")]
    assert len(warnings) == 1 and "rebuilding" in warnings[0], warnings


@pytest.mark.parametrize("where", ["index folder", "search folder"])
def test_index_path_that_is_a_file_is_one_line_and_exit_5(data_dir, capsys, where):
    if where == "index folder":
        (data_dir / "search").mkdir()
        (data_dir / "search" / f"tantivy-v{FORMAT}").write_text("not a folder", encoding="utf-8")
    else:
        (data_dir / "search").write_text("not a folder", encoding="utf-8")
    code, answer, err = _search(capsys)
    assert code == EXIT_INDEX and answer is None
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "搜索索引目录不可用" in lines[0] and "PLANBRIEF_DATA_DIR" in lines[0]


async def test_bot_answers_topic_from_a_damaged_index_with_one_warning(fake_api, desk, seeds, tmp_path, caplog):  # noqa: F811
    from bot.corpus.loader import load_corpus
    from bot.search.engine import SearchEngine, index_dir

    cache = tmp_path / "data" / "search"  # the desk bot's settings.cache_dir
    SearchEngine.from_corpus(load_corpus(seeds), cache)
    for path in _files(index_dir(cache), ".pos"):
        path.unlink()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bot.search"):
        async with desk():
            answer = await say(fake_api, 4242, "/topic 双减")
    assert "「双减」" in answer.text and "共 13 段" in answer.text
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("bot.search")]
    assert len(warnings) == 1 and "rebuilding" in warnings[0]
