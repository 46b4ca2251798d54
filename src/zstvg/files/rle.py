"""COCO run-length encoding of binary masks, through pycocotools.

One mask convention everywhere: a COCO RLE dict ``{"size": [height, width], "counts": str}``
(compressed counts, decoded to ASCII so it is JSON-serialisable, as Grounded-SAM-2 and the
authors' proposal files store it). Boxes of masks are absolute-pixel ``xyxy`` floats in the
continuous convention: a mask whose pixels span columns 3..5 has ``x1 = 3, x2 = 6``, so
``x2 - x1`` is the pixel width (pycocotools' ``toBbox`` semantics, and the same convention as
HC-STVG's ``[x, y, w, h]`` turned into ``[x, y, x + w, y + h]``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, TypedDict

import numpy as np
from pycocotools import mask as mask_utils

from zstvg.files.records import BoxXYXY

RLE = dict[str, Any]


class _CocoRLE(TypedDict):
    """An RLE as pycocotools' functions take it (its stubs' ``_EncodedRLE``)."""

    size: list[int]
    counts: str | bytes


def encode(mask: np.ndarray) -> RLE:
    """Encode a 2-D boolean (or 0/1) mask of shape (height, width) as a COCO RLE dict."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask (height, width), got shape {mask.shape}")
    # pycocotools wants a Fortran-ordered uint8 array; a 2-D one encodes as one RLE.
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8, copy=False)))
    return normalize(rle)


def empty(height: int, width: int) -> RLE:
    """The RLE of an all-zero mask (what a frame where the object is absent stores)."""
    return encode(np.zeros((height, width), dtype=bool))


def _coco(rle: Mapping[str, Any]) -> _CocoRLE:
    """The form pycocotools accepts: compressed counts as bytes (list counts are converted)."""
    size = [int(rle["size"][0]), int(rle["size"][1])]
    counts = rle["counts"]
    if isinstance(counts, list):  # uncompressed RLE, as COCO annotations sometimes store it
        uncompressed = {"size": size, "counts": counts}
        # pycocotools' stubs leave out the uncompressed-RLE dict that frPyObjects takes.
        return mask_utils.frPyObjects(uncompressed, size[0], size[1])  # type: ignore[call-overload]
    if isinstance(counts, str):
        counts = counts.encode()
    return {"size": size, "counts": counts}


def normalize(rle: Mapping[str, Any]) -> RLE:
    """Any COCO RLE (str, bytes or list counts) as ``{"size": [h, w], "counts": str}``."""
    coco = _coco(rle)
    counts = coco["counts"]
    text = counts.decode() if isinstance(counts, bytes) else counts
    return {"size": [int(coco["size"][0]), int(coco["size"][1])], "counts": text}


def decode(rle: Mapping[str, Any]) -> np.ndarray:
    """Decode a COCO RLE dict to a boolean mask of shape (height, width)."""
    with warnings.catch_warnings():
        # pycocotools 2.0.11 trips numpy 2's __array__(copy=...) DeprecationWarning on every
        # call; the decoded mask is correct (tests check exact round trips).
        warnings.simplefilter("ignore", DeprecationWarning)
        return mask_utils.decode(_coco(rle)).astype(bool)


def area(rle: Mapping[str, Any]) -> int:
    """Number of foreground pixels."""
    return int(mask_utils.area(_coco(rle)))


# A run length needs at most 7 chunks of 5 bits (a 4K frame has 2^23.3 pixels); more is garbage
# that would overflow the int64 shifts below.
_MAX_CHUNKS = 12


def runs(rle: Mapping[str, Any]) -> np.ndarray:
    """The run lengths (background first) that the RLE's counts encode, as pycocotools'
    ``rleFrString`` reads compressed counts: 6-bit chunks from ASCII 48, 5 value bits each,
    bit 0x20 "more chunks", 0x10 of the last chunk the sign, runs from the third on stored as
    deltas to the run two before. ValueError for counts that are no such string.

    pycocotools itself never checks that the runs add up to height x width: a short RLE
    (counts "0": one run of 0 pixels) decodes to whatever memory its mask buffer held (40,033
    foreground pixels of 200 x 200 in one run, 21,198 in the next)."""
    counts = _coco(rle)["counts"]
    raw = counts if isinstance(counts, bytes) else counts.encode()
    c = np.frombuffer(raw, np.uint8).astype(np.int64) - 48
    if c.size == 0:
        return np.zeros(0, dtype=np.int64)
    more = (c & 0x20) != 0
    if (c < 0).any() or (c > 63).any() or more[-1]:
        raise ValueError("counts are not a COCO compressed RLE string")
    ends = np.flatnonzero(~more)
    starts = np.concatenate([[0], ends[:-1] + 1])
    n_chunks = ends - starts + 1
    if n_chunks.max() > _MAX_CHUNKS:
        raise ValueError("counts are not a COCO compressed RLE string")
    k = np.arange(c.size) - np.repeat(starts, n_chunks)
    values = np.add.reduceat((c & 0x1F) << (5 * k), starts)
    values -= ((c[ends] & 0x10) != 0) << (5 * n_chunks)  # the sign: x |= -1 << 5k
    out = values.copy()
    out[1::2] = np.cumsum(values[1::2])
    out[2::2] = np.cumsum(values[2::2])
    return out


def run_problem(rle: Mapping[str, Any]) -> str | None:
    """Why the RLE's runs are no mask of its size (a negative run, or runs not covering height
    x width pixels exactly), or None when they are one."""
    try:
        lengths = runs(rle)
    except (ValueError, TypeError, KeyError) as exc:
        return f"RLE counts do not decode ({exc})"
    h, w = (int(v) for v in rle["size"])
    if (lengths < 0).any():
        return f"RLE counts hold a negative run ({int(lengths.min())})"
    if int(lengths.sum()) != h * w:
        return (
            f"RLE runs cover {int(lengths.sum())} pixels, not the {h} x {w} = {h * w} of its "
            "size (it would decode to arbitrary pixels)"
        )
    return None


def box_xyxy(rle: Mapping[str, Any]) -> BoxXYXY | None:
    """Tight box of the mask as absolute ``(x1, y1, x2, y2)``; None for an empty mask."""
    coco = _coco(rle)
    if int(mask_utils.area(coco)) == 0:
        return None
    x, y, w, h = (float(v) for v in mask_utils.toBbox(coco))
    return (x, y, x + w, y + h)


def box_pixels(box: BoxXYXY, height: int, width: int) -> np.ndarray:
    """The boolean mask of the pixels a ``xyxy`` box covers (fractional edges rounded
    outward, clipped to the frame)."""
    x1, y1, x2, y2 = box
    mask = np.zeros((height, width), dtype=bool)
    mask[
        max(0, int(np.floor(y1))) : max(0, int(np.ceil(y2))),
        max(0, int(np.floor(x1))) : max(0, int(np.ceil(x2))),
    ] = True
    return mask


def box_mask(box: BoxXYXY, height: int, width: int) -> RLE:
    """RLE of :func:`box_pixels`.

    Used where a track has a box but no mask (box trackers), so every frame still has a mask.
    """
    return encode(box_pixels(box, height, width))
