"""VidSTG annotations: the raw sentence files (+ VidOR box files) and TubeDETR's preprocessed files.

**Raw** ``{split}_annotations.json`` (Guaranteer/VidSTG-Dataset): a list of entries, one per
(video, relation segment); the same ``vid`` appears in many entries (test: 4,610 entries over 732
videos)::

    {"vid": "7771650716", "frame_count": 1805, "fps": 29.97, "width": 640, "height": 360,
     "used_segment": {"begin_fid": 0, "end_fid": 479},     # the evaluated clip
     "temporal_gt": {"begin_fid": 0, "end_fid": 390},      # the target moment
     "subject/objects": [{"tid": 0, "category": "dog"}, ...],
     "captions":  [{"description": "a dog ...", "target_id": 0, "type": "object"}],
     "questions": [{"description": "what walks ...?", "target_id": 0, "type": "object"}]}

``begin_fid``/``end_fid`` are 0-based frame indices of the whole video with ``end_fid`` exclusive
(TubeDETR reads them so and checks that ``end_fid - 1`` is the last annotated box frame), so
``gt_span = [temporal_gt.begin_fid, temporal_gt.end_fid)`` and
``clip_span = [used_segment.begin_fid, used_segment.end_fid)``. In 768 of the 4,610 test entries
(1,745 of the 10,303 queries) the clip ends at ``frame_count - 1`` while the moment ends at
``frame_count``: those spans are kept as given and flagged ``gt_span_exceeds_clip``.

Each caption (declarative) and each question (interrogative) is its own sample, with
``sample_id = "<vid>:<entry index>:<qtype>:<index in captions/questions>"``, e.g.
``"7771650716:0:declarative:0"`` (the entry index makes it unique, as vids repeat).

**Boxes** come from the VidOR annotation files (``--boxes`` = the VidOR ``annotation`` folder;
files are ``{training,validation}/<folder>/<vid>.json`` and are found by name anywhere below):
``trajectories[frame_idx] = [{"tid": 0, "bbox": {"xmin", "ymin", "xmax", "ymax"}}, ...]``, one
list per frame of the whole video; the target's box on each frame of ``gt_span`` becomes the GT.
Without ``--boxes`` samples keep their spans, ``has_gt_boxes`` is False and the flag
``no_gt_boxes`` says only temporal metrics are meaningful.

**Videos** are VidOR's ``video/<folder>/<vid>.mp4``; the folder is not in the VidSTG entry but is
in the VidOR file's ``video_path`` (``"<folder>/<vid>.mp4"``). ``--videos`` is VidOR's ``video``
folder: a sample's video is ``<videos>/<video_path>`` when the box file gives it, else
``<vid>.mp4`` found anywhere under ``<videos>``.

**TubeDETR** ``{split}.json`` (antoyang/TubeDETR ``preproc/preproc_vidstg.py``): ``{"videos":
[...], "trajectories": {vid: {str(tid): {str(frame_idx): {"bbox": [x, y, w, h], ...}}}}}``, one
``videos`` item per sentence with ``original_video_id``, ``video_id`` (its index), ``qtype``,
``caption``, ``target_id``, ``frame_count``, ``fps``, ``width``, ``height``, ``video_path``
(relative to the ``video`` folder), ``start_frame``/``end_frame`` (= used_segment) and
``tube_start_frame``/``tube_end_frame`` (= temporal_gt), end exclusive as in the raw files. Its
boxes are xywh. ``sample_id = "<original_video_id>:<video_id>:<qtype>"``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from zstvg.data.common import (
    FLAG_BOX_CLIPPED,
    FLAG_GT_OUTSIDE_CLIP,
    FLAG_MISSING_GT_BOXES,
    FLAG_NO_GT_BOXES,
    FileIndex,
    VideoFinder,
    as_box4,
    as_int,
    as_number,
    box_problem,
    clip_box,
    join_errors,
    refuse_box_folder,
    require,
    span_problem,
    where,
    xywh_to_xyxy,
)
from zstvg.files.io import InputError, read_json
from zstvg.files.records import QTYPES, BoxXYXY, Sample, Span

log = logging.getLogger(__name__)

# Raw files list sentences under these keys; the value is the sample's qtype.
SENTENCE_KEYS = {"captions": "declarative", "questions": "interrogative"}

# A raw box in the file's convention at a frame, or None when the target has no box there.
BoxLookup = Callable[[int], "tuple[float, ...] | None"]


@dataclass(frozen=True)
class _Query:
    """One sentence of a raw entry, before boxes are attached."""

    sample_id: str
    query: str
    qtype: str
    target_id: int


@dataclass(frozen=True)
class _Entry:
    """One raw entry: its sentences, and a sample holding the video-level fields they share
    (``video_path`` and the per-sentence fields are filled in by :func:`_raw_entry_samples`)."""

    entry_id: str
    queries: tuple[_Query, ...]
    shared: Sample


def _fid_span(entry: Any, key: str, path: Path, entry_id: str) -> Span:
    seg = require(entry, key, path, entry_id)
    begin = as_int(require(seg, "begin_fid", path, entry_id), f"{key}.begin_fid", path, entry_id)
    end = as_int(require(seg, "end_fid", path, entry_id), f"{key}.end_fid", path, entry_id)
    return (begin, end)


def _parse_raw_entry(path: Path, i: int, entry: Any) -> _Entry:
    vid = str(require(entry, "vid", path, str(i)))
    entry_id = f"{i} (vid {vid})"
    queries = []
    for key, qtype in SENTENCE_KEYS.items():
        sentences = require(entry, key, path, entry_id)
        if not isinstance(sentences, list):
            raise InputError(f"{where(path, entry_id)}: field {key} must be a list")
        for k, sentence in enumerate(sentences):
            sid = f"{entry_id} {key}[{k}]"
            text = require(sentence, "description", path, sid)
            if not isinstance(text, str):
                raise InputError(f"{where(path, sid)}: field description must be a string")
            target = as_int(require(sentence, "target_id", path, sid), "target_id", path, sid)
            queries.append(_Query(f"{vid}:{i}:{qtype}:{k}", text, qtype, target))
    shared = Sample(
        sample_id="",
        video_id=vid,
        video_path="",
        query="",
        qtype="",
        fps=as_number(require(entry, "fps", path, entry_id), "fps", path, entry_id),
        n_frames=as_int(
            require(entry, "frame_count", path, entry_id), "frame_count", path, entry_id
        ),
        width=as_int(require(entry, "width", path, entry_id), "width", path, entry_id),
        height=as_int(require(entry, "height", path, entry_id), "height", path, entry_id),
        gt_span=_fid_span(entry, "temporal_gt", path, entry_id),
        clip_span=_fid_span(entry, "used_segment", path, entry_id),
    )
    return _Entry(entry_id, tuple(queries), shared)


def _span_errors_and_flags(
    path: Path,
    entry_id: str,
    gt_span: Span,
    clip_span: Span,
    n_frames: int,
    gt_field: str,
    clip_field: str,
) -> tuple[list[str], list[str]]:
    errors, flags = [], []
    gt_problem = span_problem(gt_span, n_frames)
    if gt_problem is not None:
        errors.append(f"{where(path, entry_id)}: field {gt_field}: {gt_problem}")
    clip_problem = span_problem(clip_span, n_frames)
    if clip_problem is not None:
        errors.append(f"{where(path, entry_id)}: field {clip_field}: {clip_problem}")
    if (
        gt_problem is None
        and clip_problem is None
        and (gt_span[0] < clip_span[0] or gt_span[1] > clip_span[1])
    ):
        flags.append(FLAG_GT_OUTSIDE_CLIP)
    return errors, flags


def _collect_boxes(
    gt_span: Span,
    lookup: BoxLookup,
    to_xyxy: Callable[[tuple[float, ...]], BoxXYXY],
    width: int,
    height: int,
) -> tuple[dict[int, BoxXYXY], list[str], int]:
    """GT boxes on the frames of ``gt_span`` (clipped), the flags, and the frames without one."""
    boxes: dict[int, BoxXYXY] = {}
    any_clipped = False
    missing = 0
    for frame_idx in range(max(gt_span[0], 0), gt_span[1]):
        raw = lookup(frame_idx)
        if raw is None:
            missing += 1
            continue
        xyxy = to_xyxy(raw)
        problem = box_problem(xyxy)
        if problem is not None:
            raise InputError(f"GT box of frame {frame_idx}: {problem}")
        boxes[frame_idx], clipped = clip_box(xyxy, width, height)
        any_clipped |= clipped
    flags = []
    if any_clipped:
        flags.append(FLAG_BOX_CLIPPED)
    if missing:
        flags.append(FLAG_MISSING_GT_BOXES)
    return boxes, flags, missing


def _as_xyxy(box: tuple[float, ...]) -> BoxXYXY:
    """A VidOR box as read: already [x1, y1, x2, y2] (``_VidorVideo._box_at`` reads four)."""
    x1, y1, x2, y2 = box
    return x1, y1, x2, y2


class _VidorVideo:
    """One VidOR annotation file: the video's relative path and per-frame boxes by tid.

    VidOR files list every object on every frame (hundreds of KB each, up to ~1,000 frames x a
    handful of objects), and one video serves up to 40 VidSTG entries whose sentences often share
    a target and span: each (tid, span) is collected once, and plain numeric boxes skip the
    per-field checks that only exist to name a bad field.
    """

    _XYXY_KEYS = ("xmin", "ymin", "xmax", "ymax")

    def __init__(self, path: Path) -> None:
        data = read_json(path, what="VidOR box file")
        trajectories = require(data, "trajectories", path, "(top level)")
        if not isinstance(trajectories, list):
            raise InputError(f"{path}: field trajectories must be a list with one item per frame")
        self.path = path
        self.video_path: str | None = data.get("video_path")
        self._trajectories = trajectories
        self._memo: dict[tuple[int, Span], tuple[dict[int, BoxXYXY], list[str], int]] = {}

    def _box_at(self, tid: int, frame_idx: int) -> tuple[float, ...] | None:
        if frame_idx >= len(self._trajectories):
            return None
        obj = next((o for o in self._trajectories[frame_idx] if o.get("tid") == tid), None)
        if obj is None:
            return None
        bbox = obj.get("bbox")
        if type(bbox) is dict:
            values = [bbox.get(key) for key in self._XYXY_KEYS]
            numbers = [float(v) for v in values if type(v) is int or type(v) is float]
            if len(numbers) == len(values):
                return tuple(numbers)
        # Not four plain numbers: the checks below raise an error naming the field.
        entry_id = f"trajectories[{frame_idx}] tid {tid}"
        bbox = require(obj, "bbox", self.path, entry_id)
        return tuple(
            as_number(require(bbox, key, self.path, entry_id), f"bbox.{key}", self.path, entry_id)
            for key in self._XYXY_KEYS
        )

    def gt_boxes(
        self, tid: int, gt_span: Span, width: int, height: int
    ) -> tuple[dict[int, BoxXYXY], list[str], int]:
        """:func:`_collect_boxes` for one target and span (cached: sentences share targets)."""
        key = (tid, gt_span)
        if key not in self._memo:
            self._memo[key] = _collect_boxes(
                gt_span, lambda f: self._box_at(tid, f), _as_xyxy, width, height
            )
        return self._memo[key]


def load_vidstg(
    annotations: str | Path, videos: str | Path | None = None, boxes: str | Path | None = None
) -> list[Sample]:
    """Read raw VidSTG sentence annotations (+ VidOR box files when ``boxes`` is given)."""
    path = Path(annotations)
    data = read_json(path, what="VidSTG annotation file")
    if not isinstance(data, list):
        raise InputError(
            f"{path}: expected a JSON list of VidSTG entries, got {type(data).__name__}"
        )
    entries = [_parse_raw_entry(path, i, e) for i, e in enumerate(data)]
    find_video = VideoFinder(videos, "*.mp4")
    box_index = FileIndex(Path(boxes), "*.json") if boxes is not None else None
    if boxes is not None and not Path(boxes).is_dir():
        raise InputError(f"--boxes: VidOR annotation folder not found: {boxes}")

    # Group by video so each (large) VidOR file is read once and only one is in memory at a time.
    by_vid: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        by_vid.setdefault(e.shared.video_id, []).append(i)
    built: list[list[Sample]] = [[] for _ in entries]
    for vid, idxs in by_vid.items():
        vidor: _VidorVideo | None = None
        box_error: str | None = None
        if box_index is not None:
            box_file = box_index.find(f"{vid}.json")
            if box_file is None:
                box_error = f"VidOR box file not found: {boxes}/**/{vid}.json"
            else:
                try:
                    vidor = _VidorVideo(box_file)
                except InputError as exc:
                    box_error = str(exc)
        rel = vidor.video_path if vidor is not None and vidor.video_path else f"{vid}.mp4"
        video_path = find_video.path(rel)
        for i in idxs:
            built[i] = _raw_entry_samples(path, entries[i], video_path, vidor, box_error)
    return [s for group in built for s in group]


def _raw_entry_samples(
    path: Path, e: _Entry, video_path: str, vidor: _VidorVideo | None, box_error: str | None
) -> list[Sample]:
    v = e.shared
    span_errors, span_flags = _span_errors_and_flags(
        path, e.entry_id, v.gt_span, v.clip_span, v.n_frames, "temporal_gt", "used_segment"
    )
    samples = []
    for q in e.queries:
        errors = list(span_errors)
        flags = list(span_flags)
        gt_boxes: dict[int, BoxXYXY] = {}
        if vidor is None:
            flags.append(FLAG_NO_GT_BOXES)
            if box_error is not None:
                errors.append(box_error)
        else:
            try:
                gt_boxes, box_flags, missing = vidor.gt_boxes(
                    q.target_id, v.gt_span, v.width, v.height
                )
            except InputError as exc:
                errors.append(str(exc))
                box_flags, missing = [], 0
            flags += box_flags
            if missing:
                log.debug(
                    "%s: %d frames of gt_span without a box for tid %d",
                    q.sample_id,
                    missing,
                    q.target_id,
                )
        samples.append(
            replace(
                v,
                sample_id=q.sample_id,
                video_path=video_path,
                query=q.query,
                qtype=q.qtype,
                gt_boxes_xyxy=dict(gt_boxes),  # the memo's dict is shared by sentences
                has_gt_boxes=vidor is not None,
                flags=tuple(flags),
                error=join_errors(errors),
            )
        )
    return samples


TUBEDETR_KEYS = (
    "original_video_id",
    "video_id",
    "qtype",
    "caption",
    "target_id",
    "frame_count",
    "fps",
    "width",
    "height",
    "video_path",
    "start_frame",
    "end_frame",
    "tube_start_frame",
    "tube_end_frame",
)


def _tubedetr_lookup(track: Any, path: Path, entry_id: str, field: str) -> BoxLookup:
    """Boxes of one TubeDETR trajectory, ``{str(frame_idx): {"bbox": [x, y, w, h]}}``."""
    if not isinstance(track, dict):
        raise InputError(f"{where(path, entry_id)}: field {field} must be an object keyed by frame")

    def box_at(frame_idx: int) -> tuple[float, ...] | None:
        rec = track.get(str(frame_idx))
        if rec is None:
            return None
        bbox = require(rec, "bbox", path, entry_id)
        return as_box4(bbox, f"{field}[{frame_idx}].bbox", path, entry_id)

    return box_at


def load_vidstg_tubedetr(
    annotations: str | Path, videos: str | Path | None = None, boxes: str | Path | None = None
) -> list[Sample]:
    """Read TubeDETR's preprocessed VidSTG ``{split}.json`` (boxes included, xywh)."""
    path = Path(annotations)
    refuse_box_folder(boxes, path, "TubeDETR")
    data = read_json(path, what="VidSTG (TubeDETR) annotation file")
    items = require(data, "videos", path, "(top level)")
    trajectories = require(data, "trajectories", path, "(top level)")
    if not isinstance(items, list) or not isinstance(trajectories, dict):
        raise InputError(f"{path}: expected 'videos' to be a list and 'trajectories' an object")
    find_video = VideoFinder(videos, "*.mp4")
    samples = []
    for i, item in enumerate(items):
        entry_id = str(i)
        if isinstance(item, dict) and "video_id" in item:
            entry_id = f"{i} (video_id {item['video_id']})"
        fields = {key: require(item, key, path, entry_id) for key in TUBEDETR_KEYS}
        vid = str(fields["original_video_id"])
        qtype = fields["qtype"]
        if qtype not in QTYPES:
            raise InputError(
                f"{where(path, entry_id)}: field qtype must be one of {QTYPES}, got {qtype!r}"
            )
        target = as_int(fields["target_id"], "target_id", path, entry_id)
        n_frames = as_int(fields["frame_count"], "frame_count", path, entry_id)
        width = as_int(fields["width"], "width", path, entry_id)
        height = as_int(fields["height"], "height", path, entry_id)
        gt_span: Span = (
            as_int(fields["tube_start_frame"], "tube_start_frame", path, entry_id),
            as_int(fields["tube_end_frame"], "tube_end_frame", path, entry_id),
        )
        clip_span: Span = (
            as_int(fields["start_frame"], "start_frame", path, entry_id),
            as_int(fields["end_frame"], "end_frame", path, entry_id),
        )
        errors, flags = _span_errors_and_flags(
            path,
            entry_id,
            gt_span,
            clip_span,
            n_frames,
            "tube_start_frame/tube_end_frame",
            "start_frame/end_frame",
        )
        track = trajectories.get(vid, {}).get(str(target))
        if track is None:
            raise InputError(
                f"{path}: entry {entry_id}: missing required key "
                f"trajectories[{vid!r}][{str(target)!r}]"
            )
        box_at = _tubedetr_lookup(track, path, entry_id, f"trajectories[{vid}][{target}]")
        try:
            gt_boxes, box_flags, _ = _collect_boxes(gt_span, box_at, xywh_to_xyxy, width, height)
        except InputError as exc:  # a bad box is this sample's error, not the file's
            errors.append(f"{where(path, entry_id)}: {exc}")
            gt_boxes, box_flags = {}, []
        samples.append(
            Sample(
                sample_id=f"{vid}:{fields['video_id']}:{qtype}",
                video_id=vid,
                video_path=find_video.path(str(fields["video_path"])),
                query=str(fields["caption"]),
                qtype=qtype,
                fps=as_number(fields["fps"], "fps", path, entry_id),
                n_frames=n_frames,
                width=width,
                height=height,
                gt_span=gt_span,
                clip_span=clip_span,
                gt_boxes_xyxy=gt_boxes,
                has_gt_boxes=True,
                flags=tuple(flags + box_flags),
                error=join_errors(errors),
            )
        )
    return samples
