"""`planbrief add` refuses bad input without touching the corpus; the CLI's JSON shapes hold."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bot.cli import main
from bot.corpus.loader import default_seeds_dir, load_corpus
from tests.support.folders import folder_bytes as _snapshot

SEEDS = default_seeds_dir()

PLAN_TEXT = """当前位置:首页 > 政务公开 > 规划计划
常州市教育局2024年工作要点
发布日期:2024-02-20
2024年，全市教育系统坚持以习近平新时代中国特色社会主义思想为指导，全面贯彻党的教育方针，落实立德树人根本任务，加快建设高质量教育体系，努力办好人民满意的教育。
一、坚持立德树人
1. 深化思政课改革创新。推进大中小学思政课一体化建设，打造一批思政课示范课堂，全市新建思政课名师工作室10个。
2. 推进“双减”提质增效。规范校外培训，提升课后服务质量，课后服务覆盖率保持100%。
二、促进教育公平
3. 扩大优质学位供给。新建改扩建中小学幼儿园20所，新增学位15000个。
返回顶部
"""


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_plans_json_contract(capsys):
    code, out, _ = _run(capsys, "plans", "--json")
    assert code == 0
    data = json.loads(out)
    keys = {"plan_id", "city", "province", "parent_city", "year", "kind", "title", "issuer", "date",
            "source_file", "passages"}
    assert len(data["plans"]) == 5
    for plan in data["plans"]:
        assert keys <= set(plan)
        assert plan["passages"] > 0
    assert {p["city"] for p in data["plans"]} >= {"无锡", "无锡市", "江阴市", "苏州市", "随州市"}


def test_show_json_has_tree_priorities_and_passages(capsys):
    code, out, _ = _run(capsys, "show", "jiangyin-2023-speech", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["plan_id"] == "jiangyin-2023-speech"
    assert len(data["priorities"]) == 5
    assert data["tree"][0]["kind"] == "part"
    first = data["passages"][0]
    assert set(first) >= {"id", "section", "text"}


def test_show_unknown_plan_is_a_clear_error(capsys):
    code, out, err = _run(capsys, "show", "nope")
    assert code != 0 and out == ""
    assert "没有这份规划" in err and "Traceback" not in err


def test_seeds_dir_is_configurable(seeds, capsys, monkeypatch):
    (seeds / "manifest.json").write_text(json.dumps({"plans": json.loads(
        (SEEDS / "manifest.json").read_text())["plans"][:2]}), encoding="utf-8")
    code, out, _ = _run(capsys, "--seeds", str(seeds), "plans", "--json")
    assert code == 0 and len(json.loads(out)["plans"]) == 2
    monkeypatch.setenv("PLANBRIEF_SEEDS", str(seeds))
    assert len(load_corpus().plans) == 2


def test_missing_seeds_dir_is_one_line(tmp_path, capsys):
    code, _, err = _run(capsys, "--seeds", str(tmp_path / "none"), "plans")
    assert code != 0 and err.count("\n") == 1 and "manifest.json" in err


def test_add_txt_detects_metadata_and_is_searchable(seeds, tmp_path, capsys):
    src = tmp_path / "changzhou.txt"
    src.write_text(PLAN_TEXT, encoding="utf-8")
    code, out, err = _run(capsys, "--seeds", str(seeds), "add", str(src), "--json")
    assert code == 0, err
    entry = json.loads(out)
    assert entry["city"] == "常州市" and entry["year"] == 2024
    assert entry["title"] == "常州市教育局2024年工作要点"
    assert entry["date"] == "2024-02-20"
    corpus = load_corpus(seeds)
    plan = corpus.plan(entry["plan_id"])
    assert plan.meta.province == "江苏省"
    assert [p.title for p in plan.priorities] == ["一、坚持立德树人", "二、促进教育公平"]
    assert all("返回顶部" not in p.text for p in plan.passages)
    # and a second add of the same text is refused as a duplicate, corpus unchanged
    before = _snapshot(seeds)
    code, _, err = _run(capsys, "--seeds", str(seeds), "add", str(src))
    assert code != 0 and "重复" in err
    assert _snapshot(seeds) == before


def test_add_html_and_docx(seeds, tmp_path, capsys):
    import docx

    html = tmp_path / "plan.html"
    body = "".join(f"<p>{line}</p>" for line in PLAN_TEXT.replace("常州", "镇江").splitlines())
    html.write_text(f"<html><head><script>var x=1;</script></head><body><nav>首页 | 新闻</nav>{body}"
                    "</body></html>", encoding="utf-8")
    code, out, err = _run(capsys, "--seeds", str(seeds), "add", str(html), "--json")
    assert code == 0, err
    assert json.loads(out)["city"] == "镇江市"

    document = docx.Document()
    for line in PLAN_TEXT.replace("常州", "南通").replace("20所", "26所").splitlines():
        document.add_paragraph(line)
    path = tmp_path / "plan.docx"
    document.save(str(path))
    code, out, err = _run(capsys, "--seeds", str(seeds), "add", str(path), "--json")
    assert code == 0, err
    assert json.loads(out)["city"] == "南通市"
    assert len(load_corpus(seeds).plans) == 7


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", "空"),
        ("blank.txt", b"   \n\n  ", "空"),
        ("short.txt", "只有一句话。".encode(), "正文"),
        ("broken.docx", b"this is not a zip file", "无法读取"),
        ("plan.pdf", b"%PDF-1.4", "不支持"),
        ("nocity.txt", PLAN_TEXT.replace("常州市", "").encode(), "--city"),
    ],
)
def test_add_refuses_bad_files_without_touching_corpus(seeds, tmp_path, capsys, name, content, message):
    src = tmp_path / name
    src.write_bytes(content)
    before = _snapshot(seeds)
    code, out, err = _run(capsys, "--seeds", str(seeds), "add", str(src))
    assert code != 0
    assert message in err and "Traceback" not in err
    assert _snapshot(seeds) == before


def test_add_missing_file(seeds, tmp_path, capsys):
    code, _, err = _run(capsys, "--seeds", str(seeds), "add", str(tmp_path / "nope.txt"))
    assert code != 0 and "不存在" in err


def test_add_with_explicit_metadata_and_unknown_city(seeds, tmp_path, capsys):
    src = tmp_path / "x.txt"
    src.write_text(PLAN_TEXT.replace("常州市", ""), encoding="utf-8")
    code, _, err = _run(capsys, "--seeds", str(seeds), "add", str(src), "--city", "火星市")
    assert code != 0 and "未知地名" in err
    code, out, err = _run(capsys, "--seeds", str(seeds), "add", str(src), "--city", "扬州市", "--json")
    assert code == 0, err
    assert json.loads(out)["city"] == "扬州市"


def test_console_script_and_module_entry():
    out = subprocess.run([sys.executable, "-m", "bot", "plans", "--json"], capture_output=True, text=True,
                         check=True).stdout
    assert len(json.loads(out)["plans"]) == 5


def test_the_entry_skips_teardown_but_not_output_exit_handlers_or_the_exit_code(tmp_path):
    """`python -m bot` leaves by os._exit after main (bot.cli.run): everything printed still arrives,
    a registered exit handler (logging's, a temporary folder's) still runs, a failure still exits
    non-zero."""
    probe = ("import atexit, sys\n"
             "from pathlib import Path\n"
             f"atexit.register(lambda: Path({str(tmp_path / 'ran')!r}).write_text('yes'))\n"
             "import bot.cli\n"
             "bot.cli.run(sys.argv[1:])\n")
    done = subprocess.run([sys.executable, "-c", probe, "search", "双减", "--json", "--limit", "50"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["results"]) > 10  # the whole JSON, flushed
    assert (tmp_path / "ran").read_text() == "yes"
    failed = subprocess.run([sys.executable, "-m", "bot", "show", "no-such-plan"], capture_output=True, text=True)
    assert failed.returncode != 0 and failed.stderr


def test_search_json_contract_and_filters(capsys):
    code, out, _ = _run(capsys, "search", "双剑", "--city", "无锡", "--limit", "3", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["query"] == "双剑" and data["corrected"] == "双减"
    keys = {"plan_id", "city", "year", "title", "section", "passage_id", "text", "excerpt", "score"}
    assert data["results"] and all(keys <= set(r) for r in data["results"])
    assert {r["plan_id"] for r in data["results"]} <= {"wuxi-2023-conference", "jiangyin-2023-speech",
                                                       "wuxi-2020-review-plan"}
    assert all(r["excerpt"] and r["excerpt"].strip("…")[:10] in r["text"] for r in data["results"])


def test_search_forward_plan_outranks_review(capsys):
    _, out, _ = _run(capsys, "search", "双减", "--limit", "1", "--json")
    top = json.loads(out)["results"][0]
    assert not top["section"][0].startswith("第一方面")


def test_city_json_contract(capsys):
    code, out, _ = _run(capsys, "city", "無錫", "--json")
    data = json.loads(out)
    assert code == 0 and data["match"] is not None
    assert [p["plan_id"] for p in data["plans"]] == ["wuxi-2023-conference", "jiangyin-2023-speech",
                                                      "wuxi-2020-review-plan"]
    assert "suggestions" in data and data["query"] == "無錫"


def test_batch_mode_reads_one_query_per_line(monkeypatch, capsys):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("双减\n\n<b>x</b>\n" + "长" * 500 + "\n"))
    code, out, _ = _run(capsys, "search", "-", "--json", "--limit", "2")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(lines) == 4
    assert lines[0]["results"] and lines[1]["error"] == "empty"
    assert lines[3]["error"] in ("too_long", "no_match")
    monkeypatch.setattr(sys, "stdin", io.StringIO("随洲\n火星\n"))
    code, out, _ = _run(capsys, "city", "-", "--json")
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["match"]["name"] in ("随州市", "随州") and first["plans"]
    assert second["match"] is None and second["plans"] == [] and "无锡" in second["suggestions"]
