"""Source watching end to end against a local bureau portal (tests/support/portal.py).

Day 1 records the column as the baseline and proposes nothing; day 2 a new 工作要点 is proposed once
while a new 招生 notice beside it is not; accepting makes it searchable; an `auto` column publishes a
PDF-attached plan with no press; a restart mid-round proposes nothing twice; politeness is read from
the server's own log (spacing, robots.txt, 304). Every command goes through the real CLI.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from bot.cli import main
from bot.corpus.loader import read_manifest
from bot.sources.poller import Poller, WatchPolicy
from bot.sources.store import SourceStore
from bot.sources.watch import Watcher
from tests.support.portal import Portal, cover_page, list_page, plan_page
from tests.test_editor_desk import UNIQUE, plan_text

SPACING = 0.3
LIST = "/jyj/tzgg/index.html"
BASELINE = [
    ("/jyj/tzgg/202312/t20231228_9.html", "关于2024年元旦放假的通知", "2023-12-28"),
    ("/jyj/tzgg/202312/t20231220_8.html", "南通市教育局2023年工作要点", "2023-02-20"),
    ("/jyj/tzgg/202312/t20231215_7.html", "关于公布2023年度市级优秀教学成果奖获奖名单的通知", "2023-12-15"),
    ("/jyj/tzgg/202312/t20231201_6.html", "南通市教育局关于开展2023年中小学生安全教育周活动的通知", "2023-12-01"),
    ("/jyj/tzgg/202311/t20231120_5.html", "南通市2023年公开招聘教师拟聘用人员公示", "2023-11-20"),
]
PLAN_ITEM = ("/jyj/tzgg/202402/t20240220_11.html", "南通市教育局2024年工作要点", "2024-02-20")
ADMISSIONS = ("/jyj/tzgg/202402/t20240219_10.html", "关于做好2024年义务教育学校招生入学工作的通知", "2024-02-19")


def _run(capsys, *argv) -> tuple[int, dict | list]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    return code, (lines[0] if len(lines) == 1 else lines) if lines else err


@pytest.fixture
def env(monkeypatch, seeds, tmp_path):
    monkeypatch.setenv("PLANBRIEF_SEEDS", str(seeds))
    monkeypatch.setenv("PLANBRIEF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PLANBRIEF_DATABASE_URL", raising=False)
    monkeypatch.setenv("PLANBRIEF_ALLOW_PRIVATE_URLS", "1")
    monkeypatch.setenv("PLANBRIEF_WATCH_HOST_SPACING", str(SPACING))
    return tmp_path


@pytest.fixture
def portal():
    with Portal() as site:
        site.put(LIST, list_page(BASELINE, next_href="/jyj/tzgg/index_1.html"))
        site.put("/jyj/tzgg/index_1.html", list_page([("/jyj/tzgg/old.html", "南通市教育局2022年工作要点",
                                                       "2022-02-10")]))
        for href, title, date in BASELINE:
            site.put(href, plan_page(title, "各县（市、区）教育局：\n" + title + "。特此通知。", date))
        yield site


def _day2(site: Portal) -> None:
    site.put(PLAN_ITEM[0], plan_page(PLAN_ITEM[1], plan_text("南通"), PLAN_ITEM[2]))
    site.put(ADMISSIONS[0], plan_page(ADMISSIONS[1], "各县（市、区）教育局：现就2024年招生入学工作通知如下。", ADMISSIONS[2]))
    site.put(LIST, list_page([PLAN_ITEM, ADMISSIONS, *BASELINE], next_href="/jyj/tzgg/index_1.html"))


def test_day1_baseline_day2_one_proposal_then_accept_makes_it_searchable(env, portal, seeds, capsys):
    code, added = _run(capsys, "sources", "add", portal.url(LIST), "--city", "南通", "--json")
    assert code == 0 and {"id", "url", "city", "mode", "state"} <= set(added)
    assert (added["city"], added["mode"], added["state"]) == ("南通市", "propose", "active")

    code, day1 = _run(capsys, "sources", "check", "--json")
    (report,) = day1["sources"]
    assert {"id", "url", "status", "http_status", "items_seen", "new_items", "candidates"} <= set(report)
    assert (report["status"], report["http_status"], report["items_seen"]) == ("baseline", 200, len(BASELINE))
    assert report["new_items"] == 0 and report["candidates"] == []
    assert portal.hits_for("/jyj/tzgg/index_1.html") == []  # pagination only when --backfill asks

    _day2(portal)
    code, day2 = _run(capsys, "sources", "check", "--json")
    (report,) = day2["sources"]
    assert report["new_items"] == 2
    by_title = {c["title"]: c for c in report["candidates"]}
    assert by_title[PLAN_ITEM[1]]["status"] == "proposed" and by_title[PLAN_ITEM[1]]["kind"] == "工作要点"
    assert by_title[ADMISSIONS[1]]["status"] == "ignored"
    assert {"id", "title", "url", "kind", "status"} <= set(by_title[PLAN_ITEM[1]])
    assert portal.hits_for(ADMISSIONS[0]) == []  # a title triage drops is never fetched

    code, waiting = _run(capsys, "sources", "candidates", "--json")
    assert [c["title"] for c in waiting["candidates"]] == [PLAN_ITEM[1]]

    # day 3, nothing changed: the list page costs a 304, and nothing is proposed again
    code, day3 = _run(capsys, "sources", "check", "--json")
    assert day3["sources"][0]["status"] == "not_modified", day3
    assert day3["sources"][0]["http_status"] == 304
    assert day3["sources"][0]["candidates"] == []
    assert portal.hits_for(LIST)[-1].status == 304 and portal.hits_for(LIST)[-1].conditional

    candidate_id = by_title[PLAN_ITEM[1]]["id"]
    code, accepted = _run(capsys, "sources", "accept", str(candidate_id), "--json")
    assert code == 0 and accepted["status"] == "published" and accepted["plan_id"]
    assert any(e["plan_id"] == accepted["plan_id"] for e in read_manifest(seeds))
    code, found = _run(capsys, "search", UNIQUE, "--json")
    assert found["results"] and found["results"][0]["plan_id"] == accepted["plan_id"]
    code, again = _run(capsys, "sources", "accept", str(candidate_id))
    assert code != 0  # a second 收录 publishes nothing

    # news like an upload: the next digest of a subscriber in 南通 (who has seen the rest) leads with it
    from bot.corpus.loader import load_corpus
    from bot.digests.content import build_digest
    from bot.search.places import resolve_place

    corpus = load_corpus(seeds)
    seen = {p.plan_id for p in corpus.plans if p.plan_id != accepted["plan_id"]}
    digest = build_digest(corpus, place=resolve_place("南通", corpus).place, seen_plan_ids=seen)
    assert digest.plans[0].plan.plan_id == accepted["plan_id"] and digest.plans[0].new


def test_reject_is_final_and_a_restart_proposes_nothing_twice(env, portal, capsys):
    _run(capsys, "sources", "add", portal.url(LIST), "--city", "南通市", "--json")
    _run(capsys, "sources", "check", "--json")
    _day2(portal)
    portal.put(LIST, list_page([PLAN_ITEM, ADMISSIONS, *BASELINE]))
    store = SourceStore.open(env / "data" / "planbrief.sqlite3")
    watcher = Watcher(store, Path(env / "seeds"), env / "data", WatchPolicy(host_spacing=SPACING),
                      allow_private=True)

    calls = []
    original = watcher._candidate

    def crash_after_recording(source, item, year, poller):
        calls.append(item.id)
        raise KeyboardInterrupt  # the process dies after the list was read, before the item was fetched

    watcher._candidate = crash_after_recording
    with pytest.raises(KeyboardInterrupt):
        watcher.check_source(store.list_sources()[0], Poller(watcher.policy))
    pending = {i.title for i in store.items_with_status("pending")}
    assert pending == {PLAN_ITEM[1], ADMISSIONS[1]} and calls  # recorded before any fetch: nothing lost
    watcher._candidate = original

    restarted = Watcher(SourceStore.open(env / "data" / "planbrief.sqlite3"), Path(env / "seeds"), env / "data",
                        WatchPolicy(host_spacing=SPACING), allow_private=True)
    first = restarted.run_round()
    assert sorted(c.status for c in first.sources[0].candidates) == ["ignored", "proposed"]
    assert restarted.run_round().sources[0].candidates == []
    proposed = store.items_with_status("proposed")
    assert len(proposed) == 1
    code, rejected = _run(capsys, "sources", "reject", str(proposed[0].id), "--json")
    assert rejected["status"] == "rejected"
    assert _run(capsys, "sources", "candidates", "--json")[1]["candidates"] == []
    store.close()


def test_auto_source_publishes_a_pdf_attachment_with_no_press(env, portal, seeds, capsys):
    from tests.test_formats import write_pdf

    column = "/jyj/ghjh/index.html"
    portal.put(column, list_page([("/jyj/ghjh/old.html", "扬州市教育局2023年工作总结", "2023-12-30")],
                                 bureau="扬州市教育局"))
    code, added = _run(capsys, "sources", "add", portal.url(column), "--city", "扬州", "--auto", "--json")
    assert added["mode"] == "auto"
    _run(capsys, "sources", "check", "--json")
    with tempfile.TemporaryDirectory() as tmp:
        write_pdf(Path(tmp) / "plan.pdf")
        portal.put("/jyj/ghjh/P020240301.pdf", (Path(tmp) / "plan.pdf").read_bytes(), "application/pdf")
    portal.put("/jyj/ghjh/t20240301.html", cover_page("扬州市教育局2024年工作要点", "P020240301.pdf",
                                                      "扬州市教育局2024年工作要点.pdf"))
    portal.put(column, list_page([("/jyj/ghjh/t20240301.html", "扬州市教育局2024年工作要点", "2024-03-01"),
                                  ("/jyj/ghjh/old.html", "扬州市教育局2023年工作总结", "2023-12-30")],
                                 bureau="扬州市教育局"))
    code, day2 = _run(capsys, "sources", "check", "--json")
    (candidate,) = day2["sources"][0]["candidates"]
    assert candidate["status"] == "published", candidate
    entry = next(e for e in read_manifest(seeds) if e["plan_id"] == candidate["plan_id"])
    assert entry["city"] == "扬州市" and entry["original_file"].endswith(".pdf")
    assert portal.hits_for("/jyj/ghjh/P020240301.pdf")


def test_politeness_from_the_server_log(env, portal, capsys):
    """Spacing between requests to one host, robots.txt Disallow obeyed, a User-Agent naming PlanBrief."""
    portal.put("/private/list.html", list_page(BASELINE))
    _run(capsys, "sources", "add", portal.url(LIST), "--city", "南通", "--json")
    _run(capsys, "sources", "add", portal.url("/private/list.html"), "--city", "南通", "--json")
    code, day1 = _run(capsys, "sources", "check", "--json")
    statuses = {s["url"]: s["status"] for s in day1["sources"]}
    assert statuses[portal.url("/private/list.html")] == "disallowed"
    first_round = len(portal.hits)
    _day2(portal)
    _run(capsys, "sources", "check", "--json")
    assert portal.hits_for("/private/list.html") == []
    assert len(portal.hits_for("/robots.txt")) == 2  # once per host per round
    for hits in (portal.hits[:first_round], portal.hits[first_round:]):
        times = [h.at for h in hits]
        assert len(times) >= 2
        assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= SPACING - 0.02
    assert all(h.user_agent.startswith("PlanBrief/") for h in portal.hits)


def test_a_failing_source_is_marked_and_told_once(env, portal, capsys, monkeypatch):
    monkeypatch.setenv("PLANBRIEF_WATCH_FAILING_AFTER", "3")
    monkeypatch.setenv("PLANBRIEF_WATCH_HOST_SPACING", "0")
    portal.put("/broken.html", b"oops", "text/html", status=500)
    _run(capsys, "sources", "add", portal.url("/broken.html"), "--city", "南通", "--json")
    store = SourceStore.open(env / "data" / "planbrief.sqlite3")
    for n in range(1, 4):
        code, report = _run(capsys, "sources", "check", "--json")
        assert report["sources"][0]["status"] == "failed" and report["sources"][0]["http_status"] == 500
        assert report["sources"][0]["candidates"] == []
        assert store.list_sources()[0].failures == n
    (source,) = store.list_sources()
    assert source.state == "failing" and source.next_check_at > source.last_checked_at  # backed off
    assert [s.id for s in store.failing_untold()] == [source.id]
    store.mark_failing_told([source.id])
    _run(capsys, "sources", "check", "--json")
    assert store.failing_untold() == []  # told once, not every round
    portal.put("/broken.html", list_page(BASELINE))
    _run(capsys, "sources", "check", "--json")
    assert store.list_sources()[0].state == "active"
    store.close()


def test_backfill_reads_more_pages_on_the_first_round_only(env, portal, capsys):
    _run(capsys, "sources", "add", portal.url(LIST), "--city", "南通", "--backfill", "1", "--json")
    code, day1 = _run(capsys, "sources", "check", "--json")
    report = day1["sources"][0]
    assert report["status"] == "ok" and report["items_seen"] == len(BASELINE) + 1
    statuses = {c["title"]: c["status"] for c in report["candidates"]}
    assert statuses["南通市教育局2023年工作要点"] in ("proposed", "failed")  # its page is a stub notice
    assert statuses["关于2024年元旦放假的通知"] == "ignored"
    assert "南通市教育局2022年工作要点" in statuses
    _run(capsys, "sources", "check", "--json")
    assert len(portal.hits_for("/jyj/tzgg/index_1.html")) == 1


def test_gbk_column_reads_its_titles(env, capsys):
    with Portal() as site:
        items = [("/a.html", "关于印发无锡市教育局2024年工作要点的通知", "2024-02-01"),
                 ("/b.html", "无锡市2024年中考体育考试安排", "2024-01-20"),
                 ("/c.html", "无锡市教育局召开2024年全市教育工作会议", "2024-01-15")]
        site.put("/gbk.html", list_page(items, charset="gbk", bureau="无锡市教育局").encode("gbk"),
                 "text/html")
        _run(capsys, "sources", "add", site.url("/gbk.html"), "--city", "无锡", "--backfill", "0", "--json")
        code, day1 = _run(capsys, "sources", "check", "--json")
    assert day1["sources"][0]["items_seen"] == 3
    store = SourceStore.open(env / "data" / "planbrief.sqlite3")
    assert {i.title for i in store.items_with_status("baseline")} == {t for _, t, _ in items}
    store.close()


def test_sources_list_remove_and_bad_input(env, capsys):
    code, err = _run(capsys, "sources", "add", "ftp://example.org/x", "--city", "南通")
    assert code == 4 and "http" in err
    code, err = _run(capsys, "sources", "add", "http://127.0.0.1:9/x", "--city", "火星市")
    assert code == 4 and "未知地名" in err
    code, err = _run(capsys, "sources", "add", "http://127.0.0.1:9/x", "--city", "南通", "--every", "5s")
    assert code == 4 and "间隔" in err
    code, one = _run(capsys, "sources", "add", "http://127.0.0.1:9/x", "--city", "南通", "--every", "2h", "--json")
    assert one["every_s"] == 7200
    code, err = _run(capsys, "sources", "add", "http://127.0.0.1:9/x", "--city", "南通")
    assert code == 4 and "已在关注" in err
    code, listed = _run(capsys, "sources", "list", "--json")
    assert [s["id"] for s in listed["sources"]] == [one["id"]]
    code, removed = _run(capsys, "sources", "remove", str(one["id"]), "--json")
    assert removed["removed"]["id"] == one["id"]
    assert _run(capsys, "sources", "list", "--json")[1] == {"sources": []}
    assert _run(capsys, "sources", "remove", "99")[0] == 3


def test_private_addresses_need_the_setting_or_the_flag(env, monkeypatch, capsys):
    monkeypatch.delenv("PLANBRIEF_ALLOW_PRIVATE_URLS")
    code, err = _run(capsys, "sources", "add", "http://127.0.0.1:9/x", "--city", "南通")
    assert code == 4 and "内网" in err
    code, ok = _run(capsys, "sources", "add", "http://127.0.0.1:9/x", "--city", "南通", "--allow-private", "--json")
    assert code == 0 and ok["state"] == "active"


def test_the_example_file_loads(env, capsys):
    root = Path(__file__).resolve().parent.parent
    code, loaded = _run(capsys, "sources", "add", "--from", str(root / "sources.example.toml"), "--json")
    assert code == 0 and loaded["refused"] == [] and len(loaded["added"]) >= 5
    assert {"随州市", "芜湖市"} <= {s["city"] for s in loaded["added"]}
