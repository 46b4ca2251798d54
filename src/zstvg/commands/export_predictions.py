"""``zstvg export-predictions``: write a predictions file in a released evaluator's input
format (the HC-STVG challenge results JSON, ``eval_hcvg.py``, or TubeDETR's ``predictions`` /
``video_predictions``). The options below become one call of
:func:`zstvg.evaluation.export.export_predictions`; formats, numbering and sources are in that
module's docstring.
"""

from __future__ import annotations

import argparse

from zstvg.config.params import Params
from zstvg.evaluation.export import FORMATS, VIDEO_KEYS, export_predictions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", required=True, help="samples.jsonl from prepare-data")
    parser.add_argument("--predictions", required=True, help="predictions JSON (as for evaluate)")
    parser.add_argument(
        "--format",
        required=True,
        choices=FORMATS,
        help="hcstvg-challenge: tzhhhh123/HC-STVG eval_hcvg.py's results JSON (inclusive "
        "st_frame/ed_frame, boxes on those frames); tubedetr: antoyang/TubeDETR's predictions "
        "('<video_id>_<frame>' -> boxes) and video_predictions (half-open sted)",
    )
    parser.add_argument("--out", required=True, help="JSON file to write (atomically)")
    parser.add_argument(
        "--frames",
        default=None,
        metavar="MANIFEST",
        help="frames manifest.json from sample-frames: samples it failed are left out, and "
        "boxes of samples whose annotation was made at another frame size are scaled back to it",
    )
    parser.add_argument(
        "--frame-base",
        type=int,
        choices=(0, 1),
        default=None,
        help="number written for our 0-based frame 0 (default: 1 for HC-STVG, whose annotation "
        "files and TubeDETR's preprocessing number from 1; 0 for VidSTG under tubedetr)",
    )
    parser.add_argument(
        "--video-key",
        choices=VIDEO_KEYS,
        default="file",
        help="hcstvg-challenge: key videos by file name (55_vfjywN5CN0Y.mp4, as the annotation "
        "files do) or by stem (55_vfjywN5CN0Y)",
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="tubedetr: write the file even when a sample has no prediction or a grid frame of "
        "its GT tube has no box (TubeDETR's evaluator raises on both), and report them",
    )


def run(args: argparse.Namespace, params: Params) -> int:
    return export_predictions(
        params=params,
        samples=args.samples,
        predictions=args.predictions,
        output_format=args.format,
        out=args.out,
        frames=args.frames,
        frame_base=args.frame_base,
        video_key=args.video_key,
        allow_missing=args.allow_missing,
    )
