"""The authors' released proposal format: one JSON file per video
(docs/workflow.md#the-authors-per-video-proposal-files).

Layout, as the authors' loaders read it (zaiquanyang/LLaVA_Next_STVG,
``custom_infer/STVG/datasets/{hcstvg,vidstg,data_utils}.py``) and as Grounded-SAM-2, which made
the files, writes its per-object fields::

    {"sample_frames": ["00000.jpg", "00010.jpg", ...],
     "dino_sam2_proposals": [
        {"track_id": 0,
         "bboxes": [[[x1, y1, x2, y2]], ...],            # one per sample frame
         "rles": [{"size": [h, w], "counts": "..."}, ...],  # one per sample frame
         "class_name": "person", "box_format": "xyxy",
         "img_width": w, "img_height": h}, ...]}

Conventions found in their code, and kept here:
- ``sample_frames`` are frame file names whose stem is the 0-based native frame index (their
  loaders do ``int(name.split('.')[0])``; the JPEG folders follow SAM 2's ``%05d.jpg`` naming,
  ``-start_number 0``). Their HC-STVG files sample every 10th frame (the loader maps a name to
  native frame ``10 * (index // 10)``). We write ``f"{frame_idx:05d}.jpg"`` and read names or
  plain integers.
- ``box_format`` is ``"xyxy"``: absolute pixels, compared directly with HC-STVG boxes turned
  into ``[x, y, x + w, y + h]`` by their evaluator. Other formats are rejected.
- Each box is nested one level (``[[x1, y1, x2, y2]]``: their loader stacks and squeezes axis 1);
  a flat ``[x1, y1, x2, y2]`` is accepted on read.
- A frame where the track is absent holds the box ``[[0, 0, 0, 0]]`` and the RLE of an empty mask
  (their loader decodes every entry and tests presence with ``box.sum() > 0``). On read, an
  all-zero box, an empty list or null means absent; the mask of an absent frame is ignored.
- The keys of a track are written in the order above: their loader unpacks ``track.items()``
  positionally.

Inside zstvg a track is a :class:`zstvg.files.records.Track` with boxes and masks only on the
frames where it is present.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zstvg.files import rle as rle_mod
from zstvg.files.io import InputError, PathLike, atomic_open, read_json
from zstvg.files.records import BoxXYXY, Track

BOX_FORMAT = "xyxy"
ABSENT_BOX = [[0.0, 0.0, 0.0, 0.0]]
# How many schema violations one error message lists before "... and N more".
_MAX_LISTED = 5

_BOX = {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "authors' per-video proposal file (dino_sam2_proposals)",
    "type": "object",
    "required": ["sample_frames", "dino_sam2_proposals"],
    "properties": {
        "sample_frames": {
            "type": "array",
            "items": {
                "description": "a frame file name like '00010.jpg' or a 0-based frame index",
                "anyOf": [
                    {"type": "integer", "minimum": 0},
                    {"type": "string", "pattern": r"^[0-9]+(\.[A-Za-z0-9]+)?$"},
                ],
            },
        },
        "dino_sam2_proposals": {"type": "array", "items": {"$ref": "#/$defs/track"}},
    },
    "$defs": {
        "frame_box": {
            "description": "a box [[x1, y1, x2, y2]] or [x1, y1, x2, y2] (absent: [[0, 0, 0, 0]], "
            "[] or null)",
            "anyOf": [
                {"type": "array", "minItems": 1, "maxItems": 1, "items": _BOX},
                _BOX,
                {"type": "array", "maxItems": 0},
                {"type": "null"},
            ],
        },
        "rle": {
            "description": 'a COCO RLE {"size": [h, w], "counts": str or list of ints} or null',
            "anyOf": [
                {
                    "type": "object",
                    "required": ["size", "counts"],
                    "properties": {
                        "size": {
                            "type": "array",
                            "minItems": 2,
                            "maxItems": 2,
                            "items": {"type": "integer", "minimum": 0},
                        },
                        "counts": {
                            "anyOf": [
                                {"type": "string"},
                                {"type": "array", "items": {"type": "integer", "minimum": 0}},
                            ]
                        },
                    },
                },
                {"type": "null"},
            ],
        },
        "track": {
            "type": "object",
            "required": [
                "track_id",
                "bboxes",
                "rles",
                "class_name",
                "box_format",
                "img_width",
                "img_height",
            ],
            "properties": {
                "track_id": {
                    "description": "an integer track id",
                    "anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^-?[0-9]+$"}],
                },
                "bboxes": {"type": "array", "items": {"$ref": "#/$defs/frame_box"}},
                "rles": {"type": "array", "items": {"$ref": "#/$defs/rle"}},
                "class_name": {"type": "string"},
                "box_format": {"const": BOX_FORMAT},
                "img_width": {"type": "integer", "minimum": 1},
                "img_height": {"type": "integer", "minimum": 1},
            },
        },
    },
}


@dataclass(frozen=True)
class OfficialProposals:
    """The content of one proposal file in internal conventions."""

    frame_idx: tuple[int, ...]  # the sample frames, 0-based native indices, increasing
    tracks: tuple[Track, ...]
    # Frame size from the tracks; None when the file has no tracks (a video with no detection).
    width: int | None
    height: int | None


def frame_name(frame_idx: int) -> str:
    """Sample-frame entry as the authors write it: the 0-based index as a SAM 2 JPEG name."""
    return f"{frame_idx:05d}.jpg"


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def validate(obj: Any, source: PathLike) -> None:
    """Check ``obj`` against :data:`SCHEMA` and the per-frame lengths; raise InputError."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
    problems = []
    for err in errors:
        where = _path(err.absolute_path)
        if err.validator == "required":
            missing = err.message.split("'")[1]
            problems.append(f"{_path([*err.absolute_path, missing])}: missing key")
            continue
        shown = repr(err.instance)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        problems.append(f"{where}: got {shown}; expected {_expected(err)}")
    if not problems:
        problems = _check_lengths(obj)
    if problems:
        more = len(problems) - _MAX_LISTED
        listed = problems[:_MAX_LISTED] + ([f"... and {more} more"] if more > 0 else [])
        raise InputError(f"{source}: invalid proposal file:\n  " + "\n  ".join(listed))


