"""The three evaluation protocols (docs/method.md#evaluation-protocols) and the dataset-level
summary.

Where they differ is tabulated in the docstring of :mod:`zstvg.evaluation`. Each protocol is a
pure function ``(sample, prediction or None) -> SampleScore``; :func:`evaluate` scores every
sample of the sample list (a sample with no prediction is never skipped silently) and averages.

Rules matched, with their sources:

- ``tubedetr`` follows antoyang/TubeDETR ``datasets/hcstvg_eval.py`` / ``vidstg_eval.py``:
  grid = ``grid_frame_idx(clip_span, fps, grid_fps, max_frames)`` (first frame kept, then a frame
  whenever ``int(f * grid_fps / fps)`` increases, subsampled to ``frames[j * n // max]`` above
  ``max`` frames); GT frames = grid frames in ``[gt_start, gt_end)``; tIoU on native indices,
  half-open (``inter / (len_gt + len_pred - inter)``, 0 when ``min_end <= max_start``);
  vIoU = sum of IoU over grid frames in ``[max_start, min_end)`` / ``max(1, #grid frames in
  [min_start, max_end))``; gt_vIoU = mean IoU over all GT grid frames whatever the predicted span;
  ``@R`` is ``> R``; means over samples; VidSTG averaged per query type. TubeDETR raises on a
  missing prediction; here it scores 0 and is counted in ``n_missing``.
- ``official`` follows tzhhhh123/HC-STVG ``eval_hcvg.py``: every native frame; predicted boxes are
  those of the predicted span (the challenge format stores boxes for ``st_frame..ed_frame`` only);
  union = ``max(ed) - min(st) + 1`` with inclusive ends (= the half-open union length);
  vIoU = sum of IoU over GT frames that have a predicted box / union; "tIoU" = number of those
  frames / union; a missing video scores 0. gt_vIoU is not in that script: we report the mean IoU
  over all GT frames using every predicted box.
- ``seed`` follows zaiquanyang/LLaVA_Next_STVG ``custom_infer/STVG/datasets/evaluation/
  {hcstvg,vidstg}_eval.py`` as driven by ``hc_*.py``: frames on a 1/10 grid (every 10th native
  frame, where their proposals live), spans turned into inclusive grid positions; HC-STVG union
  ``range(min_start, max_end + 1)`` (inclusive), VidSTG ``range(min_start, max_end)`` on the same
  inclusive values; tIoU with their ``end - start`` lengths on inclusive ends; a GT frame without a
  predicted box is skipped (adds 0); samples whose inference raised are dropped (``continue`` in
  ``hc_*.py``), as are the four hard-excluded HC-STVG videos. For comparison only: the output
  carries a ``note``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zstvg.evaluation.metrics import FrameBoxes, frame_ious, in_span, recall_at, temporal_iou
from zstvg.files.records import QTYPES, Prediction, Sample, Span, Status

log = logging.getLogger(__name__)

PROTOCOLS = ("tubedetr", "official", "seed")

# zaiquanyang/LLaVA_Next_STVG custom_infer/STVG/datasets/hcstvg.py: two videos skipped in
# load_data ("119_E-6ruyZFfZs.mkv"; "331_phrYEKv0rmw.mp4", for which G-DINO found no box) and two
# removed by clean_miss() ("10__Gvp-cj3bmIY.mp4", "1_aMYcLyh9OhU.mkv").
SEED_EXCLUDED_VIDEOS = (
    "119_E-6ruyZFfZs.mkv",
    "331_phrYEKv0rmw.mp4",
    "10__Gvp-cj3bmIY.mp4",
    "1_aMYcLyh9OhU.mkv",
)
SEED_GRID_STEP = 10  # the released code scores on every 10th native frame
SEED_NOTE = (
    "seed protocol: reproduces the authors' released scoring (1/10 frame grid, inclusive union "
    "on HC-STVG, failed/missing samples and 4 hard-excluded videos dropped from the means) for "
    "comparison only; not comparable with the field's numbers (use tubedetr)"
)

GridFn = Callable[..., Sequence[int]]


@dataclass(frozen=True)
class SampleScore:
    """One sample's scores under one protocol. NaN box scores mean "no GT boxes"."""

    sample_id: str
    video_id: str
    qtype: str
    status: str  # ok | missing | failed | dropped
    reason: str = ""
    t_iou: float = 0.0
    v_iou: float = 0.0
    gt_v_iou: float = 0.0
    n_frames_scored: int = 0  # grid (or native) frames the protocol looked at
    n_gt_frames: int = 0
    n_union_frames: int = 0
    flags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def counted(self) -> bool:
        """Whether the sample enters the means (everything except ``seed``'s drops)."""
        return self.status != "dropped"


