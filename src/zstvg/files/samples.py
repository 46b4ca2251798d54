"""``samples.jsonl``: the one writer (``prepare-data``) and the one reader of the sample list.

One JSON object per line, :meth:`zstvg.files.records.Sample.to_json`
(docs/workflow.md#files-passed-between-steps). The reader checks every field a later step relies on
and names the file, the line and the field, so a hand-edited or foreign file fails with exit 2
instead of a traceback three steps later.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from zstvg.files.box_maps import BoxArrays, check_box_map
from zstvg.files.io import InputError, PathLike, read_jsonl, write_jsonl
from zstvg.files.records import QTYPES, Sample, Status

STEP = "prepare-data"
_REQUIRED = (
    "sample_id", "video_id", "video_path", "query", "qtype", "fps", "n_frames", "width",
    "height", "gt_span", "clip_span",
)  # fmt: skip


def write_samples(path: PathLike, samples: Iterable[Sample]) -> int:
    """Write the sample list atomically; returns the number of samples."""
    return write_jsonl(path, (s.to_json() for s in samples))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def check_row(row: Any, where: str) -> BoxArrays:
    """The row's GT boxes as arrays; InputError (``<where>: field <name> ...``) unless ``row``
    is a valid sample record.

    Boxes are checked to be four finite numbers with x2 >= x1 and y2 >= y1: prepare-data turns
    bad annotation boxes into a sample error, so a bad box here means the file was edited.
    """
    if not isinstance(row, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for key in _REQUIRED:
        if key not in row:
            raise InputError(f"{where}: missing required key {key!r}")
    _check_fields(row, where)
    boxes = check_box_map(row.get("gt_boxes_xyxy") or {}, where, "gt_boxes_xyxy")
    error = row.get("error")
    if error is not None and not isinstance(error, str):
        raise InputError(f"{where}: field error must be a string or null, got {error!r}")
    return boxes


def _check_fields(row: dict[str, Any], where: str) -> None:
    """The names, query type, video geometry and spans of a sample record."""
    for key in ("sample_id", "video_id", "video_path", "query"):
        if not isinstance(row[key], str):
            raise InputError(f"{where}: field {key} must be a string, got {row[key]!r}")
    if row["qtype"] not in QTYPES:
        raise InputError(f"{where}: field qtype must be one of {QTYPES}, got {row['qtype']!r}")
    if not (_is_finite(row["fps"]) and row["fps"] > 0):
        raise InputError(f"{where}: field fps must be a finite number > 0, got {row['fps']!r}")
    for key in ("n_frames", "width", "height"):
        if not (_is_int(row[key]) and row[key] >= 0):
            raise InputError(f"{where}: field {key} must be an integer >= 0, got {row[key]!r}")
    for key in ("gt_span", "clip_span"):
        span = row[key]
        if not (isinstance(span, list) and len(span) == 2 and all(_is_int(v) for v in span)):
            raise InputError(f"{where}: field {key} must be [start, end) integers, got {span!r}")


def read_sample_rows_and_boxes(path: PathLike) -> list[tuple[dict[str, Any], BoxArrays]]:
    """The validated JSON rows, each with its GT boxes as arrays (evaluate scores on those)."""
    path = Path(path)
    out = []
    seen: set[str] = set()
    for lineno, row in enumerate(read_jsonl(path, what="samples file"), 1):
        where = f"{path}:{lineno}"
        out.append((row, check_row(row, where)))
        if row["sample_id"] in seen:
            raise InputError(f"{where}: duplicate sample_id {row['sample_id']!r}")
        seen.add(row["sample_id"])
    return out


def read_sample_rows(path: PathLike) -> list[dict[str, Any]]:
    """The validated JSON rows (for readers that only need some fields)."""
    return [row for row, _ in read_sample_rows_and_boxes(path)]


def read_samples(path: PathLike) -> list[Sample]:
    """The sample list, validated (see :func:`check_row`), in file order."""
    path = Path(path)
    out = []
    for lineno, row in enumerate(read_sample_rows(path), 1):
        try:
            out.append(Sample.from_json(row))
        except TypeError as exc:  # an unknown key
            raise InputError(f"{path}:{lineno}: not a sample record: {exc}") from None
    return out


def add_sample_id_argument(parser: argparse.ArgumentParser) -> None:
    """``--sample-id`` (repeatable, into ``args.sample_ids``) for :func:`select_samples`."""
    parser.add_argument(
        "--sample-id", action="append", default=[], dest="sample_ids", metavar="ID",
        help="only these samples (repeatable; default: all)",
    )  # fmt: skip


def select_samples(samples: list[Sample], ids: list[str], path: PathLike) -> list[Sample]:
    """The samples with these ids (all when ``ids`` is empty); unknown ids are an error."""
    if not ids:
        return samples
    unknown = sorted(set(ids) - {s.sample_id for s in samples})
    if unknown:
        raise InputError(f"--sample-id {', '.join(unknown)}: not in {path}")
    wanted = set(ids)
    return [s for s in samples if s.sample_id in wanted]


def sample_status(sample: Sample) -> Status:
    """The sample's status as prepare-data left it."""
    return Status(STEP, sample.error)


def holdout_split(
    samples: list[Sample], fraction: float, seed: int
) -> tuple[list[Sample], list[Sample]]:
    """(held-out, rest): the samples of a ``fraction`` of the videos, and the others, in file
    order. By video, so the queries of one video never sit on both sides (VidSTG asks several
    per video); a video's side is a function of (seed, video id) alone (SHA-256), so adding
    videos moves no other. With two or more videos each side keeps at least one."""
    import hashlib

    videos = sorted({s.video_id for s in samples})

    def draw(video: str) -> float:
        digest = hashlib.sha256(f"{seed}/{video}".encode()).hexdigest()
        return int(digest[:12], 16) / 16**12

    held = {v for v in videos if draw(v) < fraction}
    order = sorted(videos, key=draw)
    if len(videos) >= 2 and not held:
        held = {order[0]}
    elif len(videos) >= 2 and len(held) == len(videos):
        held.discard(order[-1])
    return [s for s in samples if s.video_id in held], [
        s for s in samples if s.video_id not in held
    ]
