"""Frame-index math: which native frames to look at. Pure functions, no I/O.

All indices are 0-based native frame indices (the decoder's output order, see ``decode.py``) and
spans are half-open ``[start, end)``. Two selections exist per sample:

- the MLLM frames (:func:`uniform_frame_idx`): ``n`` frames (20 in the paper) spread uniformly
  over the sample's ``clip_span``;
- the evaluation/proposal grid (:func:`grid_frame_idx`): TubeDETR's 5 fps grid, capped at 200
  frames. The ``tubedetr`` evaluation protocol imports this same function, so the frames the
  proposals are computed on and the frames the evaluator scores are one definition.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from zstvg.files.records import Span

# Float slack for time -> frame conversion: 2.3 s * 10 fps is 22.999999999999996 in binary
# floating point and must map to frame 23. 1e-6 frames is far below any real timing precision.
_FRAME_EPS = 1e-6


def _check_span(clip_span: Span) -> tuple[int, int]:
    start, end = int(clip_span[0]), int(clip_span[1])
    if start < 0 or end <= start:
        raise ValueError(
            f"clip_span {list(clip_span)}: expected a non-empty half-open span [start, end) "
            "with 0 <= start < end"
        )
    return start, end


def uniform_frame_idx(clip_span: Span, n: int) -> list[int]:
    """``n`` native frame indices spread uniformly over ``clip_span`` (the bin centres).

    The span of ``L = end - start`` frames is cut into ``n`` equal bins of ``L / n`` frames and
    the frame under each bin's centre is kept::

        idx_i = start + floor((2 i + 1) L / (2 n)),   i = 0 .. n-1

    computed in integers, so it is exact (no float rounding). Example: ``[0, 100)`` with
    ``n = 4`` gives ``[12, 37, 62, 87]``. Why centres: every kept frame stands for the same
    ``L / n`` frames of the clip (its bin), which is what a "uniform" sample means and what
    mapping a span of sampled frames back to native frames needs; the common
    ``linspace(0, L - 1, n)`` sampler (LLaVA-style) instead pins the first and last frames,
    which are often fades or cuts, and gives the end bins half the weight.

    When ``L >= n`` the bins are at least one frame wide, so the indices are strictly
    increasing (no duplicates). When the clip has fewer frames than ``n`` (``L < n``) every
    frame of the clip is returned once, ``list(range(start, end))``: the result is shorter than
    ``n``, and downstream sees ``len(result) < n`` (the sampler records it per sample) rather
    than repeated frames that would bias attention maps toward the duplicated instants.
    """
    if n < 1:
        raise ValueError(f"n: got {n}; expected at least 1 frame")
    start, end = _check_span(clip_span)
    length = end - start
    if length < n:
        return list(range(start, end))
    return [start + ((2 * i + 1) * length) // (2 * n) for i in range(n)]


def uniform_subset(
    frame_idx: Sequence[int], clip_span: Span, n: int
) -> tuple[list[int], list[int]]:
    """``n`` of the given frames inside ``clip_span``, uniformly, and the native bin each one
    stands for: ``(picked, bin_edges)``, ``len(bin_edges) == len(picked) + 1``.

    The ``G`` frames inside the clip (the 5 fps grid, or a released proposal file's
    ``sample_frames``) are cut into ``n`` equal bins of positions, as :func:`uniform_frame_idx`
    cuts native frames, and the frame at each bin's centre is picked. Picked frame ``i`` then
    stands for the native frames of its bin: from the first listed frame of the bin up to the
    first listed frame of the next bin (the clip's start and end close the first and last
    bins). A listed frame opens its own stretch of the clip (a grid frame is the first frame of
    its 1/5 s bucket), so the bins tile ``clip_span`` exactly. Example: a 30 fps clip
    ``[0, 600)`` with its 100 grid frames ``0, 6, ..., 594`` and ``n = 20`` picks
    ``12, 42, ..., 582`` and bins them ``[0, 30), [30, 60), ..., [570, 600)``: a frame stands
    for the second around it, not for the second after it (which would put every predicted span
    0.4 s late). With ``G < n`` every frame is picked and stands for its own stretch.
    """
    start, end = _check_span(clip_span)
    inside = sorted({int(f) for f in frame_idx if start <= f < end})
    if not inside:
        raise ValueError(f"no listed frame inside the clip {[start, end]}")
    g = len(inside)
    positions = uniform_frame_idx((0, g), n)
    if g < n:
        first_of_bin = list(range(g))
    else:
        first_of_bin = [(i * g) // n for i in range(n)]
    edges = [start, *(inside[p] for p in first_of_bin[1:]), end]
    return [inside[p] for p in positions], edges


def grid_frame_idx(
    clip_span: Span, fps: float, grid_fps: float = 5.0, max_frames: int = 200
) -> list[int]:
    """TubeDETR's evaluation grid over ``clip_span``: ``grid_fps`` frames per second, capped.

    Rule (antoyang/TubeDETR, ``datasets/vidstg.py`` and ``hcstvg.py``, test time): with
    ``rate = grid_fps / fps`` (computed once, as a Python float), the first frame of the span
    is kept, and frame ``f`` is kept when ``int(f * rate)`` is larger than for the previously
    kept frame, i.e. the first frame of every new 1/``grid_fps`` s bucket. At 30 fps and 5 fps
    that is every 6th frame (0, 6, 12, ...); at 25 fps every 5th; at 7.5 fps the frames
    0, 2, 3, 5, 6, 8, ... When more than ``max_frames`` are kept, they are subsampled to exactly
    ``max_frames`` by taking kept[(j * K) // max_frames] for j = 0 .. max_frames-1 (K = number
    kept), as TubeDETR's ``video_max_len`` does.

    The arithmetic is TubeDETR's own (``int(f * (grid_fps / fps))`` in float64), so the grid is
    identical to theirs, including the rare frames where float rounding moves a bucket edge by
    one frame relative to exact rational arithmetic: at fps 10.3 (206 frames in 20 s),
    ``103 * (5 / 10.3)`` is 49.99999999999999, so frame 103 stays in bucket 49 and frame 104
    opens bucket 50.

    Differences from TubeDETR, all deliberate: (1) TubeDETR asserts ``fps >= grid_fps``; here a
    video slower than the grid keeps every frame (``int(f * rate)`` then increases at every
    frame). (2) For HC-STVG TubeDETR scans ``range(0, frame_count - 1)``, never looking at the
    last frame, while ``clip_span`` here is the whole video ``[0, frame_count)``; the last frame
    is kept only when it opens a new bucket, which for 20 s HC-STVG videos
    (``frame_count = 20 * fps``, fps >= 10) never happens, so the grids agree. For VidSTG both
    scan ``[start, end)`` of ``used_segment``.
    """
    if not fps > 0:
        raise ValueError(f"fps: got {fps}; expected a positive frame rate")
    if not grid_fps > 0:
        raise ValueError(f"grid_fps: got {grid_fps}; expected a positive frame rate")
    if max_frames < 1:
        raise ValueError(f"max_frames: got {max_frames}; expected at least 1")
    start, end = _check_span(clip_span)
    rate = grid_fps / fps
    kept = [start]
    bucket = int(start * rate)
    for f in range(start + 1, end):
        b = int(f * rate)
        if b > bucket:
            kept.append(f)
            bucket = b
    if len(kept) > max_frames:
        k = len(kept)
        kept = [kept[(j * k) // max_frames] for j in range(max_frames)]
    return kept


def t_sec(frame_idx: int, fps: float) -> float:
    """Nominal start time of native frame ``frame_idx`` in seconds: ``frame_idx / fps``.

    For variable-frame-rate videos the decoder records each kept frame's pts-based time
    instead; this is the constant-rate time the annotations assume.
    """
    if not fps > 0:
        raise ValueError(f"fps: got {fps}; expected a positive frame rate")
    return frame_idx / fps


def frame_idx_at(t_sec: float, fps: float) -> int:
    """The native frame shown at time ``t_sec``: the ``f`` with ``f / fps <= t < (f + 1) / fps``.

    Inverse of :func:`t_sec` on frame starts: ``frame_idx_at(t_sec(f, fps), fps) == f``.
    """
    if not fps > 0:
        raise ValueError(f"fps: got {fps}; expected a positive frame rate")
    if t_sec < 0:
        raise ValueError(f"t_sec: got {t_sec}; expected a time >= 0")
    return math.floor(t_sec * fps + _FRAME_EPS)
