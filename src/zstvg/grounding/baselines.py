"""Reference predictors built from the proposals alone, with no MLLM.

They bound and sanity-check the method: ``oracle`` picks the track that overlaps the ground
truth best and uses the ground-truth span, so its vIoU is the most any track-choosing method can
reach with these proposals (the proposal upper bound); ``largest`` and ``random`` are the
chance-level floors a grounding method must beat. A sample with no proposals (or one that failed
before this step) gets a prediction with an ``error``, which every protocol scores 0.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

import numpy as np

from zstvg.evaluation.metrics import box_iou
from zstvg.files.records import Prediction, Sample, Status, Track
from zstvg.grounding.scoring import dense_boxes

log = logging.getLogger(__name__)

METHODS = ("oracle", "largest", "random")


def track_extent(track: Track) -> tuple[int, int]:
    """Half-open span from the track's first to its last frame."""
    frames = track.frame_idx
    return (frames[0], frames[-1] + 1)


def track_gt_overlap(track: Track, sample: Sample) -> float:
    """Mean box IoU over the sample's GT frames, the track's box interpolated between its
    proposal frames (a released proposal file has one every 10th frame); GT frames outside
    the track's extent count 0."""
    gt_frames = sorted(sample.gt_boxes_xyxy)
    if not gt_frames:
        return 0.0
    extent = track_extent(track)
    dense = dense_boxes(track.boxes_xyxy, extent, sample.clip_span).boxes_xyxy
    hit = [f for f in gt_frames if f in dense]
    if not hit:
        return 0.0
    ious = box_iou(
        np.array([dense[f] for f in hit]),
        np.array([sample.gt_boxes_xyxy[f] for f in hit]),
    )
    return float(ious.sum() / len(gt_frames))


def _mean_area(track: Track) -> float:
    boxes = np.array(list(track.boxes_xyxy.values()), dtype=np.float64)
    return float(np.mean((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))


def reference_prediction(
    sample: Sample, tracks: Sequence[Track], method: str, rng: random.Random
) -> Prediction:
    """One sample's prediction by ``method`` (see module docstring)."""
    if method not in METHODS:
        raise ValueError(f"unknown reference method {method!r}; known: {', '.join(METHODS)}")
    if sample.error is not None:
        return Prediction(sample.sample_id, None, error=Status("prepare-data", sample.error).reason)
    tracks = [t for t in tracks if t.boxes_xyxy]
    if not tracks:
        return Prediction(sample.sample_id, None, error="empty proposal set")
    if method == "oracle":
        if not sample.has_gt_boxes:
            return Prediction(sample.sample_id, None, error="oracle needs GT boxes")
        # max() keeps the first of equal scores: ties go to the lower track id, deterministically.
        chosen = max(
            sorted(tracks, key=lambda t: t.track_id), key=lambda t: track_gt_overlap(t, sample)
        )
        span = sample.gt_span
    elif method == "largest":
        chosen = max(sorted(tracks, key=lambda t: t.track_id), key=_mean_area)
        span = track_extent(chosen)
    else:
        chosen = rng.choice(sorted(tracks, key=lambda t: t.track_id))
        span = track_extent(chosen)
    dense = dense_boxes(chosen.boxes_xyxy, span, sample.clip_span)
    return Prediction(
        sample.sample_id,
        span,
        dense.boxes_xyxy,
        track_id=chosen.track_id,
        flags=(f"reference:{method}", *dense.flags),
    )


def predict_reference(
    *, seed: int, samples: str, proposals: str, method: str, out: str, frames: str | None = None
) -> int:
    """The predict-reference step: every sample of ``samples`` predicted by ``method`` from the
    tracks of ``proposals`` (``random``: seeded with ``seed``); a sample that failed upstream
    (prepare-data, sample-frames when ``frames`` is given, the proposals) or whose proposal file
    cannot be read keeps that reason. Writes the predictions file ``out`` and its provenance,
    prints the summary and returns the exit code."""
    from zstvg.files.frames import FrameStore
    from zstvg.files.io import InputError
    from zstvg.files.predictions import write_predictions
    from zstvg.files.proposals import ProposalStore
    from zstvg.files.provenance import write_provenance
    from zstvg.files.records import first_failure, scale_gt_boxes
    from zstvg.files.samples import read_samples, sample_status
    from zstvg.jobs.failures import print_failures

    rows = read_samples(samples)
    store = FrameStore(frames) if frames else None
    proposal_store = ProposalStore(proposals)
    rng = random.Random(seed)
    # video_id -> its tracks, or the reason its proposal file could not be read
    cache: dict[str, list[Track] | str] = {}
    preds: dict[str, Prediction] = {}
    for sample in rows:
        upstream = first_failure(
            sample_status(sample),
            store.sample_status(sample.sample_id) if store else None,
            proposal_store.video_status(sample.video_id),
        )
        if upstream is not None:  # never recomputed: the first cause travels on
            preds[sample.sample_id] = Prediction(sample.sample_id, None, error=upstream.reason)
            continue
        if sample.video_id not in cache:
            try:
                cache[sample.video_id] = proposal_store.tracks(sample.video_id)
            except InputError as exc:
                log.warning("%s", exc)
                cache[sample.video_id] = f"{proposal_store.step}: {exc}"
        tracks = cache[sample.video_id]
        if isinstance(tracks, str):
            preds[sample.sample_id] = Prediction(sample.sample_id, None, error=tracks)
            continue
        scale = store.gt_scale_xy(sample.sample_id) if store else None
        preds[sample.sample_id] = reference_prediction(
            scale_gt_boxes(sample, scale), tracks, method, rng
        )
    write_predictions(out, preds)
    failed = sorted(k for k, v in preds.items() if v.error is not None)
    write_provenance(
        out,
        step="predict-reference",
        params={"seed": seed},
        method=method,
        samples=samples,
        frames=frames,
        proposals=str(proposal_store.manifest_path),
        n_failed=len(failed),
    )
    print(f"predict-reference ({method}): {len(preds)} predictions, {len(failed)} failed -> {out}")
    print_failures({sid: preds[sid].error or "" for sid in failed}, out)
    return 0
