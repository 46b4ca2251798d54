"""``zstvg plot``: the evaluation figures (vIoU histogram, tIoU against vIoU, ablation bars,
parameter sweeps) from per-sample CSVs and metrics files, and the layer/head grounding probe's
figures from ``zstvg choose-layers``' reports. The options below become one call of
:func:`zstvg.evaluation.plots.plot_figures`, which writes the PNGs and prints their names.
"""

from __future__ import annotations

import argparse

from zstvg.config.params import Params
from zstvg.evaluation.plots import plot_figures
from zstvg.evaluation.protocols import PROTOCOLS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--per-sample",
        nargs="*",
        default=[],
        metavar="CSV",
        help="per-sample CSVs from `zstvg evaluate --per-sample` (histogram, "
        "scatter); one series per file, labelled <backend>/<variant> from its path",
    )
    parser.add_argument(
        "--metrics",
        nargs="*",
        default=[],
        metavar="PATH",
        help="metrics.json files or directories (ablation bars, sweeps)",
    )
    parser.add_argument(
        "--layers",
        nargs="*",
        default=[],
        metavar="REPORT",
        help="layers.json reports of `zstvg choose-layers` (per-head heat maps and per-layer "
        "curves: layers_<dataset>_<model>_heads.png and _curve.png)",
    )
    parser.add_argument("--out", required=True, help="directory for the PNG files")
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="tubedetr",
        help="which protocol's metrics to plot (default: tubedetr)",
    )
    parser.add_argument(
        "--ablation-dataset",
        default="hcstvg-v1",
        help="dataset of the ablation bar chart (the paper's: hcstvg-v1)",
    )
    parser.add_argument("--dpi", type=int, default=120, help="resolution of the PNGs")


def run(args: argparse.Namespace, params: Params) -> int:
    return plot_figures(
        out=args.out,
        thresholds=params.evaluate.viou_thresholds,
        per_sample=args.per_sample,
        metrics=args.metrics,
        layers=args.layers,
        protocol=args.protocol,
        ablation_dataset=args.ablation_dataset,
        dpi=args.dpi,
    )
