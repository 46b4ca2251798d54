"""The ``{"<frame_idx>": [x1, y1, x2, y2]}`` maps of the samples and predictions files
(docs/workflow.md#files-passed-between-steps): one strict check, which also hands the boxes back as
arrays.

At VidSTG's test size (10,303 samples) the two files hold ~3.8 M boxes. A Python check per
number took 12.5 of the 17 s of ``zstvg evaluate``, so the common case is checked in C-level
passes (``map``, ``str.join``, numpy: ~0.9 s for 1.8 M boxes) and the per-box loop only runs to
name the first bad box. Nothing is coerced: ``"10"``, ``true`` or ``[1, 2, 3]`` in a box is an
error, not a number.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import chain
from typing import Any, NamedTuple

import numpy as np

from zstvg.files.io import InputError

# int64 holds any 18-digit number; a longer key is not a frame index of any real video.
_MAX_KEY_DIGITS = 18
_MAX_FRAME_IDX = 10**_MAX_KEY_DIGITS
_NUMBER_TYPES = {int, float}  # exactly: bool is an int subclass and must not pass


class BoxArrays(NamedTuple):
    """A frame -> box map as arrays, in the file's order."""

    frame_idx: np.ndarray  # (N,) int64
    boxes_xyxy: np.ndarray  # (N, 4) float64


def empty_boxes() -> BoxArrays:
    return BoxArrays(np.zeros(0, dtype=np.int64), np.zeros((0, 4), dtype=np.float64))


def check_box_map(boxes: Any, where: str, field: str) -> BoxArrays:
    """The map as arrays, or InputError ``<where>: field <field>[<frame>] ...`` naming the first
    bad entry: keys must be frame indices (decimal digits), values four finite numbers with
    x2 >= x1 and y2 >= y1."""
    if not isinstance(boxes, dict):
        raise InputError(f"{where}: field {field} must be an object keyed by frame index")
    if not boxes:
        return empty_boxes()
    # The keys joined once serve both the check and numpy's text parser (3.5x int() per key).
    # A key with a space adds one; an empty key parses to no number; one of 19+ digits
    # saturates at the int64 maximum; in each case the per-key test below names it.
    joined = " ".join(boxes)
    frame_idx = None
    digits = joined.replace(" ", "")
    if digits.isascii() and digits.isdigit() and len(joined) - len(digits) == len(boxes) - 1:
        frame_idx = np.fromstring(joined, dtype=np.int64, sep=" ")
    if frame_idx is None or len(frame_idx) != len(boxes) or frame_idx.max() >= _MAX_FRAME_IDX:
        bad_key = next(k for k in boxes if not _is_frame_key(k))
        raise InputError(f"{where}: field {field}: key {bad_key!r} is not a frame index")
    values = list(boxes.values())
    if (
        set(map(type, values)) == {list}
        and set(map(len, values)) == {4}
        and set(map(type, chain.from_iterable(values))) <= _NUMBER_TYPES
    ):
        arr = np.fromiter(chain.from_iterable(values), dtype=np.float64, count=4 * len(values))
        arr = arr.reshape(-1, 4)
        ok = np.isfinite(arr).all(axis=1) & (arr[:, 2] >= arr[:, 0]) & (arr[:, 3] >= arr[:, 1])
        if ok.all():
            return BoxArrays(frame_idx, arr)
    frame, box, problem = next(_bad_boxes(boxes))
    raise InputError(f"{where}: field {field}[{frame}] {problem}, got {box!r}")


def _is_frame_key(key: str) -> bool:
    return key.isascii() and key.isdigit() and len(key) <= _MAX_KEY_DIGITS


def _bad_boxes(boxes: dict[str, Any]) -> Iterator[tuple[str, Any, str]]:
    """(frame, box, what is wrong) for each bad box, in file order (the slow, naming path)."""
    for frame, box in boxes.items():
        if not (
            isinstance(box, list) and len(box) == 4 and all(type(v) in _NUMBER_TYPES for v in box)
        ):
            yield frame, box, "must be 4 numbers"
        elif not (all(map(math.isfinite, box)) and box[2] >= box[0] and box[3] >= box[1]):
            yield frame, box, "must be 4 finite numbers [x1, y1, x2, y2] with x2 >= x1, y2 >= y1"
