"""A first build parses in worker processes (bot.corpus.loader.parse_workers): what it stores and the
corpus it returns are those of a build that parses alone, plan for plan, and a bad file still fails the
load with its name. Small loads (seeds, tests, an add) start no workers."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import bot.corpus.loader as loader
from bench.scale_bench import write_corpus
from bot.corpus import store as plan_store
from bot.corpus.loader import CorpusError, load_corpus

ROOT = Path(__file__).resolve().parents[1]


def _load(folder, data, monkeypatch, workers: str):
    monkeypatch.setenv("PLANBRIEF_DATA_DIR", str(data))
    monkeypatch.setenv(loader.WORKERS_ENV, workers)
    monkeypatch.delenv("PLANBRIEF_CORPUS_CACHE", raising=False)
    plan_store.reset()
    try:
        return load_corpus(folder)
    finally:
        plan_store.reset()


def _rows(data) -> dict:
    with sqlite3.connect(data / "corpus" / plan_store.FILE) as db:
        return {r[0]: r[1:] for r in db.execute("SELECT plan_id, source, content_hash, body_key, summary FROM plans")}


def _derived(data) -> dict:
    with sqlite3.connect(data / "corpus" / plan_store.FILE) as db:
        return {(source, name): json.loads(value) for source, name, value in db.execute("SELECT * FROM derived")}


@pytest.fixture()
def corpus(tmp_path):
    folder = tmp_path / "x3"
    write_corpus(folder, 3)
    return folder


def test_workers_store_what_a_build_alone_stores(corpus, tmp_path, monkeypatch):
    from bot.digests.themes import stored_counts  # registered: the workers store each plan's theme counts

    parsed_here: list[str] = []
    real = loader.parse_plan
    monkeypatch.setattr(loader, "parse_plan", lambda entry, raw: parsed_here.append(entry["plan_id"]) or real(entry, raw))
    monkeypatch.setattr(plan_store, "RACY_SECONDS", 10**9)  # every stat too fresh to trust: bytes hashed
    apart = _load(corpus, tmp_path / "apart", monkeypatch, "2")
    monkeypatch.undo()
    monkeypatch.setattr(loader, "parse_plan", lambda entry, raw: parsed_here.append(entry["plan_id"]) or real(entry, raw))
    assert parsed_here == []  # every plan was parsed in a worker
    alone = _load(corpus, tmp_path / "alone", monkeypatch, "0")
    assert len(parsed_here) == len(alone.plans) == 15

    assert apart.fingerprint == alone.fingerprint
    assert apart.sources == alone.sources and list(apart.sources) == list(alone.sources)
    assert [p.plan_id for p in apart.plans] == [p.plan_id for p in alone.plans]
    for p, q in zip(apart.plans, alone.plans, strict=True):
        assert isinstance(p, plan_store.StoredPlan)
        assert (p.meta, p.priorities, p.preamble, p.tree, p.passages) == \
            (q.meta, q.priorities, q.preamble, q.tree, q.passages)
    assert _rows(tmp_path / "apart") == _rows(tmp_path / "alone")
    derived = _derived(tmp_path / "apart")
    assert derived == _derived(tmp_path / "alone")
    assert {source for source, _ in derived} == set(alone.sources.values())
    for plan in alone.plans:  # what a worker derived is what this process derives from the same plan
        [(name, counts)] = stored_counts(loader.Plan(plan.meta, plan.preamble, plan.tree, plan.passages,
                                                     plan.priorities)).items()
        assert derived[(alone.sources[plan.plan_id], name)] == counts and counts
    # stats not trusted: the worker hashed the bytes the store holds the parse of
    racy = [(path, sha) for path, stat, sha in apart.checked.files if stat[0] < 0]
    assert len(racy) == 15
    for path, sha in racy:
        assert sha == hashlib.sha256(Path(path).read_bytes()).hexdigest()
    assert [f[0] for f in apart.checked.files] == [f[0] for f in alone.checked.files]


def test_a_missing_file_fails_the_build_by_name(corpus, tmp_path, monkeypatch):
    gone = sorted(corpus.glob("x00001-*.txt"))[0]
    gone.unlink()
    with pytest.raises(CorpusError, match=gone.name):
        _load(corpus, tmp_path / "data", monkeypatch, "2")


def test_small_loads_start_no_workers(monkeypatch):
    monkeypatch.delenv(loader.WORKERS_ENV, raising=False)
    assert loader.parse_workers(5) == 0
    assert loader.parse_workers(loader.POOL_MIN - 1) == 0
    monkeypatch.setenv(loader.WORKERS_ENV, "0")
    assert loader.parse_workers(50_000) == 0
    monkeypatch.setenv(loader.WORKERS_ENV, "2")
    assert loader.parse_workers(0) == 0


def test_a_parser_error_in_a_worker_is_raised_as_it_was(corpus, tmp_path, monkeypatch):
    """What a load alone would raise (here a manifest entry without its city) comes back as itself."""
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
    del manifest["plans"][7]["city"]
    (corpus / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(KeyError, match="city"):
        _load(corpus, tmp_path / "alone", monkeypatch, "0")
    with pytest.raises(KeyError, match="city"):
        _load(corpus, tmp_path / "apart", monkeypatch, "2")


def test_a_script_without_a_main_guard_can_build(corpus, tmp_path):
    """The workers are not forks or spawns of the caller: a plain script's top level runs once."""
    script = tmp_path / "build.py"
    script.write_text("from bot.corpus.loader import load_corpus\n"
                      f"print(len(load_corpus({str(corpus)!r}).plans), flush=True)\n", encoding="utf-8")
    env = {**os.environ, "PLANBRIEF_DATA_DIR": str(tmp_path / "data"), loader.WORKERS_ENV: "2",
           "PYTHONPATH": str(ROOT)}
    env.pop("PLANBRIEF_CORPUS_CACHE", None)
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["15"]


def test_the_first_load_after_a_reader_change_reparses_in_workers(corpus, tmp_path, monkeypatch):
    """An upgrade changes the reader's code, so every stored parse is stale: at national scale a
    re-parse alone took over an hour; it goes to the workers as a first build does, and stores the same."""
    _load(corpus, tmp_path / "data", monkeypatch, "0")
    fresh = _rows(tmp_path / "data")
    with sqlite3.connect(tmp_path / "data" / "corpus" / plan_store.FILE) as db:  # as an older reader left it
        db.execute("UPDATE plans SET code = 'older-reader', source = 'older-' || source")
    parsed_here: list[str] = []
    real = loader.parse_plan
    monkeypatch.setattr(loader, "parse_plan", lambda entry, raw: parsed_here.append(entry["plan_id"]) or real(entry, raw))
    again = _load(corpus, tmp_path / "data", monkeypatch, "2")
    assert parsed_here == [] and len(again.plans) == 15
    assert _rows(tmp_path / "data") == fresh
    with sqlite3.connect(tmp_path / "data" / "corpus" / plan_store.FILE) as db:
        assert {code for (code,) in db.execute("SELECT DISTINCT code FROM plans")} == {
            plan_store.corpus_cache.code_fingerprint()}
