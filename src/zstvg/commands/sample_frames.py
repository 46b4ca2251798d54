"""``zstvg sample-frames``: decode each video once and store the frames later steps look at.

The options become one call of :func:`zstvg.video.sampling.sample_frames`, which plans the
videos, decodes them in worker processes, resumes finished ones and writes the manifest (or a
shard's entries).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from zstvg.config.params import Params
from zstvg.files.io import InputError
from zstvg.jobs import shards


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--samples",
        required=True,
        metavar="PATH",
        help="samples.jsonl from prepare-data (sample_id, video_id, video_path, fps, clip_span; "
        "samples with an 'error' are listed as failed without decoding)",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="manifest JSON to write, e.g. results/frames/synthetic/manifest.json; frames go to "
        "<its folder>/<video_id>/<frame_idx:06d>.jpg with an index.json per video",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        metavar="N",
        help="videos decoded in parallel, one process each (default: min(4, CPU count)); "
        "each decoder also uses FFmpeg threads",
    )
    # no merge: the run without --shard after the N shards resumes every video (a stat each)
    # and writes the manifest
    shards.add_arguments(parser, "their frames", merges=None)


def run(args: argparse.Namespace, params: Params) -> int:
    from zstvg.video.sampling import sample_frames

    if args.workers < 1:
        raise InputError(f"--workers: got {args.workers}; expected at least 1")
    return sample_frames(
        Path(args.samples),
        Path(args.out),
        params,
        workers=args.workers,
        shard=shards.from_args(args),
        progress=not args.no_progress,
    )
