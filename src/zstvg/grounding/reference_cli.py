"""``zstvg predict-reference``: proposal-only reference predictions (oracle, largest, random)."""

from __future__ import annotations

import argparse
import logging
import random
from pathlib import Path

from zstvg.config import Params

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", required=True, help="samples.jsonl from prepare-data")
    parser.add_argument(
        "--proposals",
        required=True,
        help="directory of per-video proposal files in the authors' format (<video_id>.json)",
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
    from zstvg.grounding.reference import reference_prediction
    from zstvg.io import InputError, read_jsonl, write_json, write_provenance
    from zstvg.proposals import official_format
    from zstvg.structures import Prediction, Sample

    samples = [Sample.from_json(r) for r in read_jsonl(args.samples, what="samples file")]
    rng = random.Random(params.seed)
    # video_id -> its tracks, or the reason its proposal file could not be read
    cache: dict[str, list | str] = {}
    preds = {}
    for sample in samples:
        if sample.video_id not in cache:
            path = Path(args.proposals) / f"{sample.video_id}.json"
            try:
                cache[sample.video_id] = list(official_format.read(path).tracks)
            except InputError as exc:
                log.warning("%s", exc)
                cache[sample.video_id] = str(exc)
        tracks = cache[sample.video_id]
        if isinstance(tracks, str):
            pred = Prediction(sample.sample_id, None, error=tracks)
        else:
            pred = reference_prediction(sample, tracks, args.method, rng)
        preds[sample.sample_id] = pred.to_json()
    write_json(args.out, preds)
    failed = sorted(k for k, v in preds.items() if "error" in v)
    write_provenance(
        args.out,
        step="predict-reference",
        params={"seed": params.seed},
        method=args.method,
        samples=str(args.samples),
        proposals=str(args.proposals),
        n_failed=len(failed),
    )
    print(
        f"predict-reference ({args.method}): {len(preds)} predictions, {len(failed)} failed "
        f"-> {args.out}"
    )
    for sid in failed[:20]:
        print(f"  failed {sid}: {preds[sid]['error']}")
    return 0
