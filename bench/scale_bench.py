"""National scale: `python -m bench.scale_bench [--scales 1000,3000,10000] [--runs 3] [--keep DIR]`.

Why: issue 20's "done when" figures — build, CLI start, serving memory, adds and disk at ×1000, ×3000
and ×10,000 the seeds (5,000 to 50,000 plans) — measured from the outside, so the same script runs on
every version of the corpus and index code. It only uses what a user or the bot uses: the `planbrief`
command line in fresh processes (`python -m bot search|add ... --json`, PLANBRIEF_SEEDS pointing at a
synthetic seeds folder, PLANBRIEF_DATA_DIR at a data folder of its own) and the public
`bot.search.library.Library` (the running bot's corpus and engine). Bare tantivy is measured in the
same run on the same texts and the same query term lists, as the peer.

What the answer ratio compares (issue 20: "full answer p50 ≤ 2×, p99 ≤ 1.5× bare tantivy"): PlanBrief's
`engine.search` — planning, ranking, the page's passages, snippets, marks and glossary — against bare
tantivy's top 10 for the planner's weighted term list *and the ten stored passage texts* (a page shows
them; the peer of PEER 1 read only a stored number). Both sides are timed warm: the peer's queries are
built once, PlanBrief's query plans are cached per snapshot after the first ask; the first ask is shown
apart ("query plan not cached"). Each PlanBrief answer is followed by the peer's in one process, so a busy
machine slows both; yet on a machine loaded past its cores (four helpers on two) a pooled p99 is whichever
call a preemption hit, so the figures come three ways: pooled wall samples (p50 / p99 of every call),
CPU time, and per query (each query's median over its samples, then p50 / p99 over the queries, p99
being the costliest query).

The synthetic corpus is plan FILES plus a manifest (the seeds' format): ×N is N copies of the five seed
plans, copy k with one sentence of each multi-sentence line swapped for another seed sentence and the
city names rotated (the search bench's recipe, applied to the texts so the parser sees real files).
Every phase runs in its own process under a timeout and a memory ceiling: a phase that runs over
prints "timeout" (or "over memory") and the run goes on. The machine is shared: the load average is
printed with the results.

Not part of pytest (tests/test_scale_bench.py runs it at ×2 as a smoke test).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
QUERIES = ["双减", "雙減", "双剑", "shuangjian", "县管校聘", "县管校骋", "集团办学", "课后延时服务", "五育",
           "减负", "随迁子女", "流动人口子女", "普惠性幼儿园", "推进集团化办学和县管校聘", "教师队伍建设",
           "wuxi", "拔尖创新人才", "qzxwvk", "师德", "师德师风", "double reduction"]
CITY_ROTATION = ["无锡", "苏州", "江阴", "随州", "常州", "南通", "宜昌", "襄阳"]
# Places for the added plans: each add needs its own city (same city, year and title is a duplicate).
ADD_CITIES = ["南京", "扬州", "盐城", "镇江", "泰州", "淮安", "宿迁", "徐州", "连云港", "武汉", "黄石", "十堰",
              "荆州", "孝感", "黄冈", "咸宁", "鄂州", "荆门", "杭州", "宁波"]
UNIQUE = "建设青少年航天科普基地"
ADDED_PLAN = """{city}市教育局{year}年工作要点
发布日期:{year}-02-20
{year}年，{city}市教育系统坚持以习近平新时代中国特色社会主义思想为指导，全面贯彻党的教育方针，落实立德树人根本任务，加快建设高质量教育体系。
一、坚持立德树人
1. 深化思政课改革创新。推进大中小学思政课一体化建设，打造一批思政课示范课堂，{unique}，新建思政课名师工作室{n}个。
2. 推进“双减”提质增效。规范校外培训，提升课后服务质量，课后服务覆盖率保持100%。
二、促进教育公平
3. 扩大优质学位供给。新建改扩建中小学幼儿园{n}所，新增学位15000个。
"""
_SENTENCE_END = "。；！？"
_SPLIT = re.compile(rf"(?<=[{_SENTENCE_END}])")
PASSAGE_MAX = 300
WINDOW = 220


# -- the synthetic corpus (files + manifest, as seeds/ holds them)

def _sentences(line: str) -> list[str]:
    return [s for s in _SPLIT.split(line) if s]


def _rotate_cities(text: str, shift: int) -> str:
    if not shift:
        return text
    for i, city in enumerate(CITY_ROTATION):
        text = text.replace(city, f"\x00{i}\x00")
    for i, _ in enumerate(CITY_ROTATION):
        text = text.replace(f"\x00{i}\x00", CITY_ROTATION[(i + shift) % len(CITY_ROTATION)])
    return text


def _pool(texts: list[str]) -> list[str]:
    """Sentences that can stand in for another inside a line: never a line's first (it may carry the
    item's number, and swapping it would change the outline), always ending a sentence."""
    pool = []
    for text in texts:
        for line in text.splitlines():
            ss = _sentences(line.strip())
            pool.extend(s for s in ss[1:] if s[-1] in _SENTENCE_END and len(s) > 8)
    return pool


def variant(text: str, k: int, pool: list[str]) -> str:
    """Copy k of a seed text: one later sentence of each multi-sentence line swapped, cities rotated."""
    if not k:
        return text
    rng = random.Random(k)
    lines = []
    for line in text.split("\n"):
        ss = _sentences(line)
        if len(ss) >= 2:
            ss[rng.randrange(1, len(ss))] = rng.choice(pool)
            line = "".join(ss)
        lines.append(line)
    return _rotate_cities("\n".join(lines), k % len(CITY_ROTATION))


