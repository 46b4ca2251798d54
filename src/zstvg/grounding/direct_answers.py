"""The prompt and the answer parser of the `direct` baseline (docs/method.md, its section).

A box-decoding MLLM is asked for the target tube itself: a time span and a box per MLLM frame,
as one JSON object. This module is pure: it renders the pinned prompt of a model family and
turns the answer text into a half-open native span and an absolute-pixel box on every native
frame of it, or fails with an :class:`AnswerError` whose message names what is wrong.

Families and their documented conventions (sources in docs/method.md):

- ``qwen2.5-vl``: boxes in absolute pixels of the resized model input (``input_wh``);
- ``qwen3-vl``: boxes in relative coordinates on a 0-1000 scale.

Both answer times in seconds; seconds map to native frames through the MLLM frames' own
timestamps (``frames_t_sec``: decoded timestamps, exact for variable-rate videos too).
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zstvg.files.records import BoxXYXY, Span
from zstvg.grounding.scoring import dense_boxes

FAMILIES = ("qwen2.5-vl", "qwen3-vl")
ANSWER_FORMAT = (
    '{"start_time": <seconds>, "end_time": <seconds>, '
    '"boxes": [{"time": <seconds>, "bbox_2d": [x1, y1, x2, y2]}, ...]}'
)
QWEN3_SCALE = 1000.0  # Qwen3-VL's relative coordinates run from 0 to 1000

_PROMPT = (
    'Find the target described by this query: "{query}".\n'
    "The video shows {n} frames, at these times in seconds: {times}.\n"
    "Answer with one JSON object and nothing else, in this format:\n"
    "{answer_format}\n"
    "start_time and end_time are the times, in seconds, at which the query starts and stops "
    "holding. "
    "Give one box for every listed frame from start_time to end_time, with that frame's time. "
    "{coordinates}"
)
_COORDINATES = {
    "qwen2.5-vl": (
        "bbox_2d is the target's box in absolute pixel coordinates of the {w}x{h} frames you "
        "see: x from 0 to {w}, y from 0 to {h}."
    ),
    "qwen3-vl": (
        "bbox_2d is the target's box in relative coordinates from 0 to 1000: [0, 0] is a "
        "frame's top-left corner and [1000, 1000] its bottom-right corner. Times are on the "
        "same clock as the video's <t seconds> timestamps."
    ),
}

# Float slack when comparing answer times with frame times: 2.3 (typed by the model) and
# 23 / 10 (computed) differ by ~4e-16; 1e-6 s is far below one frame at any real rate.
_T_EPS = 1e-6
_FENCE = re.compile(r"```(?:json)?(.*?)(?:```|\Z)", re.S | re.I)  # unclosed: a cut-off answer
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_SECONDS = re.compile(r"<?\s*(\d+(?:\.\d*)?)\s*(?:s|sec|secs|seconds?)?\s*>?", re.I)
_MM_SS = re.compile(r"(\d+):(\d+(?:\.\d*)?)")
_CLOSER = {"{": "}", "[": "]"}


class AnswerError(ValueError):
    """A malformed answer; the message is one line naming what is wrong."""


@dataclass(frozen=True)
class DirectAnswer:
    """A parsed answer: a half-open native ``span`` and a box on every native frame of it."""

    span: Span
    boxes_xyxy: dict[int, BoxXYXY]
    flags: tuple[str, ...]
    raw_text: str


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"family {family!r}: expected one of {', '.join(FAMILIES)}")


def build_prompt(
    family: str, query: str, frames_t_sec: Sequence[float], input_wh: tuple[int, int]
) -> str:
    """The pinned question of ``family`` for ``query`` over the MLLM frames at ``frames_t_sec``.

    ``input_wh`` (the resized frames the model sees) enters the ``qwen2.5-vl`` prompt only:
    its boxes are in those pixels, while ``qwen3-vl``'s 0-1000 scale needs no size.
    """
    _check_family(family)
    if not frames_t_sec:
        raise ValueError("frames_t_sec: expected the times of at least one MLLM frame")
    # Two decimals: 20 frames over a 2 s clip are 0.1 s apart, which one decimal would blur.
    times = ", ".join(f"{t:.2f}" for t in frames_t_sec)
    w, h = input_wh
    return _PROMPT.format(
        query=query,
        n=len(frames_t_sec),
        times=times,
        answer_format=ANSWER_FORMAT,
        coordinates=_COORDINATES[family].format(w=w, h=h),
    )


# --- finding the JSON in the text -------------------------------------------------------------


def _scan(text: str, start: int) -> tuple[int | None, list[tuple[int, str]]]:
    """Match brackets from ``text[start]`` (``{`` or ``[``), skipping quoted strings.

    Returns the end of the balanced value (None if the text ends first or a bracket
    mismatches) and, for a text that ends first, every place where a list element closes,
    with the brackets that would close everything still open there.
    """
    stack: list[str] = []
    cuts: list[tuple[int, str]] = []
    quote, escaped = "", False
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in _CLOSER:
            stack.append(_CLOSER[ch])
        elif ch in "}]":
            if not stack or ch != stack[-1]:
                return None, []
            stack.pop()
            if not stack:
                return i + 1, []
            if stack[-1] == "]":
                cuts.append((i + 1, "".join(reversed(stack))))
    return None, cuts


def _loads(text: str) -> Any:
    """JSON, then JSON without trailing commas, then a Python literal (single quotes)."""
    for cand in (text, _TRAILING_COMMA.sub(r"\1", text)):
        try:
            return json.loads(cand)
        except (ValueError, RecursionError):
            continue
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _is_answer(obj: Any) -> bool:
    if isinstance(obj, dict):
        return bool({"boxes", "start_time", "end_time"} & obj.keys())
    return bool(obj) and isinstance(obj, list) and all(isinstance(b, dict) for b in obj)


def _find_json(text: str) -> tuple[Any, bool]:
    """The first answer-shaped JSON value in code fences, else in the whole text, and whether
    it was truncated (then its complete list elements are kept, the rest dropped)."""
    for cand in [m.group(1) for m in _FENCE.finditer(text)] + [text]:
        for start in (i for i, ch in enumerate(cand) if ch in _CLOSER):
            end, cuts = _scan(cand, start)
            if end is not None:
                obj = _loads(cand[start:end])
                if _is_answer(obj):
                    return obj, False
                continue
            for cut, closers in reversed(cuts):
                obj = _loads(cand[start:cut] + closers)
                if _is_answer(obj):
                    return obj, True
    return None, False


# --- values -----------------------------------------------------------------------------------


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AnswerError(f"{what}: {value!r} is not a number")
    if math.isnan(value):
        raise AnswerError(f"{what} is NaN")
    if math.isinf(value):
        raise AnswerError(f"{what} is infinite")
    return float(value)


def _seconds(value: Any, what: str, duration_sec: float) -> float:
    """Seconds: a number, ``"2.5"``, ``"2.5 s"``, ``"<2.5 seconds>"`` or ``"mm:ss.ff"``."""
    if value is None:
        raise AnswerError(f"{what} is missing")
    if isinstance(value, str):
        if m := _MM_SS.fullmatch(value.strip()):
            value = 60 * int(m.group(1)) + float(m.group(2))
        elif m := _SECONDS.fullmatch(value.strip()):
            value = float(m.group(1))
    t = _number(value, what)
    if not 0.0 <= t <= duration_sec + _T_EPS:
        raise AnswerError(f"{what} {t:g} s is outside the video [0, {duration_sec:g}] s")
    return t


def _native_box(
    coords: Any,
    family: str,
    what: str,
    input_wh: tuple[int, int],
    native_wh: tuple[int, int],
) -> tuple[BoxXYXY, bool]:
    """One answer box -> native pixels, clipped to the frame; and whether it was clipped."""
    if not isinstance(coords, list | tuple) or len(coords) != 4:
        raise AnswerError(f"{what}: bbox_2d {coords!r} is not [x1, y1, x2, y2]")
    x1, y1, x2, y2 = (_number(c, f"{what}: a coordinate") for c in coords)
    if family == "qwen3-vl":
        bad = [c for c in (x1, y1, x2, y2) if not 0.0 <= c <= QWEN3_SCALE]
        if bad:
            raise AnswerError(f"{what}: coordinate {bad[0]:g} is outside qwen3-vl's 0-1000 scale")
        in_w, in_h = QWEN3_SCALE, QWEN3_SCALE
    else:
        in_w, in_h = float(input_wh[0]), float(input_wh[1])
    if x2 <= x1 or y2 <= y1:
        raise AnswerError(f"{what}: bbox_2d {[x1, y1, x2, y2]} has x2 <= x1 or y2 <= y1")
    w, h = native_wh
    # Multiply before dividing: 448 * 640 / 448 is exactly 640, 448 * (640 / 448) is not.
    box: BoxXYXY = (x1 * w / in_w, y1 * h / in_h, x2 * w / in_w, y2 * h / in_h)
    x_max, y_max = float(w), float(h)
    clipped: BoxXYXY = (
        min(max(box[0], 0.0), x_max),
        min(max(box[1], 0.0), y_max),
        min(max(box[2], 0.0), x_max),
        min(max(box[3], 0.0), y_max),
    )
    if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
        raise AnswerError(f"{what}: bbox_2d {[x1, y1, x2, y2]} lies wholly outside the frame")
    return clipped, clipped != box


def _span(start_sec: float, end_sec: float, frames_t_sec: np.ndarray, edges: list[int]) -> Span:
    """Seconds -> the half-open native span (docs/method.md#the-direct-box-decoding-baseline).

    MLLM frame j stands for its bin, native frames [``edges[j]``, ``edges[j + 1]``) (the
    method's bins; by default from the frame up to the next one, the last up to the video's
    end). The span is the union of the bins of the MLLM frames whose time
    lies in [``start_sec``, ``end_sec``]: from the first frame at or after ``start_sec`` to the
    end of the bin holding ``end_sec``. With no frame inside (an event between two frames, or
    before the first), it is the one bin holding ``end_sec`` (the first bin).
    """
    first = int(np.searchsorted(frames_t_sec, start_sec - _T_EPS, side="left"))
    last = max(int(np.searchsorted(frames_t_sec, end_sec + _T_EPS, side="right")) - 1, 0)
    return edges[min(first, last)], edges[last + 1]


def parse_answer(
    text: str,
    family: str,
    *,
    frames_t_sec: Sequence[float],
    mllm_frame_idx: Sequence[int],
    input_wh: tuple[int, int],
    native_wh: tuple[int, int],
    n_frames: int,
    fps: float,
    mllm_bins: Sequence[int] | None = None,
) -> DirectAnswer:
    """The span and the dense boxes of an answer to :func:`build_prompt`; AnswerError if it is
    malformed.

    A box is placed on the MLLM frame nearest its time (the earlier of two equally near: Qwen3-VL
    labels each 2-frame slot with its mean time), interpolated linearly between boxed frames
    and held before the first and after the last within the span. Boxes outside the span,
    and later boxes on an already boxed frame, are dropped and flagged. ``mllm_bins`` (len T + 1)
    are the native bin edges the MLLM frames stand for, the method's; by default each frame's
    bin runs up to the next frame.
    """
    _check_family(family)
    times = np.asarray(frames_t_sec, dtype=np.float64)
    frame_idx = [int(f) for f in mllm_frame_idx]
    if not len(times) == len(frame_idx) > 0 or np.any(np.diff(times) <= 0):
        raise ValueError("frames_t_sec, mllm_frame_idx: expected equal, non-empty, rising lists")
    if n_frames <= 0 or not fps > 0:
        raise ValueError(f"n_frames {n_frames}, fps {fps}: expected positive numbers")
    duration_sec = n_frames / fps
    edges = [*frame_idx, n_frames] if mllm_bins is None else [int(b) for b in mllm_bins]
    if len(edges) != len(frame_idx) + 1 or any(
        not a <= f < b for a, f, b in zip(edges, frame_idx, edges[1:], strict=False)
    ):
        raise ValueError(f"mllm_bins {edges}: expected T + 1 edges around the MLLM frames")
    obj, truncated = _find_json(text)
    if obj is None:
        raise AnswerError("no complete JSON answer (start_time, end_time, boxes) in the text")
    fields: dict[str, Any] = {"boxes": obj} if isinstance(obj, list) else obj
    items = fields.get("boxes")
    if not isinstance(items, list) or not items:
        raise AnswerError("no boxes in the answer")
    boxes: list[tuple[float, BoxXYXY]] = []
    n_clipped = 0
    for k, item in enumerate(items, 1):
        if not isinstance(item, dict) or "time" not in item:
            raise AnswerError(f"box {k}: {item!r} has no time")
        t = _seconds(item["time"], f"box {k}: time", duration_sec)
        coords = item.get("bbox_2d", item.get("bbox"))
        box, clipped = _native_box(coords, family, f"box {k} ({t:g} s)", input_wh, native_wh)
        boxes.append((t, box))
        n_clipped += clipped
    flags = ["answer_truncated"] if truncated else []
    if "start_time" not in fields and "end_time" not in fields:
        start_sec, end_sec = min(t for t, _ in boxes), max(t for t, _ in boxes)
        flags.append("span_from_boxes")
    else:
        start_sec = _seconds(fields.get("start_time"), "start_time", duration_sec)
        end_sec = _seconds(fields.get("end_time"), "end_time", duration_sec)
        if end_sec < start_sec:
            raise AnswerError(f"end_time {end_sec:g} s is before start_time {start_sec:g} s")
    span = _span(start_sec, end_sec, times, edges)
    by_frame: dict[int, BoxXYXY] = {}
    n_outside = n_repeated = 0
    for t, box in boxes:
        f = frame_idx[int(np.argmin(np.abs(times - t)))]
        if not span[0] <= f < span[1]:
            n_outside += 1
        elif f in by_frame:
            n_repeated += 1
        else:
            by_frame[f] = box
    if not by_frame:
        raise AnswerError(
            f"no box lies in the span {start_sec:g}-{end_sec:g} s (native frames "
            f"[{span[0]}, {span[1]}))"
        )
    dense = dense_boxes(by_frame, span, span)
    counts = [("boxes_clipped", n_clipped), ("boxes_outside_span", n_outside)]
    counts.append(("boxes_repeated", n_repeated))
    flags += [f"{name}:{n}" for name, n in counts if n]
    return DirectAnswer(span, dense.boxes_xyxy, (*flags, *dense.flags), text)
