"""``zstvg decompose``: split every sample's query into target class, attribute and action.

The options become one call of :func:`zstvg.decompose.decompose.decompose_file`, which serves
each query from the cache, the API or the rule-based fallback and writes
``decompositions.jsonl`` with its provenance. The API key comes from ``OPENAI_API_KEY`` only;
``--offline`` never opens a connection.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zstvg.config.params import Params


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


def run(args: argparse.Namespace, params: Params) -> int:
    from zstvg.decompose.decompose import decompose_file

    return decompose_file(
        Path(args.samples),
        Path(args.out),
        params,
        offline=args.offline,
        progress=not args.no_progress,
    )
