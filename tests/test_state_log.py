"""An add records its plans in the index sidecar's log (tantivy_index.State.append) rather than writing
the whole sidecar again; a reader folds the log in and gets what a whole write gives, a torn last line
or a log of an older sidecar is left out, and the next whole write drops the log."""

from __future__ import annotations

import json
from pathlib import Path

from bot.corpus.loader import load_corpus
from bot.search.tantivy_index import LOG, STATE, State, TantivyIndex

ROOT = Path(__file__).resolve().parents[1]


def _state(directory: Path) -> tuple:
    state = State.load(directory)
    assert state is not None
    return state.plans, state.words, state.chars, state.pinyin


def test_adds_are_logged_and_read_back_as_a_whole_write_gives(tmp_path):
    plans = load_corpus(ROOT / "seeds").plans
    logged, whole = tmp_path / "logged", tmp_path / "whole"
    TantivyIndex.open(logged).sync(plans[2:])
    before = (logged / STATE).read_bytes()
    TantivyIndex.open(logged).add(plans[:1])
    TantivyIndex.open(logged).add(plans[1:2])
    assert (logged / STATE).read_bytes() == before, "an add leaves the sidecar as it is"
    assert len((logged / LOG).read_bytes().splitlines()) == 3  # the header and one line an add
    TantivyIndex.open(whole).sync(plans[2:])
    TantivyIndex.open(whole).sync([plans[2], plans[0], *plans[3:], plans[1]])  # same plans, one whole write
    assert not (whole / LOG).exists()
    got = _state(logged)
    assert [p["meta"]["plan_id"] for p in got[0]] == [p.plan_id for p in plans]  # corpus order
    assert got[1:] == _state(whole)[1:]
    assert sorted(got[0], key=lambda p: p["meta"]["plan_id"]) == \
        sorted(_state(whole)[0], key=lambda p: p["meta"]["plan_id"])
    TantivyIndex.open(logged).sync(plans)  # the corpus as the adds left it: nothing to do
    assert _state(logged) == got
    State.load(logged).save(logged)  # a whole write folds the log in and drops it
    assert not (logged / LOG).exists() and _state(logged) == got


def test_a_torn_last_line_is_left_out_and_the_next_add_writes_over_it(tmp_path):
    plans = load_corpus(ROOT / "seeds").plans
    TantivyIndex.open(tmp_path).sync(plans[2:])
    TantivyIndex.open(tmp_path).add(plans[:1])
    good = _state(tmp_path)
    with open(tmp_path / LOG, "ab") as f:
        f.write(b'{"plans": [{"meta": {"plan_id": "half')  # a writer killed mid-append
    assert _state(tmp_path) == good
    TantivyIndex.open(tmp_path).add(plans[1:2])
    lines = (tmp_path / LOG).read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(json.loads(line) for line in lines[:-1])
    assert {p["meta"]["plan_id"] for p in _state(tmp_path)[0]} == {p.plan_id for p in plans}


def test_a_log_of_another_sidecar_is_not_applied(tmp_path):
    plans = load_corpus(ROOT / "seeds").plans
    TantivyIndex.open(tmp_path).sync(plans[1:])
    TantivyIndex.open(tmp_path).add(plans[:1])
    stale = (tmp_path / LOG).read_bytes()
    state = State.load(tmp_path)
    state.save(tmp_path)  # a whole write (what a sync does) replaces the sidecar and drops the log
    assert not (tmp_path / LOG).exists()
    (tmp_path / LOG).write_bytes(stale)  # a log left by a writer killed between the two
    assert _state(tmp_path)[0] == state.plans
    (tmp_path / STATE).write_text(json.dumps({"format": 4, "plans": [], "words": {}, "chars": {}, "pinyin": {}}),
                                  encoding="utf-8")
    assert State.load(tmp_path).plans == []  # the log names the sidecar it extends, not this one


def test_a_log_past_its_limit_is_folded_into_a_whole_sidecar(tmp_path, monkeypatch):
    from bot.search import tantivy_index

    plans = load_corpus(ROOT / "seeds").plans
    TantivyIndex.open(tmp_path).sync(plans[2:])
    TantivyIndex.open(tmp_path).add(plans[:1])
    monkeypatch.setattr(tantivy_index, "LOG_LIMIT", 10)
    TantivyIndex.open(tmp_path).add(plans[1:2])
    assert not (tmp_path / LOG).exists()
    on_disk = json.loads((tmp_path / STATE).read_text(encoding="utf-8"))["plans"]
    assert [p["meta"]["plan_id"] for p in on_disk] == [p.plan_id for p in plans]


def test_an_add_reads_only_the_lexicon_and_ends_as_the_full_read_does(tmp_path):
    """`open_for_add` reads the sidecar's lexicon and next sequence number, not its plans; the
    sidecar it leaves is the one an add over the whole sidecar leaves, also for a replaced plan."""
    import dataclasses

    plans = load_corpus(ROOT / "seeds").plans
    lean, full = tmp_path / "lean", tmp_path / "full"
    for folder in (lean, full):
        TantivyIndex.open(folder).sync(plans[2:])
    opened = TantivyIndex.open_for_add(lean)
    assert opened.state.plans == [] and opened.state.words == State.load(lean).words
    opened.add(plans[:1])
    TantivyIndex.open(full).add(plans[:1])
    changed = dataclasses.replace(plans[3], preamble="改过的前言")
    for plan in (plans[1], changed):
        TantivyIndex.open_for_add(lean).add([plan])
        TantivyIndex.open(full).add([plan])
    got, want = _state(lean), _state(full)
    assert [p["meta"]["plan_id"] for p in got[0]] == [p["meta"]["plan_id"] for p in want[0]]
    assert got[1:] == want[1:]
    assert len({p["seq"] for p in got[0]}) == len(got[0])  # sequence numbers stay unique
    index = TantivyIndex.open(lean)
    assert index.searcher.num_docs == sum(len(p.passages) for p in plans)


def test_an_older_sidecar_is_read_whole_for_an_add(tmp_path):
    plans = load_corpus(ROOT / "seeds").plans
    TantivyIndex.open(tmp_path).sync(plans[1:])
    data = json.loads((tmp_path / STATE).read_text(encoding="utf-8"))
    del data["next_seq"]
    (tmp_path / STATE).write_text(json.dumps({"format": data.pop("format"), "plans": data.pop("plans"), **data},
                                             ensure_ascii=False), encoding="utf-8")
    assert State.load_lexicon(tmp_path) is None
    opened = TantivyIndex.open_for_add(tmp_path)
    assert len(opened.state.plans) == len(plans) - 1
    opened.add(plans[:1])
    assert {p["meta"]["plan_id"] for p in _state(tmp_path)[0]} == {p.plan_id for p in plans}
