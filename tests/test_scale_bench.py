"""bench.scale_bench at ×1: every phase runs against the current code and yields a figure.

A smoke test, not a measurement (the figures are the bench's, at ×1000 and up): it keeps the bench
working while the corpus, index and add code under it change, since it only drives the CLI and the
Library from outside.
"""

from __future__ import annotations

import json

from bench.scale_bench import PEER, SEEDS, _pool, main, variant, write_corpus


def test_a_copy_keeps_each_seed_line_and_its_opening_but_not_its_text():
    """Copy k must parse into the same outline (item numbers open lines) yet be other text."""
    entries = json.loads((SEEDS / "manifest.json").read_text(encoding="utf-8"))["plans"]
    texts = [(SEEDS / e["file"]).read_text(encoding="utf-8") for e in entries]
    pool = _pool(texts)
    seed = texts[2]
    copy = variant(seed, 3, pool)
    assert copy != seed and variant(seed, 3, pool) == copy
    seed_lines, copy_lines = seed.split("\n"), copy.split("\n")
    assert len(copy_lines) == len(seed_lines)
    openings = sum(a[:4] == b[:4] for a, b in zip(seed_lines, copy_lines, strict=True))
    assert openings / len(seed_lines) > 0.8  # only city names (rotated) change a line's opening


def test_write_corpus_is_a_seeds_folder(tmp_path):
    from bot.corpus.loader import read_manifest

    facts = write_corpus(tmp_path, 2)
    entries = read_manifest(tmp_path)
    assert facts["plans"] == len(entries) == 10
    assert len({e["plan_id"] for e in entries}) == 10
    assert all((tmp_path / e["file"]).exists() for e in entries)


def test_every_phase_yields_a_figure_at_x1(tmp_path, capsys):
    out = tmp_path / "figures.json"
    assert main(["--scales", "1", "--runs", "1", "--adds", "1", "--json", str(out), "--timeout", "300"]) == 0
    (res,) = json.loads(out.read_text(encoding="utf-8"))
    for phase in ("build", "cli", "serve", "tantivy_build", "tantivy", "add", "refresh"):
        assert not res[phase].get("failure") and not res[phase].get("error"), (phase, res[phase])
    assert res["build"]["s"] > 0 and res["cli"]["s"] > 0 and res["tantivy"]["first_s"] > 0
    assert res["serve"]["p50_ms"] > 0 and res["tantivy"]["p50_ms"] > 0 and res["serve"]["queries"]
    assert res["serve"]["paired_p50_ms"] > 0 and res["serve"]["paired_bare_p99_ms"] > 0
    # the peer reads its page's texts; per-query and not-cached-plan figures come with the pooled ones
    assert res["tantivy_build"]["peer"] == PEER
    assert res["serve"]["query_bare_p99_ms"] > 0 and res["serve"]["cold_plan_p50_ms"] > 0
    assert res["add"]["n"] == 1 and res["add"]["search_s"] > 0 and res["refresh"]["refresh_s"] > 0
    assert "search" in res["disk"]["data"] and res["disk"]["plans_mb"] > 0
    table = capsys.readouterr().out
    assert "| figure | ×1 | target | met? |" in table and "timeout" not in table
