"""``zstvg predict-reference``: proposal-only reference predictions (oracle, largest, random).
The options below become one call of :func:`zstvg.grounding.baselines.predict_reference`, which
predicts every sample from its proposal tracks, writes the predictions file and its provenance
and prints the summary.
"""

from __future__ import annotations

import argparse

from zstvg.config.params import Params
from zstvg.grounding.baselines import METHODS, predict_reference


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", required=True, help="samples.jsonl from prepare-data")
    parser.add_argument(
        "--frames",
        default=None,
        metavar="MANIFEST",
        help="frames manifest.json from sample-frames: samples it failed (a video that does not "
        "decode) are failed here with that reason, whatever the proposals say",
    )
    parser.add_argument(
        "--proposals",
        required=True,
        metavar="MANIFEST",
        help="proposals manifest.json of import-proposals or propose (or its folder)",
    )
    parser.add_argument(
        "--method",
        required=True,
        choices=list(METHODS),
        help="oracle: best-overlapping track + GT span (proposal upper bound); largest: the "
        "track with the largest mean box; random: a track chosen with the params seed",
    )
    parser.add_argument(
        "--out",
        required=True,
        help="predictions JSON (format: docs/workflow.md#files-passed-between-steps)",
    )


def run(args: argparse.Namespace, params: Params) -> int:
    return predict_reference(
        seed=params.seed,
        samples=args.samples,
        proposals=args.proposals,
        method=args.method,
        out=args.out,
        frames=args.frames,
    )
