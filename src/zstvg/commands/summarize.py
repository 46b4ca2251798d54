"""``zstvg summarize``: one Markdown page saying what a run produced and where.

The demo prints it at the end. Every section is optional; each lists counts, failures (with
reasons, never hidden) and paths, and embeds the Markdown tables it is given.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zstvg.config.params import Params
from zstvg.evaluation.summary import (
    summarize_attention,
    summarize_decompositions,
    summarize_frames,
    summarize_proposals,
    summarize_samples,
    summarize_scores,
)

CHANCE_NOTE = (
    "> Models in this run are tiny random-weight checkpoints built offline: every MLLM and "
    "detector number below is chance-level and says nothing about the method. The `oracle` "
    "rows are the proposals' upper bound, `largest`/`random` the floors; `attention-oracle` "
    "rows plant the attention on the GT boxes: they check the chain from maps to tracks, spans "
    "and metrics, not the method."
)


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
    from zstvg.files.io import atomic_open

    lines = [f"# {args.title}", ""]
    if args.chance_note:
        lines += [CHANCE_NOTE, ""]
    lines += ["## Outputs", ""]
    if args.samples:
        lines += summarize_samples(args.samples)
    if args.frames:
        lines += summarize_frames(args.frames)
    if args.decompositions:
        lines += summarize_decompositions(args.decompositions)
    for manifest in args.proposals:
        lines += summarize_proposals(manifest)
    for manifest in args.attention:
        lines += summarize_attention(manifest)
    for csv in args.per_sample:
        lines += summarize_scores(csv)
    for table in args.tables:
        lines += ["", f"## {Path(table).stem} (`{table}`)", "", Path(table).read_text().strip()]
    if args.figures:
        lines += ["", "## Figures", ""] + [f"- `{f}`" for f in args.figures]
    text = "\n".join(lines) + "\n"
    with atomic_open(args.out, "w", encoding="utf-8") as fh:
        fh.write(text)
    if args.html:
        from zstvg.evaluation.report_html import html_fragment

        with atomic_open(args.html, "w", encoding="utf-8") as fh:
            fh.write(html_fragment(text))
    print(f"summary: {args.out}" + (f", {args.html}" if args.html else ""))
    return 0
