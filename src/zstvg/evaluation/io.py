"""What ``zstvg evaluate`` (and export-predictions, visualize) read and write: the samples and
predictions of a run, read side by side for large files, and the per-sample CSV
(``<protocol>.per_sample.csv``: one row per sample, missing and failed ones with their reason)."""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from zstvg.evaluation.metrics import FrameBoxes
from zstvg.evaluation.protocols import SampleScore
from zstvg.files.box_maps import BoxArrays, empty_boxes
from zstvg.files.frames import FrameStore
from zstvg.files.io import InputError, atomic_open, gc_paused
from zstvg.files.predictions import check_sample_ids, read_checked_records, read_prediction_records
from zstvg.files.records import Prediction, Sample, first_failure
from zstvg.files.samples import read_sample_rows_and_boxes, sample_status

log = logging.getLogger(__name__)


def load_samples(
    path: str | Path, frames: FrameStore | None = None
) -> tuple[list[Sample], dict[str, FrameBoxes]]:
    """Samples plus their GT boxes as arrays (the Sample records keep an empty box dict: the
    per-box tuples would cost more than the whole evaluation).

    With the frames manifest, a sample sample-frames failed carries that failure (scored 0
    with its reason even when a prediction exists) and GT boxes are rescaled where the
    annotation's frame size differs from the video's by a uniform ratio.
    """
    samples, boxes = [], {}
    for row, arrays in read_sample_rows_and_boxes(path):
        gt = FrameBoxes(*arrays)
        sample = Sample.from_json({**row, "gt_boxes_xyxy": {}})
        if frames is not None:
            status = first_failure(sample_status(sample), frames.sample_status(sample.sample_id))
            if status is not None and sample.error is None:
                sample = replace(sample, error=status.reason)
            scale = frames.gt_scale_xy(sample.sample_id)
            if scale is not None:
                gt = gt.scaled(*scale)
                # the decoded frame's size, which the predicted boxes are in
                width, height = round(sample.width * scale[0]), round(sample.height * scale[1])
                flags = (*sample.flags, "gt_boxes_rescaled")
                sample = replace(sample, width=width, height=height, flags=flags)
        boxes[sample.sample_id] = gt
        samples.append(sample)
    return samples, boxes


def load_predictions(
    path: str | Path, sample_ids: Sequence[str]
) -> tuple[dict[str, Prediction], dict[str, FrameBoxes]]:
    """Read and check a predictions file (:mod:`zstvg.files.predictions`).

    Returns the records (without their boxes) and the predicted boxes as arrays.
    """
    return _predictions(read_prediction_records(path, sample_ids))


def _predictions(
    checked: Mapping[str, tuple[dict[str, Any], BoxArrays]],
) -> tuple[dict[str, Prediction], dict[str, FrameBoxes]]:
    preds, boxes = {}, {}
    for sid, (rec, arrays) in checked.items():
        boxes[sid] = FrameBoxes(*arrays)
        preds[sid] = Prediction.from_json(sid, {**rec, "boxes_xyxy": {}})
    return preds, boxes


_Packed = tuple[list[Sample], np.ndarray, np.ndarray, list[int]]


def _read_samples_packed(path: str, frames: FrameStore | None) -> _Packed:
    """The second process's work: :func:`load_samples`, the GT boxes of all samples sent back
    in two arrays plus a count per sample (two arrays pickle in milliseconds; 10,000 small
    ones would cost more than the read saves)."""
    with gc_paused():
        samples, boxes = load_samples(path, frames)
    empty = empty_boxes()
    gt = [boxes[s.sample_id] for s in samples]
    return (
        samples,
        np.concatenate([empty.frame_idx, *(b.frames for b in gt)]),
        np.concatenate([empty.boxes_xyxy, *(b.boxes for b in gt)]),
        [len(b.frames) for b in gt],
    )