def _expected(err: Any) -> str:
    if "description" in err.schema:
        return str(err.schema["description"])
    value = err.validator_value
    return {
        "const": repr(value),
        "type": f"type {value}",
        "minimum": f"a number >= {value}",
        "pattern": f"a string matching {value}",
        "minItems": f"at least {value} items",
        "maxItems": f"at most {value} items",
    }.get(err.validator, err.message)


def _check_lengths(obj: Mapping[str, Any]) -> list[str]:
    problems = []
    frames = obj["sample_frames"]
    n = len(frames)
    seen_ids: dict[int, int] = {}
    for i, track in enumerate(obj["dino_sam2_proposals"]):
        for key in ("bboxes", "rles"):
            if len(track[key]) != n:
                problems.append(
                    f"dino_sam2_proposals[{i}].{key}: {len(track[key])} entries; expected {n} "
                    "(one per sample_frames entry)"
                )
        size = [track["img_height"], track["img_width"]]
        for j, r in enumerate(track["rles"]):
            if r is not None and list(r["size"]) != size:
                problems.append(
                    f"dino_sam2_proposals[{i}].rles[{j}].size: got {r['size']}; expected "
                    f"[img_height, img_width] = {size}"
                )
                break
        tid = int(track["track_id"])
        if tid in seen_ids:
            problems.append(
                f"dino_sam2_proposals[{i}].track_id: {tid} repeats dino_sam2_proposals"
                f"[{seen_ids[tid]}].track_id"
            )
        seen_ids[tid] = i
    return problems


def _frame_idx(entry: int | str) -> int:
    return entry if isinstance(entry, int) else int(entry.split(".")[0])


def _present_box(entry: Any) -> BoxXYXY | None:
    if not entry:
        return None
    box = entry[0] if isinstance(entry[0], list) else entry
    if not any(box):
        return None
    return (float(box[0]), float(box[1]), float(box[2]), float(box[3]))


