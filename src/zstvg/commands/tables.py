"""``zstvg tables``: the paper's Tables 1, 2, 3, 7 and the Fig. 6 sweeps from metrics files,
ours beside the published numbers, with vIoU@R at each of ``evaluate.viou_thresholds``. The
options below become one call of :func:`zstvg.evaluation.tables.make_tables`, which writes
Markdown, LaTeX, CSV and a metrics.json of every cell and prints Tables 1 and 2.
"""

from __future__ import annotations

import argparse

from zstvg.config.params import Params
from zstvg.evaluation.protocols import PROTOCOLS
from zstvg.evaluation.tables import make_tables


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics",
        nargs="+",
        required=True,
        metavar="PATH",
        help="metrics.json files, or directories searched recursively for *.json metrics files",
    )
    parser.add_argument("--out", required=True, help="directory for the .md, .tex and .csv files")
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="tubedetr",
        help="which protocol's metrics to tabulate (default: tubedetr)",
    )
    parser.add_argument(
        "--ablation-dataset",
        default="hcstvg-v1",
        help="dataset of Tables 2 and 3 (the paper's: hcstvg-v1)",
    )
    parser.add_argument(
        "--table1-variants",
        nargs="+",
        default=["full"],
        metavar="VARIANT",
        help="variants shown as method rows of Table 1 (default: full)",
    )
    parser.add_argument(
        "--no-paper",
        action="store_true",
        help="do not add the paper's published numbers and the differences",
    )


def run(args: argparse.Namespace, params: Params) -> int:
    return make_tables(
        metrics=args.metrics,
        out=args.out,
        protocol=args.protocol,
        ablation_dataset=args.ablation_dataset,
        table1_variants=args.table1_variants,
        paper=not args.no_paper,
        thresholds=params.evaluate.viou_thresholds,
    )
