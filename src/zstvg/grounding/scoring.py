"""The scoring core of the method (docs/method.md#track-and-frame-scores): pure functions of arrays,
no model in here.

Shapes: an attention map stack is ``(n_tokens, t, h, w)`` (heads and layers already averaged);
a map of one token is ``(t, h, w)``; masks are ``(H, W)`` booleans at frame resolution. The
MLLM's temporal slot ``t`` shows one or more MLLM frames (``slot_of_frame``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from zstvg.files.records import BoxXYXY

Region = tuple[float, float, float, float]  # x0, y0, x1, y1 in frame pixels


def layer_mean(attn: np.ndarray) -> np.ndarray:
    """``(positions, layers, t, h, w)`` captured rows -> ``(positions, t, h, w)``."""
    return np.asarray(attn, dtype=np.float64).mean(axis=1)


def relative_map(query: np.ndarray, neutral: np.ndarray, eps: float) -> np.ndarray:
    """R = A(query) / (A(neutral) + eps): what the query adds over a neutral prompt.

    A map the neutral prompt shares (a token that always draws attention) divides out to ~1,
    a region only the query looks at stays high. ``eps`` (1e-4, tuned at ~720 visual tokens,
    where attention values are ~1e-3) keeps near-zero neutral cells from exploding.
    """
    if query.shape != neutral.shape:
        raise ValueError(f"query maps {query.shape} and neutral maps {neutral.shape} differ")
    return np.asarray(query, np.float64) / (np.asarray(neutral, np.float64) + eps)


def visual_activation(maps: np.ndarray) -> np.ndarray:
    """Per token, the maximum of its map over (t, h, w): ``(n_tokens,)``."""
    maps = np.asarray(maps)
    return maps.reshape(maps.shape[0], -1).max(axis=1)


def gti(maps: np.ndarray) -> int:
    """Grounding-token identification: the token with the highest visual activation (the
    first of equal ones, so the choice is deterministic)."""
    return int(np.argmax(visual_activation(maps)))


def upsample(
    map_hw: np.ndarray, height: int, width: int, region: Region | None = None
) -> np.ndarray:
    """Bilinear (align_corners=False) upsampling of one ``(h, w)`` map onto ``region`` of an
    ``(height, width)`` frame; 0 outside the region (pixels the model never saw)."""
    x0, y0, x1, y1 = region if region is not None else (0.0, 0.0, float(width), float(height))
    c0, r0 = max(0, int(round(x0))), max(0, int(round(y0)))
    c1, r1 = min(width, int(round(x1))), min(height, int(round(y1)))
    out = np.zeros((height, width), dtype=np.float64)
    if c1 <= c0 or r1 <= r0:
        return out
    import torch  # here, not at the top: predict-reference reads dense_boxes without a model

    t = torch.as_tensor(np.asarray(map_hw, dtype=np.float64))[None, None]
    up = torch.nn.functional.interpolate(
        t, size=(r1 - r0, c1 - c0), mode="bilinear", align_corners=False
    )
    out[r0:r1, c0:c1] = up[0, 0].numpy()
    return out


def masked_max(up_map: np.ndarray, mask: np.ndarray | None) -> float:
    """max over the mask's pixels of the upsampled map; -inf when the track is absent."""
    if mask is None or not mask.any():
        return -np.inf
    return float(up_map[mask].max())


def frame_scores(up_maps: Sequence[np.ndarray], masks: Sequence[np.ndarray | None]) -> np.ndarray:
    """s_f = max_{x,y} [U_f(R) * M_f] per MLLM frame; 0 where the track is absent.

    ``up_maps[f]`` is the map upsampled onto frame f, ``masks[f]`` the track's mask there (None
    when absent).
    """
    scores = np.array([masked_max(u, m) for u, m in zip(up_maps, masks, strict=True)])
    scores[~np.isfinite(scores)] = 0.0
    return scores


def track_score(up_maps: Sequence[np.ndarray], masks: Sequence[np.ndarray | None]) -> float:
    """S_k = max over the MLLM frames of the masked maximum (-inf for a track never present)."""
    values = [masked_max(u, m) for u, m in zip(up_maps, masks, strict=True)]
    return max(values, default=-np.inf)


def choose_track(scores: Mapping[int, float]) -> int:
    """The highest-scoring track id; equal scores go to the lower id (deterministic)."""
    if not scores:
        raise ValueError("no tracks to choose from")
    return max(sorted(scores), key=lambda k: scores[k])


