"""Pure metric functions: box IoU, temporal IoU, and the per-sample tube scores.

No I/O and no knowledge of protocols: `protocols.py` decides which frames count and calls these.
Boxes are absolute-pixel ``xyxy`` with continuous coordinates (area = (x2 - x1) * (y2 - y1), no
``+1``), which is what TubeDETR's ``np_box_iou`` and the HC-STVG ``iou2d`` both compute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def box_iou(pred_xyxy: np.ndarray, gt_xyxy: np.ndarray) -> np.ndarray:
    """Row-wise IoU of two (N, 4) xyxy arrays -> (N,).

    Degenerate boxes (zero or negative area on both sides, so the union is 0) score 0 rather
    than NaN: a sample must never be able to gain or lose points through a division by zero.
    """
    a = np.asarray(pred_xyxy, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(gt_xyxy, dtype=np.float64).reshape(-1, 4)
    # np.maximum(x, 0) rather than np.clip: the same values at a third of the call overhead,
    # which is what a few hundred boxes per sample cost (10,303 samples x 6 calls).
    iw = np.maximum(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0.0)
    ih = np.maximum(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0.0)
    inter = iw * ih
    area_a = np.maximum(a[:, 2] - a[:, 0], 0.0) * np.maximum(a[:, 3] - a[:, 1], 0.0)
    area_b = np.maximum(b[:, 2] - b[:, 0], 0.0) * np.maximum(b[:, 3] - b[:, 1], 0.0)
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


class FrameBoxes:
    """Boxes keyed by frame as two sorted arrays (frames (N,), boxes (N, 4)).

    Lookups are ``np.searchsorted`` instead of per-frame dict access: 2,000 HC-STVG samples carry
    ~800,000 boxes, and turning each into a tuple of floats costs more than all the scoring.
    """

    __slots__ = ("frames", "boxes")

    def __init__(self, frames: np.ndarray, boxes: np.ndarray) -> None:
        self.frames = np.asarray(frames, dtype=np.int64)
        self.boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if len(self.frames) > 1 and not (self.frames[1:] > self.frames[:-1]).all():
            # files are written in frame order, so this sort (and its copies) is rarely needed
            order = np.argsort(self.frames, kind="stable")
            self.frames, self.boxes = self.frames[order], self.boxes[order]

    @classmethod
    def from_mapping(
        cls, boxes: Mapping[int, Sequence[float]] | Mapping[str, Sequence[float]]
    ) -> FrameBoxes:
        """From ``{frame: xyxy}`` with int keys (structures) or decimal-string keys (JSON)."""
        if not boxes:
            return cls(np.zeros(0, dtype=np.int64), np.zeros((0, 4)))
        frames = np.fromiter((int(f) for f in boxes), dtype=np.int64, count=len(boxes))
        arr = np.array(list(boxes.values()), dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 4:
            raise ValueError(f"boxes must be [x1, y1, x2, y2] lists, got shape {arr.shape}")
        return cls(frames, arr)

    def __len__(self) -> int:
        return len(self.frames)

    def scaled(self, sx: float, sy: float) -> FrameBoxes:
        """The boxes with x scaled by ``sx`` and y by ``sy`` (annotation -> decoded pixels)."""
        return FrameBoxes(self.frames, self.boxes * np.array([sx, sy, sx, sy]))

    def lookup(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(present mask, row index) of each of ``frames``."""
        frames = np.asarray(frames, dtype=np.int64)
        if len(self.frames) == 0:
            return np.zeros(len(frames), dtype=bool), np.zeros(len(frames), dtype=np.int64)
        idx = np.minimum(np.searchsorted(self.frames, frames), len(self.frames) - 1)
        return self.frames[idx] == frames, idx


def frame_ious(frames: np.ndarray, pred: FrameBoxes, gt: FrameBoxes) -> np.ndarray:
    """IoU per frame in ``frames``; a frame without a predicted or a GT box scores 0."""
    frames = np.asarray(frames, dtype=np.int64)
    out = np.zeros(len(frames), dtype=np.float64)
    has_p, ip = pred.lookup(frames)
    has_g, ig = gt.lookup(frames)
    both = has_p & has_g
    if both.any():
        out[both] = box_iou(pred.boxes[ip[both]], gt.boxes[ig[both]])
    return out


def in_span(frames: np.ndarray, start: int, end: int) -> np.ndarray:
    """Boolean mask of ``frames`` inside the half-open span ``[start, end)``."""
    frames = np.asarray(frames)
    return (frames >= start) & (frames < end)


def recall_at(values: np.ndarray, threshold: float) -> float:
    """Fraction of ``values`` strictly above ``threshold`` (the field's ``vIoU@R`` uses ``>``)."""
    values = np.asarray(values, dtype=np.float64)
    return float(np.mean(values > threshold)) if len(values) else 0.0
