"""``zstvg summarize``: one Markdown page saying what a run produced and where (the demo prints
it at the end): counts, failures with their reasons, tables and figures, each section optional.
The options below become one call of :func:`zstvg.evaluation.summary.write_summary`.
"""

from __future__ import annotations

import argparse

from zstvg.config.params import Params
from zstvg.evaluation.summary import write_summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="Markdown file to write")
    parser.add_argument(
        "--html", default=None, help="also write the page as HTML (for the Snakemake report)"
    )
    parser.add_argument("--title", default="zstvg run summary", help="page title")
    parser.add_argument("--samples", help="samples.jsonl (prepare-data)")
    parser.add_argument("--frames", help="frames manifest.json (sample-frames)")
    parser.add_argument("--decompositions", help="decompositions.jsonl (decompose)")
    parser.add_argument(
        "--proposals",
        nargs="*",
        default=[],
        help="proposal manifest.json files (propose / import-proposals)",
    )
    parser.add_argument(
        "--attention", nargs="*", default=[], help="probe-attention manifest.json files"
    )
    parser.add_argument(
        "--tables", nargs="*", default=[], help="Markdown tables to embed (from zstvg tables)"
    )
    parser.add_argument("--figures", nargs="*", default=[], help="figure files to list")
    parser.add_argument(
        "--per-sample",
        nargs="*",
        default=[],
        help="per-sample CSVs of evaluate: the samples they score 0 are listed with the reason",
    )
    parser.add_argument(
        "--chance-note",
        action="store_true",
        help="say that the numbers come from tiny random-weight models",
    )


def run(args: argparse.Namespace, params: Params) -> int:
    return write_summary(
        out=args.out,
        title=args.title,
        html=args.html,
        samples=args.samples,
        frames=args.frames,
        decompositions=args.decompositions,
        proposals=args.proposals,
        attention=args.attention,
        tables=args.tables,
        figures=args.figures,
        per_sample=args.per_sample,
        chance_note=args.chance_note,
    )
