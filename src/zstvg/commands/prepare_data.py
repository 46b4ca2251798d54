"""``zstvg prepare-data``: read dataset annotations into the internal ``samples.jsonl``.

The options become one call of :func:`zstvg.data.prepare.prepare_data`, which loads the
annotations, marks the damaged videos' samples failed and writes the samples and their
provenance.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zstvg.config.params import Params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from zstvg.data import DATASET_FORMATS

    parser.add_argument(
        "--dataset",
        required=True,
        choices=DATASET_FORMATS.names(),
        help="annotation format: hcstvg-v1/hcstvg-v2 ({train,test}.json / {train,val}_v2.json), "
        "vidstg (raw {split}_annotations.json + VidOR box files), vidstg-tubedetr (TubeDETR's "
        "preprocessed {split}.json), synthetic (make-synthetic output, HC-STVG v2 format)",
    )
    parser.add_argument(
        "--annotations", required=True, metavar="PATH", help="the dataset's annotation JSON file"
    )
    parser.add_argument(
        "--videos",
        metavar="DIR",
        default=None,
        help="video folder (VidSTG: VidOR's video/ folder); when given, every sample's video "
        "must exist there (also found in sub-folders by file name), else that sample is marked "
        "failed; when omitted, video paths stay as the annotations name them, unchecked",
    )
    parser.add_argument(
        "--boxes",
        metavar="DIR",
        default=None,
        help="vidstg only: VidOR annotation folder with <vid>.json box files (any depth, e.g. "
        "validation/0001/<vid>.json); without it samples carry spans only (flag no_gt_boxes)",
    )
    parser.add_argument(
        "--damaged-video",
        action="append",
        default=[],
        metavar="ID",
        help="a video known to be damaged (video id, file name or file name without extension; "
        "repeatable): its samples are kept as failed and score 0 (datasets.<name>.damaged_videos)",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="output samples.jsonl (written atomically, with <out>.provenance.json beside it)",
    )


def run(args: argparse.Namespace, params: Params) -> int:
    from zstvg.data.prepare import prepare_data

    return prepare_data(
        args.dataset,
        Path(args.annotations),
        videos=None if args.videos is None else Path(args.videos),
        boxes=None if args.boxes is None else Path(args.boxes),
        damaged_videos=args.damaged_video,
        out=Path(args.out),
    )
