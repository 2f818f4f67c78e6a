"""Search benchmark: `python -m bench.search_bench [--scale 1000] [--runs 5]`.

Prints seeds latency, cold start, then at ×scale: the serving index's build time, peak memory and size
on disk, reopen time, answer latency, and the time to add one plan to the live index and answer from it;
then, side by side in the same run on the same passages, the same index tokens and the same query term
lists (the ones PlanBrief's planner produces for QUERIES): PlanBrief's full answer (the tantivy-backed
engine: planning, top-k, cutoff, orientation, phrase bonus, snippets), the hand-written BM25 core it
replaced (bench/csr_index.py: dense scores + top 10), tantivy-bare (boolean query of boosted term
queries over pre-tokenized fields, top 10 and their ids), bm25s and rank-bm25 (both unweighted: they
take tokens only). Each phase runs in its own subprocess so one measurement cannot inflate another.
Not part of pytest: it takes minutes.

"index alone" is a serving process that opens the index and holds no parsed plans (answers read the
passages the index stores), as every process can once the corpus is loaded lazily.

Peak memory is the worker's ru_maxrss; "over the corpus" subtracts the RSS the synthetic passages
already took before the build started, which is what the index itself costs.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ["双减", "雙減", "双剑", "shuangjian", "县管校聘", "县管校骋", "集团办学", "课后延时服务", "五育",
           "减负", "随迁子女", "流动人口子女", "普惠性幼儿园", "推进集团化办学和县管校聘", "教师队伍建设",
           "wuxi", "拔尖创新人才", "qzxwvk", "师德", "师德师风", "double reduction"]
CITY_ROTATION = ["无锡", "苏州", "江阴", "随州", "常州", "南通", "宜昌", "襄阳"]


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def time_queries(engine, queries, repeat: int) -> tuple[float, float]:
    """p50 and p99 in ms of whole `search` calls (correction + ranking + snippets)."""
    for q in queries:
        engine.search(q)
    samples = []
    for _ in range(repeat):
        for q in queries:
            t = time.perf_counter()
            engine.search(q)
            samples.append((time.perf_counter() - t) * 1000)
    return _pct(samples, 0.5), _pct(samples, 0.99)


def synthetic(scale: int):
    """×scale passages that are not copies: sentences swapped across passages, city names rotated;
    each copy of a seed plan is a plan of its own (so plans can be added one at a time)."""
    from dataclasses import replace

    from bot.corpus.loader import load_corpus
    from bot.models import Passage, Plan
    from bot.textnorm import normalize

    corpus = load_corpus()
    pool = [s for p in corpus.passages for s in _split(p.text)]
    plans, out = [], []
    for k in range(scale):
        rng = random.Random(k)
        shift = k % len(CITY_ROTATION)
        for plan in corpus.plans:
            plan_id = plan.plan_id if not k else f"{plan.plan_id}#{k}"
            passages = []
            for p in plan.passages:
                ss = _split(p.text)
                if k and ss:
                    ss[rng.randrange(len(ss))] = rng.choice(pool)
                text = _rotate_cities("".join(ss), shift)
                passages.append(Passage(f"{p.id}#{k}", plan_id, p.section, text, normalize(text), p.orientation,
                                        p.node_id))
            plans.append(Plan(replace(plan.meta, plan_id=plan_id), "", [], passages, []))
            out.extend(passages)
    return corpus, plans, out


def _split(text: str) -> list[str]:
    import re

    return [s for s in re.split(r"(?<=[。；！？])", text) if s]


def _rotate_cities(text: str, shift: int) -> str:
    if not shift:
        return text
    marker = {c: f"\x00{i}\x00" for i, c in enumerate(CITY_ROTATION)}
    for c, m in marker.items():
        text = text.replace(c, m)
    for i, _ in enumerate(CITY_ROTATION):
        text = text.replace(f"\x00{i}\x00", CITY_ROTATION[(i + shift) % len(CITY_ROTATION)])
    return text


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


# -- workers (each runs in its own process)

def worker_cold(cache: str, query: str) -> dict:
    t0 = time.perf_counter()
    from bot.corpus.loader import load_corpus
    from bot.search.engine import SearchEngine

    engine = SearchEngine.from_corpus(load_corpus(), cache)
    engine.search(query)
    return {"cold_s": time.perf_counter() - t0}


def _dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def worker_build(scale: int, cache: str) -> dict:
    """The serving index, built as a first start builds it: every plan segmented and written."""
    from bot.search.engine import SearchEngine, index_dir

    t = time.perf_counter()
    _, plans, passages = synthetic(scale)
    gen_s = time.perf_counter() - t
    before_mb = rss_mb()
    t = time.perf_counter()
    engine = SearchEngine.from_plans(plans, cache)
    build_s = time.perf_counter() - t
    return {"gen_s": gen_s, "build_s": build_s, "passages": len(passages), "plans": len(plans), "disk_mb": _dir_mb(index_dir(cache)),
            "chars": sum(len(p.text) for p in passages), "segments": engine.index.searcher.num_segments,
            "terms": len(engine.index.words), "build_peak_rss_mb": _peak_mb(), "corpus_rss_mb": before_mb}


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_serve(scale: int, cache: str, runs: int) -> dict:
    """Another start: the corpus is in memory (as the bot's parsed-corpus cache gives it), the index is
    opened from disk, checked against the plans' hashes, and answers."""
    from bot.search.engine import SearchEngine

    _, plans, _ = synthetic(scale)
    t = time.perf_counter()
    engine = SearchEngine.from_plans(plans, cache)
    engine.search("双减")
    reload_s = time.perf_counter() - t
    p50s, p99s = [], []
    for _ in range(runs):
        p50, p99 = time_queries(engine, QUERIES, 3)
        p50s.append(p50)
        p99s.append(p99)
    terms = {q: planned_terms(engine, q) for q in QUERIES}
    same = [q for q in QUERIES if terms[q]]
    full = [time_queries(engine, same, 3) for _ in range(runs)]
    return {"reload_s": reload_s, "p50_ms": statistics.median(p50s), "p99_ms": statistics.median(p99s),
            "rss_mb": rss_mb(), "terms": terms, "full_same_p50_ms": statistics.median(f[0] for f in full),
            "full_same_p99_ms": statistics.median(f[1] for f in full), "same_queries": same}


def worker_serve_index(cache: str, runs: int) -> dict:
    """A serving process that holds no parsed plans: the index opened from disk answers from the
    passages it stores, so its RSS is the index's and the engine's, not the corpus's."""
    from bot.search.engine import SearchEngine, index_dir
    from bot.search.tantivy_index import TantivyIndex

    t = time.perf_counter()
    engine = SearchEngine(TantivyIndex.open(index_dir(cache)))
    engine.search("双减")
    open_s = time.perf_counter() - t
    timed = [time_queries(engine, QUERIES, 3) for _ in range(runs)]
    return {"open_s": open_s, "p50_ms": statistics.median(t[0] for t in timed),
            "p99_ms": statistics.median(t[1] for t in timed), "rss_mb": rss_mb()}


UNIQUE = "建设青少年航天科普基地"


def worker_add(scale: int, cache: str, runs: int) -> dict:
    """One new plan into the ×scale index, then the first answer that must come from it; every plan is
    hashed at each sync (that is how the live index finds what changed), so that is in the figure."""
    from dataclasses import replace

    from bot.models import Passage
    from bot.search.engine import SearchEngine
    from bot.textnorm import normalize

    corpus, plans, _ = synthetic(scale)
    from bot.search.tantivy_index import warm_writer

    engine = SearchEngine.from_plans(plans, cache)
    engine.search("双减")
    t = time.perf_counter()
    warm_writer()  # the bot does this while the editor looks at the draft's preview card
    warm_s = time.perf_counter() - t
    seed = corpus.plans[-1]
    samples = []
    for r in range(runs):
        plan_id = f"{seed.plan_id}#new{r}"
        first = seed.passages[0]
        text = first.text + f"{UNIQUE}{r}号。"
        passages = [Passage(f"{first.id}#new{r}", plan_id, first.section, text, normalize(text),
                            first.orientation, first.node_id)]
        passages += [replace(p, id=f"{p.id}#new{r}", plan_id=plan_id) for p in seed.passages[1:]]
        plans = plans + [replace(seed, meta=replace(seed.meta, plan_id=plan_id), passages=passages)]
        t = time.perf_counter()
        engine = engine.updated(plans)
        hits = engine.search(f"{UNIQUE}{r}号").hits
        samples.append(time.perf_counter() - t)
        assert any(h.passage.plan_id == plan_id for h in hits), "the added plan was not found"
    return {"add_s": statistics.median(samples), "add_max_s": max(samples), "add_runs": runs, "warm_s": warm_s,
            "segments_after": engine.index.searcher.num_segments}


def planned_terms(engine, query: str) -> list[list]:
    """The weighted index terms PlanBrief searches for `query` (after correction, synonyms, English)."""
    from bot.search.engine import _PART
    from bot.textnorm import normalize

    norm = normalize(query)
    english = engine._english(norm)
    parts = english.terms + list(english.rest) if english else _PART.findall(norm)
    return [[t, w] for t, w in engine._plan(engine._join_pinyin(parts)).terms]


def worker_core(scale: int, terms: dict, runs: int) -> dict:
    """The hand-written BM25 core PlanBrief served from before tantivy (bench/csr_index.py), built
    from the same passages and timed on the same term lists: dense scores over the postings + top 10."""
    from bench.csr_index import build_index, top_k

    _, _, passages = synthetic(scale)
    before_mb = rss_mb()
    t = time.perf_counter()
    index = build_index(passages)
    build_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory(prefix="csr-") as tmp:
        index.save(Path(tmp))
        disk_mb = _dir_mb(Path(tmp))
    term_lists = [terms[q] for q in QUERIES if terms.get(q)]
    samples = []
    for _ in range(runs * 3):
        for weighted in term_lists:
            t = time.perf_counter()
            scores, cand = index.scores([(a, b) for a, b in weighted])
            if len(cand):
                top_k(scores, cand, 10)
            samples.append((time.perf_counter() - t) * 1000)
    return {"core_p50_ms": _pct(samples, 0.5), "core_p99_ms": _pct(samples, 0.99), "core_build_s": build_s,
            "core_postings": int(len(index.docs)), "core_peak_rss_mb": _peak_mb(), "core_corpus_rss_mb": before_mb,
            "core_postings_mb": disk_mb}


def _token_docs(scale: int) -> tuple[list[list[str]], list[list[str]]]:
    """Every synthetic passage's index tokens (body, heading) exactly as PlanBrief indexes them."""
    from bench.csr_index import IndexBuilder
    from bot.textnorm import normalize

    _, _, passages = synthetic(scale)
    tok = IndexBuilder().tokenizer
    headings: dict[tuple, list[str]] = {}
    bodies, heads = [], []
    for p in passages:
        if p.section not in headings:
            headings[p.section] = list(tok.tokens(normalize("\n".join(p.section))))
        bodies.append(list(tok.tokens(p.norm)))
        heads.append(headings[p.section])
    return bodies, heads


def worker_tantivy(scale: int, terms: dict, runs: int, directory: str) -> dict:
    """tantivy-bare: pre-tokenized body and heading fields (positions kept), heading boosted like
    PlanBrief's (HEADING_WEIGHT), the same weighted term lists as a boolean query; top 10 plus ids."""
    import tantivy

    from bot.search.tantivy_index import HEADING_WEIGHT

    bodies, heads = _token_docs(scale)
    t = time.perf_counter()
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("body", tokenizer_name="ws", index_option="position")
    sb.add_text_field("heading", tokenizer_name="ws", index_option="position")
    sb.add_unsigned_field("doc", stored=True, fast=True)
    schema = sb.build()
    index = tantivy.Index(schema, path=directory)
    index.register_tokenizer("ws", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
    writer = index.writer(heap_size=256_000_000, num_threads=2)
    for i, (body, head) in enumerate(zip(bodies, heads, strict=True)):
        doc = tantivy.Document()
        doc.add_text("body", " ".join(body))
        doc.add_text("heading", " ".join(head))
        doc.add_unsigned("doc", i)
        writer.add_document(doc)
    writer.commit()
    writer.wait_merging_threads()
    build_s = time.perf_counter() - t
    index.reload()
    searcher = index.searcher()
    disk_mb = sum(f.stat().st_size for f in Path(directory).iterdir()) / 2**20
    queries = []
    for q in [q for q in QUERIES if terms.get(q)]:
        subs = []
        for term, weight in terms[q]:
            for field, boost in (("body", weight), ("heading", weight * HEADING_WEIGHT)):
                subs.append((tantivy.Occur.Should,
                             tantivy.Query.boost_query(tantivy.Query.term_query(schema, field, term), boost)))
        queries.append(tantivy.Query.boolean_query(subs))
    samples = []
    for _ in range(runs * 3):
        for query in queries:
            t = time.perf_counter()
            hits = searcher.search(query, limit=10, count=False).hits
            [searcher.doc(addr)["doc"][0] for _, addr in hits]
            samples.append((time.perf_counter() - t) * 1000)
    return {"tantivy_build_s": build_s, "tantivy_disk_mb": disk_mb, "tantivy_p50_ms": _pct(samples, 0.5),
            "tantivy_p99_ms": _pct(samples, 0.99), "tantivy_segments": searcher.num_segments}


def worker_bm25s(scale: int, terms: dict, runs: int) -> dict:
    """bm25s over the same tokens; it takes token lists (no weights), so each query is its term list."""
    import bm25s
    import numpy as np

    bodies, heads = _token_docs(scale)
    docs = [b + h for b, h in zip(bodies, heads, strict=True)]
    t = time.perf_counter()
    model = bm25s.BM25()
    model.index(docs, show_progress=False)
    build_s = time.perf_counter() - t
    vocab = model.vocab_dict
    samples = []
    for _ in range(runs * 3):
        for q in [q for q in QUERIES if terms.get(q)]:
            tokens = [[vocab[a] for a, _ in terms[q] if a in vocab]]
            t = time.perf_counter()
            model.retrieve(tokens, k=10, show_progress=False, n_threads=1)
            samples.append((time.perf_counter() - t) * 1000)
    del np
    return {"bm25s_build_s": build_s, "bm25s_p50_ms": _pct(samples, 0.5), "bm25s_p99_ms": _pct(samples, 0.99),
            "bm25s_backend": model.backend}


def worker_peer(scale: int, terms: dict, runs: int) -> dict:
    """rank-bm25 over the very same passages, index tokens and query term lists (every query that has
    terms, the set PlanBrief's core and the other engines are timed on)."""
    import numpy as np
    from rank_bm25 import BM25Okapi

    bodies, heads = _token_docs(scale)
    docs = [b + h for b, h in zip(bodies, heads, strict=True)]
    t = time.perf_counter()
    bm25 = BM25Okapi(docs)
    build_s = time.perf_counter() - t
    queries = [q for q in QUERIES if terms.get(q)]
    per_run = []
    for _ in range(max(1, runs // 2)):
        samples = []
        for q in queries:
            t = time.perf_counter()
            scores = bm25.get_scores([a for a, _ in terms[q]])
            np.argsort(-scores, kind="stable")[:10]
            samples.append((time.perf_counter() - t) * 1000)
        per_run.append(statistics.median(samples))
    return {"peer_build_s": build_s, "peer_p50_ms": statistics.median(per_run), "peer_queries": queries}


def _run_worker(name: str, *args) -> dict:
    cmd = [sys.executable, "-m", "bench.search_bench", "--worker", name, *map(str, args)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_seeds(runs: int, cache: Path) -> dict:
    from bot.corpus.loader import load_corpus
    from bot.search.engine import SearchEngine

    engine = SearchEngine.from_corpus(load_corpus(), cache)
    p50s, p99s = [], []
    for _ in range(runs):
        p50, p99 = time_queries(engine, QUERIES, 20)
        p50s.append(p50)
        p99s.append(p99)
    colds = [_run_worker("cold", cache, "双减")["cold_s"] for _ in range(runs)]
    typo_colds = [_run_worker("cold", cache, "县管校骋")["cold_s"] for _ in range(runs)]
    return {"passages": engine.index.n_docs, "p50_ms": statistics.median(p50s), "p99_ms": statistics.median(p99s),
            "cold_s": statistics.median(colds), "cold_typo_s": statistics.median(typo_colds)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--engines", default="core,tantivy,bm25s", help="peers timed side by side (comma list)")
    ap.add_argument("--add-runs", type=int, default=5, help="plans added one by one to the ×scale index")
    ap.add_argument("--worker")
    ap.add_argument("args", nargs="*")
    opts = ap.parse_args(argv)
    if opts.worker:
        print(json.dumps(_dispatch(opts.worker, opts.args), ensure_ascii=False))
        return
    with tempfile.TemporaryDirectory(prefix="planbrief-bench-") as tmp:
        seeds = bench_seeds(opts.runs, Path(tmp) / "seeds")
        _report_seeds(seeds)
        if opts.scale <= 0:
            return
        big = _run_worker("build", opts.scale, tmp)
        serve = _run_worker("serve", opts.scale, tmp, opts.runs)
        serve["index_only"] = _run_worker("serve_index", tmp, opts.runs)
        add = _run_worker("add", opts.scale, tmp, opts.add_runs)
        terms = json.dumps(serve["terms"], ensure_ascii=False)
        peer = _run_worker("peer", opts.scale, terms, opts.runs) if opts.scale <= 1000 else {}
        side = {}
        if "core" in opts.engines:
            side.update(_run_worker("core", opts.scale, terms, opts.runs))
        if "tantivy" in opts.engines:
            side.update(_run_worker("tantivy", opts.scale, terms, opts.runs, str(Path(tmp) / "tantivy")))
        if "bm25s" in opts.engines:
            side.update(_run_worker("bm25s", opts.scale, terms, opts.runs))
        _report_big(opts.scale, big, serve, add, peer)
        _report_side(serve, side, peer)


def _dispatch(name: str, args: list[str]) -> dict:
    if name == "cold":
        return worker_cold(args[0], args[1])
    if name == "build":
        return worker_build(int(args[0]), args[1])
    if name == "serve":
        return worker_serve(int(args[0]), args[1], int(args[2]))
    if name == "serve_index":
        return worker_serve_index(args[0], int(args[1]))
    if name == "add":
        return worker_add(int(args[0]), args[1], int(args[2]))
    if name == "core":
        return worker_core(int(args[0]), json.loads(args[1]), int(args[2]))
    if name == "peer":
        return worker_peer(int(args[0]), json.loads(args[1]), int(args[2]))
    if name == "tantivy":
        Path(args[3]).mkdir(parents=True, exist_ok=True)
        return worker_tantivy(int(args[0]), json.loads(args[1]), int(args[2]), args[3])
    if name == "bm25s":
        return worker_bm25s(int(args[0]), json.loads(args[1]), int(args[2]))
    raise SystemExit(f"unknown worker {name}")


def _row(label: str, value: str, target: str = "") -> None:
    print(f"  {label:<44}{value:>16}   {target}")


def _report_seeds(s: dict) -> None:
    print(f"Seeds ({s['passages']} passages, {len(QUERIES)} queries incl. typos/pinyin/traditional/nonsense)")
    _row("/topic answer p50 (whole search call)", f"{s['p50_ms']:.3f} ms", "target ≤ 1 ms")
    _row("/topic answer p99", f"{s['p99_ms']:.3f} ms")
    _row("cold start → first answer (双减)", f"{s['cold_s']:.3f} s", "target ≤ 0.8 s (cached index)")
    _row("cold start → first answer (typo 县管校骋)", f"{s['cold_typo_s']:.3f} s")


def _targets(scale: int) -> tuple[str, str]:
    if scale >= 3000:
        return "target ≤ 2.5 ms", "target ≤ 10 ms"
    if scale >= 1000:
        return "target ≤ 1.5 ms", "target ≤ 5 ms"
    return "", ""


def _report_big(scale: int, big: dict, serve: dict, add: dict, peer: dict) -> None:
    p50_target, p99_target = _targets(scale)
    print(f"×{scale} synthetic ({big['passages']} passages in {big['plans']} plans, "
          f"{big['chars'] / 1e6:.1f}M chars, {big['terms']} words; sentences swapped, cities rotated)")
    _row("generation (not part of the index)", f"{big['gen_s']:.1f} s")
    _row("tantivy index build (segment + write)", f"{big['build_s']:.1f} s", "target ≤ 10 s at ×1000")
    _row("build peak RSS (process)", f"{big['build_peak_rss_mb']:.0f} MB")
    _row("  over the corpus already in memory", f"{big['build_peak_rss_mb'] - big['corpus_rss_mb']:.0f} MB",
         "target ≤ 1 GB at ×3000")
    _row("on disk (postings with positions, fast fields)", f"{big['disk_mb']:.0f} MB", "target ≤ 100 MB at ×1000")
    _row("segments after build", f"{big['segments']}")
    _row("reopen from disk + first answer", f"{serve['reload_s']:.3f} s", "target ≤ 1 s")
    _row("answer p50 (whole search call, all queries)", f"{serve['p50_ms']:.3f} ms", p50_target)
    _row("answer p99", f"{serve['p99_ms']:.3f} ms", p99_target)
    _row("serving RSS after queries", f"{serve['rss_mb']:.0f} MB")
    alone = serve["index_only"]
    _row("index alone (no parsed plans): open + 1st answer", f"{alone['open_s']:.3f} s")
    _row("  answer p50 / p99", f"{alone['p50_ms']:.3f} / {alone['p99_ms']:.2f} ms")
    _row("  serving RSS after queries", f"{alone['rss_mb']:.0f} MB", "target ≤ 200 MB at ×1000")
    _row(f"add one plan + first answer from it (median of {add['add_runs']})", f"{add['add_s']:.3f} s",
         "target ≤ 1 s")
    _row("  slowest add", f"{add['add_max_s']:.3f} s")
    _row("  tokenizer warm-up before (at the preview card)", f"{add['warm_s']:.3f} s")
    if peer:
        _row("rank-bm25 build", f"{peer['peer_build_s']:.1f} s")


def _report_side(serve: dict, side: dict, peer: dict) -> None:
    n = len(serve["same_queries"])
    print(f"Side by side: same passages, same index tokens, the same {n} query term lists (p50 / p99)")
    full = serve["full_same_p50_ms"]
    _row("PlanBrief full answer (tantivy-backed search)", f"{full:.3f} / {serve['full_same_p99_ms']:.2f} ms")
    if "core_p50_ms" in side:
        _row("hand-written BM25 core (baseline, top 10)", f"{side['core_p50_ms']:.3f} / {side['core_p99_ms']:.2f} ms")
        _row("  its build / peak RSS over corpus / on disk", f"{side['core_build_s']:.1f} s / "
             f"{side['core_peak_rss_mb'] - side['core_corpus_rss_mb']:.0f} MB / {side['core_postings_mb']:.0f} MB")
    if "tantivy_p50_ms" in side:
        _row("tantivy-bare (top 10 + ids)", f"{side['tantivy_p50_ms']:.3f} / {side['tantivy_p99_ms']:.2f} ms")
        _row("tantivy-bare build / on disk", f"{side['tantivy_build_s']:.1f} s / {side['tantivy_disk_mb']:.0f} MB")
        _row("full answer ÷ tantivy-bare, p50 / p99", f"{full / side['tantivy_p50_ms']:.1f}× / "
             f"{serve['full_same_p99_ms'] / side['tantivy_p99_ms']:.1f}×", "target ≤ 2× / ≤ 1.5× at ×3000")
    if "bm25s_p50_ms" in side:
        _row(f"bm25s ({side['bm25s_backend']}, unweighted)", f"{side['bm25s_p50_ms']:.3f} / {side['bm25s_p99_ms']:.2f} ms")
        _row("bm25s build", f"{side['bm25s_build_s']:.1f} s")
    if peer:
        _row("rank-bm25 (unweighted) p50", f"{peer['peer_p50_ms']:.1f} ms")
        _row("speed-up vs rank-bm25, full answer p50/p50", f"{peer['peer_p50_ms'] / full:.0f}×")
        if "core_p50_ms" in side:
            _row("speed-up vs rank-bm25, baseline core p50/p50", f"{peer['peer_p50_ms'] / side['core_p50_ms']:.0f}×")


if __name__ == "__main__":
    main()
