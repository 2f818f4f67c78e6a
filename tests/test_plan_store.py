"""The plan store (bot.corpus.store): an unchanged corpus is read back without parsing, a file changed
behind its back (or the reader's code) is parsed again and only that, a damaged store is rebuilt, an add
parses and indexes only the new plan, nothing stale piles up, and two processes can start at once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bot.corpus.loader as loader
from bot.corpus import cache
from bot.corpus import store as plan_store
from bot.corpus.ingest import add_plan, remove_plan
from bot.corpus.loader import CorpusError, Folders, load_corpus
from bot.search.engine import SearchEngine
from bot.search.tantivy_index import TantivyIndex
from tests.test_add_and_cli import PLAN_TEXT

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


@pytest.fixture()
def seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANBRIEF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PLANBRIEF_CORPUS_CACHE", raising=False)
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    yield target
    plan_store.reset()


@pytest.fixture()
def parses(monkeypatch) -> list[str]:
    """The plan ids parsed from now on (the loader's one parse entry point)."""
    seen: list[str] = []
    real = loader.parse_plan

    def counting(entry, raw):
        seen.append(str(entry["plan_id"]))
        return real(entry, raw)

    monkeypatch.setattr(loader, "parse_plan", counting)
    return seen


def _age(path: Path, seconds: float = 10) -> None:
    """As if the file was written a while ago (a just-written file's stat is not trusted, see RACY_SECONDS)."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def _age_all(folder: Path) -> None:
    for path in folder.iterdir():
        _age(path)


def test_unchanged_corpus_is_read_back_without_parsing(seeds, parses):
    _age_all(seeds)
    parsed = load_corpus(seeds)
    assert len(parses) == len(parsed.plans) == 5
    again = load_corpus(seeds)
    assert len(parses) == 5, "an unchanged corpus must not be parsed again"
    assert again.fingerprint == parsed.fingerprint
    assert [p.meta for p in again.plans] == [p.meta for p in parsed.plans]
    assert [p.priorities for p in again.plans] == [p.priorities for p in parsed.plans]
    assert again.passage_count == parsed.passage_count == len(again.passages)
    assert again.passages == parsed.passages
    assert again.seeds_dir == seeds
    plan = again.plans[0]
    assert isinstance(plan, plan_store.StoredPlan)
    assert again.passage(plan.passages[3].id) == plan.passages[3]
    assert [p.content_hash for p in again.plans] == [
        loader.Plan(p.meta, p.preamble, p.tree, p.passages, p.priorities).content_hash for p in again.plans]


def test_listing_reads_no_plan_text(seeds, capsys):
    from bot.cli import main

    _age_all(seeds)
    load_corpus(seeds)
    store = plan_store.open_store()
    store._held.clear()
    before = store.reads
    assert main(["--seeds", str(seeds), "plans", "--json"]) == 0
    assert main(["--seeds", str(seeds), "city", "无锡", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out.splitlines()[0])["plans"]
    assert len(listed) == 5 and all(p["passages"] > 0 for p in listed)
    assert store.reads == before, "plans and city answer from the stored summaries"


def test_a_file_changed_behind_the_stores_back_is_parsed_again_alone(seeds, parses):
    _age_all(seeds)
    before = load_corpus(seeds)
    path = seeds / "jiangyin-2023-speech.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("修师德", "修师德修身"), encoding="utf-8")
    del parses[:]
    after = load_corpus(seeds)
    assert parses == ["jiangyin-2023-speech"]
    assert after.fingerprint != before.fingerprint
    assert any("修师德修身" in p.text for p in after.plan("jiangyin-2023-speech").passages)


def test_a_touched_file_with_the_same_bytes_is_hashed_not_parsed(seeds, parses):
    _age_all(seeds)
    load_corpus(seeds)
    _age(seeds / "suzhou-2023-workpoints.txt", 5)
    del parses[:]
    load_corpus(seeds)
    assert parses == []


def test_a_manifest_edit_reparses_that_plan(seeds, parses):
    _age_all(seeds)
    load_corpus(seeds)
    manifest = json.loads((seeds / "manifest.json").read_text(encoding="utf-8"))
    manifest["plans"][0]["title"] += "（修订）"
    (seeds / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    del parses[:]
    corpus = load_corpus(seeds)
    assert parses == [manifest["plans"][0]["plan_id"]]
    assert corpus.plan(parses[0]).meta.title.endswith("（修订）")


def test_a_code_change_reparses_everything(seeds, parses, monkeypatch):
    _age_all(seeds)
    load_corpus(seeds)
    del parses[:]
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "another reader")
    load_corpus(seeds)
    assert len(parses) == 5


def test_code_fingerprint_covers_the_reader(tmp_path, monkeypatch):
    """Editing any bot/corpus/*.py (a reader fix) changes the fingerprint every stored parse is keyed on."""
    bot_copy = tmp_path / "bot"
    shutil.copytree(cache.BOT / "corpus", bot_copy / "corpus")
    for name in ("models.py", "textnorm.py"):
        shutil.copy(cache.BOT / name, bot_copy / name)
    monkeypatch.setattr(cache, "BOT", bot_copy)
    monkeypatch.setattr(cache, "CODE", (bot_copy / "models.py", bot_copy / "textnorm.py"))
    cache.code_fingerprint.cache_clear()
    try:
        first = cache.code_fingerprint()
        (bot_copy / "corpus" / "outline.py").write_text("# changed\n", encoding="utf-8")
        cache.code_fingerprint.cache_clear()
        assert cache.code_fingerprint() != first
    finally:
        cache.code_fingerprint.cache_clear()


def test_a_damaged_store_is_rebuilt_not_fatal(seeds, tmp_path, parses, caplog):
    """Damaged between two runs; the plans an earlier load handed out still read their passages."""
    _age_all(seeds)
    parsed = load_corpus(seeds)
    path = tmp_path / "data" / "corpus" / plan_store.FILE
    plan_store.reset()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"not a database" * 1000)
    del parses[:]
    again = load_corpus(seeds)
    assert again.passages == parsed.passages
    assert len(parses) == 5
    assert "rebuilding" in caplog.text
    del parses[:]
    load_corpus(seeds)
    assert parses == []


def test_store_can_be_turned_off(seeds, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANBRIEF_CORPUS_CACHE", "0")
    corpus = load_corpus(seeds)
    assert corpus.passage_count > 0
    assert not (tmp_path / "data" / "corpus").exists()


def test_missing_file_still_reports_the_file(seeds):
    (seeds / "suzhou-2023-workpoints.txt").unlink()
    with pytest.raises(CorpusError, match="suzhou-2023-workpoints.txt"):
        load_corpus(seeds)


def test_memory_stays_bounded_however_many_plans_are_read(seeds, monkeypatch):
    monkeypatch.setattr(plan_store, "HELD", 2)
    corpus = load_corpus(seeds)
    for plan in corpus.plans:
        assert plan.passages
    assert len(plan_store.open_store()._held) == 2


def test_an_add_parses_and_indexes_only_the_new_plan(seeds, tmp_path, parses, monkeypatch):
    folders = Folders(seeds, tmp_path / "data" / "plans")
    _age_all(seeds)
    corpus = load_corpus(folders)
    engine = SearchEngine.from_corpus(corpus, tmp_path / "index")
    source = tmp_path / "changzhou.txt"
    source.write_text(PLAN_TEXT, encoding="utf-8")
    entry = add_plan(folders, source)
    _age_all(folders.user)
    del parses[:]
    store = plan_store.open_store()
    store._held.clear()
    reads = store.reads
    written: list[list[str]] = []
    real_write = TantivyIndex._write

    def recording(self, removed, added, seq, state, *rest):
        written.append([p.plan_id for p in added])
        return real_write(self, removed, added, seq, state, *rest)

    monkeypatch.setattr(TantivyIndex, "_write", recording)
    after = load_corpus(folders, reuse=corpus)
    assert parses == [], "the add stored its parse; the next load parses nothing"
    engine = engine.updated(after.plans)
    assert written == [[entry["plan_id"]]]
    assert store.reads - reads == 1, "only the new plan's passages were read, to index them"
    assert engine.search("思政课名师工作室").hits[0].passage.plan_id == entry["plan_id"]


def test_no_stale_files_after_adds_and_removes(seeds, tmp_path):
    data = tmp_path / "data"
    folders = Folders(seeds, data / "plans")
    legacy = data / "corpus" / "corpus-0123.pickle"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"old cache")
    load_corpus(folders)
    assert not legacy.exists(), "the per-state pickles of the old cache are swept"
    ids = []
    for n, city in enumerate(("常州", "镇江", "扬州")):
        path = tmp_path / f"p{n}.txt"
        path.write_text(PLAN_TEXT.replace("常州", city).replace("20所", f"{21 + n}所"), encoding="utf-8")
        ids.append(add_plan(folders, path)["plan_id"])
        load_corpus(folders)
    for plan_id in ids[:2]:
        remove_plan(folders, plan_id)
    corpus = load_corpus(folders)
    assert {p.plan_id for p in corpus.plans} >= {ids[2]} and not {ids[0], ids[1]} & {p.plan_id for p in corpus.plans}
    names = {p.name for p in (data / "corpus").iterdir()}
    assert names <= {plan_store.FILE, plan_store.FILE + "-wal", plan_store.FILE + "-shm"}
    assert sorted(p.name for p in (data / "plans").iterdir() if not p.name.startswith(".")) == [
        "manifest.json", f"{ids[2]}.txt"]
    store = plan_store.open_store()
    rows = store.rows([str(seeds.resolve()), str(folders.user.resolve())])
    assert {pid for _, pid in rows} == {p.plan_id for p in corpus.plans}


def test_two_processes_starting_at_once(seeds, tmp_path):
    go = tmp_path / "go"
    script = (
        "import sys, time, pathlib\n"
        "from bot.corpus.loader import load_corpus\n"
        "go = pathlib.Path(sys.argv[2])\n"
        "while not go.exists(): time.sleep(0.005)\n"
        "c = load_corpus(sys.argv[1])\n"
        "print(len(c.plans), c.passage_count, len(c.passages))\n"
    )
    env = {**os.environ, "PLANBRIEF_DATA_DIR": str(tmp_path / "data")}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(seeds), str(go)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    time.sleep(1.0)  # both imported and waiting
    go.write_text("")
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    counts = {out.split()[0] for out, _ in outputs}
    assert len({out for out, _ in outputs}) == 1 and counts == {"5"}, outputs
    corpus = load_corpus(seeds)
    assert corpus.passage_count == int(outputs[0][0].split()[1])


def test_a_digest_of_every_plan_reads_no_passages_once_derived(seeds):
    from bot.digests.content import build_digest
    from bot.digests.themes import shared_themes, theme_matrix

    _age_all(seeds)
    first = load_corpus(seeds)
    expected = build_digest(first)
    matrix = theme_matrix(first.plans)
    in_memory = [loader.Plan(p.meta, p.preamble, p.tree, p.passages, p.priorities) for p in first.plans]
    assert shared_themes(in_memory) == expected.themes
    store = plan_store.open_store()
    store._held.clear()
    reads = store.reads
    again = load_corpus(seeds)
    digest = build_digest(again)
    assert theme_matrix(again.plans) == matrix
    assert [e.targets for e in digest.plans] == [e.targets for e in expected.plans]
    assert digest.themes == expected.themes
    assert store.reads == reads, "cards, targets and shared themes come from what the store kept"


def test_a_first_digest_reads_no_passages_the_parse_stored_its_theme_counts(seeds, tmp_path):
    """Issue 20: per-plan summaries are stored when a plan is parsed (a build, an add), so even the
    first digest of a freshly built corpus reads no plan's passages back."""
    from bot.digests.content import build_digest
    from bot.digests.themes import shared_themes, theme_counts

    folders = Folders(seeds, tmp_path / "data" / "plans")
    _age_all(seeds)
    load_corpus(folders)
    source = tmp_path / "changzhou.txt"
    source.write_text(PLAN_TEXT, encoding="utf-8")
    added = add_plan(folders, source)
    _age_all(folders.user)
    corpus = load_corpus(folders)
    assert added["plan_id"] in {p.plan_id for p in corpus.plans}
    store = plan_store.open_store()
    store._held.clear()
    reads = store.reads
    counts = {p.plan_id: theme_counts(p) for p in corpus.plans}
    digest = build_digest(corpus)
    assert store.reads == reads, "every plan's theme counts were stored when it was parsed"
    in_memory = [loader.Plan(p.meta, p.preamble, p.tree, p.passages, p.priorities) for p in corpus.plans]
    assert counts == {p.plan_id: theme_counts(p) for p in in_memory}
    assert counts[added["plan_id"]], "the added plan states themes of its own"
    assert digest.themes == shared_themes(in_memory)


def test_priorities_built_on_first_use_are_one_list_whichever_thread_asks(seeds, monkeypatch):
    """A stored plan builds its headline priorities when first asked (a start of 50,000 plans built
    them all); the bot asks from worker threads, so racing first reads must all get the same list."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("PLANBRIEF_CORPUS_CACHE", "0")
    parsed = {p.plan_id: p.priorities for p in load_corpus(seeds).plans}
    monkeypatch.delenv("PLANBRIEF_CORPUS_CACHE")
    load_corpus(seeds)
    stored = load_corpus(seeds).plans
    assert all(isinstance(p, plan_store.StoredPlan) and p._priorities is None for p in stored)
    with ThreadPoolExecutor(8) as pool:
        seen = list(pool.map(lambda p: (p.plan_id, p.priorities), [p for p in stored for _ in range(8)]))
    for plan_id, priorities in seen:
        assert priorities == parsed[plan_id] and priorities
    assert len({id(priorities) for _, priorities in seen}) == len(stored)


def test_a_load_gives_the_collector_back_even_when_it_fails(seeds):
    """The cyclic collector is paused while a load builds its plans (bot.corpus.loader._collector_paused);
    a load that fails half way must not leave it off for the rest of the process."""
    import gc

    assert gc.isenabled()
    assert len(load_corpus(seeds).plans) == 5 and gc.isenabled()
    sorted(seeds.glob("*.txt"))[2].unlink()
    with pytest.raises(CorpusError):
        load_corpus(seeds)
    assert gc.isenabled()


def test_a_failing_derivation_leaves_the_plans_loading(seeds, monkeypatch, caplog):
    """A bug in what a later room derives from a plan must not stop the plans loading; the value is
    left to its first reader."""
    def broken(plan):
        raise ValueError("a bug in a derivation")

    monkeypatch.setattr(plan_store, "_DERIVE", [*plan_store._DERIVE, broken])
    corpus = load_corpus(seeds)
    assert len(corpus.plans) == 5
    assert "a bug in a derivation" in caplog.text and "left to its first reader" in caplog.text


def test_a_data_folder_that_cannot_hold_the_store_still_loads(seeds, tmp_path, caplog):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "corpus").write_text("a file where the store's folder should be")
    corpus = load_corpus(seeds)
    assert len(corpus.plans) == 5 and corpus.passage_count == len(corpus.passages) > 0
    assert "unusable" in caplog.text


def test_cli_add_then_search_parses_and_indexes_nothing_new(seeds, tmp_path, parses, monkeypatch, capsys):
    from bot.cli import main

    _age_all(seeds)
    assert main(["--seeds", str(seeds), "search", "双减", "--json"]) == 0
    source = tmp_path / "changzhou.txt"
    source.write_text(PLAN_TEXT.replace("20所", "20所，建设青少年航天科普基地"), encoding="utf-8")
    written: list[list[str]] = []
    real_write = TantivyIndex._write

    def recording(self, removed, added, seq, state, *rest):
        written.append([p.plan_id for p in added])
        return real_write(self, removed, added, seq, state, *rest)

    monkeypatch.setattr(TantivyIndex, "_write", recording)
    capsys.readouterr()
    del parses[:]
    assert main(["--seeds", str(seeds), "add", str(source), "--json"]) == 0
    plan_id = json.loads(capsys.readouterr().out)["plan_id"]
    assert written == [[plan_id]], "add indexes the added plan, and only it"
    assert parses == [], "the add's parse (in its sandbox) was stored: nothing is parsed here"
    _age(seeds / f"{plan_id}.txt")
    del parses[:], written[:]
    assert main(["--seeds", str(seeds), "search", "青少年航天科普基地", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["plan_id"] == plan_id
    assert parses == [] and written == [], "the next search reads nothing new"


def test_a_replaced_parse_stays_readable_a_while_then_goes(seeds, parses, monkeypatch):
    """A bot still answering from the previous snapshot reads the plan it had; later the old parse goes."""
    _age_all(seeds)
    before = load_corpus(seeds)
    old = before.plan("jiangyin-2023-speech")
    old_passages = list(old.passages)
    store = plan_store.open_store()
    store._held.clear()
    path = seeds / "jiangyin-2023-speech.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("修师德", "修师德修身"), encoding="utf-8")
    _age(path)
    load_corpus(seeds)
    assert old.passages == old_passages  # read back from the store, not the changed file
    count = store._db.execute("SELECT count(*) FROM blobs").fetchone()[0]
    assert count == 6
    monkeypatch.setattr(plan_store, "KEEP_DROPPED", -1)
    load_corpus(seeds)
    assert store._db.execute("SELECT count(*) FROM blobs").fetchone()[0] == 5
