"""Benchmark: decomposition, an uncached run against a local server and a large cached run.

- uncached: ``--n`` (500) distinct queries against a local chat-completions server (the test
  double tests/decompose/fake_server.py) at ``--latency-ms`` (50) per request, ``--concurrency``
  (8) in flight. The server's floor is n x latency / concurrency (3.1 s at the defaults); the
  rest is client overhead (HTTP, JSON, validation, one atomic cache write per answer). The server
  runs in its own process, as a real one would (in-process, its threads would compete with the
  client for the GIL). A second pass over the same queries must make zero requests.
- cached: ``--cached-n`` (10,000) queries already in the cache (written through the cache's own
  ``put`` before the clock starts), decomposed with zero requests. Target (issue 15): < 5 s.

The ``openai`` import (~2 s) happens before the clock starts and is printed separately.

    .venv/bin/python benchmarks/bench_decompose.py [--n 500] [--cached-n 10000] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import yaml

from zstvg.config.params import DecomposeConfig, default_params_path
from zstvg.decompose.cache import DecompositionCache
from zstvg.decompose.decompose import DecomposeResult, decompose_samples
from zstvg.decompose.prompts import load_prompt

# The fake server is a test double, kept with the tests it serves rather than in the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "decompose"))
from fake_server import FakeChatServer, default_answer  # noqa: E402


def _serve(latency_s: float, conn: Connection) -> None:
    with FakeChatServer(latency_s=latency_s) as server:
        conn.send(server.base_url)
        conn.recv()  # wait for "stop"
        conn.send(server.n_requests)


def _samples(n: int, tag: str) -> list[dict]:
    return [
        {"sample_id": f"{tag}{i}", "query": f"The person number {i} {tag} and walks to the door."}
        for i in range(n)
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500, help="distinct queries of the uncached run")
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    ap.add_argument("--latency-ms", type=float, default=50.0, help="server latency per request")
    ap.add_argument("--cached-n", type=int, default=10000, help="queries of the cached run")
    ap.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = ap.parse_args()

    t_import = time.perf_counter()
    import openai  # noqa: F401  (what `zstvg decompose` pays once at start-up)

    t_import = time.perf_counter() - t_import
    # Only the decompose section matters here; read it alone from the packaged defaults.
    defaults = DecomposeConfig(**yaml.safe_load(default_params_path().read_text())["decompose"])
    samples = _samples(args.n, "u")
    ours, theirs = mp.Pipe()
    proc = mp.Process(target=_serve, args=(args.latency_ms / 1000, theirs), daemon=True)
    proc.start()
    base_url = ours.recv()
    prompt = load_prompt()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = dataclasses.replace(
            defaults,
            base_url=base_url,
            max_concurrency=args.concurrency,
            cache_dir=str(Path(tmp) / "cache"),
        )

        def run(rows: list[dict]) -> DecomposeResult:
            return decompose_samples(
                rows, cfg, prompt, offline=False, api_key="sk-bench", progress=False
            )

        t0 = time.perf_counter()
        first = run(samples)
        t1 = time.perf_counter()
        second = run(samples)
        t2 = time.perf_counter()
        cached = _samples(args.cached_n, "c")
        cache = DecompositionCache(cfg.cache_dir)
        t_fill = time.perf_counter()
        for s in cached:
            cache.put(cfg.model, prompt.sha256, s["query"], default_answer(s["query"]))
        t_fill = time.perf_counter() - t_fill
        t3 = time.perf_counter()
        big = run(cached)
        t4 = time.perf_counter()
        # The same number of never-seen queries offline (rule-based fallback, no server): the
        # cost of the cache-miss bookkeeping (quadratic before 2026-12-03; benchmarks/hot_paths.md).
        unseen = _samples(args.cached_n, "o")
        t5 = time.perf_counter()
        decompose_samples(unseen, cfg, prompt, offline=True, api_key=None, progress=False)
        t6 = time.perf_counter()
    ours.send("stop")
    n_server = ours.recv()
    proc.join(5)
    floor = args.n * args.latency_ms / 1000 / args.concurrency
    print(
        f"decompose {args.n} queries, concurrency {args.concurrency}, "
        f"{args.latency_ms:g} ms server latency (openai import {t_import:.2f} s, not counted)"
    )
    print(
        f"  first pass : {t1 - t0:6.2f} s  ({first.by_source['api']} from the API, "
        f"{first.usage.requests} requests; server-time floor {floor:.2f} s)"
    )
    print(
        f"  second pass: {t2 - t1:6.2f} s  ({second.by_source['cache']} from the cache, "
        f"{second.usage.requests} requests)"
    )
    print(
        f"  {args.cached_n} cached queries: {t4 - t3:6.2f} s ({big.by_source['cache']} from the "
        f"cache, {big.usage.requests} requests; cache filled in {t_fill:.1f} s; target < 5 s)"
    )
    print(f"  {args.cached_n} uncached queries offline (fallback): {t6 - t5:6.2f} s")
    print(f"  server saw {n_server} requests in total")
    if args.json:
        report = {
            "config": {"n": args.n, "concurrency": args.concurrency,
                       "latency_ms": args.latency_ms, "cached_n": args.cached_n},
            "openai_import_s": round(t_import, 3),
            "uncached": {"seconds": round(t1 - t0, 3), "floor_s": round(floor, 3),
                         "vs_floor": round((t1 - t0) / floor, 3) if floor else None,
                         "requests": first.usage.requests},
            "second_pass": {"seconds": round(t2 - t1, 3), "requests": second.usage.requests},
            "cached": {"seconds": round(t4 - t3, 3), "n": args.cached_n,
                       "from_cache": big.by_source["cache"], "requests": big.usage.requests},
            "offline_uncached": {"seconds": round(t6 - t5, 3), "n": args.cached_n},
            "server_requests": n_server,
        }  # fmt: skip
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
