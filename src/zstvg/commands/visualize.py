"""``zstvg visualize``: one sample's frames with its GT (green) and predicted (red) boxes, the
proposal tracks and the attention map, as a PNG contact sheet and a GIF. The options below become
one call of :func:`zstvg.evaluation.visualize.visualize`.
"""

from __future__ import annotations

import argparse

from zstvg.config.params import Params
from zstvg.evaluation.visualize import visualize


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample-id", required=True, help="the sample to draw")
    parser.add_argument("--samples", required=True, help="samples.jsonl")
    parser.add_argument("--predictions", default=None, help="predictions JSON (red boxes)")
    parser.add_argument(
        "--frames",
        required=True,
        help="frames manifest.json of sample-frames (or its folder)",
    )
    parser.add_argument(
        "--proposals",
        default=None,
        help="proposals manifest.json of import-proposals / propose (or its folder), or one "
        "proposal file in the authors' JSON format",
    )
    parser.add_argument(
        "--attention",
        default=None,
        metavar="FILE.npy",
        help="attention map (T, h, w) over T uniform frames of the clip",
    )
    parser.add_argument(
        "--max-frames",
        type=int,
        default=16,
        help="frames on the sheet and in the GIF, uniform over those stored",
    )
    parser.add_argument(
        "--decompositions", default=None, help="decompositions.jsonl: sub-queries on the sheet"
    )
    parser.add_argument(
        "--region", type=float, nargs=4, default=None, metavar=("X0", "Y0", "X1", "Y1"),
        help="frame region the attention grid covers (a centre-cropping backend); "
        "default: the whole frame",
    )  # fmt: skip
    parser.add_argument("--out", required=True, help="output directory")


def run(args: argparse.Namespace, params: Params) -> int:
    return visualize(
        sample_id=args.sample_id,
        samples=args.samples,
        frames=args.frames,
        out=args.out,
        predictions=args.predictions,
        proposals=args.proposals,
        attention_map=args.attention,
        max_frames=args.max_frames,
        decompositions=args.decompositions,
        region=args.region,
    )
