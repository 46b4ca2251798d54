"""Pure helpers shared by the dataset loaders: box conversion, clipping, span and key checks.

Everything here is independent of any file format; the loaders (``hcstvg.py``, ``vidstg.py``)
turn raw entries into :class:`zstvg.files.records.Sample` with these helpers, so the conventions
(0-based native frame indices, half-open spans, absolute ``xyxy`` floats) live in one place.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from zstvg.files.io import InputError
from zstvg.files.records import BoxXYXY, Sample, Span

# Flags a loader may attach to a Sample (Sample.flags). They describe the data, not a failure.
FLAG_BOX_CLIPPED = "box_clipped"  # at least one GT box reached outside the frame and was clipped
FLAG_NO_GT_BOXES = "no_gt_boxes"  # VidSTG without VidOR box files: temporal-only evaluation
FLAG_MISSING_GT_BOXES = "missing_gt_boxes"  # some frames of gt_span have no GT box
FLAG_GT_OUTSIDE_CLIP = "gt_span_exceeds_clip"  # gt_span reaches past clip_span (VidSTG)
FLAG_ST_FRAME_MISMATCH = "st_frame_mismatch"  # HC-STVG st_frame disagrees with st_time * fps


def where(path: Path | str, entry_id: str) -> str:
    """The location prefix of every loader message: ``<file>: entry <id>``."""
    return f"{path}: entry {entry_id}"


def require(entry: Any, key: str, path: Path | str, entry_id: str) -> Any:
    """``entry[key]``, or an InputError naming the file, the entry and the missing key."""
    if not isinstance(entry, dict):  # JSON objects load as dict (and Mapping checks are slow)
        raise InputError(
            f"{where(path, entry_id)}: expected a JSON object, got {type(entry).__name__}"
        )
    if key not in entry:
        raise InputError(f"{where(path, entry_id)}: missing required key {key!r}")
    return entry[key]


def require_any(
    entry: Mapping[str, Any], keys: Sequence[str], path: Path | str, entry_id: str
) -> Any:
    """The value of the first of ``keys`` present (alternative spellings of one field)."""
    for key in keys:
        if key in entry:
            return entry[key]
    spelled = " or ".join(repr(k) for k in keys)
    raise InputError(f"{where(path, entry_id)}: missing required key {spelled}")


def as_number(value: Any, field: str, path: Path | str, entry_id: str) -> float:
    """A JSON number as float; strings, booleans and nulls are rejected with the field named."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{where(path, entry_id)}: field {field} must be a number, got {value!r}")
    return float(value)


def as_int(value: Any, field: str, path: Path | str, entry_id: str) -> int:
    """A JSON integer (``5`` or ``5.0``); anything else is rejected with the field named."""
    number = as_number(value, field, path, entry_id)
    if number != int(number):
        raise InputError(
            f"{where(path, entry_id)}: field {field} must be an integer, got {value!r}"
        )
    return int(number)


def as_box4(value: Any, field: str, path: Path | str, entry_id: str) -> tuple[float, ...]:
    """Four numbers from a JSON list (a raw box in whatever convention the format uses)."""
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise InputError(f"{where(path, entry_id)}: field {field} must be 4 numbers, got {value!r}")
    return tuple(as_number(v, field, path, entry_id) for v in value)


def xywh_to_xyxy(box: Sequence[float]) -> BoxXYXY:
    """[x, y, w, h] (top-left corner + size, pixels) -> [x1, y1, x2, y2]."""
    x, y, w, h = (float(v) for v in box)
    return (x, y, x + w, y + h)


def box_problem(box: BoxXYXY) -> str | None:
    """Why an xyxy box cannot be a ground-truth box (non-finite, negative size), or None.

    Such a box is a sample error, not a flag: clipping would turn a negative width into
    x2 < x1 and NaN into a box that scores NaN.
    """
    if not all(math.isfinite(v) for v in box):
        return f"non-finite coordinates {list(box)}"
    if box[2] < box[0] or box[3] < box[1]:
        return f"negative size (x2 < x1 or y2 < y1) in xyxy {list(box)}"
    return None


def clip_box(box: BoxXYXY, width: int, height: int) -> tuple[BoxXYXY, bool]:
    """Clip an xyxy box to the frame [0, width] x [0, height]; also say whether it changed.

    A box lying wholly outside the frame collapses to zero area (IoU 0 with anything), which is
    what scoring it against the visible frame means.
    """
    x1, y1, x2, y2 = box
    clipped = (
        min(max(x1, 0.0), width),
        min(max(y1, 0.0), height),
        min(max(x2, 0.0), width),
        min(max(y2, 0.0), height),
    )
    return clipped, clipped != (x1, y1, x2, y2)