def from_official(obj: Any, source: PathLike = "<proposals>") -> OfficialProposals:
    """Validate a parsed proposal file and convert it to tracks (present frames only)."""
    validate(obj, source)
    frame_idx = [_frame_idx(e) for e in obj["sample_frames"]]
    for j in range(1, len(frame_idx)):
        if frame_idx[j] <= frame_idx[j - 1]:
            raise InputError(
                f"{source}: sample_frames[{j}]: frame {frame_idx[j]} does not come after "
                f"frame {frame_idx[j - 1]} (expected increasing, unique frame indices)"
            )
    tracks = []
    width = height = None
    for i, raw in enumerate(obj["dino_sam2_proposals"]):
        boxes: dict[int, BoxXYXY] = {}
        rles: dict[int, dict[str, Any]] = {}
        empty_counts = rle_mod.empty(raw["img_height"], raw["img_width"])["counts"]
        for f, box_entry, r in zip(frame_idx, raw["bboxes"], raw["rles"], strict=True):
            where = f"{source}: track {raw['track_id']}: frame {f}"
            box = _present_box(box_entry)
            if box is None:
                # The writers store the one empty-mask string here; anything else is checked.
                if r is not None and r["counts"] != empty_counts:
                    _check_absent_mask(r, where)
                continue
            if not all(map(math.isfinite, box)):
                raise InputError(f"{where}: bboxes: box {list(box)} is not 4 finite numbers")
            if box[2] < box[0] or box[3] < box[1]:
                raise InputError(
                    f"{source}: dino_sam2_proposals[{i}].bboxes: frame {f}: box {list(box)} has "
                    "x2 < x1 or y2 < y1 (expected xyxy)"
                )
            boxes[f] = box
            if r is not None:
                rles[f] = rle_mod.normalize(r)
        tracks.append(
            Track(
                track_id=int(raw["track_id"]),
                class_name=raw["class_name"],
                boxes_xyxy=boxes,
                rles=rles,
            )
        )
        width, height = raw["img_width"], raw["img_height"]
    return OfficialProposals(tuple(frame_idx), tuple(tracks), width, height)


def _check_absent_mask(r: Mapping[str, Any], where: str) -> None:
    """A frame without a box holds an empty mask: the authors' loader decodes every entry, so a
    mask there would be an object on a frame the track says it is absent from."""
    problem = rle_mod.run_problem(r)
    if problem is not None:
        raise InputError(f"{where}: rles: {problem}")
    n = rle_mod.area(r)
    if n:
        raise InputError(
            f"{where}: rles: a mask of {n} pixels on a frame without a box (an absent frame's "
            "box is [0, 0, 0, 0] and its mask empty)"
        )


# A box with less than this share of its area inside the frame is no detection on that frame:
# Grounded-SAM 2's boxes are its masks' boxes, always inside; a box mostly outside (e.g.
# [5000, 5000, 6000, 6000] on 1280 x 720) is a wrong size, format or video.
MIN_INSIDE = 0.5


def inside_share(box: BoxXYXY, width: float, height: float) -> float:
    """The share of the box's area inside the frame [0, width] x [0, height]; for a box of zero
    area (a point or a line) 1 when it lies in the frame, else 0."""
    x1, y1, x2, y2 = box
    area = (x2 - x1) * (y2 - y1)
    if area <= 0:
        return float(x1 >= 0 and y1 >= 0 and x2 <= width and y2 <= height)
    iw = max(0.0, min(x2, width) - max(x1, 0.0))
    ih = max(0.0, min(y2, height) - max(y1, 0.0))
    return iw * ih / area


def check_in_frame(props: OfficialProposals, source: PathLike) -> None:
    """Reject boxes with less than :data:`MIN_INSIDE` of their area inside the frame."""
    if props.width is None or props.height is None:
        return
    for track in props.tracks:
        for f, box in sorted(track.boxes_xyxy.items()):
            share = inside_share(box, props.width, props.height)
            if share < MIN_INSIDE:
                raise InputError(
                    f"{source}: track {track.track_id}: frame {f}: bboxes: box {list(box)} is "
                    f"{100 * share:.0f}% inside the {props.width} x {props.height} frame "
                    f"(expected at least {100 * MIN_INSIDE:.0f}%)"
                )


# A mask whose tight box overlaps its frame's box by less than this IoU is a corrupt or
# misaligned RLE: the released boxes are the masks' own boxes (IoU 1), and a detector box vs
# the SAM 2 mask it prompted stays above ~0.7 on real frames.
MASK_BOX_MIN_IOU = 0.5


def _iou(a: BoxXYXY, b: BoxXYXY) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
    return iw * ih / union if union > 0 else 0.0


