"""`planbrief add FILE` costs the new plan, not the corpus: it loads no corpus, indexes the new plan
alone (the next full sync finds nothing to do), and keeps the plan store vouching for the manifest so
the next load compares no entries. What is asserted is the work done or not done, never a timing
(bench/scale_bench.py times it)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from bot.cli import main
from bot.corpus import store as plan_store
from bot.corpus.loader import MANIFEST, folder_key, load_corpus
from bot.search import tantivy_index
from bot.search.engine import SearchEngine, index_dir
from tests.test_add_and_cli import PLAN_TEXT

UNIQUE = "建设青少年航天科普基地"


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    monkeypatch.setenv("PLANBRIEF_DATA_DIR", str(folder))
    return folder


def _plan_file(tmp_path, city: str = "常州") -> object:
    path = tmp_path / f"{city}.txt"
    path.write_text(PLAN_TEXT.replace("常州", city).replace("示范课堂，", f"示范课堂，{UNIQUE}，"), encoding="utf-8")
    return path


def test_add_indexes_the_plan_alone_and_the_next_sync_writes_nothing(seeds, data, tmp_path, capsys, monkeypatch):
    code, _, err = _run(capsys, "--seeds", str(seeds), "search", "双减", "--json")  # builds the index
    assert code == 0, err

    def no_corpus(*args, **kwargs):
        raise AssertionError("add loaded the whole corpus")

    with monkeypatch.context() as m:
        m.setattr("bot.cli.load_corpus", no_corpus)
        code, out, err = _run(capsys, "--seeds", str(seeds), "add", str(_plan_file(tmp_path)), "--json")
    assert code == 0, err
    added = json.loads(out)["plan_id"]

    corpus = load_corpus(seeds)
    state = tantivy_index.State.load(index_dir(None))
    assert [p["meta"]["plan_id"] for p in state.plans] == [p.plan_id for p in corpus.plans]  # corpus order
    assert added in {p["meta"]["plan_id"] for p in state.plans}

    def no_write(*args, **kwargs):
        raise AssertionError("the sync after an add wrote to the index")

    monkeypatch.setattr(tantivy_index.TantivyIndex, "_write", no_write)
    engine = SearchEngine.from_corpus(corpus)
    found = engine.search(UNIQUE).as_json()["results"]
    assert found[0]["plan_id"] == added and UNIQUE in found[0]["text"]
    assert tantivy_index.State.load(index_dir(None)).plans == state.plans


def test_a_second_add_of_the_same_text_is_refused_and_the_index_keeps_one_copy(seeds, data, tmp_path, capsys):
    _run(capsys, "--seeds", str(seeds), "search", "双减", "--json")
    path = _plan_file(tmp_path)
    assert _run(capsys, "--seeds", str(seeds), "add", str(path), "--json")[0] == 0
    code, _, err = _run(capsys, "--seeds", str(seeds), "add", str(path))
    assert code == 1 and "重复" in err
    engine = SearchEngine.from_corpus(load_corpus(seeds))
    assert sum(UNIQUE in r["text"] for r in engine.search(UNIQUE).as_json()["results"]) == 1


def test_add_and_remove_keep_the_manifest_vouched_for(seeds, data, tmp_path, capsys, monkeypatch):
    _run(capsys, "--seeds", str(seeds), "search", "双减", "--json")  # a load vouches for the manifest
    store = plan_store.open_store()

    def vouched() -> bool:
        digest = hashlib.sha256((seeds / MANIFEST).read_bytes()).hexdigest()
        return store.manifest_digest(folder_key(seeds)) == digest

    assert vouched()
    code, out, err = _run(capsys, "--seeds", str(seeds), "add", str(_plan_file(tmp_path)), "--json")
    assert code == 0, err
    assert vouched()

    compared = []
    real = plan_store.entry_json
    monkeypatch.setattr(plan_store, "entry_json", lambda entry: compared.append(entry) or real(entry))
    corpus = load_corpus(seeds)
    assert json.loads(out)["plan_id"] in {p.plan_id for p in corpus.plans}
    # no entry compared one by one (the store vouched for them all) but the new file's, when its stat is
    # too recent to trust (bot.corpus.store.RACY_SECONDS)
    assert [e["plan_id"] for e in compared] in ([], [json.loads(out)["plan_id"]])

    monkeypatch.setattr(plan_store, "entry_json", real)
    assert _run(capsys, "--seeds", str(seeds), "remove", json.loads(out)["plan_id"], "--json")[0] == 0
    assert vouched()


def test_a_changed_entry_is_not_vouched_for(seeds, data, tmp_path, capsys):
    """A manifest edited by hand (not through add/remove) is compared entry by entry at the next load."""
    _run(capsys, "--seeds", str(seeds), "search", "双减", "--json")
    manifest = json.loads((seeds / MANIFEST).read_text(encoding="utf-8"))
    manifest["plans"][0]["title"] = manifest["plans"][0]["title"] + "（修订）"
    (seeds / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    assert _run(capsys, "--seeds", str(seeds), "add", str(_plan_file(tmp_path)), "--json")[0] == 0
    digest = hashlib.sha256((seeds / MANIFEST).read_bytes()).hexdigest()
    assert plan_store.open_store().manifest_digest(folder_key(seeds)) != digest
    assert any(p.meta.title.endswith("（修订）") for p in load_corpus(seeds).plans)


def test_the_parse_key_leaves_out_only_modules_a_load_never_runs():
    """Editing the add pipeline must not re-parse every plan; editing what a load runs must."""
    code = ("import sys, bot.corpus.loader, bot.corpus.store; "
            "print(sorted(m for m in sys.modules if m.startswith('bot.corpus.')))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                       check=True).stdout.replace("'", '"'))
    from bot.corpus.cache import ADD_ONLY

    assert not {m.rsplit(".", 1)[1] + ".py" for m in loaded} & ADD_ONLY


def test_a_renamed_plan_is_the_plan_parsed_under_that_id(tmp_path):
    """Naming a draft (its id taken, or provisional in a sandbox child) parses nothing again: the
    renamed plan is what parsing the text under the new id gives."""
    from bot.corpus.ingest import prepare_plan, renamed
    from bot.corpus.loader import build_plan

    draft = prepare_plan(_plan_file(tmp_path))
    entry = {**draft.entry, "plan_id": "changzhou-2024-workpoints-2", "file": "changzhou-2024-workpoints-2.txt"}
    again = build_plan(entry, draft.text)
    assert renamed(draft.plan, entry) == again
    assert renamed(draft.plan, entry).content_hash == again.content_hash


def test_an_add_appends_to_the_manifest_byte_for_byte_as_a_whole_rewrite(tmp_path):
    """Only the new entry is serialised, and the file is what writing every entry gives; a manifest of
    another shape (a compact one, written by hand or a script) is rewritten whole, its entries kept."""
    from bot.corpus.ingest import _append_manifest
    from bot.corpus.loader import read_manifest, write_manifest

    entries = [{"plan_id": f"p{i}", "city": "无锡市", "tags": [i, "二"], "note": None} for i in range(3)]
    new = {"plan_id": "new", "city": "常州市", "tags": [], "note": "新"}
    appended, whole = tmp_path / "a", tmp_path / "b"
    write_manifest(appended, entries)
    _append_manifest(appended, entries, new)
    write_manifest(whole, [*entries, new])
    assert (appended / MANIFEST).read_bytes() == (whole / MANIFEST).read_bytes()

    compact = tmp_path / "c"
    compact.mkdir()
    (compact / MANIFEST).write_text(json.dumps({"plans": entries}, ensure_ascii=False), encoding="utf-8")
    _append_manifest(compact, entries, new)
    assert read_manifest(compact) == [*entries, new]
    assert (compact / MANIFEST).read_bytes() == (whole / MANIFEST).read_bytes()


def test_a_manifest_read_once_under_the_lock_is_spliced_without_parsing_again_only_when_plans_is_all(tmp_path):
    """`publish` reads the manifest once (`_read_own`); its splice skips the second parse only when the
    top-level object holds nothing but "plans", so the "]" before the tail is that list's."""
    from bot.corpus.ingest import _append_manifest, _read_own
    from bot.corpus.loader import read_manifest, write_manifest

    entries = [{"plan_id": f"p{i}", "city": "无锡市"} for i in range(3)]
    new = {"plan_id": "new", "city": "常州市"}
    canonical, whole = tmp_path / "a", tmp_path / "b"
    write_manifest(canonical, entries)
    write_manifest(whole, [*entries, new])
    own = _read_own(canonical)
    assert own.plans_only and own.entries == entries and own.digest is not None
    _append_manifest(canonical, own.entries, new, own)
    assert (canonical / MANIFEST).read_bytes() == (whole / MANIFEST).read_bytes()

    tricky = tmp_path / "c"
    tricky.mkdir()  # another key's list ends the file with the same tail
    (tricky / MANIFEST).write_text(json.dumps({"plans": entries}, ensure_ascii=False)[:-1] + ', "x": [1\n  ]\n}\n',
                                   encoding="utf-8")
    own = _read_own(tricky)
    assert not own.plans_only
    _append_manifest(tricky, own.entries, new, own)
    assert read_manifest(tricky) == [*entries, new]
    assert _read_own(tmp_path / "none").stat is None


