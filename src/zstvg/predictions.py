"""The predictions file (DESIGN §4): its one writer and its one, strict, reader.

``{"<sample_id>": {"span": [start, end), "boxes_xyxy": {"<frame_idx>": [x1, y1, x2, y2]},
"track_id": int | null, "flags": [str], "error"?: str}}``. A record with ``error`` is a failed
sample (its span may be null) and scores 0. Everything else must be exactly what the contract
says: a span of two integers with start < end, boxes of four finite numbers with x2 >= x1 and
y2 >= y1. The reader never coerces (``[1.7, 99.9]`` is not read as ``[1, 99]``, ``"10"`` is not
10); any violation is an InputError naming the file, the sample and the field (exit 2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zstvg.io import InputError, PathLike, read_json, write_json
from zstvg.structures import Prediction


def write_predictions(path: PathLike, predictions: Mapping[str, Prediction]) -> None:
    """Write the predictions atomically, keyed by sample id in the given order."""
    write_json(path, {sid: p.to_json() for sid, p in predictions.items()})


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_record(rec: Any, where: str) -> None:
    """Raise InputError (``<where>: field <name>: ...``) unless ``rec`` follows the contract."""
    if not isinstance(rec, dict):
        raise InputError(f"{where}: expected an object, got {type(rec).__name__}")
    error = rec.get("error")
    if error is not None and not isinstance(error, str):
        raise InputError(f"{where}: field error must be a string, got {error!r}")
    _check_span(rec.get("span"), error is not None, where)
    boxes = rec.get("boxes_xyxy", {})
    if not isinstance(boxes, dict):
        raise InputError(f"{where}: field boxes_xyxy must be an object keyed by frame index")
    bad_key = next((k for k in boxes if not k.isdigit()), None)
    if bad_key is not None:
        raise InputError(f"{where}: field boxes_xyxy: key {bad_key!r} is not a frame index")
    if boxes:
        _check_boxes(boxes, where)
    track_id = rec.get("track_id")
    if track_id is not None and not _is_int(track_id):
        raise InputError(f"{where}: field track_id must be an integer or null, got {track_id!r}")
    flags = rec.get("flags", [])
    if not (isinstance(flags, list) and all(isinstance(f, str) for f in flags)):
        raise InputError(f"{where}: field flags must be a list of strings, got {flags!r}")


def _check_span(span: Any, has_error: bool, where: str) -> None:
    """Two integers [start, end) with start < end; only a failed sample (an error) may lack it."""
    if span is None:
        if not has_error:
            raise InputError(f"{where}: field span is missing or null and there is no error")
    elif not (isinstance(span, list) and len(span) == 2 and all(_is_int(v) for v in span)):
        raise InputError(f"{where}: field span must be two integers [start, end), got {span!r}")
    elif not span[0] < span[1]:
        raise InputError(f"{where}: field span {span!r} must have start < end (half-open)")


def _check_boxes(boxes: dict[str, Any], where: str) -> None:
    # One numpy pass instead of a Python loop: 10,000 samples x ~100 boxes each.
    values = list(boxes.values())
    if not all(isinstance(b, list) and len(b) == 4 for b in values):
        frame, box = next(
            (k, b) for k, b in boxes.items() if not (isinstance(b, list) and len(b) == 4)
        )
        raise InputError(f"{where}: field boxes_xyxy[{frame}] must be 4 numbers, got {box!r}")
    arr = np.asarray(values)
    bad, problem = None, ""
    if arr.dtype.kind not in "iuf":  # strings, bools, nulls
        bad = next(
            i
            for i, b in enumerate(values)
            if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in b)
        )
        problem = "must be 4 numbers"
    else:
        arr = arr.astype(np.float64)
        rows = ~np.isfinite(arr).all(axis=1) | (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
        if rows.any():
            bad = int(np.flatnonzero(rows)[0])
            problem = "must be 4 finite numbers [x1, y1, x2, y2] with x2 >= x1, y2 >= y1"
    if bad is not None:
        frame = list(boxes)[bad]
        raise InputError(f"{where}: field boxes_xyxy[{frame}] {problem}, got {values[bad]!r}")


def read_prediction_records(path: PathLike, sample_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The validated raw records (for readers that build their own box arrays: evaluate).

    Ids not in ``sample_ids`` are an error: a predictions file of another sample list would
    otherwise score as all-missing.
    """
    path = Path(path)
    raw = read_json(path, what="predictions file")
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected a JSON object keyed by sample_id")
    known = set(sample_ids)
    unknown = sorted(k for k in raw if k not in known)
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:10])
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        raise InputError(
            f"{path}: {len(unknown)} prediction(s) for sample ids not in the samples file: "
            f"{shown}{more}"
        )
    for sid, rec in raw.items():
        check_record(rec, f"{path}: sample {sid}")
    return raw


def read_predictions(path: PathLike, sample_ids: Sequence[str]) -> dict[str, Prediction]:
    """The predictions as records, validated (see :func:`check_record`)."""
    return {
        sid: Prediction.from_json(sid, rec)
        for sid, rec in read_prediction_records(path, sample_ids).items()
    }