def _unpack(packed: _Packed) -> tuple[list[Sample], dict[str, FrameBoxes]]:
    samples, frames, boxes, counts = packed
    cuts = np.cumsum(counts)[:-1]
    return samples, {
        s.sample_id: FrameBoxes(f, b)
        for s, f, b in zip(samples, np.split(frames, cuts), np.split(boxes, cuts), strict=True)
    }


def _check_not_empty(samples: Sequence[Sample], samples_path: str | Path) -> None:
    if not samples:
        raise InputError(f"{samples_path}: no samples")


def load_inputs(
    samples_path: str | Path, predictions_path: str | Path, frames: FrameStore | None = None
) -> tuple[list[Sample], dict[str, FrameBoxes], dict[str, Prediction], dict[str, FrameBoxes]]:
    """:func:`load_samples` and :func:`load_predictions` together: samples, their GT boxes,
    predictions and their boxes. Beside a large predictions file the samples are read in a
    second process meanwhile (:data:`PARALLEL_READ_BYTES`); errors are the same either way, the
    samples file's first."""
    path = Path(predictions_path)
    pool: ProcessPoolExecutor | None = None
    future: Future[_Packed] | None = None
    if path.is_file() and path.stat().st_size >= PARALLEL_READ_BYTES:
        try:
            pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            future = pool.submit(_read_samples_packed, str(samples_path), frames)
        except (OSError, NotImplementedError) as exc:  # no process semaphores (some sandboxes)
            log.info("reading %s in this process: %s", samples_path, exc)
    try:
        if future is None:
            samples, gt_boxes = load_samples(samples_path, frames)
            _check_not_empty(samples, samples_path)
            checked = read_checked_records(path)
        else:
            try:
                checked, error = read_checked_records(path), None
            except InputError as exc:  # raised after the samples file's own errors
                checked, error = {}, exc
            samples, gt_boxes = _unpack(future.result())
            _check_not_empty(samples, samples_path)
            if error is not None:
                raise error
    finally:
        if pool is not None:  # after an error in this process, the other one is not waited for
            pool.shutdown(wait=False, cancel_futures=True)
    check_sample_ids(path, checked, [s.sample_id for s in samples])
    return (samples, gt_boxes, *_predictions(checked))


def per_sample_rows(scores: Sequence[SampleScore]) -> list[dict[str, Any]]:
    return [
        {
            "sample_id": s.sample_id,
            "video_id": s.video_id,
            "qtype": s.qtype,
            "status": s.status,
            "reason": s.reason,
            "tIoU": s.t_iou,
            "vIoU": s.v_iou,
            "gt_vIoU": s.gt_v_iou,
            "n_frames_scored": s.n_frames_scored,
            "n_gt_frames": s.n_gt_frames,
            "n_union_frames": s.n_union_frames,
            "flags": ";".join(s.flags),
        }
        for s in scores
    ]


def write_per_sample(path: str | Path, scores: Sequence[SampleScore]) -> None:
    import pandas as pd

    df = pd.DataFrame(per_sample_rows(scores), columns=list(PER_SAMPLE_COLUMNS))
    with atomic_open(path, "w", encoding="utf-8", newline="") as fh:
        df.to_csv(fh, index=False)


PER_SAMPLE_COLUMNS = (
    "sample_id",
    "video_id",
    "qtype",
    "status",
    "reason",
    "tIoU",
    "vIoU",
    "gt_vIoU",
    "n_frames_scored",
    "n_gt_frames",
    "n_union_frames",
    "flags",
)


# With a predictions file this large, the samples file is read in a second process while this
# one reads the predictions. At VidSTG's test size (10,303 samples) dense predictions (a box on
# every native frame of the track and the span: 3.5 M boxes, 120 MB) take ~2.9 s of one core
# and the samples ~1.8 s; read the other way round, the predictions' read, plus the second
# process's start and the 140 MB of their arrays sent back, was the critical path (~4.2 s).
PARALLEL_READ_BYTES = 16 * 2**20
