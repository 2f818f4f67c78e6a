"""Source watching at scale: 200 watched columns on local portals, one check round.

Run: .venv/bin/python -m bench.watch_bench [--runs 3] [--sources 200] [--hosts 20] [--spacing 0.2]
     [--changed 0.1] [--concurrency 4]

The portals run in a child process (so the watcher's peak RSS is its own): `hosts` HTTP servers on
127.0.0.1, each a separate host for the per-host spacing, serving `sources / hosts` list pages with
furniture and dates, robots.txt, ETag/304. Per run, a fresh database and seeds copy:
- round 1 (first check): every list page fetched, its items recorded as the baseline;
- round 2 (next check): a `changed` share of the columns list one new 工作要点 (fetched, read by the add
  pipeline into a proposal), the others are unchanged and must cost a 304.
Printed per round, medians over runs: wall time, requests sent, 304 share, proposals; and the watcher
process's peak RSS (ru_maxrss). The per-host spacing bounds the time from below: a host's columns are
checked one after another, `spacing` apart (the default setting is 5 s; the bench uses less so a run
takes seconds, and says what the default implies).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

PLAN = """{city}教育局2024年工作要点
发布日期:2024-02-20
2024年，全市教育系统坚持以习近平新时代中国特色社会主义思想为指导，全面贯彻党的教育方针，落实立德树人根本任务，加快建设高质量教育体系。
一、坚持立德树人
1. 深化思政课改革创新。推进大中小学思政课一体化建设，打造一批思政课示范课堂，新建思政课名师工作室{n}个。
2. 推进“双减”提质增效。规范校外培训，提升课后服务质量，课后服务覆盖率保持100%。
二、促进教育公平
3. 扩大优质学位供给。新建改扩建中小学幼儿园{n}所，新增学位{m}个。
"""
OLD = [("关于2024年元旦放假的通知", "2023-12-28"), ("关于公布2023年度市级优秀教学成果奖获奖名单的通知", "2023-12-15"),
       ("2023年公开招聘教师拟聘用人员公示", "2023-11-20"), ("关于开展2023年中小学生安全教育周活动的通知", "2023-11-01"),
       ("{city}教育局2023年工作要点", "2023-02-20"), ("关于做好2023年义务教育招生入学工作的通知", "2023-04-10")]


def _serve(hosts: int, per_host: int, ports, ready, changed_event, changed_share: float) -> None:
    """Child process: `hosts` portals; after `changed_event`, a share of the columns list a new plan."""
    from tests.support.portal import Portal, list_page, plan_page

    if os.environ.get("PLANBRIEF_BENCH_SERVER_NICE", "1") == "1":
        # the portals stand in for remote servers: here they should not take the bot's CPU at all
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except (AttributeError, OSError):
            os.nice(15)
    portals = [Portal().__enter__() for _ in range(hosts)]
    columns = []
    for h, portal in enumerate(portals):
        for c in range(per_host):
            path = f"/col{c}/index.html"
            items = [(f"/col{c}/old{i}.html", title.format(city="南通市"), date) for i, (title, date) in enumerate(OLD)]
            portal.put(path, list_page(items))
            columns.append((portal, path, items, h * per_host + c))
    ports.extend([p.server.server_address[1] for p in portals])
    ready.set()
    changed_event.wait()
    every = max(1, round(1 / changed_share)) if changed_share > 0 else 0
    for portal, path, items, n in columns:
        if every and n % every == 0:
            href = path.replace("index.html", f"new{n}.html")
            portal.put(href, plan_page("南通市教育局2024年工作要点", PLAN.format(city="南通市", n=n + 1, m=1000 + n)))
            portal.put(path, list_page([(href, "南通市教育局2024年工作要点", "2024-02-20"), *items]))
    ready.clear()
    ready.set()
    while True:
        time.sleep(3600)


def _start_portals(hosts: int, per_host: int, changed_share: float):
    """The local portals in a process of their own: (process, manager, ports, ready, changed) once they
    listen; the caller kills the process and shuts the manager down."""
    ctx = multiprocessing.get_context("fork")
    manager = ctx.Manager()
    ports, ready, changed = manager.list(), manager.Event(), manager.Event()
    server = ctx.Process(target=_serve, args=(hosts, per_host, ports, ready, changed, changed_share), daemon=True)
    server.start()
    if not ready.wait(60) or len(ports) != hosts:
        raise RuntimeError("the portals did not start")
    return server, manager, ports, ready, changed


def _watcher(tmp: Path, ports, per_host: int, args):
    """A copy of the seeds, a fresh store watching every portal column, and the Watcher over them."""
    from bot.corpus.loader import default_seeds_dir
    from bot.sources.poller import WatchPolicy
    from bot.sources.store import SourceStore
    from bot.sources.watch import Watcher

    seeds = tmp / "seeds"
    shutil.copytree(default_seeds_dir(), seeds)
    store = SourceStore.open(tmp / "planbrief.sqlite3")
    for port in list(ports):
        for c in range(per_host):
            store.add_source(f"http://127.0.0.1:{port}/col{c}/index.html", "南通市", allow_private=True)
    policy = WatchPolicy(host_spacing=args.spacing, concurrency=args.concurrency)
    return Watcher(store, seeds, tmp, policy, allow_private=True), store, policy


def one_run(args) -> dict:
    from bot.sources.poller import Poller

    per_host = args.sources // args.hosts
    server, manager, ports, ready, changed = _start_portals(args.hosts, per_host, args.changed)
    tmp = Path(tempfile.mkdtemp(prefix="planbrief-watch-bench-"))
    try:
        watcher, store, policy = _watcher(tmp, ports, per_host, args)
        rounds = {}
        for name in ("first", "next"):
            if name == "next":
                ready.clear()
                changed.set()
                time.sleep(0.2)
                ready.wait(60)
            poller = Poller(policy)
            started = time.perf_counter()
            report = watcher.run_round(poller=poller)
            elapsed = time.perf_counter() - started
            lists = len(report.sources)
            rounds[name] = {"seconds": elapsed, "requests": poller.requests,
                            "not_modified_share": poller.not_modified / lists if lists else 0.0,
                            "proposed": sum(c.status == "proposed" for s in report.sources for c in s.candidates),
                            "failed": sum(s.status == "failed" for s in report.sources)}
        store.close()
        rounds["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return rounds
    finally:
        server.kill()
        manager.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def topic_latency(args) -> dict:
    """/topic's search (the engine call a handler makes in a worker thread) timed idle and while a round
    over `args.topic_sources` columns runs in the same process: p50/p99 in ms over repeated queries."""
    import threading

    from bench.search_bench import QUERIES
    from bot.corpus.loader import load_corpus
    from bot.search.engine import SearchEngine
    from bot.sources.poller import Poller

    tmp = Path(tempfile.mkdtemp(prefix="planbrief-watch-topic-"))
    corpus = load_corpus()
    engine = SearchEngine.from_corpus(corpus, tmp / "search")
    for q in QUERIES:
        engine.search(q)

    def timings(stop) -> list[float]:
        """Queries back to back until `stop()`: the whole round, not its first 2000 queries (a cap cut
        the "during" sample to the round's first seconds, its child starting up)."""
        out = []
        while not stop() and len(out) < 1_000_000:
            for q in QUERIES:
                t = time.perf_counter()
                engine.search(q)
                out.append((time.perf_counter() - t) * 1000)
        return out

    def pct(values, p):
        values = sorted(values)
        return values[min(len(values) - 1, int(p / 100 * len(values)))]

    from multiprocessing import forkserver

    from bot.corpus import sandbox

    sandbox.warm()  # the bot starts its forkserver at start-up, not in the first round
    deadline = time.perf_counter() + 5
    idle = timings(lambda: time.perf_counter() > deadline)
    load_before = os.getloadavg()[0]
    per_host = max(1, args.topic_sources // 5)
    server, manager, ports, ready, changed = _start_portals(5, per_host, 0.0)
    try:
        watcher, store, policy = _watcher(tmp, ports, per_host, args)
        server_cpu = _cpu_of(forkserver._forkserver._forkserver_pid)
        started = time.perf_counter()
        if args.round_in == "thread":  # the round in the bot's own process, as asyncio.to_thread would run it
            done = threading.Event()
            worker = threading.Thread(target=lambda: (watcher.run_round(poller=Poller(policy)), done.set()))
            worker.start()
            busy = timings(done.is_set)
            worker.join()
        else:  # the round in a niced child process, as the bot's job runs it (Watcher.run_round_apart)
            done = threading.Event()
            worker = threading.Thread(target=lambda: (watcher.run_round_apart(due_only=False), done.set()))
            worker.start()
            busy = timings(done.is_set)
            worker.join()
        round_seconds = time.perf_counter() - started
        round_cpu = _cpu_of(forkserver._forkserver._forkserver_pid) - server_cpu
        failed = sum(s.failures > 0 for s in store.list_sources())  # a starved fetch would count here
        store.close()
    finally:
        server.kill()
        manager.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    # idle again after the round: the machine is shared, so idle is sampled on both sides of the round
    deadline = time.perf_counter() + 5
    idle += timings(lambda: time.perf_counter() > deadline)
    load = (load_before + os.getloadavg()[0]) / 2
    return {"idle_p50": pct(idle, 50), "idle_p99": pct(idle, 99), "busy_p50": pct(busy, 50),
            "busy_p99": pct(busy, 99), "busy_n": len(busy), "round_seconds": round_seconds,
            "round_cpu": round_cpu, "failed": failed, "load": load, "ratio": pct(busy, 99) / pct(idle, 99)}


def _cpu_of(pid: int) -> float:
    """CPU seconds of the sandbox's forkserver and the children it has reaped (the round, run apart,
    and every fetch and read it made): what one round costs the machine. 0 where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="one check round over many watched columns")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--spacing", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--changed", type=float, default=0.1)
    parser.add_argument("--round-in", choices=("process", "thread"), default="process",
                        help="with --topic-sources: run the round in a child process (as the bot does) or a thread")
    parser.add_argument("--topic-sources", type=int, default=0,
                        help="also time /topic's search idle and during a round over this many columns (e.g. 50)")
    args = parser.parse_args(argv)
    if args.topic_sources:
        rows = [topic_latency(args) for _ in range(args.runs)]
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        ratios = ", ".join(f"{r['ratio']:.2f}" for r in rows)
        loads = ", ".join(f"{r['load']:.1f}" for r in rows)
        print(f"/topic search over {args.runs} runs (medians): idle p50 {med['idle_p50']:.1f} ms, "
              f"p99 {med['idle_p99']:.1f} ms; during a {args.topic_sources}-column round p50 "
              f"{med['busy_p50']:.1f} ms, p99 {med['busy_p99']:.1f} ms ({med['busy_n']:.0f} queries over "
              f"{med['round_seconds']:.1f} s, round CPU {med['round_cpu']:.1f} s, sources failed "
              f"{max(r['failed'] for r in rows)}); p99 ratio {med['ratio']:.2f} "
              f"(median of the runs' ratios: {ratios}; round in a {args.round_in}; load average "
              f"{loads})")
        return 0
    os.environ.pop("PLANBRIEF_DATABASE_URL", None)
    results = []
    for n in range(args.runs):
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        worker = ctx.Process(target=lambda q: q.put(one_run(args)), args=(queue,))
        worker.start()
        results.append(queue.get())
        worker.join()
        r = results[-1]
        print(f"run {n + 1}: first {r['first']['seconds']:.1f} s, next {r['next']['seconds']:.1f} s, "
              f"peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)

    def med(key, sub):
        return statistics.median(r[key][sub] for r in results)

    per_host = args.sources // args.hosts
    print(f"\n{args.sources} sources on {args.hosts} hosts ({per_host} each), spacing {args.spacing} s, "
          f"concurrency {args.concurrency}, {args.runs} runs, medians:")
    for name, label in (("first", "round 1 (baseline)"), ("next", f"round 2 ({args.changed:.0%} changed)")):
        print(f"  {label:<22} {med(name, 'seconds'):6.1f} s  requests {med(name, 'requests'):5.0f}  "
              f"304 share {med(name, 'not_modified_share'):.0%}  proposals {med(name, 'proposed'):.0f}  "
              f"failed {med(name, 'failed'):.0f}")
    print(f"  peak RSS of the watcher process: {statistics.median(r['peak_rss_mb'] for r in results):.0f} MB")
    floor = per_host * 5.0  # robots.txt + per_host list pages = per_host gaps
    print(f"  with the default 5 s spacing a host's {per_host} columns (+ robots.txt) take at least {floor:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
