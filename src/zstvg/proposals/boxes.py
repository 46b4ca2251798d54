"""Pure box geometry for the proposal step: pairwise IoU."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zstvg.files.records import BoxXYXY


def iou_matrix(a: Sequence[BoxXYXY] | np.ndarray, b: Sequence[BoxXYXY] | np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` with every box in ``b`` (absolute xyxy), shape (len(a), len(b)).

    Degenerate boxes (zero area) have IoU 0 with everything instead of a division by zero.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
