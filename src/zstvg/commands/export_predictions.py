"""``zstvg export-predictions``: write a predictions file in a released evaluator's input format.

Reads the samples and predictions as ``zstvg evaluate`` does (same checks, same errors) and
writes what :mod:`zstvg.evaluation.export` builds: the HC-STVG challenge results JSON
(``eval_hcvg.py``) or TubeDETR's ``predictions`` / ``video_predictions``. Formats, numbering and
sources are in that module's docstring.
"""

from __future__ import annotations

import argparse
import logging

from zstvg.config.params import Params
from zstvg.evaluation.export import FORMATS, VIDEO_KEYS, export_hcstvg_challenge, export_tubedetr
from zstvg.evaluation.io import load_inputs
from zstvg.files.frames import FrameStore
from zstvg.files.io import gc_paused, write_json, write_provenance

log = logging.getLogger(__name__)


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
    cfg = params.evaluate
    frames = FrameStore(args.frames) if args.frames else None
    with gc_paused():
        samples, _, preds, pred_boxes = load_inputs(args.samples, args.predictions, frames)
        scales = {s.sample_id: frames.gt_scale_xy(s.sample_id) for s in samples} if frames else None
        if args.format == "hcstvg-challenge":
            export = export_hcstvg_challenge(
                samples,
                preds,
                pred_boxes,
                frame_base=1 if args.frame_base is None else args.frame_base,
                video_key=args.video_key,
                box_scale=scales,
                samples_file=str(args.samples),
            )
        else:
            export = export_tubedetr(
                samples,
                preds,
                pred_boxes,
                grid_fps=cfg.grid_fps,
                max_grid_frames=cfg.max_grid_frames,
                frame_base=args.frame_base,
                allow_missing=args.allow_missing,
                box_scale=scales,
                samples_file=str(args.samples),
                predictions_file=str(args.predictions),
            )
        write_json(args.out, export.payload, indent=None)
    write_provenance(
        args.out,
        step="export-predictions",
        params=params.section("evaluate") if args.format == "tubedetr" else None,
        samples=str(args.samples),
        predictions=str(args.predictions),
        format=args.format,
        frame_base=export.frame_base,
    )
    print(
        f"[{args.format}] {export.n_written} of {export.n_samples} samples -> {args.out} "
        f"(frames numbered from {export.frame_base})"
    )
    if export.left_out:
        print(
            f"{len(export.left_out)} left out (failed or no prediction"
            + ("; the released script scores them 0" if args.format == "hcstvg-challenge" else "")
            + ")"
        )
        for sid, why in export.left_out.items():
            log.info("%s left out: %s", sid, why)
    if export.missing_frames:
        n = sum(len(f) for f in export.missing_frames.values())
        print(
            f"{n} GT-tube grid frames of {len(export.missing_frames)} samples have no box "
            "(TubeDETR's evaluator raises 'No prediction for frame' on them)"
        )
        for sid, fr in export.missing_frames.items():
            log.info("%s: no box on frames %s (as written)", sid, fr)
    if export.placeholder_frames:
        print(
            f"{sum(export.placeholder_frames.values())} GT-tube grid frames of "
            f"{len(export.placeholder_frames)} samples lie outside the predicted span where the "
            "chosen track is absent: written as [0, 0, 0, 0] (IoU 0, as `evaluate` scores them)"
        )
    return 0