def test_a_plan_file_edited_behind_the_stores_back_is_still_checked_for_duplicates(seeds, data, tmp_path, capsys):
    """With the manifest vouched for, the check reads only each row's stat and body key; a file whose
    stat moved is read again, so a text edited into an old plan's file is still a duplicate."""
    _run(capsys, "--seeds", str(seeds), "search", "双减", "--json")  # the store records every plan
    _refused_once_edited_into_the_first_plan(seeds, _plan_file(tmp_path, "扬州"), capsys)


def _refused_once_edited_into_the_first_plan(seeds, path, capsys) -> None:
    """`path`'s text edited into the manifest's first plan's file (dated back, as an edit made a while
    ago): an add of `path` is refused as a duplicate of that plan."""
    import os
    import time

    first = json.loads((seeds / MANIFEST).read_text(encoding="utf-8"))["plans"][0]
    old = seeds / first["file"]
    old.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    then = time.time() - 10
    os.utime(old, (then, then))
    code, _, err = _run(capsys, "--seeds", str(seeds), "add", str(path))
    assert code == 1 and "重复" in err and first["plan_id"] in err, err


def _own_plan(tmp_path, city: str) -> object:
    """A plan of `city` whose body names it too (the body, not the title, makes a text a duplicate)."""
    path = _plan_file(tmp_path, city)
    path.write_text(path.read_text(encoding="utf-8").replace("全市新建", f"{city}新建"), encoding="utf-8")
    return path


