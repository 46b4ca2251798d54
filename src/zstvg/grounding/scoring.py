"""The scoring core of the method (DESIGN §3): pure functions of arrays, no model in here.

Shapes: an attention map stack is ``(n_tokens, t, h, w)`` (heads and layers already averaged);
a map of one token is ``(t, h, w)``; masks are ``(H, W)`` booleans at frame resolution. The
MLLM's temporal slot ``t`` shows one or more MLLM frames (``slot_of_frame``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from zstvg.structures import BoxXYXY

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
    code stops on any tie and keeps frames_thre + 1 frames: not copied (DESIGN §3).
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


def span_to_native(
    first: int, last: int, mllm_frame_idx: Sequence[int], clip_end: int
) -> tuple[int, int]:
    """Inclusive MLLM-frame positions -> a half-open native span.

    MLLM frame i stands for the bin of native frames up to the next MLLM frame (the last one's
    bin ends at the clip end): the span is [start of the first bin, end of the last bin).
    """
    frames = list(mllm_frame_idx)
    end = frames[last + 1] if last + 1 < len(frames) else clip_end
    return int(frames[first]), int(end)


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


def interpolate_boxes(
    boxes: Mapping[int, Sequence[float]], frames: Sequence[int]
) -> tuple[dict[int, BoxXYXY], bool]:
    """The track's boxes on ``frames``: its own where it has one, linearly interpolated
    between its nearest boxes before and after otherwise (no extrapolation). Also says
    whether any box was interpolated."""
    known = sorted(boxes)
    out: dict[int, BoxXYXY] = {}
    interpolated = False
    for f in frames:
        if f in boxes:
            x1, y1, x2, y2 = (float(v) for v in boxes[f])
            out[f] = (x1, y1, x2, y2)
            continue
        i = int(np.searchsorted(known, f))
        if 0 < i < len(known):
            a, b = known[i - 1], known[i]
            w = (f - a) / (b - a)
            x1, y1, x2, y2 = (
                float((1 - w) * x + w * y) for x, y in zip(boxes[a], boxes[b], strict=True)
            )
            out[f] = (x1, y1, x2, y2)
            interpolated = True
    return out, interpolated
