"""A `search` start answers from the index alone when nothing changed since the last full load
(bot.search.quickstart), with the same JSON; any change behind the store's back (a plan file edited,
even within the same mtime tick, a manifest rewritten, the index synced by another process) makes it
load the corpus as before, and the answer shows the change."""

from __future__ import annotations

import json
import os
import shutil
import time
from array import array
from pathlib import Path

import pytest

import bot.cli as cli
from bot.corpus import store as plan_store
from bot.search import quickstart, tantivy_index
from bot.search.engine import index_dir

ROOT = Path(__file__).resolve().parents[1]
UNIQUE = "建设青少年航天科普基地"


@pytest.fixture()
def seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANBRIEF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PLANBRIEF_CORPUS_CACHE", raising=False)
    target = tmp_path / "seeds"
    shutil.copytree(ROOT / "seeds", target)
    then = time.time() - 10  # written a while ago: their stats can be trusted (see store.RACY_SECONDS)
    for path in target.iterdir():
        os.utime(path, (then, then))
    monkeypatch.setenv("PLANBRIEF_SEEDS", str(target))
    yield target
    plan_store.reset()


@pytest.fixture()
def loads(monkeypatch) -> list[str]:
    """Every full corpus load the CLI makes from now on, and every read of all the store's rows."""
    seen: list[str] = []
    real_load, real_rows = cli.load_corpus, plan_store.PlanStore.rows

    def load(seeds_dir=None, reuse=None):
        seen.append("load")
        return real_load(seeds_dir, reuse)

    def rows(self, folders, *args, **kwargs):
        seen.append("rows")
        return real_rows(self, folders, *args, **kwargs)

    monkeypatch.setattr(cli, "load_corpus", load)
    monkeypatch.setattr(plan_store.PlanStore, "rows", rows)
    return seen


