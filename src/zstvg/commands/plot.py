"""TODO docstring."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from zstvg.config.params import Params
from zstvg.evaluation.plots import plot_ablation, plot_histogram, plot_scatter, plot_sweeps
from zstvg.evaluation.protocols import PROTOCOLS
from zstvg.evaluation.tables import ABLATION_VARIANTS, Result, sweeps, variant_table
from zstvg.files.io import InputError

log = logging.getLogger(__name__)


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
    import pandas as pd

    from zstvg.evaluation.tables import collect

    if not args.per_sample and not args.metrics:
        raise InputError("nothing to plot: give --per-sample CSVs and/or --metrics files")
    out = Path(args.out)
    written: list[Path] = []
    if args.per_sample:
        frames = []
        for p in args.per_sample:
            if not Path(p).is_file():
                raise InputError(f"per-sample file not found: {p}")
            df = pd.read_csv(p)
            missing = {"vIoU", "tIoU", "status"} - set(df.columns)
            if missing:
                raise InputError(f"{p}: not a per-sample file: missing columns {sorted(missing)}")
            # <...>/<backend>/<variant>/<protocol>.per_sample.csv -> "backend/variant"
            df["series"] = f"{Path(p).parent.parent.name}/{Path(p).parent.name}"
            frames.append(df)
        df = pd.concat(frames, ignore_index=True)
        written.append(
            plot_histogram(df, out / "viou_hist.png", params.evaluate.viou_thresholds, args.dpi)
        )
        written.append(plot_scatter(df, out / "tiou_vs_viou.png", args.dpi))
    if args.metrics:
        results: list[Result] = [r for r in collect(args.metrics) if r.protocol == args.protocol]
        table = variant_table(results, ABLATION_VARIANTS, args.ablation_dataset, None)
        if len(table):
            written.append(
                plot_ablation(table, out / "ablation.png", args.ablation_dataset, args.dpi)
            )
        else:
            log.warning("no Table 2 variants on %s: no ablation chart", args.ablation_dataset)
        sw = sweeps(results)
        if len(sw):
            written.append(plot_sweeps(sw, out / "sweeps.png", args.dpi))
    print(f"{len(written)} figure(s) -> {out}: {', '.join(p.name for p in written)}")
    return 0
