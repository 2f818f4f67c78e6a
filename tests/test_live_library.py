"""A running bot takes a plan in (or out) by that plan alone, and answers exactly as a fresh start would.

The desk's publish and a `planbrief add` from another process both append to a manifest: the library
reads only the appended entries (the plan store has the add's parse, so nothing is parsed), writes only
that plan's documents, and swaps the snapshot. These tests compare every answer with a library loaded
afresh from the same folders, count what was parsed and synced, and check that a change that fails
keeps the old snapshot serving.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

import bot.corpus.loader as loader
from bot.corpus import ingest
from bot.corpus.loader import MANIFEST, folders_for, load_corpus
from bot.search import tantivy_index
from bot.search.engine import SearchEngine
from bot.search.library import Library
from tests.test_add_and_cli import PLAN_TEXT

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
QUERIES = ["双减", "思政课名师工作室", "县管校聘", "师德师风", "集团化办学", "课后服务", "新增学位"]
UNIQUE = "建设青少年航天科普基地"


@pytest.fixture()
def seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANBRIEF_DATA_DIR", str(tmp_path / "data"))
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


def _plan(tmp_path: Path, city: str, extra: str = UNIQUE) -> Path:
    path = tmp_path / f"{city}.txt"
    path.write_text(PLAN_TEXT.replace("常州", city).replace("打造一批思政课示范课堂", f"打造一批思政课示范课堂，{extra}"),
                    encoding="utf-8")
    return path


def _answers(engine: SearchEngine, city: str | None = None) -> list[dict]:
    return [engine.search(q, limit=20, city=city).as_json() for q in QUERIES + [UNIQUE]]


def _fresh(folders, cache: Path) -> Library:
    """What a restart serves: the corpus loaded from the folders, the index synced to it."""
    library = Library(folders, cache)
    assert library.current
    return library


def _same_as_fresh(library: Library, cache: Path) -> None:
    fresh = _fresh(library.folders, cache).current
    live = library.current
    assert [p.plan_id for p in live.corpus.plans] == [p.plan_id for p in fresh.corpus.plans]
    assert live.corpus.sources == fresh.corpus.sources
    assert live.corpus.fingerprint == fresh.corpus.fingerprint
    assert [(m["meta"], m["hash"]) for m in live.engine.index.state.plans] == \
        [(m["meta"], m["hash"]) for m in fresh.engine.index.state.plans]
    assert live.engine.index.words == fresh.engine.index.words
    assert live.engine.index.meta == fresh.engine.index.meta
    assert _answers(live.engine) == _answers(fresh.engine)
    assert _answers(live.engine, city="南通") == _answers(fresh.engine, city="南通")


def _counting(monkeypatch) -> dict[str, list]:
    seen: dict[str, list] = {"parsed": [], "synced": [], "loaded": []}
    parse, sync, load = loader.parse_plan, tantivy_index.TantivyIndex.sync, loader.load_corpus

    def parse_counting(entry, raw):
        seen["parsed"].append(entry["plan_id"])
        return parse(entry, raw)

    def sync_counting(self, plans):
        seen["synced"].append(len(plans))
        return sync(self, plans)

    def load_counting(*args, **kwargs):
        seen["loaded"].append(args)
        return load(*args, **kwargs)

    monkeypatch.setattr(loader, "parse_plan", parse_counting)
    monkeypatch.setattr(tantivy_index.TantivyIndex, "sync", sync_counting)
    monkeypatch.setattr("bot.search.library.load_corpus", load_counting)
    return seen


def test_the_desks_publish_goes_in_alone_and_answers_as_a_fresh_start(seeds, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    library = Library(seeds, cache)
    before = library.current
    assert not before.engine.search(UNIQUE).hits
    draft = ingest.prepare_plan(_plan(tmp_path, "南通"))
    sidecar = (before.engine.index.directory / tantivy_index.STATE).read_bytes()
    seen = _counting(monkeypatch)
    published = ingest.publish(folders_for(seeds), draft)
    assert library.stale()
    assert library.refresh([published])
    now = library.current
    assert seen == {"parsed": [], "synced": [], "loaded": []}  # nothing parsed, diffed or loaded whole
    assert [p.plan_id for p in now.added] == [published.entry["plan_id"]] and now.removed == ()
    untouched = [p for p in now.corpus.plans if p.plan_id != published.entry["plan_id"]]
    assert all(p is before.corpus.plan(p.plan_id) for p in untouched)  # the others by reference
    assert any(UNIQUE in h.passage.text for h in now.engine.search(UNIQUE).hits)
    assert not before.engine.search(UNIQUE).hits  # a query holding the old snapshot still sees it
    assert not library.stale() and not library.refresh()  # the version recorded is the one after the publish
    state = now.engine.index.state
    directory = now.engine.index.directory
    # the new plan is logged (State.append), the sidecar is not written again; read back, they hold the state
    assert (directory / tantivy_index.STATE).read_bytes() == sidecar
    lines = (directory / tantivy_index.LOG).read_bytes().split(b"\n")
    assert len(lines) == 3 and lines[-1] == b""  # the header naming the sidecar, then the publish
    assert [p["meta"]["plan_id"] for p in json.loads(lines[1])["plans"]] == [published.entry["plan_id"]]
    on_disk = tantivy_index.State.load(directory)
    assert (on_disk.plans, on_disk.words, on_disk.chars, on_disk.pinyin) == \
        (state.plans, state.words, state.chars, state.pinyin)
    assert now.engine.index._disk == tantivy_index._disk_mark(directory)  # the next change writes in place
    _same_as_fresh(library, cache)


def test_adds_from_another_process_and_a_removal_apply_in_place(seeds, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    library = Library(seeds, cache)
    library.current.engine.search("双减")
    seen = _counting(monkeypatch)
    # `planbrief add` elsewhere: the manifest and plan store written, the index brought up by that process
    for city in ("南通", "盐城"):
        entry = ingest.add_plan(seeds, _plan(tmp_path, city, f"{UNIQUE}{city}"))
        SearchEngine.index_added([load_corpus(seeds).plan(entry["plan_id"])], cache)
    seen["loaded"].clear()
    seen["parsed"].clear()
    assert library.refresh()
    assert seen["parsed"] == [] and seen["loaded"] == []
    assert seen["synced"] == []  # the other process's index adopted, not diffed
    assert {p.plan_id for p in library.current.added} == {"nantong-2024-workpoints", "yancheng-2024-workpoints"}
    _same_as_fresh(library, cache)

    ingest.remove_plan(seeds, "nantong-2024-workpoints")
    seen["parsed"].clear()
    assert library.refresh()
    assert seen["parsed"] == [] and library.current.removed == ("nantong-2024-workpoints",)
    assert not any(h.passage.plan_id == "nantong-2024-workpoints"
                   for h in library.current.engine.search(UNIQUE, limit=50).hits)
    _same_as_fresh(library, cache)


def test_an_entry_edited_by_hand_rereads_that_plan_only(seeds, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    library = Library(seeds, cache)
    library.current.engine.search("双减")
    data = json.loads((seeds / MANIFEST).read_text(encoding="utf-8"))
    data["plans"][0]["title"] += "（修订）"
    (seeds / MANIFEST).write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    seen = _counting(monkeypatch)
    assert library.refresh()
    assert seen["parsed"] == [data["plans"][0]["plan_id"]] and seen["loaded"] == []
    assert library.current.corpus.plan(data["plans"][0]["plan_id"]).meta.title.endswith("（修订）")
    _same_as_fresh(library, cache)


def test_the_users_plans_folder_first_add_and_a_library_handed_its_corpus(tmp_path, monkeypatch):
    """The bot's own set-up: shipped seeds plus the user's folder, which the first add creates."""
    monkeypatch.setenv("PLANBRIEF_DATA_DIR", str(tmp_path / "data"))
    folders = folders_for()
    cache = tmp_path / "cache"
    corpus = load_corpus(folders)
    handed = Library(folders, cache, corpus, SearchEngine.from_corpus(corpus, cache))  # as the desk tests build it
    own = Library(folders, cache)
    own.current.engine.search("双减")
    draft = ingest.prepare_plan(_plan(tmp_path, "南通"))
    published = ingest.publish(folders, draft)
    seen = _counting(monkeypatch)
    assert own.refresh([published]) and handed.refresh([published])
    assert seen["loaded"] == [] and seen["parsed"] == []
    for library in (own, handed):
        assert library.current.corpus.plan(published.entry["plan_id"]) is not None
        _same_as_fresh(library, cache)


def test_a_change_that_fails_keeps_the_old_snapshot_serving(seeds, tmp_path):
    cache = tmp_path / "cache"
    library = Library(seeds, cache)
    before = library.current
    text = (seeds / MANIFEST).read_text(encoding="utf-8")
    data = json.loads(text)
    data["plans"].append({**data["plans"][0], "plan_id": "ghost-2024", "file": "no-such-file.txt"})
    (seeds / MANIFEST).write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    assert library.stale()
    assert not library.refresh()
    assert library.current is before and before.engine.search("双减").hits
    (seeds / MANIFEST).write_text("{not json", encoding="utf-8")
    assert not library.refresh() and library.current is before
    (seeds / MANIFEST).write_text(text, encoding="utf-8")
    assert not library.refresh()  # the same bytes as the snapshot's: nothing to do
    assert library.current.corpus is before.corpus


def test_two_refreshes_at_once_apply_the_publish_once(seeds, tmp_path):
    cache = tmp_path / "cache"
    library = Library(seeds, cache)
    library.current.engine.search("双减")
    published = ingest.publish(folders_for(seeds), ingest.prepare_plan(_plan(tmp_path, "南通")))
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(library.refresh([published]))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, True]
    assert library.current.engine.index.n_docs == sum(len(p.passages) for p in library.current.corpus.plans)
    _same_as_fresh(library, cache)


def test_an_index_changed_beyond_the_manifests_change_is_synced_whole(seeds, tmp_path, monkeypatch):
    """Another process indexed more than the manifest gained (a plan since withdrawn, say): the library
    does not adopt that index, it diffs it against the corpus like a start would."""
    cache = tmp_path / "cache"
    library = Library(seeds, cache)
    library.current.engine.search("双减")
    stray = ingest.prepare_plan(_plan(tmp_path, "盐城", "盐城独有的一句话")).plan  # never published
    entry = ingest.add_plan(seeds, _plan(tmp_path, "南通"))
    SearchEngine.index_added([load_corpus(seeds).plan(entry["plan_id"]), stray], cache)
    seen = _counting(monkeypatch)
    assert library.refresh()
    assert seen["synced"] and seen["loaded"] == []
    assert not library.current.engine.search("盐城独有的一句话").hits
    _same_as_fresh(library, cache)


def test_publishes_logged_then_another_process_add_and_a_removal_stay_in_place(seeds, tmp_path, monkeypatch):
    """Two desk publishes append to the sidecar's log (the sidecar is not written again); another
    process's add after them is adopted from that log, which now holds our lines too; the removal then
    writes the sidecar whole and drops the log. Nothing is synced or loaded whole, the fingerprint and
    the engine's plan metadata are carried over, and every answer is a fresh start's."""
    cache = tmp_path / "cache"
    library = Library(seeds, cache)
    library.current.engine.search("双减")
    library.warm()  # what the bot does while the editor reads the card
    assert library.current.digest is not None
    directory = library.current.engine.index.directory
    sidecar = (directory / tantivy_index.STATE).read_bytes()
    seen = _counting(monkeypatch)
    for city in ("南通", "盐城"):
        draft = ingest.prepare_plan(_plan(tmp_path, city, f"{UNIQUE}{city}"))
        assert library.refresh([ingest.publish(folders_for(seeds), draft)])
        assert library.current.corpus.fingerprint == loader._fingerprint(library.current.corpus.sources)
        assert library.current.engine.plans == {m.plan_id: m for m in library.current.engine.index.plans}
    assert (directory / tantivy_index.STATE).read_bytes() == sidecar
    assert len((directory / tantivy_index.LOG).read_bytes().split(b"\n")) == 4  # header, two publishes, ""
    _same_as_fresh(library, cache)

    entry = ingest.add_plan(seeds, _plan(tmp_path, "扬州", f"{UNIQUE}扬州"))
    SearchEngine.index_added([load_corpus(seeds).plan(entry["plan_id"])], cache)
    for counted in seen.values():  # the fresh library above, and this add's load, counted
        counted.clear()
    assert library.refresh()
    assert seen == {"parsed": [], "synced": [], "loaded": []}  # adopted from the log
    assert [p.plan_id for p in library.current.added] == [entry["plan_id"]]
    assert (directory / tantivy_index.STATE).read_bytes() == sidecar
    _same_as_fresh(library, cache)

    ingest.remove_plan(seeds, "nantong-2024-workpoints")
    for counted in seen.values():
        counted.clear()
    assert library.refresh()
    assert seen == {"parsed": [], "synced": [], "loaded": []}
    assert not (directory / tantivy_index.LOG).exists()
    assert library.current.corpus.fingerprint == loader._fingerprint(library.current.corpus.sources)
    draft = ingest.prepare_plan(_plan(tmp_path, "泰州", f"{UNIQUE}泰州"))
    assert library.refresh([ingest.publish(folders_for(seeds), draft)])  # logged again, after the save
    assert seen["synced"] == [] and (directory / tantivy_index.LOG).exists()
    _same_as_fresh(library, cache)
