"""``zstvg layer-table``: Table 2-style rows comparing the method at the default layer range and
at the range choose-layers picked, scored on the samples the probe did not see. The options
become one call of :func:`zstvg.evaluation.layer_choice.write_layer_table`.
"""

from __future__ import annotations

import argparse

from zstvg.config.params import Params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--report", required=True, metavar="PATH", help="choose-layers' layers.json"
    )
    parser.add_argument(
        "--default", nargs="+", required=True, metavar="PATH",
        help="metrics files (zstvg evaluate) of the variants at the default range",
    )  # fmt: skip
    parser.add_argument(
        "--chosen", nargs="+", required=True, metavar="PATH",
        help="metrics files of the same variants with choose-layers' overlay",
    )  # fmt: skip
    parser.add_argument("--out", required=True, metavar="DIR", help="folder of layers_table.*")


def run(args: argparse.Namespace, params: Params) -> int:
    from zstvg.evaluation.layer_choice import write_layer_table

    return write_layer_table(args.report, args.default, args.chosen, args.out)