def _search(capsys, query: str = "双减", *extra: str) -> dict:
    code = cli.main(["search", query, "--json", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def _texts(answer: dict) -> list[str]:
    return [r["text"] for r in answer["results"]]


def test_unchanged_corpus_answers_from_the_index_alone_with_the_same_json(seeds, loads, capsys):
    first = {}
    for query in ("双减", "县管校骋", "shuangjian", "qzxwvk", "推进集团化办学和县管校聘"):
        quickstart.forget()  # each answered by a start that loads the corpus (and writes the stamp)
        first[query] = _search(capsys, query)
    assert loads.count("load") == len(first) and "rows" in loads
    loads.clear()
    again = {q: _search(capsys, q) for q in first}
    assert again == first
    assert loads == [], "a start with nothing changed must not load the corpus or read every plan's row"
    assert all(r["city"] and r["title"] for r in again["双减"]["results"])  # citation fields from the store


def test_filters_and_text_output_on_the_quick_path(seeds, loads, capsys):
    _search(capsys)
    filtered = _search(capsys, "双减", "--city", "无锡", "--year", "2023")
    loads.clear()
    assert _search(capsys, "双减", "--city", "无锡", "--year", "2023") == filtered
    assert cli.main(["search", "双减"]) == 0
    out = capsys.readouterr().out
    assert "1. " in out and "双减" in out
    assert loads == []


def _compare(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["compare", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_compare_on_the_quick_path_reads_the_plans_metadata_not_the_corpus(seeds, loads, capsys):
    asks = [("双减", "--json"), ("师德师风", "--json", "--city", "无锡", "--city", "suzhou"), ("qzxwvk", "--json"),
            ("双减",), ("双减", "--json", "--city", "火星")]
    quickstart.forget()
    full = []
    for ask in asks:
        loads.clear()
        full.append(_compare(capsys, *ask))
        assert "load" in loads  # no stamp yet: each loads the corpus
    _search(capsys)  # a full load that writes the stamp
    loads.clear()
    quick = [_compare(capsys, *ask) for ask in asks]
    assert quick == full
    assert loads == [], "compare with nothing changed must not load the corpus or read every plan's row"
    assert json.loads(quick[0][1])["places"] and full[-1][0] != 0 and "火星" in full[-1][2]


def test_a_plan_edited_behind_the_stores_back_is_read_again(seeds, loads, capsys):
    assert not any(UNIQUE in t for t in _texts(_search(capsys, UNIQUE)))
    plan = seeds / json.loads((seeds / "manifest.json").read_text(encoding="utf-8"))["plans"][0]["file"]
    text = plan.read_text(encoding="utf-8")
    plan.write_text(text.replace("。", f"，{UNIQUE}。", 1), encoding="utf-8")
    then = time.time() - 5
    os.utime(plan, (then, then))
    loads.clear()
    found = _search(capsys, UNIQUE)
    assert loads and loads[0] == "load", "an edited plan file must send the start through the full load"
    assert any(UNIQUE in t for t in _texts(found))
    loads.clear()
    assert _search(capsys, UNIQUE) == found and loads == []  # and the next start is quick again


def test_a_fresh_file_is_checked_by_its_bytes_even_with_the_same_stat(seeds, loads, capsys):
    """A file written within RACY_SECONDS of the load has a stat that cannot vouch for it: the stamp
    keeps its bytes' digest, so an edit of the same size with the mtime put back is still seen."""
    plan = seeds / json.loads((seeds / "manifest.json").read_text(encoding="utf-8"))["plans"][1]["file"]
    text = plan.read_text(encoding="utf-8")
    plan.write_text(text, encoding="utf-8")  # fresh: written just now
    _search(capsys)
    stamp = quickstart.read_stamp()
    assert list(stamp["racy"].values()), "the fresh file is vouched for by its digest"
    loads.clear()
    _search(capsys)
    assert loads == []  # same bytes: still quick
    before = os.stat(plan)
    edited = text.replace("双减", "双增", 1)
    assert len(edited.encode()) == len(text.encode()) and edited != text
    with open(plan, "r+b") as f:  # in place: same inode, same size
        f.write(edited.encode("utf-8"))
    os.utime(plan, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(plan)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    loads.clear()
    found = _search(capsys, "双增")
    assert loads and loads[0] == "load"
    assert any("双增" in t for t in _texts(found))


def test_a_manifest_change_and_another_processs_sync_end_the_quick_path(seeds, loads, capsys):
    first = _search(capsys)
    manifest = seeds / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    gone = data["plans"].pop(0)["plan_id"]
    manifest.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    loads.clear()
    answer = _search(capsys)
    assert loads and loads[0] == "load"
    assert gone not in {r["plan_id"] for r in answer["results"]}
    assert any(r["plan_id"] == gone for r in first["results"])
    # the index synced by someone else (its sidecar replaced): the stamp no longer vouches for it
    state = index_dir(None) / "state.json"
    os.replace(state, state.with_suffix(".old"))
    shutil.copy(state.with_suffix(".old"), state)
    loads.clear()
    assert _search(capsys) == answer
    assert loads and loads[0] == "load"


def test_a_damaged_index_on_the_quick_path_is_rebuilt_from_the_corpus(seeds, loads, capsys, caplog):
    import gc

    first = _search(capsys)
    gc.collect()
    for path in index_dir(None).glob("*.pos"):
        path.unlink()
    loads.clear()
    again = _search(capsys)
    assert [r["passage_id"] for r in again["results"]] == [r["passage_id"] for r in first["results"]]
    assert "load" in loads  # the rebuild needed the plans
    assert any("rebuilding" in r.getMessage() for r in caplog.records)


def test_no_stamp_without_the_plan_store(seeds, loads, capsys, monkeypatch):
    monkeypatch.setenv("PLANBRIEF_CORPUS_CACHE", "0")
    first = _search(capsys)
    assert not quickstart.stamp_path().exists()
    loads.clear()
    assert _search(capsys) == first and loads[0] == "load"


def test_a_relative_seeds_folder_from_another_directory_is_another_corpus(seeds, loads, capsys, monkeypatch,
                                                                           tmp_path):
    monkeypatch.delenv("PLANBRIEF_SEEDS")
    other = tmp_path / "other" / "seeds"
    shutil.copytree(seeds, other)
    plan = other / json.loads((other / "manifest.json").read_text(encoding="utf-8"))["plans"][0]["file"]
    plan.write_text(plan.read_text(encoding="utf-8").replace("。", f"，{UNIQUE}。", 1), encoding="utf-8")
    monkeypatch.chdir(seeds.parent)
    assert cli.main(["--seeds", "seeds", "search", UNIQUE, "--json"]) == 0
    assert not any(UNIQUE in t for t in _texts(json.loads(capsys.readouterr().out)))
    monkeypatch.chdir(other.parent)
    loads.clear()
    assert cli.main(["--seeds", "seeds", "search", UNIQUE, "--json"]) == 0
    assert loads and loads[0] == "load"
    assert any(UNIQUE in t for t in _texts(json.loads(capsys.readouterr().out)))


def test_a_quick_start_imports_neither_the_reader_nor_the_writers(seeds, capsys):
    """What a start that answers from the index leaves unimported: the plan reader (cleaning, outline,
    regions), the index writer's segmenters, the file lock, argparse's Chinese tables."""
    import subprocess
    import sys

    _search(capsys)  # writes the stamp
    heavy = ("bot.corpus.clean", "bot.corpus.outline", "bot.corpus.enumerations", "bot.corpus.regions",
             "bot.telegram.i18n", "jieba", "pypinyin", "filelock")
    probe = ("import io, sys, contextlib, bot.cli as c\n"
             "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
             "    assert c.main(['search', '双减', '--json']) == 0\n"
             "assert out.getvalue().startswith('{')\n"
             f"print([m for m in {heavy!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONHASHSEED": "0"}, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    help_text = subprocess.run([sys.executable, "-m", "bot", "search", "--he"], cwd=ROOT, capture_output=True,
                               text=True, env={**os.environ, "PLANBRIEF_LANG": "zh"})
    assert help_text.returncode == 0 and "用法" in help_text.stdout  # help is still in the reader's language


def _new_plan(tmp_path, city: str) -> Path:
    from tests.test_add_and_cli import PLAN_TEXT

    path = tmp_path / f"{city}.txt"
    own = f"{UNIQUE}，新建{sum(map(ord, city)) % 97}所学校"  # each text its own (not a duplicate)
    path.write_text(PLAN_TEXT.replace("常州", city).replace("示范课堂，", f"示范课堂，{own}，"), encoding="utf-8")
    return path


def _add(capsys, path: Path) -> str:
    code = cli.main(["add", str(path), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)["plan_id"]


def test_an_add_carries_the_stamp_so_the_next_search_loads_nothing(seeds, loads, capsys, tmp_path):
    _search(capsys)  # full start: writes the stamp
    added = [_add(capsys, _new_plan(tmp_path, city)) for city in ("南京", "扬州")]
    state = tantivy_index.State.load(index_dir(None))
    fresh = tantivy_index.TantivyIndex.reopen(index_dir(None), state)
    counts = quickstart.read_stamp()["df"]  # the lexicon's passage counts a quick start takes as they are
    assert counts and counts == {w: fresh.df(w) for w in state.words}, "carried counts are the index's after the add"
    loads.clear()
    quick = _search(capsys, UNIQUE)
    assert loads == [], "the search after an add must start from the index alone"
    assert {r["plan_id"] for r in quick["results"]} >= set(added)
    assert all(r["city"] and r["title"] for r in quick["results"])
    quickstart.forget()
    assert _search(capsys, UNIQUE) == quick and loads[0] == "load"  # the full start answers the same
    loads.clear()
    again = _search(capsys, UNIQUE, "--city", "扬州")
    assert loads == [] and {r["plan_id"] for r in again["results"]} == {added[1]}


def test_an_edit_behind_the_adds_back_still_sends_the_start_through_the_full_load(seeds, loads, capsys, tmp_path):
    _search(capsys)
    plan = seeds / json.loads((seeds / "manifest.json").read_text(encoding="utf-8"))["plans"][0]["file"]
    plan.write_text(plan.read_text(encoding="utf-8").replace("。", "，双增。", 1), encoding="utf-8")
    then = time.time() - 5
    os.utime(plan, (then, then))
    _add(capsys, _new_plan(tmp_path, "南京"))  # the stamp was stale before the add: it stays stale
    loads.clear()
    found = _search(capsys, "双增")
    assert loads and loads[0] == "load"
    assert any("双增" in t for t in _texts(found))
    loads.clear()
    _add(capsys, _new_plan(tmp_path, "扬州"))  # current again: carried
    plan.write_text(plan.read_text(encoding="utf-8").replace("双增", "双升"), encoding="utf-8")
    loads.clear()
    found = _search(capsys, "双升")  # an edit after the add, of an old plan: its stat changed
    assert loads and loads[0] == "load"
    assert any("双升" in t for t in _texts(found))


def test_another_writer_between_publish_and_index_leaves_the_stamp_stale(seeds, loads, capsys, tmp_path):
    from bot.corpus import ingest
    from bot.corpus.loader import folders_for

    _search(capsys)
    folders = folders_for(None)
    first = ingest.publish(folders, ingest.prepare_plan(_new_plan(tmp_path, "南京")))
    second = ingest.publish(folders, ingest.prepare_plan(_new_plan(tmp_path, "扬州")))  # another process
    assert not quickstart.index_added([first.plan], folders, [first.written])  # the manifest moved on
    loads.clear()
    found = _search(capsys, UNIQUE)
    assert loads and loads[0] == "load"
    assert {first.entry["plan_id"], second.entry["plan_id"]} <= {r["plan_id"] for r in found["results"]}
    loads.clear()
    assert _search(capsys, UNIQUE) == found and loads == []


@pytest.mark.parametrize("fork", [True, False], ids=["child-and-thread", "thread-alone"])
def test_the_start_check_sees_a_change_in_either_half_of_the_files(seeds, capsys, monkeypatch, fork):
    """Where it can fork, the start splits the plan files' check between a child (the manifests and the
    first half) and a thread (the second half); a changed file in either half, or a changed manifest,
    is still a no, as it is with one thread doing it all."""
    _search(capsys)  # writes the stamp
    monkeypatch.setattr(quickstart.threading, "active_count", lambda: 1 if fork else 2)
    stamp = quickstart.read_stamp()
    n = len(stamp["paths"].split("\n"))
    assert n >= 4
    check = quickstart._FilesCheck(stamp)
    assert (check._child is not None) == fork
    assert check.result() and check.result()  # asked twice (a start does), the same yes
    for i in (0, n - 1):  # the child's first file, the thread's last
        moved = dict(stamp, stats=array("q", stamp["stats"]))
        moved["stats"][3 * i + 1] += 1  # as if its mtime had moved
        assert not quickstart._FilesCheck(moved).result(), i
    manifest = next(iter(stamp["manifests"]))
    assert not quickstart._FilesCheck(dict(stamp, manifests={manifest: {"stat": [0, 0, 0]}})).result()


def test_the_adds_carry_over_takes_the_stats_its_duplicate_check_took(seeds, loads, capsys, tmp_path, monkeypatch):
    """The add's duplicate check stats every plan file under the manifest lock; the stamp's carry-over
    takes those stats rather than statting 50,000 files again. A file edited between the two still
    sends the next start through the full load: the stamp keeps the stats it had, which the file no
    longer has."""
    from bot.corpus import ingest
    from bot.corpus.loader import folders_for

    _search(capsys)
    folders = folders_for(None)
    paths = quickstart.read_stamp()["paths"].split("\n")
    draft = ingest.publish(folders, ingest.prepare_plan(_new_plan(tmp_path, "南京")))
    listed = draft.written.listed_stats
    assert set(paths) <= set(listed)
    real = os.stat

    def no_second_stat(path, *args, **kwargs):
        assert str(path) not in listed, f"statted again: {path}"
        return real(path, *args, **kwargs)

    plan = Path(paths[0])
    plan.write_text(plan.read_text(encoding="utf-8").replace("。", "，双增。", 1), encoding="utf-8")
    then = time.time() - 5
    os.utime(plan, (then, then))  # edited after the duplicate check, before the index
    with monkeypatch.context() as m:
        m.setattr(quickstart.os, "stat", no_second_stat)
        assert quickstart.index_added([draft.plan], folders, [draft.written])
    loads.clear()
    found = _search(capsys, "双增")
    assert loads and loads[0] == "load", "the edit must still show at the next start"
    assert any("双增" in t for t in _texts(found))


def test_an_adds_file_vouched_for_by_its_bytes_is_vouched_for_by_its_stat_once_old_enough(seeds, loads, capsys,
                                                                                          tmp_path):
    """Each add's own file is too fresh for its stat, so the stamp keeps its digest; the next add, once
    the file is older than RACY_SECONDS, puts its stat there instead, so the files hashed at each start
    do not grow by one per add. An edit of it afterwards still sends the start through the full load."""
    _search(capsys)
    first = _add(capsys, _new_plan(tmp_path, "南京"))
    stamp = quickstart.read_stamp()
    paths = stamp["paths"].split("\n")
    (n, _), = [(int(i), d) for i, d in stamp["racy"].items()]
    written = Path(paths[n])
    assert written.name.startswith(first)
    then = time.time() - 10  # as if the add had been a while ago
    os.utime(written, (then, then))
    second = _add(capsys, _new_plan(tmp_path, "扬州"))
    stamp = quickstart.read_stamp()
    assert str(n) not in stamp["racy"] and len(stamp["racy"]) == 1  # only the newest add's file
    st = os.stat(written)
    assert list(stamp["stats"][3 * n:3 * n + 3]) == [st.st_size, st.st_mtime_ns, st.st_ino]
    loads.clear()
    found = _search(capsys, UNIQUE, "--limit", "20")
    assert loads == [] and {first, second} <= {r["plan_id"] for r in found["results"]}
    written.write_text(written.read_text(encoding="utf-8").replace(UNIQUE, "双升", 1), encoding="utf-8")
    os.utime(written, (then - 5, then - 5))
    loads.clear()
    assert any("双升" in t for t in _texts(_search(capsys, "双升"))) and loads and loads[0] == "load"


def test_the_carry_over_marks_the_manifest_just_written_by_its_digest_without_hashing_it(seeds, loads, capsys,
                                                                                          tmp_path, monkeypatch):
    """The manifest an add has just written is too fresh for its stat, so the stamp vouches for it by
    the digest of the bytes the add wrote; the next start hashes the file, so the carry-over need not
    (32 MB at ×10,000). The next search still answers from the stamp, and sees the new plan."""
    from bot.corpus import ingest
    from bot.corpus.loader import MANIFEST, folders_for

    _search(capsys)
    folders = folders_for(None)
    draft = ingest.publish(folders, ingest.prepare_plan(_new_plan(tmp_path, "南京")))
    hashed = []
    real = quickstart._digest
    monkeypatch.setattr(quickstart, "_digest", lambda path: hashed.append(str(path)) or real(path))
    assert quickstart.index_added([draft.plan], folders, [draft.written])
    manifest = os.path.abspath(seeds / MANIFEST)
    assert manifest not in hashed
    assert quickstart.read_stamp()["manifests"][manifest] == {"digest": draft.written.after_digest}
    loads.clear()
    found = _search(capsys, UNIQUE)
    assert loads == [] and draft.entry["plan_id"] in {r["plan_id"] for r in found["results"]}


def test_the_carry_over_compares_the_duplicate_checks_stats_in_one_piece_when_the_paths_agree(
        seeds, loads, capsys, tmp_path, monkeypatch):
    """The stamp lists the plan files in the order the add's duplicate check lists them, so the
    carry-over compares all their stats as one array: no path → stat mapping is built at all."""
    from bot.corpus import ingest
    from bot.corpus.loader import folders_for

    _search(capsys)
    folders = folders_for(None)
    draft = ingest.publish(folders, ingest.prepare_plan(_new_plan(tmp_path, "南京")))
    listed = draft.written.listed_stats
    assert listed.in_order(quickstart.read_stamp()["paths"]) is listed.stats
    monkeypatch.setattr(ingest.ListedStats, "_mapping", lambda self: pytest.fail("looked up path by path"))
    assert quickstart.index_added([draft.plan], folders, [draft.written])
    loads.clear()
    assert draft.entry["plan_id"] in {r["plan_id"] for r in _search(capsys, UNIQUE)["results"]}
    assert loads == []