def span_problem(span: Span, n_frames: int) -> str | None:
    """Why a half-open frame span is unusable in an ``n_frames`` video, or None when it is fine."""
    start, end = span
    if end < start:
        return f"inverted span [{start}, {end})"
    if end == start:
        return f"empty span [{start}, {end})"
    if start < 0 or end > n_frames:
        return f"span [{start}, {end}) outside the video's frames [0, {n_frames})"
    return None


def join_errors(errors: Iterable[str]) -> str | None:
    """One ``error`` string for a sample from its problems (None when there are none)."""
    errors = [e for e in errors if e]
    return "; ".join(errors) if errors else None


class FileIndex:
    """Files under a directory by base name, built on first use (one walk of the tree).

    Datasets nest videos and box files in sub-folders that the annotations do not name
    (VidOR ``video/<folder>/<vid>.mp4``, TubeDETR's ``video/<folder>/<name>`` for HC-STVG), so a
    file is found by its name anywhere under the root.
    """

    def __init__(self, root: Path, pattern: str = "*") -> None:
        self.root = root
        self.pattern = pattern
        self._by_name: dict[str, Path] | None = None

    def find(self, name: str) -> Path | None:
        if self._by_name is None:
            self._by_name = {}
            for path in sorted(self.root.rglob(self.pattern)):
                if path.is_file():
                    self._by_name.setdefault(path.name, path)
        return self._by_name.get(name)


class VideoFinder:
    """The video path a sample records, from the path its annotation gives.

    Without ``--videos`` the annotation's own relative path is kept. With it, ``videos/rel_path``
    is used when it exists, else a file of the same name (matching ``pattern``) anywhere under
    ``videos``; when neither exists the direct path is returned and :func:`check_videos` records
    the sample as failed.
    """

    def __init__(self, videos: str | Path | None, pattern: str = "*") -> None:
        self._index = FileIndex(Path(videos), pattern) if videos is not None else None

    def path(self, rel_path: str) -> str:
        if self._index is None:
            return rel_path
        direct = self._index.root / rel_path
        if direct.is_file():
            return str(direct)
        found = self._index.find(Path(rel_path).name)
        return str(found) if found is not None else str(direct)


def refuse_box_folder(boxes: str | Path | None, path: Path, fmt: str) -> None:
    """Reject ``--boxes`` for a format whose annotation file carries its own boxes."""
    if boxes is not None:
        raise InputError(
            f"--boxes {boxes}: the {fmt} format carries its boxes in {path}; "
            "--boxes is for the raw vidstg format"
        )


def mark_damaged(samples: list[Sample], damaged: Iterable[str]) -> list[Sample]:
    """Fail the samples of videos listed as damaged (``datasets.<name>.damaged_videos``).

    An entry matches a sample's video id, its video's file name or that name without the
    extension (``v_001``, ``v_001.mkv``): its samples fail before any step decodes the video,
    and score 0 with this reason in the per-sample rows. A video that fails to
    decode is caught anyway (``sample-frames``); the list is for one known to decode to wrong or
    partial frames, so every copy of the dataset fails the same samples.
    """
    listed = set(damaged)
    if not listed:
        return samples
    out = []
    for s in samples:
        name = Path(s.video_path).name
        if listed & {s.video_id, name, Path(name).stem}:
            reason = "video listed as damaged (damaged_videos of the dataset's params)"
            s = replace(s, error=join_errors([s.error or "", reason]))
        out.append(s)
    return out


def check_queries(samples: list[Sample], annotations: Path | str) -> list[Sample]:
    """Fail the samples whose query is empty or only whitespace: the MLLM would be asked about
    nothing, and the decomposition of "" has no target class, so the sample could only score 0
    later with a misleading reason (or worse, a prediction for a query nobody asked)."""
    out = []
    for s in samples:
        if not s.query.strip():
            reason = f"{annotations}: sample {s.sample_id}: empty query (caption) {s.query!r}"
            s = replace(s, error=join_errors([s.error or "", reason]))
        out.append(s)
    return out


def check_videos(samples: list[Sample]) -> list[Sample]:
    """Mark samples whose video file does not exist as failed; the others are untouched."""
    out = []
    for s in samples:
        if not Path(s.video_path).is_file():
            missing = f"video file not found: {s.video_path}"
            s = replace(s, error=join_errors([s.error or "", missing]))
        out.append(s)
    return out
