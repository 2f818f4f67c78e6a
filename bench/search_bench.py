"""Search benchmark: `python -m bench.search_bench [--scale 1000] [--runs 5]`.

Prints seeds latency, cold start, ×scale latency against rank-bm25 on the same passages and the same
query terms (same run), index build and reload time, and serving RSS. Each phase that needs a clean
process (cold start, reload, RSS, the rank-bm25 peer) runs in its own subprocess so one measurement
cannot inflate another. Not part of pytest: it takes minutes.

Serving RSS is psutil's `rss` of the serving process after reload and all timed queries: the index
files are read with pread (bot.search.index), so it counts what the process holds (interpreter, libraries,
in-memory offsets and lexicon, per-query buffers), not page cache; the "file-backed" row is psutil's
`shared` (mostly shared libraries now; it was the mmap'd index before).
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
           "wuxi", "拔尖创新人才", "qzxwvk"]
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
    """×scale passages that are not copies: sentences swapped across passages, city names rotated."""
    from bot.corpus.loader import load_corpus
    from bot.models import Passage
    from bot.textnorm import normalize

    corpus = load_corpus()
    seeds = corpus.passages
    sentences = [[s for s in _split(p.text)] for p in seeds]
    pool = [s for ss in sentences for s in ss]
    out = []
    for k in range(scale):
        rng = random.Random(k)
        shift = k % len(CITY_ROTATION)
        for p, ss in zip(seeds, sentences, strict=True):
            ss = list(ss)
            if k and ss:
                ss[rng.randrange(len(ss))] = rng.choice(pool)
            text = _rotate_cities("".join(ss), shift)
            out.append(Passage(f"{p.id}#{k}", p.plan_id, p.section, text, normalize(text), p.orientation, p.node_id))
    return corpus, out


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

def _shared_mb() -> float:
    import psutil

    return getattr(psutil.Process().memory_info(), "shared", 0) / 2**20


def worker_cold(cache: str, query: str) -> dict:
    t0 = time.perf_counter()
    from bot.corpus.loader import load_corpus
    from bot.search.engine import SearchEngine

    engine = SearchEngine.from_corpus(load_corpus(), cache)
    engine.search(query)
    return {"cold_s": time.perf_counter() - t0}


def worker_build(scale: int, cache: str) -> dict:
    from bot.search.engine import SearchEngine, build_index

    t = time.perf_counter()
    corpus, passages = synthetic(scale)
    gen_s = time.perf_counter() - t
    metas = [p.meta for p in corpus.plans]
    t = time.perf_counter()
    index = build_index(passages, f"bench-{scale}")
    build_s = time.perf_counter() - t
    from bot.search.engine import DocStore

    engine = SearchEngine(index, DocStore.of(passages, metas))
    engine.save(Path(cache) / "big")
    return {"gen_s": gen_s, "build_s": build_s, "passages": len(passages),
            "chars": sum(len(p.text) for p in passages), "postings": int(len(index.docs)),
            "terms": len(index.terms), "build_peak_rss_mb": _peak_mb()}


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_serve(cache: str, runs: int) -> dict:
    t = time.perf_counter()
    from bot.search.engine import SearchEngine

    engine = SearchEngine.load(Path(cache) / "big")
    engine.search("双减")
    reload_s = time.perf_counter() - t
    p50s, p99s = [], []
    for _ in range(runs):
        p50, p99 = time_queries(engine, QUERIES, 3)
        p50s.append(p50)
        p99s.append(p99)
    terms = {q: engine._plan(engine._join_pinyin(_parts(engine, q))).terms for q in QUERIES}
    return {"reload_s": reload_s, "p50_ms": statistics.median(p50s), "p99_ms": statistics.median(p99s),
            "rss_mb": rss_mb(), "shared_mb": _shared_mb(), "terms": {q: [t for t, _ in v] for q, v in terms.items()}}


def _parts(engine, query):
    from bot.search.engine import _PART
    from bot.textnorm import normalize

    return _PART.findall(normalize(query))


def worker_peer(scale: int, terms: dict, runs: int) -> dict:
    """rank-bm25 over the very same passages, index tokens and query terms."""
    import numpy as np
    from rank_bm25 import BM25Okapi

    from bot.search.index import IndexBuilder
    from bot.textnorm import normalize

    _, passages = synthetic(scale)
    builder = IndexBuilder()
    docs = []
    for p in passages:
        tokens = list(builder.tokenizer.tokens(p.norm))
        tokens += builder.tokenizer.tokens(normalize("\n".join(p.section)))
        docs.append(tokens)
    t = time.perf_counter()
    bm25 = BM25Okapi(docs)
    build_s = time.perf_counter() - t
    queries = [q for q in QUERIES if terms.get(q)][:6]
    per_run = []
    for _ in range(runs):
        samples = []
        for q in queries:
            t = time.perf_counter()
            scores = bm25.get_scores(terms[q])
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
        serve = _run_worker("serve", tmp, opts.runs)
        peer = _run_worker("peer", opts.scale, json.dumps(serve["terms"], ensure_ascii=False), opts.runs)
        _report_big(opts.scale, big, serve, peer)


def _dispatch(name: str, args: list[str]) -> dict:
    if name == "cold":
        return worker_cold(args[0], args[1])
    if name == "build":
        return worker_build(int(args[0]), args[1])
    if name == "serve":
        return worker_serve(args[0], int(args[1]))
    if name == "peer":
        return worker_peer(int(args[0]), json.loads(args[1]), int(args[2]))
    raise SystemExit(f"unknown worker {name}")


def _row(label: str, value: str, target: str = "") -> None:
    print(f"  {label:<44}{value:>16}   {target}")


def _report_seeds(s: dict) -> None:
    print(f"Seeds ({s['passages']} passages, {len(QUERIES)} queries incl. typos/pinyin/traditional/nonsense)")
    _row("/topic answer p50 (whole search call)", f"{s['p50_ms']:.3f} ms", "target ≤ 1 ms")
    _row("/topic answer p99", f"{s['p99_ms']:.3f} ms")
    _row("cold start → first answer (双减)", f"{s['cold_s']:.3f} s", "target ≤ 0.8 s (cached index)")
    _row("cold start → first answer (typo 县管校骋)", f"{s['cold_typo_s']:.3f} s")


def _report_big(scale: int, big: dict, serve: dict, peer: dict) -> None:
    print(f"×{scale} synthetic ({big['passages']} passages, {big['chars'] / 1e6:.1f}M chars, "
          f"{big['postings'] / 1e6:.1f}M postings, {big['terms']} terms; sentences swapped, cities rotated)")
    _row("generation (not part of the index)", f"{big['gen_s']:.1f} s")
    _row("index build (segment distinct sentences once)", f"{big['build_s']:.1f} s", "target ≤ 30 s")
    _row("build peak RSS", f"{big['build_peak_rss_mb']:.0f} MB")
    _row("reload from disk + first answer", f"{serve['reload_s']:.3f} s", "target ≤ 1 s")
    _row("answer p50 (whole search call)", f"{serve['p50_ms']:.3f} ms", "target ≤ 5 ms")
    _row("answer p99", f"{serve['p99_ms']:.3f} ms", "target ≤ 30 ms")
    _row("serving RSS after queries", f"{serve['rss_mb']:.0f} MB", "target ≤ 250 MB")
    _row("  of which file-backed/shared (libraries)", f"{serve['shared_mb']:.0f} MB")
    _row("rank-bm25 get_scores+top10 p50 (same run)", f"{peer['peer_p50_ms']:.1f} ms")
    _row("rank-bm25 build", f"{peer['peer_build_s']:.1f} s")
    ratio = peer["peer_p50_ms"] / serve["p50_ms"] if serve["p50_ms"] else float("inf")
    _row("speed-up vs rank-bm25 (p50/p50)", f"{ratio:.0f}×", "target ≥ 50×")


if __name__ == "__main__":
    main()
