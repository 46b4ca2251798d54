"""``zstvg propose``: candidate object tracks per video, in the authors' proposal format. The
options below become one call of :func:`zstvg.proposals.propose.propose`, which plans the videos
(all, ``--video-id``, or one ``--shard``), resumes finished ones, writes the proposal files and
the manifest (or merges the shards' records) and prints the summary.
"""

from __future__ import annotations

import argparse

from zstvg.config.params import Params
from zstvg.jobs import shards
from zstvg.proposals.propose import propose


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--samples",
        required=True,
        metavar="PATH",
        help="samples.jsonl from prepare-data (sample_id, video_id)",
    )
    parser.add_argument(
        "--frames",
        required=True,
        metavar="PATH",
        help="manifest.json written by sample-frames; frames and index.json "
        "per video are read from its folder",
    )
    parser.add_argument(
        "--decompositions",
        required=True,
        metavar="PATH",
        help="decompositions.jsonl from decompose (sample_id, target_class = the detector prompt)",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder: one <video>.json per video + manifest.json",
    )
    parser.add_argument(
        "--video-id",
        action="append",
        default=[],
        dest="video_ids",
        metavar="ID",
        help="only these videos (repeatable; default: all), e.g. "
        "to run the real models on one video of a benchmark",
    )
    parser.add_argument(
        "--default-class",
        default="person",
        metavar="NOUN",
        help="detector prompt when a sample has no target class "
        "(default: person, the HC-STVG target)",
    )
    shards.add_arguments(parser, "their proposal files", merges="the manifest")


def run(args: argparse.Namespace, params: Params) -> int:
    return propose(
        params=params,
        samples=args.samples,
        frames=args.frames,
        decompositions=args.decompositions,
        out=args.out,
        video_ids=args.video_ids,
        default_class=args.default_class,
        shard=args.shard,
        merge=args.merge,
        show_progress=not args.no_progress,
    )
