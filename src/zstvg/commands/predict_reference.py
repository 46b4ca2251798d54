"""``zstvg predict-reference``: proposal-only reference predictions (oracle, largest, random)."""

from __future__ import annotations

import argparse
import logging
import random

from zstvg.config.params import Params
from zstvg.files.records import scale_gt_boxes
from zstvg.jobs.failures import print_failures

log = logging.getLogger(__name__)


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
        choices=["oracle", "largest", "random"],
        help="oracle: best-overlapping track + GT span (proposal upper bound); largest: the "
        "track with the largest mean box; random: a track chosen with the params seed",
    )
    parser.add_argument("--out", required=True, help="predictions JSON (DESIGN §4 contract)")


def run(args: argparse.Namespace, params: Params) -> int:
    from zstvg.files.frames import FrameStore
    from zstvg.files.io import InputError, write_provenance
    from zstvg.files.predictions import write_predictions
    from zstvg.files.proposals import ProposalStore
    from zstvg.files.records import Prediction, Track, first_failure
    from zstvg.files.samples import read_samples, sample_status
    from zstvg.grounding.baselines import reference_prediction

    samples = read_samples(args.samples)
    frames = FrameStore(args.frames) if args.frames else None
    proposals = ProposalStore(args.proposals)
    rng = random.Random(params.seed)
    # video_id -> its tracks, or the reason its proposal file could not be read
    cache: dict[str, list[Track] | str] = {}
    preds: dict[str, Prediction] = {}
    for sample in samples:
        upstream = first_failure(
            sample_status(sample),
            frames.sample_status(sample.sample_id) if frames else None,
            proposals.video_status(sample.video_id),
        )
        if upstream is not None:  # never recomputed: the first cause travels on
            preds[sample.sample_id] = Prediction(sample.sample_id, None, error=upstream.reason)
            continue
        if sample.video_id not in cache:
            try:
                cache[sample.video_id] = proposals.tracks(sample.video_id)
            except InputError as exc:
                log.warning("%s", exc)
                cache[sample.video_id] = f"{proposals.step}: {exc}"
        tracks = cache[sample.video_id]
        if isinstance(tracks, str):
            preds[sample.sample_id] = Prediction(sample.sample_id, None, error=tracks)
            continue
        scale = frames.gt_scale_xy(sample.sample_id) if frames else None
        preds[sample.sample_id] = reference_prediction(
            scale_gt_boxes(sample, scale), tracks, args.method, rng
        )
    write_predictions(args.out, preds)
    failed = sorted(k for k, v in preds.items() if v.error is not None)
    write_provenance(
        args.out,
        step="predict-reference",
        params={"seed": params.seed},
        method=args.method,
        samples=str(args.samples),
        frames=args.frames,
        proposals=str(proposals.manifest_path),
        n_failed=len(failed),
    )
    print(
        f"predict-reference ({args.method}): {len(preds)} predictions, {len(failed)} failed "
        f"-> {args.out}"
    )
    print_failures({sid: preds[sid].error or "" for sid in failed}, args.out)
    return 0
