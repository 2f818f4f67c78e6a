"""The running bot's library takes a plan in or out by touching only that plan: the corpus parses the
one changed file, the tantivy index writes (or deletes) only its passages, and a snapshot held by a
query in flight keeps answering as before."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import bot.corpus.loader as loader
from bot.corpus.loader import MANIFEST, load_corpus
from bot.search.library import Library

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


@pytest.fixture()
def seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANBRIEF_DATA_DIR", str(tmp_path / "data"))
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


def _withdraw(seeds: Path, plan_id: str) -> None:
    manifest = seeds / MANIFEST
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["plans"] = [e for e in data["plans"] if e["plan_id"] != plan_id]
    manifest.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _counting_parser(monkeypatch) -> list[str]:
    parsed: list[str] = []
    real = loader.parse_plan  # every load parses through it (build_plan too)

    def counting(entry, raw):
        parsed.append(entry["plan_id"])
        return real(entry, raw)

    monkeypatch.setattr(loader, "parse_plan", counting)
    return parsed


def test_reload_parses_only_the_changed_plan(seeds, monkeypatch):
    before = load_corpus(seeds)
    path = seeds / "jiangyin-2023-speech.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("修师德", "修师德修身"), encoding="utf-8")
    parsed = _counting_parser(monkeypatch)
    after = load_corpus(seeds, reuse=before)
    assert parsed == ["jiangyin-2023-speech"]
    assert any("修师德修身" in p.text for p in after.passages)
    untouched = [p for p in after.plans if p.plan_id != "jiangyin-2023-speech"]
    assert all(p is before.plan(p.plan_id) for p in untouched)


def test_library_applies_a_withdrawal_and_a_return_to_the_live_index(seeds, tmp_path, monkeypatch):
    library = Library(seeds, tmp_path / "cache")
    first = library.current
    gone = "jiangyin-2023-speech"
    assert any(h.passage.plan_id == gone for h in first.engine.search("修师德").hits)
    manifest = (seeds / MANIFEST).read_text(encoding="utf-8")

    _withdraw(seeds, gone)
    parsed = _counting_parser(monkeypatch)
    assert library.refresh()
    second = library.current
    assert parsed == []  # the other plans come from the snapshot's corpus
    assert gone not in second.engine.plans
    assert all(h.passage.plan_id != gone for h in second.engine.search("修师德", limit=50).hits)
    # the snapshot a query in flight holds still answers from its own searcher
    assert any(h.passage.plan_id == gone for h in first.engine.search("修师德").hits)

    monkeypatch.setenv("PLANBRIEF_CORPUS_CACHE", "0")  # else the first parse of this manifest is read back
    (seeds / MANIFEST).write_text(manifest, encoding="utf-8")
    assert library.refresh()
    third = library.current
    assert parsed == [gone]
    assert third.engine.index.n_docs == len(third.corpus.passages)
    assert any(h.passage.plan_id == gone for h in third.engine.search("修师德").hits)
    assert not library.refresh()  # nothing changed: the same snapshot keeps serving
    assert library.current is third


def test_a_damaged_index_folder_is_rebuilt(tmp_path):
    """The index is a cache of the corpus: a folder tantivy cannot read is built again, not fatal."""
    from bot.search.engine import SearchEngine, index_dir

    corpus = load_corpus()
    built = SearchEngine.from_corpus(corpus, tmp_path)
    (index_dir(tmp_path) / "meta.json").write_text("{not json", encoding="utf-8")
    again = SearchEngine.from_corpus(corpus, tmp_path)
    assert [h.passage.id for h in again.search("双减").hits] == [h.passage.id for h in built.search("双减").hits]
