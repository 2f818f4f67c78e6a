"""Added plans live in the data folder, beside the read-only shipped seeds, under readable ids.

`add` without --seeds writes `$PLANBRIEF_DATA_DIR/plans/` (the conftest points it at a temp folder) and
never the shipped seeds/ (nor a lock file there); the corpus is both; ids read place-year-kind like the
seeds' own, with -2, -3 on collision; an id given earlier (the older hash-suffixed ones) is kept and
still found; a shipped plan cannot be removed, with one line saying so.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.cli import main
from bot.corpus.ingest import RemoveError, add_plan, remove_plan
from bot.corpus.loader import default_seeds_dir, folders_for, load_corpus
from bot.search.library import Library
from tests.support.folders import folder_bytes
from tests.test_add_and_cli import PLAN_TEXT

SHIPPED = default_seeds_dir()


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    """A data folder of this test's own (the user's plans go to data/plans)."""
    monkeypatch.setenv("PLANBRIEF_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _plan_file(tmp_path: Path, name: str, text: str = PLAN_TEXT) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_tests_never_see_the_users_data_folder():
    configured = Path(os.environ["PLANBRIEF_DATA_DIR"]).resolve()
    assert configured != (Path(__file__).resolve().parents[1] / "data").resolve()
    assert configured != (Path.cwd() / "data").resolve()
    assert os.environ.get("PLANBRIEF_SEEDS", "") == ""


def test_add_writes_the_data_folder_never_the_shipped_seeds(data, tmp_path, capsys):
    shipped_before = folder_bytes(SHIPPED)
    code, out, err = _run(capsys, "add", str(_plan_file(tmp_path, "changzhou.txt")), "--json")
    assert code == 0, err
    entry = json.loads(out)
    assert entry["plan_id"] == "changzhou-2024-workpoints"
    assert folder_bytes(SHIPPED) == shipped_before  # no text, manifest or .manifest.lock landed there
    manifest = json.loads((data / "plans" / "manifest.json").read_text(encoding="utf-8"))
    assert [e["plan_id"] for e in manifest["plans"]] == ["changzhou-2024-workpoints"]
    assert (data / "plans" / "changzhou-2024-workpoints.txt").exists()
    # the corpus is the shipped seeds plus the user's plan, and every command sees it
    code, out, _ = _run(capsys, "plans", "--json")
    ids = {p["plan_id"] for p in json.loads(out)["plans"]}
    assert len(ids) == 6 and {"changzhou-2024-workpoints", "wuxi-2023-conference"} <= ids
    code, out, _ = _run(capsys, "show", "changzhou-2024-workpoints", "--json")
    assert code == 0 and json.loads(out)["title"] == "常州市教育局2024年工作要点"


def test_ids_take_minus_two_and_three_on_collision(data, tmp_path):
    folders = folders_for()
    first = add_plan(folders, _plan_file(tmp_path, "a.txt"))
    second = add_plan(folders, _plan_file(tmp_path, "b.txt", PLAN_TEXT.replace("常州市教育局2024年工作要点",
                                                                                "常州市教育局2024年工作要点（修订）")
                                          .replace("20所", "21所")))
    third = add_plan(folders, _plan_file(tmp_path, "c.txt", PLAN_TEXT.replace("常州市教育局2024年工作要点",
                                                                               "常州市教育局2024年工作要点（二）")
                                         .replace("20所", "22所")))
    assert [first["plan_id"], second["plan_id"], third["plan_id"]] == [
        "changzhou-2024-workpoints", "changzhou-2024-workpoints-2", "changzhou-2024-workpoints-3"]
    corpus = load_corpus()
    plan = corpus.plan("changzhou-2024-workpoints-2")
    assert plan is not None and all(p.id.startswith("changzhou-2024-workpoints-2:") for p in plan.passages)
    assert (data / "plans" / "changzhou-2024-workpoints-3.txt").exists()


def test_an_id_a_shipped_plan_has_is_never_reused(data, tmp_path):
    text = PLAN_TEXT.replace("常州市教育局2024年工作要点", "无锡市教育局2023年工作要点").replace("2024年，", "2023年，") \
        .replace("2024-02-20", "2023-02-20")
    entry = add_plan(folders_for(), _plan_file(tmp_path, "wuxi.txt", text))
    assert entry["plan_id"] == "wuxi-2023-workpoints"
    text = text.replace("无锡市教育局2023年工作要点", "苏州市2023年全市教育工作要点（转载）").replace("20所", "23所")
    entry = add_plan(folders_for(), _plan_file(tmp_path, "suzhou.txt", text))
    assert entry["plan_id"] == "suzhou-2023-workpoints-2"  # suzhou-2023-workpoints ships with PlanBrief


def test_old_hash_suffixed_ids_keep_working(data, tmp_path, capsys):
    """A plan added under the older scheme keeps its id: shown, searched, removed by it."""
    plans = data / "plans"
    plans.mkdir(parents=True)
    (plans / "changzhou-2024-ccfb6e.txt").write_text(PLAN_TEXT, encoding="utf-8")
    old = {"plan_id": "changzhou-2024-ccfb6e", "file": "changzhou-2024-ccfb6e.txt", "city": "常州市", "year": 2024,
           "kind": "工作要点", "title": "常州市教育局2024年工作要点", "added_by": "planbrief add"}
    (plans / "manifest.json").write_text(json.dumps({"plans": [old]}, ensure_ascii=False), encoding="utf-8")
    code, out, err = _run(capsys, "show", "changzhou-2024-ccfb6e", "--json")
    assert code == 0, err
    code, out, _ = _run(capsys, "search", "思政课", "--plan", "changzhou-2024-ccfb6e", "--json")
    assert json.loads(out)["results"]
    new = PLAN_TEXT.replace("2024", "2025").replace("20所", "24所")
    code, out, err = _run(capsys, "add", str(_plan_file(tmp_path, "next.txt", new)), "--json")
    assert code == 0, err
    assert json.loads(out)["plan_id"] == "changzhou-2025-workpoints"
    ids = [e["plan_id"] for e in json.loads((plans / "manifest.json").read_text(encoding="utf-8"))["plans"]]
    assert ids == ["changzhou-2024-ccfb6e", "changzhou-2025-workpoints"]
    code, out, err = _run(capsys, "remove", "changzhou-2024-ccfb6e", "--json")
    assert code == 0, err
    assert not (plans / "changzhou-2024-ccfb6e.txt").exists()


def test_remove_withdraws_a_users_plan_and_refuses_a_shipped_one(data, tmp_path, capsys):
    shipped_before = folder_bytes(SHIPPED)
    code, out, err = _run(capsys, "add", str(_plan_file(tmp_path, "changzhou.txt")), "--json")
    plan_id = json.loads(out)["plan_id"]
    code, out, err = _run(capsys, "remove", plan_id, "--json")
    assert code == 0, err
    assert json.loads(out)["removed"]["plan_id"] == plan_id
    assert load_corpus().plan(plan_id) is None
    code, out, err = _run(capsys, "remove", "wuxi-2023-conference")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "随附" in err and "Traceback" not in err
    assert load_corpus().plan("wuxi-2023-conference") is not None
    assert folder_bytes(SHIPPED) == shipped_before
    with pytest.raises(RemoveError, match="随附") as refused:
        remove_plan(folders_for(), "jiangyin-2023-speech")
    assert "ships with PlanBrief" in refused.value.en


def test_an_explicit_seeds_folder_is_still_the_add_target(seeds, data, tmp_path, capsys):
    code, out, err = _run(capsys, "--seeds", str(seeds), "add", str(_plan_file(tmp_path, "c.txt")), "--json")
    assert code == 0, err
    assert json.loads(out)["plan_id"] in {p.plan_id for p in load_corpus(seeds).plans}
    assert not (data / "plans").exists()


def test_the_running_bots_library_watches_the_users_plans(data, tmp_path):
    """The reload job and the editor's publish use one location: what add writes, the library serves."""
    corpus = load_corpus()
    library = Library(corpus.folders, tmp_path / "cache")
    assert library.current.corpus.plan("changzhou-2024-workpoints") is None
    entry = add_plan(corpus.folders, _plan_file(tmp_path, "changzhou.txt"))
    assert library.stale()
    assert library.refresh()
    assert library.current.corpus.plan(entry["plan_id"]) is not None
    assert library.current.engine.search("思政课名师工作室", plan_id=entry["plan_id"]).hits
    remove_plan(corpus.folders, entry["plan_id"])
    assert library.refresh()
    assert library.current.corpus.plan(entry["plan_id"]) is None
