"""``zstvg decompose``: split every sample's query into target class, attribute and action.

Reads ``samples.jsonl`` (one ``Sample.to_json()`` per line), writes ``decompositions.jsonl``
(one row per sample, input order; fields in ``zstvg.files.decompositions.Decomposition``) and its
provenance sidecar with the prompt hash, counts by source and flag, token usage and estimated
cost. The API key comes from ``OPENAI_API_KEY`` only; ``--offline`` never opens a connection.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from zstvg.config.params import Params
from zstvg.files.io import provenance_path, write_jsonl, write_provenance
from zstvg.files.samples import read_sample_rows
from zstvg.jobs.failures import print_failures

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--samples",
        required=True,
        metavar="PATH",
        help="samples.jsonl from prepare-data (needs sample_id and query); samples that carry "
        "an error are decomposed too (the query is fine; the row keeps the sample usable)",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="decompositions.jsonl to write (plus <out>.provenance.json)",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="never call the API: cached or imported answers, else the "
        "rule-based fallback (flagged 'fallback'); same as decompose.offline=true (to call "
        "the server when params say offline, pass --set decompose.offline=false)",
    )


def server_label(base_url: str) -> str:
    """The server a run talks to, without credentials or query string (for provenance)."""
    url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def run(args: argparse.Namespace, params: Params) -> int:
    from zstvg.decompose.decompose import decompose_samples
    from zstvg.decompose.prompts import load_prompt

    cfg = params.decompose
    samples = read_sample_rows(args.samples)
    offline = bool(args.offline or cfg.offline)
    prompt = load_prompt()
    result = decompose_samples(
        samples,
        cfg,
        prompt,
        offline=offline,
        api_key=None if offline else (os.environ.get("OPENAI_API_KEY") or None),
        seed=params.seed,
        progress=not args.no_progress,
    )
    write_jsonl(args.out, (r.to_json() for r in result.rows))
    usage = result.usage.to_json(cfg)
    failed = result.failed
    write_provenance(
        args.out,
        step="decompose",
        params=params.section("decompose"),
        prompt_version=prompt.version,
        prompt_sha256=prompt.sha256,
        model=cfg.model,
        server=None if offline else server_label(cfg.base_url),
        offline=offline,
        samples=str(args.samples),
        samples_sha256=hashlib.sha256(Path(args.samples).read_bytes()).hexdigest(),
        n_samples=len(result.rows),
        by_source=dict(sorted(result.by_source.items())),
        flags=dict(sorted(result.flag_counts.items())),
        usage=usage,
        failed_samples=[r.sample_id for r in failed],
    )
    n_err = sum(1 for s in samples if s.get("error"))
    sources = ", ".join(f"{k} {v}" for k, v in sorted(result.by_source.items())) or "none"
    print(f"decompose: {len(result.rows)} samples ({n_err} already carry an error) -> {args.out}")
    print(f"  by source: {sources}")
    if result.flag_counts:
        print("  flags: " + ", ".join(f"{k} {v}" for k, v in sorted(result.flag_counts.items())))
    print(
        f"  requests {usage['requests']} (retries {usage['retries']}), tokens in "
        f"{usage['prompt_tokens']} out {usage['completion_tokens']}, estimated cost "
        f"${usage['estimated_cost_usd']:.4f}"
    )
    if failed:
        print(f"  {len(failed)} without an LLM answer (fallback used):")
        print_failures(
            {r.sample_id: r.error or "" for r in failed}, provenance_path(args.out), "fallback for"
        )
    return 0
