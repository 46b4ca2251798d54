"""``zstvg choose-layers``: the layer range (and optionally heads) that probe-layers found best
for one model: ``layers.json`` (per-(layer, head) and per-layer means, the default and the
chosen range) and ``overlay.yaml``, a params overlay for ``--configfile``. The options below
become one call of :func:`zstvg.evaluation.layer_choice.choose_layers`; ``zstvg plot --layers``
draws the report.
"""

from __future__ import annotations

import argparse

from zstvg.config.params import Params
from zstvg.evaluation.layer_choice import choose_layers


def _count(text: str) -> int:
    n = int(text)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {n}")
    return n


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--probes", nargs="+", required=True, metavar="PATH",
        help="probe-layers output folders or their manifest.json (one model; several folders "
        "pool their samples)",
    )  # fmt: skip
    parser.add_argument("--dataset", default=None, help="the dataset's name, for the report")
    parser.add_argument(
        "--top-heads", type=_count, default=0, metavar="N",
        help="also name the N heads that ground best in the chosen layers (default 0: all heads)",
    )  # fmt: skip
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="folder for layers.json and overlay.yaml"
    )


def run(args: argparse.Namespace, params: Params) -> int:
    return choose_layers(args.probes, args.out, dataset=args.dataset, top_heads=args.top_heads)
