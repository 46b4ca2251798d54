"""``zstvg probe-layers``: which decoder layers and attention heads of a frozen MLLM ground each
sample (pointing, attention mass in the GT box, and the method's track choice, per (layer, head),
per layer and per layer range). The options below become one call of
:func:`zstvg.grounding.probe_layers.probe_layers`; ``zstvg choose-layers`` turns its output
into a recommended range.
"""

from __future__ import annotations

import argparse

from zstvg.config.params import Params
from zstvg.grounding.probe_layers import probe_layers
from zstvg.jobs import shards


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from zstvg.files.samples import add_sample_id_argument

    parser.add_argument(
        "--samples", required=True, metavar="PATH", help="samples.jsonl from prepare-data"
    )
    parser.add_argument(
        "--frames", required=True, metavar="PATH", help="manifest.json of sample-frames"
    )
    parser.add_argument(
        "--proposals",
        required=True,
        metavar="PATH",
        help="manifest.json of propose or import-proposals (the tracks the method chooses from)",
    )
    parser.add_argument(
        "--model", required=True, metavar="NAME", help="a key of `models` in params"
    )
    add_sample_id_argument(parser)
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder: <name>.npz and <name>.json per sample + manifest.json; a rerun "
        "reuses every sample whose record has this job's hash",
    )
    shards.add_arguments(parser, "their samples' files", merges="the manifest")


def run(args: argparse.Namespace, params: Params) -> int:
    return probe_layers(
        params=params,
        samples=args.samples,
        frames=args.frames,
        proposals=args.proposals,
        model=args.model,
        out=args.out,
        sample_ids=args.sample_ids,
        shard=args.shard,
        merge=args.merge,
        show_progress=not args.no_progress,
    )
