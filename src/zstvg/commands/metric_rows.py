"""``zstvg metric-rows``: one metrics file per table cell in a folder, which ``dvc metrics show``
prints as a row per cell. The options become one call of
:func:`zstvg.evaluation.metric_rows.write_metric_rows`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zstvg.config.params import Params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics",
        nargs="+",
        required=True,
        metavar="PATH",
        help="one protocol's metrics files: results/metrics/<dataset>/<backend>/<variant>/"
        "<protocol>.json",
    )
    parser.add_argument(
        "--out", required=True, help="folder of <dataset>--<backend>--<variant>.json"
    )


def run(args: argparse.Namespace, params: Params) -> int:
    from zstvg.evaluation.metric_rows import write_metric_rows

    return write_metric_rows([Path(p) for p in args.metrics], Path(args.out))