def test_an_add_reads_a_manifest_it_parsed_before_from_its_own_copy_and_still_refuses_damage(
        seeds, data, tmp_path, capsys, monkeypatch):
    """The add keeps what it reads of the manifest's entries under the manifest's SHA-256
    (`ingest._read_kept`): the next add parses no manifest, refuses duplicates as before, and a
    manifest changed in any byte (damaged, or edited by hand) is parsed, and refused, as before."""
    from bot.corpus import ingest
    from bot.corpus.loader import CorpusError, read_manifest

    _run(capsys, "--seeds", str(seeds), "search", "双减", "--json")  # a load vouches for the manifest
    assert _run(capsys, "--seeds", str(seeds), "add", str(_own_plan(tmp_path, "扬州")), "--json")[0] == 0
    parsed = []
    real = ingest.decode_manifest
    monkeypatch.setattr(ingest, "decode_manifest", lambda *a: parsed.append(a[1]) or real(*a))
    second = _own_plan(tmp_path, "镇江")
    code, out, err = _run(capsys, "--seeds", str(seeds), "add", str(second), "--json")
    assert code == 0, err
    assert parsed == []  # nor written whole: the kept copy says what was needed
    own = ingest._read_own(seeds)
    assert own.kept and own.entries == [ingest._kept_of(e) for e in read_manifest(seeds)]
    assert json.loads(out)["plan_id"] in {e["plan_id"] for e in own.entries}

    code, _, err = _run(capsys, "--seeds", str(seeds), "add", str(second))
    assert code == 1 and "重复" in err and json.loads(out)["plan_id"] in err and parsed == []
    kept = ingest._kept_path(seeds)
    good = kept.read_bytes()
    for bad in (b"\x05\x00\x00\x00junk!", b"\x04\x00\x00\x00" + b"\xe9\x03\x00\x00", good[:-3]):
        kept.write_bytes(bad)  # damaged or torn: the manifest is parsed instead
        assert not ingest._read_own(seeds).kept
    kept.write_bytes(good)

    text = (seeds / MANIFEST).read_text(encoding="utf-8")
    (seeds / MANIFEST).write_text(text.replace('"plan_id"', '"plan_id', 1), encoding="utf-8")  # damaged
    with pytest.raises(CorpusError) as refused:
        read_manifest(seeds)
    code, _, err = _run(capsys, "--seeds", str(seeds), "add", str(_own_plan(tmp_path, "泰州")))
    assert code == 1 and str(refused.value) in err and parsed

    edited = json.loads(text)  # by hand, in the add's own layout: the second plan's entry taken out
    edited["plans"] = [e for e in edited["plans"] if e["plan_id"] != json.loads(out)["plan_id"]]
    (seeds / MANIFEST).write_text(json.dumps(edited, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    assert _run(capsys, "--seeds", str(seeds), "add", str(second), "--json")[0] == 0


def test_small_segments_from_adds_are_merged_once_they_pile_up(seeds, data, tmp_path, capsys, monkeypatch):
    """Each add commits a segment of its own; tantivy's merges of them were cancelled when the add's
    writer closed, so they piled up (every query reads every segment). Once SMALL_SEGMENTS small ones
    exist (tantivy's own merge threshold), the add waits for the merge, and every added plan is still found."""
    assert _run(capsys, "--seeds", str(seeds), "search", "双减", "--json")[0] == 0
    directory = index_dir(None)

    def small() -> int:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        return sum(1 for seg in meta["segments"] if seg["max_doc"] < tantivy_index.SMALL_SEGMENT_DOCS)

    added, seen = [], []
    for n, city in enumerate(("南京", "扬州", "镇江", "泰州", "宿迁", "徐州", "盐城", "淮安", "连云港")):
        path = _plan_file(tmp_path, city)
        path.write_text(path.read_text(encoding="utf-8").replace(UNIQUE, f"{UNIQUE}，新建{n + 3}所学校"), encoding="utf-8")
        code, out, err = _run(capsys, "--seeds", str(seeds), "add", str(path), "--json")
        assert code == 0, err
        added.append(json.loads(out)["plan_id"])
        seen.append(small())
    limit = tantivy_index.SMALL_SEGMENTS
    assert max(seen) < limit, seen  # never left at the limit: merged when it was reached
    assert any(b < a for a, b in zip(seen, seen[1:], strict=False)), seen
    code, out, err = _run(capsys, "--seeds", str(seeds), "search", UNIQUE, "--json", "--limit", "20")
    assert code == 0, err
    assert set(added) <= {r["plan_id"] for r in json.loads(out)["results"]}


def test_an_adds_own_racy_row_is_settled_by_its_bytes_at_a_later_add(seeds, data, tmp_path, capsys, monkeypatch):
    """An add records its own plan with a stat too fresh to trust (size -1). A later add, once the file
    is old enough, checks the file's bytes against the row's source digest and gives the row its stat:
    no cleaning of that text again, and no reading it at every add after. A file whose bytes changed
    keeps its row as it was, and its text is still checked for duplicates."""
    import os
    import time

    from bot.corpus import ingest

    _run(capsys, "--seeds", str(seeds), "search", "双减", "--json")  # the store records every plan
    code, out, err = _run(capsys, "--seeds", str(seeds), "add", str(_own_plan(tmp_path, "扬州")), "--json")
    assert code == 0, err
    first = json.loads(out)
    code, out, err = _run(capsys, "--seeds", str(seeds), "add", str(_own_plan(tmp_path, "镇江")), "--json")
    assert code == 0, err
    second = json.loads(out)
    store, key = plan_store.open_store(), folder_key(seeds)

    def stat_of(plan_id: str) -> tuple[int, int, int]:
        return store.rows([key], summaries=False)[(key, plan_id)].stat

    assert stat_of(first["plan_id"])[0] < 0 and stat_of(second["plan_id"])[0] < 0  # written a moment ago
    then = time.time() - 10
    for plan in (first, second):
        os.utime(seeds / plan["file"], (then, then))
    edited = seeds / second["file"]
    edited.write_text(edited.read_text(encoding="utf-8") + "\n补充一段。\n", encoding="utf-8")
    os.utime(edited, (then, then))
    cleaned = []
    real = ingest.clean
    monkeypatch.setattr(ingest, "clean", lambda paragraphs: cleaned.append(1) or real(paragraphs))
    code, _, err = _run(capsys, "--seeds", str(seeds), "add", str(_own_plan(tmp_path, "泰州")), "--json")
    assert code == 0, err
    assert stat_of(first["plan_id"]) == plan_store.file_stat(seeds / first["file"])  # settled, by its bytes
    assert stat_of(second["plan_id"])[0] < 0  # its bytes are not those recorded: left for a load
    assert len(cleaned) == 1  # the edited file alone was read and cleaned again
    code, _, err = _run(capsys, "--seeds", str(seeds), "add", str(_own_plan(tmp_path, "扬州")))
    assert code == 1 and first["plan_id"] in err, err  # a settled row still refuses its own text


def test_the_duplicate_checks_stats_are_the_same_from_a_forked_half(tmp_path, monkeypatch):
    """Past `_FORK_FROM` files a forked child stats the second half: the numbers are those of statting
    them here, a missing file is `_UNKNOWN` either way, and a child that sends nothing leaves its half
    to this process."""
    import os
    import threading

    from bot.corpus import ingest

    paths = []
    for n in range(40):
        path = tmp_path / f"p{n}.txt"
        path.write_text("x" * n, encoding="utf-8")
        paths.append(str(path))
    paths.insert(7, str(tmp_path / "gone.txt"))
    paths.append(str(tmp_path / "gone-too.txt"))
    here = ingest._stats_of(paths)
    assert list(here[21:24]) == list(ingest._UNKNOWN) and list(here[-3:]) == list(ingest._UNKNOWN)
    assert tuple(here[:3]) == (0, os.stat(paths[0]).st_mtime_ns, os.stat(paths[0]).st_ino)
    monkeypatch.setattr(ingest, "_FORK_FROM", 10)
    forks = []
    real = ingest._StatChild
    monkeypatch.setattr(ingest, "_StatChild", lambda part: forks.append(len(part)) or real(part))
    assert ingest._stat_all(paths) == here
    # the second half went to a child, unless threads left by other tests make a fork unsafe
    assert forks == ([21] if threading.active_count() == 1 else [])

    class Silent(real):
        def result(self):
            super().result()
            return None

    monkeypatch.setattr(ingest, "_StatChild", Silent)
    assert ingest._stat_all(paths) == here


def test_an_add_compares_files_with_the_stats_it_kept_and_still_finds_an_edited_one(seeds, data, tmp_path, capsys,
                                                                                     monkeypatch):
    """The first add fetches every row's stat and keeps, beside its copy of the entries, those its files
    agreed with; the next add compares the files with them and asks the store only about the rest (its
    own plan, recorded too fresh). A text edited into an old plan's file since still moves that file's
    stat, so it is read and the new plan with that text is refused."""

    from bot.corpus import ingest

    _run(capsys, "--seeds", str(seeds), "search", "双减", "--json")  # the store records every plan
    fetched: list[str] = []
    rows = ingest._recorded_stats
    monkeypatch.setattr(ingest, "_recorded_stats", lambda key, ids=None: fetched.append(
        "all" if ids is None else f"some {len(ids)}") or rows(key, ids))
    code, out, err = _run(capsys, "--seeds", str(seeds), "add", str(_own_plan(tmp_path, "扬州")), "--json")
    assert code == 0, err
    assert fetched == ["all"]
    fetched.clear()
    code, out, err = _run(capsys, "--seeds", str(seeds), "add", str(_own_plan(tmp_path, "镇江")), "--json")
    assert code == 0, err
    assert fetched == ["some 0"]  # the first add's plan is a candidate (too fresh), the rest as kept
    fetched.clear()
    _refused_once_edited_into_the_first_plan(seeds, _own_plan(tmp_path, "泰州"), capsys)
    assert fetched == ["some 1"]  # the edited file alone, whose stat left the kept one
