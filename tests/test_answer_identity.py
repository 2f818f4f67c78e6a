"""bench.answer_identity: the dump a ranking change is diffed against covers every query and shape."""

from __future__ import annotations

import json

from bench import answer_identity


def test_the_dump_holds_every_query_in_every_shape(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANBRIEF_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "answers.jsonl"
    assert answer_identity.main([str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    queries = answer_identity.queries()
    answers = [line for line in lines if "answer" in line]
    assert len(answers) == len(queries) * len(answer_identity.VARIANTS)
    assert {line["q"] for line in lines} == set(queries)
    plain = {line["q"]: line["answer"] for line in answers if line["args"] == {}}
    assert plain["双减"]["results"] and plain["双减"]["total"] >= len(plain["双减"]["results"])
    assert plain["qzxwvk"]["error"] == "no_match"