def _zero(sample: Sample, status: str, reason: str) -> SampleScore:
    box = 0.0 if sample.has_gt_boxes else math.nan
    return SampleScore(
        sample.sample_id, sample.video_id, sample.qtype, status, reason, 0.0, box, box
    )


_Scorable = tuple[Span, tuple[str, ...], FrameBoxes, FrameBoxes]


def _scorable(
    sample: Sample, pred: Prediction | None, gt: FrameBoxes | None, pb: FrameBoxes | None
) -> SampleScore | _Scorable:
    """The zero score of a missing or failed sample, or what scoring it needs: the predicted
    span, the prediction's flags, and the GT and predicted boxes as arrays (given ones win over
    the records' dicts)."""
    if sample.error:
        return _zero(sample, "failed", Status("prepare-data", sample.error).reason)
    if pred is None:
        return _zero(sample, "missing", "no prediction")
    if pred.error:
        return _zero(sample, "failed", pred.error)
    if pred.span is None:
        return _zero(sample, "failed", "prediction has no span")
    pb = pb if pb is not None else FrameBoxes.from_mapping(pred.boxes_xyxy)
    flags = tuple(pred.flags)
    n_outside = int(np.count_nonzero(inside_share(pb.boxes, sample.width, sample.height) < 0.5))
    if n_outside:
        flags += (f"{FLAG_PRED_OUTSIDE}:{n_outside}",)
    return (
        pred.span,
        flags,
        gt if gt is not None else FrameBoxes.from_mapping(sample.gt_boxes_xyxy),
        pb,
    )


# A predicted box with less than half its area inside the frame is flagged (per-sample flags,
# the metrics' count): it still scores as given, but [-5000, -5000, 50000, 50000] on a 640 x 480
# frame (0.01% inside) is a wrong coordinate system, not a detection.
FLAG_PRED_OUTSIDE = "pred_box_outside_frame"
MIN_INSIDE = 0.5


def inside_share(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """The share of each (N, 4) xyxy box's area inside the frame [0, width] x [0, height]; a box
    of zero area (a point or a line) counts 1 when it lies in the frame, else 0."""
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1) * (y2 - y1)
    inter = np.clip(np.minimum(x2, width) - np.maximum(x1, 0), 0, None) * np.clip(
        np.minimum(y2, height) - np.maximum(y1, 0), 0, None
    )
    in_frame = (x1 >= 0) & (y1 >= 0) & (x2 <= width) & (y2 <= height)
    return np.where(area > 0, inter / np.where(area > 0, area, 1), in_frame.astype(np.float64))


def _scored(
    sample: Sample,
    t_iou: float,
    n_frames_scored: int,
    gt_frames: np.ndarray,
    union: int,
    flags: tuple[str, ...],
    ious: np.ndarray | None = None,
    inter: np.ndarray | None = None,
) -> SampleScore:
    """An "ok" score. vIoU = sum of ``ious[inter]`` (IoU on the GT frames the protocol counts as
    intersection) / union, gt_vIoU = mean of ``ious``; both NaN without ``ious`` (no GT boxes)."""
    v = gt_v = math.nan
    if ious is not None:
        v = float(ious[inter].sum()) / max(union, 1)
        gt_v = float(ious.sum()) / max(len(gt_frames), 1)
    return SampleScore(
        sample.sample_id,
        sample.video_id,
        sample.qtype,
        "ok",
        "",
        t_iou,
        v,
        gt_v,
        n_frames_scored,
        len(gt_frames),
        union,
        flags,
    )


def score_tubedetr(
    sample: Sample,
    pred: Prediction | None,
    grid: np.ndarray,
    gt: FrameBoxes | None = None,
    pb: FrameBoxes | None = None,
) -> SampleScore:
    """TubeDETR's per-video scores on the given evaluation grid (native frame indices)."""
    if isinstance(ready := _scorable(sample, pred, gt, pb), SampleScore):
        return ready
    (ps, pe), flags, gt, pb = ready
    gs, ge = sample.gt_span
    t = temporal_iou((ps, pe), (gs, ge))
    gt_frames = grid[in_span(grid, gs, ge)]
    union = int(np.count_nonzero(in_span(grid, min(ps, gs), max(pe, ge))))
    if not sample.has_gt_boxes:
        return _scored(sample, t, len(grid), gt_frames, union, flags)
    n_missing_gt = int(np.count_nonzero(~gt.lookup(gt_frames)[0]))
    if n_missing_gt:
        flags += (f"gt_box_missing:{n_missing_gt}",)
    ious = frame_ious(gt_frames, pb, gt)
    inter = in_span(gt_frames, max(ps, gs), min(pe, ge))
    return _scored(sample, t, len(grid), gt_frames, union, flags, ious, inter)


