"""Pure metric functions: box IoU, temporal IoU, and the per-sample tube scores.

No I/O and no knowledge of protocols: `protocols.py` decides which frames count and calls these.
Boxes are absolute-pixel ``xyxy`` with continuous coordinates (area = (x2 - x1) * (y2 - y1), no
``+1``), which is what TubeDETR's ``np_box_iou`` and the HC-STVG ``iou2d`` both compute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

BoxMap = Mapping[int, Sequence[float]]


def box_iou(pred_xyxy: np.ndarray, gt_xyxy: np.ndarray) -> np.ndarray:
    """Row-wise IoU of two (N, 4) xyxy arrays -> (N,).

    Degenerate boxes (zero or negative area on both sides, so the union is 0) score 0 rather
    than NaN: a sample must never be able to gain or lose points through a division by zero.
    """
    a = np.asarray(pred_xyxy, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(gt_xyxy, dtype=np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0.0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0.0, None)
    inter = iw * ih
    area_a = np.clip(a[:, 2] - a[:, 0], 0.0, None) * np.clip(a[:, 3] - a[:, 1], 0.0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0.0, None) * np.clip(b[:, 3] - b[:, 1], 0.0, None)
    union = area_a + area_b - inter
    out = np.zeros(len(a), dtype=np.float64)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def temporal_iou(pred_span: tuple[int, int], gt_span: tuple[int, int]) -> float:
    """IoU of two half-open frame spans ``[start, end)``; an empty or inverted span scores 0."""
    ps, pe = pred_span
    gs, ge = gt_span
    inter = min(pe, ge) - max(ps, gs)
    if inter <= 0 or pe <= ps or ge <= gs:
        return 0.0
    return inter / ((pe - ps) + (ge - gs) - inter)


def frame_ious(frames: np.ndarray, pred_boxes: BoxMap, gt_boxes: BoxMap) -> np.ndarray:
    """IoU per frame in ``frames``; a frame without a predicted or a GT box scores 0."""
    frames = np.asarray(frames, dtype=np.int64)
    out = np.zeros(len(frames), dtype=np.float64)
    if len(frames) == 0:
        return out
    both = [i for i, f in enumerate(frames.tolist()) if f in pred_boxes and f in gt_boxes]
    if both:
        idx = np.asarray(both)
        fs = frames[idx].tolist()
        out[idx] = box_iou(
            np.array([pred_boxes[f] for f in fs]), np.array([gt_boxes[f] for f in fs])
        )
    return out


def in_span(frames: np.ndarray, start: int, end: int) -> np.ndarray:
    """Boolean mask of ``frames`` inside the half-open span ``[start, end)``."""
    frames = np.asarray(frames)
    return (frames >= start) & (frames < end)


def recall_at(values: np.ndarray, threshold: float) -> float:
    """Fraction of ``values`` strictly above ``threshold`` (the field's ``vIoU@R`` uses ``>``)."""
    values = np.asarray(values, dtype=np.float64)
    return float(np.mean(values > threshold)) if len(values) else 0.0