def grow_span(scores: Sequence[float] | np.ndarray, k: int) -> tuple[int, int]:
    """The contiguous run of exactly ``min(k, T)`` frames grown from the best frame.

    Start at argmax (the earliest of equal maxima); repeatedly add the larger of the two
    neighbours of the run (a neighbour outside the clip counts -inf; an exact tie adds the
    earlier frame). Returns inclusive MLLM-frame positions ``(first, last)``. The authors'
    code stops on any tie and keeps frames_thre + 1 frames: not copied
    (docs/method.md#the-temporal-span).
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or len(s) == 0:
        raise ValueError(f"expected a non-empty 1-D frame-score profile, got shape {s.shape}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    first = last = int(np.argmax(s))
    while last - first + 1 < min(k, len(s)):
        left = s[first - 1] if first > 0 else -np.inf
        right = s[last + 1] if last + 1 < len(s) else -np.inf
        if left >= right:
            first -= 1
        else:
            last += 1
    return first, last


def topk_span(scores: Sequence[float] | np.ndarray, k: int) -> tuple[int, int]:
    """The hull of the ``k`` best frames (the paper's literal wording; ties: earlier frames)."""
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="stable")[: min(k, len(s))]
    return int(order.min()), int(order.max())


def span_to_native(first: int, last: int, bin_edges: Sequence[int]) -> tuple[int, int]:
    """Inclusive MLLM-frame positions -> the half-open native span their bins cover.

    ``bin_edges`` (``len = T + 1``, from :func:`zstvg.video.index.uniform_subset`) are the
    bins the MLLM frames were sampled from, each frame near its bin's centre: the span is
    [start of the first frame's bin, end of the last frame's bin).
    """
    return int(bin_edges[first]), int(bin_edges[last + 1])


def unreverse(map_thw: np.ndarray) -> np.ndarray:
    """A map of a time-reversed forward, back in the original frame order (flip t)."""
    return np.asarray(map_thw)[::-1].copy()


def tas_assemble(forward: np.ndarray, reversed_map: np.ndarray) -> np.ndarray:
    """TAS: the mean of the forward map and the reversed forward's map flipped back in t."""
    if forward.shape != reversed_map.shape:
        raise ValueError(f"maps differ in shape: {forward.shape} vs {reversed_map.shape}")
    return 0.5 * (np.asarray(forward, np.float64) + unreverse(reversed_map))


def slot_of_frame(frames_of_t: Sequence[Sequence[int]], frame_idx: Sequence[int]) -> list[int]:
    """The temporal slot showing each MLLM frame (Qwen's slots hold 2 frames)."""
    where = {int(f): t for t, frames in enumerate(frames_of_t) for f in frames}
    missing = [f for f in frame_idx if int(f) not in where]
    if missing:
        raise ValueError(f"frames {missing[:5]} are in no temporal slot of the visual grid")
    return [where[int(f)] for f in frame_idx]


@dataclass(frozen=True)
class DenseBoxes:
    """A track's boxes on every native frame a prediction needs (see :func:`dense_boxes`)."""

    boxes_xyxy: dict[int, BoxXYXY]
    n_interpolated: int  # frames between two of the track's boxes
    n_held: int  # span frames outside the track's extent, holding its nearest box

    @property
    def flags(self) -> tuple[str, ...]:
        return (("boxes_interpolated",) if self.n_interpolated else ()) + (
            (f"boxes_held:{self.n_held}",) if self.n_held else ()
        )


# Dense boxes are written rounded to 1/100 pixel: a box IoU moves by < 1e-3 even
# for a 10 px box, and a dense prediction file shrinks ~2x (full float64 reprs are ~18 chars).
BOX_DECIMALS = 2


def dense_boxes(
    boxes: Mapping[int, Sequence[float]], span: tuple[int, int], clip_span: tuple[int, int]
) -> DenseBoxes:
    """The chosen track's box on every native frame where it exists within the clip, and on
    every frame of the predicted ``span``.

    Between two of its boxes (proposal frames: every 6th or 10th native frame) the box is
    interpolated linearly; on span frames before its first or after its last box it holds the
    nearest one. Every released evaluator can then be fed: HC-STVG's challenge script counts a
    GT frame only when it has a predicted box (every native frame of the span), TubeDETR's
    raises on any 5 fps GT frame without a box, whatever the span, and a protocol's
    ``gt_vIoU`` sees the track on GT frames outside the predicted span.
    """
    c0, c1 = int(clip_span[0]), int(clip_span[1])
    known = sorted(f for f in boxes if c0 <= f < c1)
    if not known:
        return DenseBoxes({}, 0, 0)
    extent = np.arange(known[0], known[-1] + 1)
    in_span = np.arange(max(span[0], c0), min(span[1], c1))
    frames = np.union1d(extent, in_span)
    coords = np.asarray([boxes[f] for f in known], dtype=np.float64)
    dense = np.stack([np.interp(frames, known, coords[:, c]) for c in range(4)], axis=1)
    own = np.isin(frames, known)
    dense[own] = coords[np.searchsorted(known, frames[own])]
    dense = np.round(dense, BOX_DECIMALS)
    held = (frames < known[0]) | (frames > known[-1])
    out = {
        int(f): (float(b[0]), float(b[1]), float(b[2]), float(b[3]))
        for f, b in zip(frames.tolist(), dense.tolist(), strict=True)
    }
    return DenseBoxes(out, int((~own & ~held).sum()), int(held.sum()))