def score_official(
    sample: Sample,
    pred: Prediction | None,
    gt: FrameBoxes | None = None,
    pb: FrameBoxes | None = None,
) -> SampleScore:
    """The HC-STVG challenge evaluator's per-video scores on every native frame."""
    gs, ge = sample.gt_span
    if isinstance(ready := _scorable(sample, pred, gt, pb), SampleScore):
        return ready
    (ps, pe), flags, gt, pb = ready
    # max(ed) - min(st) + 1 with inclusive ends == max(end) - min(start) with half-open ends.
    union = max(pe, ge) - min(ps, gs)
    gt_frames = gt.frames[in_span(gt.frames, gs, ge)]
    if not sample.has_gt_boxes:
        gt_frames = np.arange(gs, ge, dtype=np.int64)
    in_pred = in_span(gt_frames, ps, pe) & pb.lookup(gt_frames)[0]
    t = float(np.count_nonzero(in_pred)) / max(union, 1)
    if not sample.has_gt_boxes:
        return _scored(sample, t, union, gt_frames, union, flags)
    ious = frame_ious(gt_frames, pb, gt)
    return _scored(sample, t, union, gt_frames, union, flags, ious, in_pred)


def seed_excluded(sample: Sample) -> bool:
    """Whether the released code hard-excludes this sample's video."""
    names = {sample.video_id, os.path.basename(sample.video_path)}
    stems = {os.path.splitext(n)[0] for n in names} | names
    excluded = set(SEED_EXCLUDED_VIDEOS) | {os.path.splitext(v)[0] for v in SEED_EXCLUDED_VIDEOS}
    return bool(stems & excluded)