def check_masks(props: OfficialProposals, source: PathLike) -> None:
    """Reject RLEs that do not decode, whose runs do not cover their frame exactly (see
    :func:`zstvg.files.rle.runs`), have another frame size, or lie far from their box.

    Decoding every mask costs ~0.1 ms each, so this runs once, at import, not on every read.
    """
    for track in props.tracks:
        for f, rle in sorted(track.rles.items()):
            where = f"{source}: track {track.track_id}: frame {f}: rles"
            size = [int(v) for v in rle["size"]]
            if props.width and props.height and size != [props.height, props.width]:
                raise InputError(
                    f"{where}: mask size {size} is not the file's [img_height, img_width] "
                    f"[{props.height}, {props.width}]"
                )
            problem = rle_mod.run_problem(rle)
            if problem is not None:
                raise InputError(f"{where}: {problem}")
            try:
                mask_box = rle_mod.box_xyxy(rle)
                rle_mod.decode(rle)
            except (ValueError, TypeError) as exc:
                raise InputError(f"{where}: RLE counts do not decode ({exc})") from None
            box = track.boxes_xyxy[f]
            if mask_box is None:
                # SAM 2 tracks drop a frame whose mask comes out empty (the box is the mask's
                # box), so a box of positive area over an empty mask is a mask lost or swapped.
                if (box[2] - box[0]) * (box[3] - box[1]) > 0:
                    raise InputError(
                        f"{where}: an empty mask on a frame with box {list(box)} (a present "
                        "frame's mask holds its object's pixels; an absent frame's box is "
                        "[0, 0, 0, 0])"
                    )
                continue
            # A mask more than twice its box's area cannot reach this IoU: a whole-frame mask
            # under a 4-pixel box is rejected here too.
            iou = _iou(mask_box, box)
            if iou < MASK_BOX_MIN_IOU:
                raise InputError(
                    f"{where}: the mask's box {[round(v, 1) for v in mask_box]} is far from the "
                    f"frame's box {list(box)} (IoU {iou:.2f} < "
                    f"{MASK_BOX_MIN_IOU})"
                )


def to_official(
    frame_idx: Sequence[int], tracks: Sequence[Track], width: int, height: int
) -> dict[str, Any]:
    """Tracks on the given sample frames as the authors' file content.

    A present frame without a mask (a box-only tracker) stores its box rasterised as the mask,
    so every entry decodes, as the authors' loaders require.
    """
    frames = [int(f) for f in frame_idx]
    if any(b <= a for a, b in zip(frames, frames[1:], strict=False)):
        raise ValueError(f"sample frames must be increasing and unique, got {frames}")
    on_grid = set(frames)
    empty = rle_mod.empty(height, width)
    out = []
    for track in tracks:
        off_grid = sorted(set(track.boxes_xyxy) - on_grid)
        if off_grid:
            raise ValueError(
                f"track {track.track_id} has boxes on frames {off_grid[:5]} that are not sample "
                "frames"
            )
        bboxes: list[Any] = []
        rles: list[dict[str, Any]] = []
        for f in frames:
            box = track.boxes_xyxy.get(f)
            if box is None:
                bboxes.append(ABSENT_BOX)
                rles.append(empty)
                continue
            bboxes.append([[float(v) for v in box]])
            mask = track.rles.get(f)
            rles.append(
                rle_mod.normalize(mask)
                if mask is not None
                else rle_mod.box_mask(box, height, width)
            )
        out.append(
            {
                "track_id": int(track.track_id),
                "bboxes": bboxes,
                "rles": rles,
                "class_name": track.class_name,
                "box_format": BOX_FORMAT,
                "img_width": int(width),
                "img_height": int(height),
            }
        )
    return {"sample_frames": [frame_name(f) for f in frames], "dino_sam2_proposals": out}


def read(path: PathLike) -> OfficialProposals:
    """Read and validate one proposal file; errors name the file and the field."""
    return from_official(read_json(path, what="proposal file"), path)


def write(
    path: PathLike, frame_idx: Sequence[int], tracks: Sequence[Track], width: int, height: int
) -> None:
    """Write one proposal file atomically, as compact JSON (masks of every frame add up).

    ``json.dumps`` in one go uses the C encoder; ``json.dump`` to a file does not (5x slower on
    a 200-frame, 4-track file)."""
    text = json.dumps(to_official(frame_idx, tracks, width, height), separators=(",", ":"))
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.write("\n")