def write_corpus(target: Path, scale: int) -> dict:
    """×scale plans files plus manifest.json in `target` (written last, so a half-written folder is
    never a corpus). Manifest entries keep each seed's metadata under a new id and file name."""
    entries = json.loads((SEEDS / "manifest.json").read_text(encoding="utf-8"))["plans"]
    texts = [(SEEDS / e["file"]).read_text(encoding="utf-8") for e in entries]
    pool = _pool(texts)
    target.mkdir(parents=True, exist_ok=True)
    out, size = [], 0
    for k in range(scale):
        for entry, text in zip(entries, texts, strict=True):
            name = f"x{k:05d}-{entry['file']}"
            body = variant(text, k, pool)
            (target / name).write_text(body, encoding="utf-8")
            size += len(body.encode())
            out.append({**entry, "plan_id": f"{entry['plan_id']}-x{k:05d}", "file": name})
    tmp = target / "manifest.json.tmp"
    tmp.write_text(json.dumps({"plans": out}, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, target / "manifest.json")
    return {"plans": len(out), "text_mb": size / 2**20}


def added_plan(folder: Path, n: int) -> Path:
    """Plan n of those the bench adds: a city and year of its own (the same city, year and title would
    be refused as a duplicate) and a phrase only it holds, `UNIQUE` + n."""
    city, year = ADD_CITIES[n % len(ADD_CITIES)], 2024 - n // len(ADD_CITIES)
    path = folder / f"added-{n}.txt"
    path.write_text(ADDED_PLAN.format(city=city, year=year, unique=f"{UNIQUE}{n}号", n=10 + n), encoding="utf-8")
    return path


# -- running a phase: wall time, peak RSS, timeout, memory ceiling

@dataclass
class Ran:
    wall_s: float
    rc: int | None
    peak_mb: float
    stdout: str
    stderr: str
    failure: str | None = None  # "timeout", "over memory", "exit N"

    def json(self) -> dict:
        for line in reversed(self.stdout.strip().splitlines()):
            if line.startswith("{"):
                return json.loads(line)
        raise ValueError("no JSON line in the output")


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run(cmd: list[str], env: dict, timeout: float, max_mb: float, stdin: str | None = None) -> Ran:
    """One process, waited for with wait4 (its own ru_maxrss) while a watchdog kills its process group
    at the timeout or when its RSS passes `max_mb`."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as inp:
        if stdin is not None:
            inp.write(stdin.encode())
            inp.seek(0)
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err, stdin=inp,
                                start_new_session=True)
        done = threading.Event()
        why: list[str] = []

        def watch() -> None:
            while not done.wait(0.05):
                if time.perf_counter() - t > timeout:
                    why.append("timeout")
                elif _rss_mb(proc.pid) > max_mb:
                    why.append("over memory")
                else:
                    continue
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                return

        watchdog = threading.Thread(target=watch, daemon=True)
        watchdog.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        done.set()
        watchdog.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        # a child the phase left behind (the add sandbox's forkserver exits with its parent anyway)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        out.seek(0)
        err.seek(0)
        failure = why[0] if why else (f"exit {proc.returncode}" if proc.returncode else None)
        return Ran(wall, proc.returncode, usage.ru_maxrss / 1024, out.read().decode(errors="replace"),
                   err.read().decode(errors="replace"), failure)


def _env(seeds: Path, data: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANBRIEF_")}
    return {**env, "PLANBRIEF_SEEDS": str(seeds), "PLANBRIEF_DATA_DIR": str(data), "PLANBRIEF_LANG": "zh",
            "PYTHONHASHSEED": "0"}


def cli(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


def worker(name: str, **kwargs) -> list[str]:
    return [sys.executable, "-m", "bench.scale_bench", "--worker", name, json.dumps(kwargs, ensure_ascii=False)]


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _dir_mb(path: Path) -> float:
    if not path.exists():
        return 0.0
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


def _proc_mb(field: str = "VmRSS") -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


# -- in-process workers (each in its own process)

def planned_terms(engine, query: str) -> list[list] | None:
    """The weighted index terms PlanBrief searches for `query`, when this version of the engine says
    (private API: None when it moved, and the tokenizer's terms are used instead)."""
    try:
        from bench.search_bench import planned_terms as terms

        return [[t, float(w)] for t, w in terms(engine, query)]
    except Exception:  # noqa: BLE001 - any engine version: fall back, do not fail the run
        return None


def _tokenizer_terms(query: str) -> list[list]:
    from bot.search.tokenize import IndexTokenizer
    from bot.textnorm import normalize

    return [[t, 1.0] for t in dict.fromkeys(IndexTokenizer().tokens(normalize(query)))]


def worker_serve(seeds: str, data: str, runs: int, repeat: int, bare: str | None = None) -> dict:
    """The running bot's view: a Library opened on the built data folder, every query answered
    `repeat` times per run (after one warm-up pass), p50/p99 of whole `engine.search` calls, then the
    RSS of a process that has answered queries. With `bare` (the bare tantivy index), the same queries
    are then timed again, each PlanBrief answer followed by bare tantivy's: paired in one process, so a
    busy machine slows both alike and the ratio stays fair."""
    from bot.search.library import Library

    t = time.perf_counter()
    library = Library(Path(seeds), Path(data) / "search")
    engine = library.current.engine
    engine.search("双减")
    ready_s = time.perf_counter() - t
    ready_mb = _proc_mb()
    terms = {}
    for q in QUERIES:
        planned = planned_terms(engine, q)
        terms[q] = planned if planned is not None else _tokenizer_terms(q)
    source = "planner" if planned_terms(engine, "双减") is not None else "tokenizer"
    same = [q for q in QUERIES if terms[q]]
    for q in same:
        engine.search(q)
    p50s, p99s = [], []
    for _ in range(runs):
        samples = []
        for _ in range(repeat):
            for q in same:
                t = time.perf_counter()
                library.current.engine.search(q)
                samples.append((time.perf_counter() - t) * 1000)
        p50s.append(_pct(samples, 0.5))
        p99s.append(_pct(samples, 0.99))
    docs = getattr(getattr(engine, "index", None), "n_docs", None)
    out = {"ready_s": ready_s, "ready_mb": ready_mb, "p50_ms": statistics.median(p50s),
           "p99_ms": statistics.median(p99s), "rss_mb": _proc_mb(), "hwm_mb": _proc_mb("VmHWM"),
           "terms": terms, "terms_from": source, "queries": same, "passages": docs}
    if bare:
        out.update(_paired(library, bare, terms, same, runs, repeat))
    return out


def _paired(library, bare: str, terms: dict, same: list[str], runs: int, repeat: int) -> dict:
    schema, index = _tantivy_open(bare)
    searcher = index.searcher()
    queries = dict(zip(same, _tantivy_queries(schema, {q: terms[q] for q in same}), strict=True))

    def bare_answer(q: str) -> None:
        bare_page(searcher, queries[q])

    for q in same:
        bare_answer(q)
    # wall time, and CPU time (process_time): on a machine loaded past its cores a longer call is more
    # often preempted than a short one, which inflates the wall-time ratio; CPU time does not wait
    figures: dict[str, list[float]] = {}
    per_query: dict[str, dict[str, list[float]]] = {}  # kind → query → every sample of it
    for _ in range(runs):
        samples: dict[str, list[float]] = {"": [], "bare_": [], "cpu_": [], "cpu_bare_": []}
        for _ in range(repeat):
            for q in same:
                for name, answer in (("", library.current.engine.search), ("bare_", bare_answer)):
                    t, c = time.perf_counter(), time.process_time()
                    answer(q)
                    cpu, wall = (time.process_time() - c) * 1000, (time.perf_counter() - t) * 1000
                    samples["cpu_" + name].append(cpu)
                    samples[name].append(wall)
                    per_query.setdefault("cpu_" + name, {}).setdefault(q, []).append(cpu)
                    per_query.setdefault(name, {}).setdefault(q, []).append(wall)
        for name, values in samples.items():
            figures.setdefault(f"paired_{name}p50_ms", []).append(_pct(values, 0.5))
            figures.setdefault(f"paired_{name}p99_ms", []).append(_pct(values, 0.99))
    out = {name: statistics.median(values) for name, values in figures.items()}
    # each query's median over its runs × repeat samples, then p50 / p99 over the queries: a query's
    # cost with the scheduler's preemptions (a loaded machine) out of it; p99 is the costliest query
    for name, by_query in per_query.items():
        medians = [statistics.median(v) for v in by_query.values()]
        out[f"query_{name}p50_ms"] = _pct(medians, 0.5)
        out[f"query_{name}p99_ms"] = _pct(medians, 0.99)
    out.update(_cold(library, same, runs))
    return out


def _cold(library, same: list[str], runs: int) -> dict:
    """Each query answered with its query plan not cached (PlanBrief keeps plans per snapshot, so the
    figures above, like bare tantivy's prepared queries, leave planning out): a reader's first ask."""
    engine = library.current.engine
    plans = getattr(engine, "_plans", None)
    if plans is None:
        return {}
    times: dict[str, list[float]] = {}
    for _ in range(runs):
        for q in same:
            plans.clear()
            t = time.perf_counter()
            engine.search(q)
            times.setdefault(q, []).append((time.perf_counter() - t) * 1000)
    medians = [statistics.median(v) for v in times.values()]
    return {"cold_plan_p50_ms": _pct(medians, 0.5), "cold_plan_p99_ms": _pct(medians, 0.99)}


def _heading(line: str) -> bool:
    return len(line) <= 40 and not any(c in line for c in _SENTENCE_END)


def _pieces(line: str) -> list[str]:
    """A line cut as the loader cuts a long item: about WINDOW characters at sentence ends."""
    if len(line) <= PASSAGE_MAX:
        return [line]
    out, current = [], ""
    for s in _sentences(line):
        if current and len(current) + len(s) > WINDOW:
            out.append(current)
            current = ""
        current += s
    if current:
        out.append(current)
    return out


# The bare peer's index format. 2: each document stores its passage text, and the peer's answer reads the
# ten texts of its page, as PlanBrief's answer must (1 stored only a number, so the peer skipped the
# text a page shows). A kept folder of another format is rebuilt.
PEER = 2


def bare_page(searcher, query) -> list[str]:
    """Bare tantivy's answer page: the top 10 for the term list and their stored texts."""
    hits = searcher.search(query, limit=10, count=False).hits
    return [searcher.doc(addr)["text"][0].decode("utf-8") for _, addr in hits]


def _tantivy_schema():
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_text_field("body", tokenizer_name="ws", index_option="position")
    sb.add_text_field("heading", tokenizer_name="ws", index_option="position")
    sb.add_unsigned_field("doc", stored=True, fast=True)
    sb.add_bytes_field("text", stored=True)  # the passage as shown: an answer page reads it (PEER 2)
    return sb.build()


def _tantivy_open(directory: str):
    import tantivy

    schema = _tantivy_schema()
    index = tantivy.Index(schema, path=directory)
    index.register_tokenizer("ws", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
    return schema, index


def worker_tantivy_build(seeds: str, directory: str) -> dict:
    """Bare tantivy over the same files: each line a document (long lines cut like passages), the
    latest short line without a full stop as its heading, tokens from PlanBrief's index tokenizer.
    Streams plan by plan, so nothing but the tokenizer's sentence cache grows with the corpus."""
    from bot.search.tokenize import IndexTokenizer
    from bot.textnorm import normalize

    t = time.perf_counter()
    shutil.rmtree(directory, ignore_errors=True)
    Path(directory).mkdir(parents=True)
    _, index = _tantivy_open(directory)
    import tantivy

    tok = IndexTokenizer()
    writer = index.writer(heap_size=256_000_000, num_threads=2)
    n = 0
    entries = json.loads((Path(seeds) / "manifest.json").read_text(encoding="utf-8"))["plans"]
    for entry in entries:
        heading = ""
        for line in (Path(seeds) / entry["file"]).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line:
                continue
            if _heading(line):
                heading = tok.text(normalize(line))
                continue
            for piece in _pieces(line):
                doc = tantivy.Document()
                doc.add_text("body", tok.text(normalize(piece)))
                doc.add_text("heading", heading)
                doc.add_unsigned("doc", n)
                doc.add_bytes("text", piece.encode("utf-8"))
                writer.add_document(doc)
                n += 1
    writer.commit()
    writer.wait_merging_threads()
    return {"build_s": time.perf_counter() - t, "docs": n, "disk_mb": _dir_mb(Path(directory)), "peer": PEER}


def _tantivy_queries(schema, terms: dict) -> list:
    import tantivy

    try:
        from bot.search.tantivy_index import HEADING_WEIGHT
    except ImportError:
        HEADING_WEIGHT = 0.5  # noqa: N806 - the value main had
    queries = []
    for q in QUERIES:
        subs = []
        for term, weight in terms.get(q) or ():
            for field, boost in (("body", weight), ("heading", weight * HEADING_WEIGHT)):
                subs.append((tantivy.Occur.Should,
                             tantivy.Query.boost_query(tantivy.Query.term_query(schema, field, term), boost)))
        if subs:
            queries.append(tantivy.Query.boolean_query(subs))
    return queries


def worker_tantivy_serve(directory: str, terms: dict, runs: int, repeat: int) -> dict:
    """Bare tantivy answering the same weighted term lists: top 10 and their stored ids."""
    schema, index = _tantivy_open(directory)
    searcher = index.searcher()
    queries = _tantivy_queries(schema, terms)
    for query in queries:
        searcher.search(query, limit=10, count=False)
    p50s, p99s = [], []
    for _ in range(runs):
        samples = []
        for _ in range(repeat):
            for query in queries:
                t = time.perf_counter()
                bare_page(searcher, query)
                samples.append((time.perf_counter() - t) * 1000)
        p50s.append(_pct(samples, 0.5))
        p99s.append(_pct(samples, 0.99))
    return {"p50_ms": statistics.median(p50s), "p99_ms": statistics.median(p99s), "rss_mb": _proc_mb(),
            "docs": searcher.num_docs, "queries": len(queries)}


def worker_tantivy_first(directory: str, terms: dict) -> dict:
    """A fresh process: open the bare index, answer 双减 (the CLI's first answer, for the peer)."""
    schema, index = _tantivy_open(directory)
    hits = index.searcher().search(_tantivy_queries(schema, {"双减": terms["双减"]})[0], limit=10).hits
    return {"hits": len(hits)}


def worker_refresh(seeds: str, data: str, runs: int, first: int, timeout: float) -> dict:
    """The running bot: a Library serving the corpus, then three kinds of change, each timed from the
    moment the change is on disk to the first answer that must reflect it (wall and CPU time):

    - another process adds a plan (`planbrief add`, not timed): Library.refresh + a search for it;
    - the editor's desk publishes one in this process (`ingest.publish`, timed apart): the library
      takes the published draft (`refresh(published)`) + a search for it;
    - the desk withdraws that plan (`ingest.remove_plan`, timed apart): refresh + a search without it.
    """
    from bot.corpus import ingest
    from bot.search.library import Library

    t = time.perf_counter()
    library = Library(Path(seeds), Path(data) / "search")
    library.current.engine.search("双减")
    ready_s, ready_mb = time.perf_counter() - t, _proc_mb()
    t = time.perf_counter()
    try:  # the bot loads the writer's tokenizer while an editor looks at the preview card
        from bot.search.tantivy_index import warm_writer

        warm_writer()
    except ImportError:
        pass
    warm_s = time.perf_counter() - t

    def timed(change, phrase: str, present: bool) -> tuple[float, float]:
        """Wall and CPU seconds of `change()` (the library taking it in) and the first search for `phrase`."""
        wall, cpu = time.perf_counter(), time.process_time()
        change()
        found = library.current.engine.search(phrase).as_json()["results"]
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if any(phrase in r["text"] for r in found) != present:
            raise LookupError(f"{phrase} {'not ' if present else ''}found after the change")
        return wall, cpu

    def take(published) -> None:
        try:
            library.refresh([published])
        except TypeError:  # a Library from before refresh(published)
            library.refresh()

    samples, cpus, adds = [], [], []
    live, live_cpu, publishes, withdraws, withdraw_cpu, removes = [], [], [], [], [], []
    env = dict(os.environ)
    folders = library.folders
    try:
        with tempfile.TemporaryDirectory(prefix="scale-refresh-") as tmp:
            for r in range(runs):
                n = first + r
                ran = run(cli(["add", str(added_plan(Path(tmp), n)), "--json"]), env, timeout, 1e9)
                if ran.failure:
                    return {"error": f"add: {ran.failure}: {ran.stderr.strip()[-300:]}", "ready_s": ready_s}
                adds.append(ran.wall_s)
                wall, cpu = timed(library.refresh, f"{UNIQUE}{n}号", True)
                samples.append(wall)
                cpus.append(cpu)
            for r in range(runs):
                n = first + runs + r
                draft = ingest.prepare_plan(added_plan(Path(tmp), n))  # the preview card: not timed
                if hasattr(library, "warm"):  # what the bot does while the editor reads the card
                    library.warm()
                t = time.perf_counter()
                published = ingest.publish(folders, draft)
                publishes.append(time.perf_counter() - t)
                wall, cpu = timed(lambda published=published: take(published), f"{UNIQUE}{n}号", True)
                live.append(wall)
                live_cpu.append(cpu)
                t = time.perf_counter()
                ingest.remove_plan(folders, published.entry["plan_id"])
                removes.append(time.perf_counter() - t)
                wall, cpu = timed(library.refresh, f"{UNIQUE}{n}号", False)
                withdraws.append(wall)
                withdraw_cpu.append(cpu)
    except LookupError as exc:
        return {"error": str(exc), "ready_s": ready_s}
    med = statistics.median
    return {"ready_s": ready_s, "ready_mb": ready_mb, "refresh_s": med(samples),
            "refresh_max_s": max(samples), "runs": runs, "warm_s": warm_s, "rss_mb": _proc_mb(),
            "cli_add_s": med(adds), "refresh_cpu_s": med(cpus), "refresh_samples": samples,
            "live_s": med(live), "live_max_s": max(live), "live_cpu_s": med(live_cpu), "live_samples": live,
            "publish_s": med(publishes), "withdraw_s": med(withdraws), "withdraw_cpu_s": med(withdraw_cpu),
            "remove_s": med(removes), "load": _load()}


WORKERS = {"serve": worker_serve, "tantivy_build": worker_tantivy_build, "tantivy_serve": worker_tantivy_serve,
           "tantivy_first": worker_tantivy_first, "refresh": worker_refresh}


# -- one scale, phase by phase

PHASES = ("build", "cli", "serve", "tantivy", "add", "refresh")


@dataclass
class Options:
    runs: int
    adds: int
    timeout: float
    build_timeout: float
    max_mb: float
    phases: tuple[str, ...]


def _code() -> str:
    """The code a data folder was built by (bot/'s git tree, and whether it has changes): --keep reuses
    a build only for the same code, so figures "after" a merge are never a "before" build's."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD:bot"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "bot"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
    except OSError:
        return "unknown"
    return head + ("+changes" if dirty else "")


def _note(scale: int, what: str) -> None:
    print(f"  [×{scale}] {what}", file=sys.stderr, flush=True)


def _failed(ran: Ran) -> str:
    return ran.failure or "?"


def bench_scale(scale: int, work: Path, opts: Options) -> dict:
    """Every figure for one scale; a phase that fails records why and the others still run."""
    res: dict = {"scale": scale, "runs": opts.runs, "adds": opts.adds, "load_before": _load()}
    seeds, data = work / "seeds", work / "data"
    built = work / "build.json"
    if not (seeds / "manifest.json").exists():
        t = time.perf_counter()
        res["corpus"] = write_corpus(seeds, scale)
        _note(scale, f"wrote {res['corpus']['plans']} plans ({res['corpus']['text_mb']:.0f} MB) "
                     f"in {time.perf_counter() - t:.0f} s")
    env = _env(seeds, data)

    if "build" in opts.phases:
        if built.exists() and (data / "search").exists() and json.loads(built.read_text()).get("code") == _code():
            res["build"] = {**json.loads(built.read_text()), "reused": True}
        else:
            shutil.rmtree(data, ignore_errors=True)
            _note(scale, "build: first `search` on an empty data folder")
            ran = run(cli(["search", "双减", "--json"]), env, opts.build_timeout, opts.max_mb)
            res["build"] = {"s": ran.wall_s, "peak_mb": ran.peak_mb, "failure": ran.failure, "code": _code()}
            if not ran.failure:
                built.write_text(json.dumps(res["build"]))
            else:
                _note(scale, f"build: {ran.failure} {ran.stderr.strip()[-300:]}")
    if res.get("build", {}).get("failure"):
        return res  # nothing else can run without the index

    if "cli" in opts.phases:
        _note(scale, "cli: fresh `search 双减 --json` processes")
        samples, peaks, failure = [], [], None
        for i in range(opts.runs + 1):  # the first one only warms the page cache
            ran = run(cli(["search", "双减", "--json"]), env, opts.timeout, opts.max_mb)
            if ran.failure:
                failure = _failed(ran)
                break
            if not json.loads(ran.stdout)["results"]:
                failure = "no results"
                break
            if i:
                samples.append(ran.wall_s)
                peaks.append(ran.peak_mb)
        res["cli"] = {"s": statistics.median(samples), "min_s": min(samples), "peak_mb": statistics.median(peaks)} \
            if samples and not failure else {"failure": failure}

    bare, meta = work / "tantivy-bare", work / "tantivy.json"
    if "tantivy" in opts.phases:
        if meta.exists() and bare.exists() and json.loads(meta.read_text()).get("peer") == PEER:
            res["tantivy_build"] = {**json.loads(meta.read_text()), "reused": True}
        else:
            _note(scale, "tantivy: bare index of the same texts")
            ran = run(worker("tantivy_build", seeds=str(seeds), directory=str(bare)), env, opts.build_timeout,
                      opts.max_mb)
            res["tantivy_build"] = {"failure": _failed(ran)} if ran.failure else \
                {**ran.json(), "peak_mb": ran.peak_mb}
            if not ran.failure:
                meta.write_text(json.dumps(res["tantivy_build"]))
    have_bare = "tantivy" in opts.phases and not res["tantivy_build"].get("failure")

    terms = None
    if "serve" in opts.phases or "tantivy" in opts.phases:
        _note(scale, "serve: Library answers the query list (then paired with bare tantivy)")
        ran = run(worker("serve", seeds=str(seeds), data=str(data), runs=opts.runs, repeat=5,
                         bare=str(bare) if have_bare else None), env, opts.timeout, opts.max_mb)
        res["serve"] = {"failure": _failed(ran)} if ran.failure else ran.json()
        terms = res["serve"].get("terms")

    if have_bare:
        if terms is None:
            terms = {q: _tokenizer_terms(q) for q in QUERIES}
        ran = run(worker("tantivy_serve", directory=str(bare), terms=terms, runs=opts.runs, repeat=5), env,
                  opts.timeout, opts.max_mb)
        res["tantivy"] = {"failure": _failed(ran)} if ran.failure else ran.json()
        firsts = []
        for i in range(opts.runs + 1):
            ran = run(worker("tantivy_first", directory=str(bare), terms=terms), env, opts.timeout, opts.max_mb)
            if ran.failure:
                break
            if i:
                firsts.append(ran.wall_s)
        if firsts:
            res.setdefault("tantivy", {})["first_s"] = statistics.median(firsts)

    if "add" in opts.phases or "refresh" in opts.phases:
        res.update(bench_adds(scale, work, opts))
    return res


def _copy_corpus(work: Path) -> tuple[Path, Path]:
    """A scratch copy the adds may change: plan files hard-linked (an add writes new files and
    replaces the manifest by rename, never a file in place), the data folder copied."""
    seeds, data = work / "add-seeds", work / "add-data"
    shutil.rmtree(seeds, ignore_errors=True)
    shutil.rmtree(data, ignore_errors=True)
    subprocess.run(["cp", "-al", str(work / "seeds"), str(seeds)], check=True)
    subprocess.run(["cp", "-a", str(work / "data"), str(data)], check=True)
    _rekey_store(data, work / "seeds", seeds)
    return seeds, data


def _rekey_store(data: Path, old: Path, new: Path) -> None:
    """The plan store keys its rows by folder; the copy's plans are the same files (hard links: same
    inode, size and mtime), so its rows are moved to the copy's folder, and a Library opened on the copy
    parses nothing (else the refresh phase would re-parse the whole corpus first: minutes at ×1000).
    Best effort: a store of another shape is left alone, and then the copy is parsed as before."""
    import sqlite3

    path = data / "corpus" / "plans.sqlite"
    if not path.exists():
        return
    with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(path)) as db, db:
        for table in ("plans", "manifests"):  # the manifest is the same file too
            db.execute(f"UPDATE {table} SET folder=? WHERE folder=?", (str(new.resolve()), str(old.resolve())))


def bench_adds(scale: int, work: Path, opts: Options) -> dict:
    res: dict = {}
    seeds, data = _copy_corpus(work)
    env = _env(seeds, data)
    try:
        if "add" in opts.phases:
            _note(scale, f"add: {opts.adds} × (`add FILE --json`, then `search`)")
            adds, searches, failure = [], [], None
            with tempfile.TemporaryDirectory(prefix="scale-add-") as tmp:
                for n in range(opts.adds):
                    ran = run(cli(["add", str(added_plan(Path(tmp), n)), "--json"]), env, opts.timeout, opts.max_mb)
                    if ran.failure:
                        failure = f"add: {ran.failure} {ran.stderr.strip()[-200:]}"
                        break
                    adds.append(ran.wall_s)
                    ran = run(cli(["search", f"{UNIQUE}{n}号", "--json"]), env, opts.timeout, opts.max_mb)
                    if ran.failure:
                        failure = f"search: {ran.failure}"
                        break
                    if not any(f"{UNIQUE}{n}号" in r["text"] for r in json.loads(ran.stdout)["results"]):
                        failure = "search: the added plan was not found"
                        break
                    searches.append(ran.wall_s)
            res["add"] = {"failure": failure, "n": len(adds)}
            if adds:  # an add that worked is a figure even when the search after it ran out of time
                res["add"].update(add_s=statistics.median(adds), add_max_s=max(adds), add_each_s=adds)
            if searches:
                res["add"].update(search_s=statistics.median(searches), search_max_s=max(searches),
                                  search_each_s=searches)
            res["disk"] = disk(seeds, data)
        if "refresh" in opts.phases:
            _note(scale, "refresh: a running Library picks up an add")
            ran = run(worker("refresh", seeds=str(seeds), data=str(data), runs=opts.runs, first=opts.adds,
                             timeout=opts.timeout), env, opts.timeout * (opts.runs + 2), opts.max_mb)
            res["refresh"] = {"failure": _failed(ran)} if ran.failure else ran.json()
    finally:
        shutil.rmtree(seeds, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)
    return res


def disk(seeds: Path, data: Path) -> dict:
    """The data folder by top-level entry (the index is search/), and the plans folder."""
    parts = {}
    for entry in sorted(data.iterdir()) if data.exists() else ():
        parts[entry.name] = _dir_mb(entry) if entry.is_dir() else entry.stat().st_size / 2**20
    files = {}
    for entry in sorted(data.rglob("*")) if data.exists() else ():
        if entry.is_file():
            top = entry.relative_to(data).parts[0]
            files[top] = files.get(top, 0) + 1
    return {"plans_mb": _dir_mb(seeds), "data": parts, "files": files}


# -- the report

def _f(value, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _get(res: dict, phase: str, key: str):
    part = res.get(phase) or {}
    if part.get(key) is not None:
        return part[key]
    if part.get("failure") or part.get("error"):
        return part.get("failure") or part["error"][:60]
    return part.get(key)


@dataclass
class Row:
    label: str
    values: list
    fmt: str
    target: str = ""
    limits: dict | None = None  # scale → upper bound the value must not pass


def _cell(value, fmt: str) -> str:
    if isinstance(value, str):
        return value
    return _f(value, fmt)


def _met(row: Row, scales: list[int]) -> str:
    if not row.limits:
        return ""
    out = []
    for scale, value in zip(scales, row.values, strict=True):
        if scale not in row.limits:
            continue
        if isinstance(value, str):
            out.append(f"×{scale}: no ({value})")
        elif value is not None:
            out.append(f"×{scale}: {'yes' if value <= row.limits[scale] else 'no'}")
    return ", ".join(out)


def _ratio(a, b):
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None or not b:
        return a if isinstance(a, str) else (b if isinstance(b, str) else None)
    return a / b


def rows(results: list[dict]) -> list[Row]:
    scales = [r["scale"] for r in results]

    def col(phase, key):
        return [_get(r, phase, key) for r in results]

    def at(**limits):
        return {int(k[1:]): v for k, v in limits.items() if int(k[1:]) in scales}

    big = [s for s in scales if s >= 3000]

    def pair(label, ours, peer):
        return Row(label, [_pair(a, b) for a, b in zip(col("serve", ours), col("serve", peer), strict=True)], "")

    def ratio(label, ours, peer, limit):
        """Ours over bare tantivy's, judged at ×3000 and ×10,000 (where the issue states it)."""
        times = "2×" if limit == 2.0 else "1.5×"
        return Row(label, [_ratio(a, b) for a, b in zip(col("serve", ours), col("serve", peer), strict=True)],
                   ".1f", f"≤ {times} at ×3000, ×10,000", {s: limit for s in big})

    out = [
        Row("build: first CLI answer on an empty data folder (s)", col("build", "s"), ".1f", "≤ 180 s at ×10,000",
            at(x10000=180)),
        Row("build peak RSS (MB)", col("build", "peak_mb"), ".0f", "≤ 2,048 MB at ×10,000", at(x10000=2048)),
        Row("  bare tantivy: build (s)", col("tantivy_build", "build_s"), ".1f", "peer"),
        Row("  bare tantivy: build peak RSS (MB)", col("tantivy_build", "peak_mb"), ".0f", "peer"),
        Row("CLI start → first answer, warm (s, median)", col("cli", "s"), ".2f", "≤ 0.5 s ×1000, ≤ 0.8 s ×10,000",
            at(x1000=0.5, x10000=0.8)),
        Row("  CLI peak RSS (MB)", col("cli", "peak_mb"), ".0f"),
        Row("  bare tantivy: fresh process → first answer (s)", col("tantivy", "first_s"), ".2f", "peer"),
        Row("Library ready: open + first answer (s)", col("serve", "ready_s"), ".2f"),
        Row("serving RSS after the query list (MB)", col("serve", "rss_mb"), ".0f", "≤ 200 MB ×1000, ≤ 600 MB ×10,000",
            at(x1000=200, x10000=600)),
        Row("  bare tantivy: serving RSS (MB)", col("tantivy", "rss_mb"), ".0f", "peer"),
        Row("full answer p50, alone (ms)", col("serve", "p50_ms"), ".2f"),
        Row("full answer p99, alone (ms)", col("serve", "p99_ms"), ".2f"),
        Row("  bare tantivy p50 / p99, alone, own process (ms)",
            [_pair(a, b) for a, b in zip(col("tantivy", "p50_ms"), col("tantivy", "p99_ms"), strict=True)], ""),
        Row("full answer p50, paired with bare tantivy (ms)", col("serve", "paired_p50_ms"), ".2f"),
        Row("  bare tantivy p50, paired (ms)", col("serve", "paired_bare_p50_ms"), ".3f", "peer"),
        ratio("  p50 ratio, paired (×)", "paired_p50_ms", "paired_bare_p50_ms", 2.0),
        Row("full answer p99, paired (ms)", col("serve", "paired_p99_ms"), ".2f"),
        Row("  bare tantivy p99, paired (ms)", col("serve", "paired_bare_p99_ms"), ".3f", "peer"),
        ratio("  p99 ratio, paired (×)", "paired_p99_ms", "paired_bare_p99_ms", 1.5),
        pair("per query (median of its samples), wall: full answer / bare tantivy, p50 over queries (ms)",
             "query_p50_ms", "query_bare_p50_ms"),
        ratio("  p50 ratio, per query, wall (×)", "query_p50_ms", "query_bare_p50_ms", 2.0),
        pair("per query, wall: full answer / bare tantivy, p99 over queries (ms)", "query_p99_ms", "query_bare_p99_ms"),
        ratio("  p99 ratio, per query, wall (×)", "query_p99_ms", "query_bare_p99_ms", 1.5),
        pair("full answer, query plan not cached, per query: p50 / p99 over queries (ms)",
             "cold_plan_p50_ms", "cold_plan_p99_ms"),
        pair("CPU time: full answer p50 / bare tantivy p50, paired (ms)", "paired_cpu_p50_ms", "paired_cpu_bare_p50_ms"),
        ratio("  p50 ratio, paired, CPU time (×)", "paired_cpu_p50_ms", "paired_cpu_bare_p50_ms", 2.0),
        pair("CPU time: full answer p99 / bare tantivy p99, paired (ms)", "paired_cpu_p99_ms", "paired_cpu_bare_p99_ms"),
        ratio("  p99 ratio, paired, CPU time (×)", "paired_cpu_p99_ms", "paired_cpu_bare_p99_ms", 1.5),
        Row("`add FILE --json`, one plan (s, median)", col("add", "add_s"), ".2f", "≤ 2 s ×1000, ×10,000",
            at(x1000=2, x10000=2)),
        Row("  next `search` (s, median)", col("add", "search_s"), ".2f", "≤ 0.5 s ×1000, ×10,000",
            at(x1000=0.5, x10000=0.5)),
        Row("running Library: refresh → first answer from the new plan (s)", col("refresh", "refresh_s"), ".2f",
            "≤ 0.5 s at ×10,000", at(x10000=0.5)),
        Row("  the `add` before it, in another process (s)", col("refresh", "cli_add_s"), ".1f"),
        Row("  its CPU time (s)", col("refresh", "refresh_cpu_s"), ".2f"),
        Row("running Library: the desk's publish → first answer from the new plan (s)", col("refresh", "live_s"),
            ".2f", "≤ 0.5 s at ×10,000", at(x10000=0.5)),
        Row("  its CPU time (s)", col("refresh", "live_cpu_s"), ".2f"),
        Row("  the publish before it: manifest and plan store, under the lock (s)", col("refresh", "publish_s"), ".2f"),
        Row("running Library: the desk's removal → first answer without the plan (s)", col("refresh", "withdraw_s"),
            ".2f"),
        Row("  its CPU time (s)", col("refresh", "withdraw_cpu_s"), ".2f"),
        Row("  the removal before it (s)", col("refresh", "remove_s"), ".2f"),
        Row("  bot ready (Library open + first answer) (s)", col("refresh", "ready_s"), ".2f"),
    ]
    disk_parts = [r.get("disk") or {} for r in results]
    out.append(Row("disk after the adds: plans folder (MB)", [d.get("plans_mb") for d in disk_parts], ".0f"))
    out.append(Row("  data folder, all of it (MB)", [sum(d["data"].values()) if d.get("data") else None
                                                  for d in disk_parts], ".0f"))
    names = sorted({n for d in disk_parts for n in d.get("data", {})})
    for name in names:
        label = "index" if name == "search" else name
        out.append(Row(f"  data/{name} ({label}; MB, files)",
                       [_disk_cell(d, name) for d in disk_parts], "", "index + plans only" if name != "search" else ""))
    return out


def _pair(a, b) -> str | None:
    if isinstance(a, str) or a is None or b is None:
        return a
    return f"{a:.2f} / {b:.3f}"


def _disk_cell(d: dict, name: str) -> str | None:
    if name not in d.get("data", {}):
        return None
    return f"{d['data'][name]:.0f} ({d['files'].get(name, 0)})"


def report(results: list[dict]) -> str:
    scales = [r["scale"] for r in results]
    lines = [f"Scale bench on {os.cpu_count()} cores (load averages 1/5/15 min, before → after each scale)", ""]
    for r in results:
        serve = r.get("serve") or {}
        bare = r.get("tantivy_build") or {}
        lines.append(f"×{r['scale']}: {r['scale'] * 5} plans; PlanBrief passages {serve.get('passages', '?')}, "
                     f"bare tantivy docs {bare.get('docs', '?')}; query terms from {serve.get('terms_from', '?')} "
                     f"({len(serve.get('queries', []))} queries)"
                     + ("; build figures from an earlier run (--keep)" if (r.get("build") or {}).get("reused") else ""))
        lines.append(f"  runs {r.get('runs', '?')}, adds {r.get('adds', '?')}; load {r.get('load_before', '?')} → "
                     f"{r.get('load_after', '?')}; bytecode {r.get('bytecode', 'as the environment had it')}")
    lines += ["", "| figure | " + " | ".join(f"×{s:,}" for s in scales) + " | target | met? |",
              "| --- | " + " | ".join("---:" for _ in scales) + " | --- | --- |"]
    for row in rows(results):
        cells = [_cell(v, row.fmt) for v in row.values]
        lines.append(f"| {row.label} | " + " | ".join(cells) + f" | {row.target} | {_met(row, scales)} |")
    return "\n".join(lines)


def merged(files: list[str]) -> list[dict]:
    """Runs of one scale's phases made apart (say the build and the adds) read as one result."""
    by_scale: dict[int, dict] = {}
    for name in files:
        for res in json.loads(Path(name).read_text(encoding="utf-8")):
            by_scale.setdefault(res["scale"], {}).update(res)
    return [by_scale[s] for s in sorted(by_scale)]


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="1000,3000,10000")
    ap.add_argument("--runs", type=int, default=3, help="fresh CLI processes / query passes per figure")
    ap.add_argument("--adds", type=int, default=10, help="plans added one by one with `planbrief add`")
    ap.add_argument("--keep", help="work folder kept between runs: a built corpus is reused")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per process (build: --build-timeout)")
    ap.add_argument("--build-timeout", type=float, default=1800)
    ap.add_argument("--max-mb", type=float, default=8192, help="kill a phase whose RSS passes this")
    ap.add_argument("--phases", default=",".join(PHASES), help=f"comma list of {', '.join(PHASES)}")
    ap.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    ap.add_argument("--bytecode", choices=("cached", "as-is"), default="cached",
                    help="cached: compile bot/ first, as an installed or once-run package has it (a machine with "
                         "PYTHONDONTWRITEBYTECODE set recompiles every module at every CLI start otherwise)")
    ap.add_argument("--from-json", metavar="FILE,FILE", help="print the table of earlier --json files (a later "
                                                             "file's phases replace an earlier one's at its scale)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("args", nargs="?", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        print(json.dumps(WORKERS[a.worker](**json.loads(a.args)), ensure_ascii=False))
        return 0
    opts = Options(a.runs, a.adds, a.timeout, a.build_timeout, a.max_mb,
                   tuple(p for p in a.phases.split(",") if p))
    if a.from_json:
        print(report(merged(a.from_json.split(","))))
        return 0
    scales = [int(s) for s in a.scales.split(",") if s]
    if a.bytecode == "cached":
        compileall.compile_dir(ROOT / "bot", quiet=1)
    root = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="scale-bench-"))
    results = []
    try:
        for scale in scales:
            t = time.perf_counter()
            results.append({**bench_scale(scale, root / f"x{scale}", opts), "bytecode": a.bytecode})
            results[-1]["load_after"] = _load()
            _note(scale, f"done in {time.perf_counter() - t:.0f} s")
    finally:
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)
    text = report(results)
    print(text)
    if a.json:
        Path(a.json).write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