def _seed_positions(span: Span, clip_start: int) -> tuple[int, int]:
    """Half-open native span -> inclusive positions on the 1/10 grid (first, last)."""
    s, e = span
    first = -((clip_start - s) // SEED_GRID_STEP)  # ceil((s - c0) / 10)
    last = (e - 1 - clip_start) // SEED_GRID_STEP
    return first, last


def score_seed(
    sample: Sample,
    pred: Prediction | None,
    inclusive_union: bool,
    gt: FrameBoxes | None = None,
    pb: FrameBoxes | None = None,
) -> SampleScore:
    """The released code's per-video scores (see the module docstring)."""
    if seed_excluded(sample):
        return _zero(sample, "dropped", "hard-excluded video in the released code")
    if isinstance(ready := _scorable(sample, pred, gt, pb), SampleScore):
        return SampleScore(
            **{**ready.__dict__, "status": "dropped", "reason": f"{ready.status}: {ready.reason}"}
        )
    span, flags, gt, pb = ready
    c0, c1 = sample.clip_span
    gs, ge = _seed_positions(sample.gt_span, c0)
    ps, pe = _seed_positions(span, c0)
    max_start, min_end = max(gs, ps), min(ge, pe)
    min_start, max_end = min(gs, ps), max(ge, pe)
    if min_end <= max_start:
        t = 0.0
    else:
        inter = min_end - max_start
        t = inter / ((ge - gs) + (pe - ps) - inter)
    extra = 1 if inclusive_union else 0
    union = max(max_end + extra - min_start, 0)
    grid = np.arange(c0, c1, SEED_GRID_STEP, dtype=np.int64)
    pos = (grid - c0) // SEED_GRID_STEP
    gt_frames = grid[(pos >= gs) & (pos <= ge)]
    gt_pos = (gt_frames - c0) // SEED_GRID_STEP
    if not sample.has_gt_boxes:
        return _scored(sample, t, len(grid), gt_frames, union, flags)
    ious = frame_ious(gt_frames, pb, gt)
    counted = (gt_pos >= max_start) & (gt_pos < min_end + extra)
    return _scored(sample, t, len(grid), gt_frames, union, flags, ious, counted)


def is_vidstg(dataset: str, samples: Iterable[Sample]) -> bool:
    """VidSTG results are reported per query type: decided by the dataset name (``vidstg*``) or
    by any sample being interrogative (only VidSTG has interrogative queries)."""
    return dataset.lower().startswith("vidstg") or any(s.qtype == "interrogative" for s in samples)


def threshold_key(t: float) -> str:
    """The metrics key of vIoU@R at threshold ``t`` (0.3 -> \"vIoU@0.3\")."""
    return f"vIoU@{t:g}"


def summarize(scores: Sequence[SampleScore], thresholds: Sequence[float]) -> dict[str, Any]:
    """Counts and means of one group. Box metrics are null when a counted sample has no GT
    boxes (VidSTG without VidOR box files): a partial mean would not be the field's number."""
    counted = [s for s in scores if s.counted]
    out: dict[str, Any] = {
        "n_samples": len(scores),
        "n_missing": sum(s.status == "missing" or s.reason.startswith("missing") for s in scores),
        "n_failed": sum(s.status == "failed" or s.reason.startswith("failed") for s in scores),
        "n_pred_outside_frame": sum(
            any(f.startswith(f"{FLAG_PRED_OUTSIDE}:") for f in s.flags) for s in scores
        ),
    }
    v = np.array([s.v_iou for s in counted], dtype=np.float64)
    has_boxes = bool(len(counted)) and not np.isnan(v).any()
    out["m_vIoU"] = float(v.mean()) if has_boxes else None
    for t in thresholds:
        out[threshold_key(t)] = recall_at(v, t) if has_boxes else None
    out["m_tIoU"] = float(np.mean([s.t_iou for s in counted])) if counted else None
    gt_v = np.array([s.gt_v_iou for s in counted], dtype=np.float64)
    out["gt_vIoU"] = float(gt_v.mean()) if has_boxes else None
    return out


def evaluate(
    samples: Sequence[Sample],
    predictions: Mapping[str, Prediction],
    protocol: str,
    *,
    dataset: str,
    backend: str,
    variant: str,
    grid_fps: float,
    max_grid_frames: int,
    thresholds: Sequence[float],
    grid_fn: GridFn | None = None,
    gt_boxes: Mapping[str, FrameBoxes] | None = None,
    pred_boxes: Mapping[str, FrameBoxes] | None = None,
) -> tuple[dict[str, Any], list[SampleScore]]:
    """Score every sample and build the metrics.json dict
    (docs/workflow.md#files-passed-between-steps).

    ``predictions`` must not hold ids outside ``samples`` (the CLI checks and names them).
    ``grid_fn`` defaults to :func:`zstvg.video.index.grid_frame_idx`. ``gt_boxes`` and
    ``pred_boxes`` (by sample id) replace the records' box dicts when given (the CLI loads boxes
    straight into arrays).
    """
    gtb, pdb = gt_boxes or {}, pred_boxes or {}

    def arrays(s: Sample) -> dict[str, FrameBoxes | None]:
        return {"gt": gtb.get(s.sample_id), "pb": pdb.get(s.sample_id)}

    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    scores: list[SampleScore] = []
    if protocol == "tubedetr":
        if grid_fn is None:
            from zstvg.video.index import grid_frame_idx

            grid_fn = grid_frame_idx
        cache: dict[tuple[int, int, float], np.ndarray] = {}
        for s in samples:
            key = (s.clip_span[0], s.clip_span[1], s.fps)
            if key not in cache:
                cache[key] = np.asarray(
                    grid_fn(s.clip_span, s.fps, grid_fps=grid_fps, max_frames=max_grid_frames),
                    dtype=np.int64,
                )
            scores.append(score_tubedetr(s, predictions.get(s.sample_id), cache[key], **arrays(s)))
    elif protocol == "official":
        scores = [score_official(s, predictions.get(s.sample_id), **arrays(s)) for s in samples]
    else:
        inclusive = not is_vidstg(dataset, samples)
        scores = [
            score_seed(s, predictions.get(s.sample_id), inclusive, **arrays(s)) for s in samples
        ]

    metrics: dict[str, Any] = {
        "protocol": protocol,
        "dataset": dataset,
        "backend": backend,
        "variant": variant,
    }
    total = summarize(scores, thresholds)
    if is_vidstg(dataset, samples):
        counts = ("n_samples", "n_missing", "n_failed", "n_pred_outside_frame")
        metrics.update({k: total[k] for k in counts})
        for qtype in QTYPES:
            metrics[qtype] = summarize([s for s in scores if s.qtype == qtype], thresholds)
    else:
        metrics.update(total)
    if protocol == "seed":
        n_dropped = sum(not s.counted for s in scores)
        n_excl = sum(s.reason.startswith("hard-excluded") for s in scores)
        metrics["note"] = (
            f"{SEED_NOTE}. Dropped here: {n_dropped} of {len(scores)} samples "
            f"({n_excl} hard-excluded videos)."
        )
    return metrics, scores
