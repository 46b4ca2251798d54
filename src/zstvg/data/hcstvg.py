"""HC-STVG v1 and v2 annotations (also the synthetic benchmark, which is written as v2).

File layout (one JSON object keyed by the video file name, e.g. ``"55_vfjywN5CN0Y.mp4"``)::

    {"<name>.mp4": {"bbox": [[x, y, w, h], ...],   # one box per frame, pixels
                    "st_frame": 157,               # 1-based frame of bbox[0]
                    "st_time": 6.50, "ed_time": 11.95,  # seconds
                    "img_num": 480,                # frames in the video
                    "caption": "...",              # v2 spells it "English"
                    "width": 480, "height": 360}}  # v2: "img_size": [height, width]

Conventions, checked on the real v1 test entries (``../shared/data/hcstvg-v1``):

- every video lasts 20 s, so ``fps = img_num / 20`` (480 frames -> 24 fps);
- ``st_frame`` is 1-based: ``st_frame == floor(st_time * fps) + 1`` on all 8 sample entries, so
  ``bbox[i]`` lies on 0-based frame ``st_frame - 1 + i`` and
  ``gt_span = [st_frame - 1, st_frame - 1 + len(bbox))``;
- the evaluated part of the video is the whole video: ``clip_span = [0, img_num)``.

``sample_id`` and ``video_id`` are the file stem (``55_vfjywN5CN0Y``): one query per video, and the
stem is how the authors' proposal and decomposition files are keyed.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from zstvg.data.common import (
    FLAG_BOX_CLIPPED,
    FLAG_ST_FRAME_MISMATCH,
    VideoFinder,
    as_box4,
    as_int,
    as_number,
    box_problem,
    clip_box,
    join_errors,
    refuse_box_folder,
    require,
    require_any,
    span_problem,
    where,
    xywh_to_xyxy,
)
from zstvg.files.io import InputError, read_json
from zstvg.files.records import BoxXYXY, Sample

log = logging.getLogger(__name__)

VIDEO_DURATION_S = 20.0  # every HC-STVG video is cut to 20 s (dataset paper), fps = img_num / 20


def load_hcstvg(
    annotations: str | Path, videos: str | Path | None = None, boxes: str | Path | None = None
) -> list[Sample]:
    """Read an HC-STVG v1 or v2 annotation file (either key spelling) into samples."""
    path = Path(annotations)
    refuse_box_folder(boxes, path, "HC-STVG")
    data = read_json(path, what="HC-STVG annotation file")
    if not isinstance(data, dict):
        raise InputError(
            f"{path}: expected a JSON object keyed by video file name, got {type(data).__name__}"
        )
    find_video = VideoFinder(videos)
    samples: list[Sample] = []
    seen: dict[str, str] = {}
    for name, entry in data.items():
        sample = _entry_to_sample(path, name, entry, find_video)
        if sample.sample_id in seen:
            raise InputError(
                f"{where(path, name)}: sample_id {sample.sample_id!r} (the file stem) is also "
                f"the stem of entry {seen[sample.sample_id]}"
            )
        seen[sample.sample_id] = name
        samples.append(sample)
    return samples


def _frame_size(entry: dict[str, Any], path: Path, name: str) -> tuple[int, int]:
    """(width, height) from v1's ``width``/``height`` or v2's ``img_size`` = [height, width]."""
    if "width" in entry or "height" in entry or "img_size" not in entry:
        if "width" not in entry and "height" not in entry:
            raise InputError(
                f"{where(path, name)}: missing required key 'width' and 'height' or 'img_size'"
            )
        width = as_int(require(entry, "width", path, name), "width", path, name)
        height = as_int(require(entry, "height", path, name), "height", path, name)
        return width, height
    size = entry["img_size"]
    if not isinstance(size, list) or len(size) != 2:
        raise InputError(
            f"{where(path, name)}: field img_size must be [height, width], got {size!r}"
        )
    return as_int(size[1], "img_size[1]", path, name), as_int(size[0], "img_size[0]", path, name)


def _entry_to_sample(path: Path, name: str, entry: Any, find_video: VideoFinder) -> Sample:
    bbox = require(entry, "bbox", path, name)
    if not isinstance(bbox, list):
        raise InputError(f"{where(path, name)}: field bbox must be a list of [x, y, w, h]")
    st_frame = as_int(require(entry, "st_frame", path, name), "st_frame", path, name)
    st_time = as_number(require(entry, "st_time", path, name), "st_time", path, name)
    ed_time = as_number(require(entry, "ed_time", path, name), "ed_time", path, name)
    img_num = as_int(require(entry, "img_num", path, name), "img_num", path, name)
    query = require_any(entry, ("caption", "English"), path, name)
    if not isinstance(query, str):
        raise InputError(f"{where(path, name)}: field caption/English must be a string")
    width, height = _frame_size(entry, path, name)
    if img_num <= 0:
        raise InputError(f"{where(path, name)}: field img_num must be positive, got {img_num}")
    fps = img_num / VIDEO_DURATION_S

    start = st_frame - 1
    gt_span = (start, start + len(bbox))
    errors = []
    if ed_time <= st_time:
        kind = "empty" if ed_time == st_time else "inverted"
        errors.append(
            f"{where(path, name)}: field st_time/ed_time: {kind} time span [{st_time}, {ed_time}) s"
        )
    problem = span_problem(gt_span, img_num)
    if problem is not None:
        errors.append(f"{where(path, name)}: field st_frame/bbox: gt_span: {problem}")

    flags = []
    # Off by more than one frame means st_frame is not the 1-based frame of st_time; one frame of
    # slack absorbs floating-point rounding of st_time * fps at a frame boundary.
    expected_st_frame = math.floor(st_time * fps) + 1
    if abs(st_frame - expected_st_frame) > 1:
        log.debug(
            "%s: st_frame %d, st_time gives %d", where(path, name), st_frame, expected_st_frame
        )
        flags.append(FLAG_ST_FRAME_MISMATCH)

    boxes: dict[int, BoxXYXY] = {}
    any_clipped = False
    for i, raw in enumerate(bbox):
        xyxy = xywh_to_xyxy(as_box4(raw, f"bbox[{i}]", path, name))
        problem = box_problem(xyxy)
        if problem is not None:
            errors.append(f"{where(path, name)}: field bbox[{i}] (frame {start + i}): {problem}")
            continue
        boxes[start + i], clipped = clip_box(xyxy, width, height)
        any_clipped |= clipped
    if any_clipped:
        flags.append(FLAG_BOX_CLIPPED)

    stem = Path(name).stem
    return Sample(
        sample_id=stem,
        video_id=stem,
        video_path=find_video.path(name),
        query=query,
        qtype="declarative",
        fps=fps,
        n_frames=img_num,
        width=width,
        height=height,
        gt_span=gt_span,
        clip_span=(0, img_num),
        gt_boxes_xyxy=boxes,
        has_gt_boxes=True,
        flags=tuple(flags),
        error=join_errors(errors),
    )
