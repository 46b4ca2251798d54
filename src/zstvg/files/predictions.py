"""The predictions file (docs/workflow.md#files-passed-between-steps): its one writer and its one,
strict, reader.

``{"<sample_id>": {"span": [start, end), "boxes_xyxy": {"<frame_idx>": [x1, y1, x2, y2]},
"track_id": int | null, "flags": [str], "error"?: str}}``. A record with ``error`` is a failed
sample (its span may be null) and scores 0. Everything else must be exactly what the contract
says: a span of two integers with start < end, boxes of four finite numbers with x2 >= x1 and
y2 >= y1. The reader never coerces (``[1.7, 99.9]`` is not read as ``[1, 99]``, ``"10"`` is not
10); any violation is an InputError naming the file, the sample and the field (exit 2).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from zstvg.files.box_maps import BoxArrays, check_box_map
from zstvg.files.io import InputError, PathLike, atomic_open, read_json
from zstvg.files.records import Prediction


def prediction_json(pred: Prediction) -> str:
    """One record as compact JSON. A dense prediction holds a box on every native frame of its
    track and span (~600 at 30 fps): ~40 bytes a box here against ~70 indented, and a ground
    job keeps these strings, not ~270 bytes of Python objects a box, until it writes the file."""
    return json.dumps(pred.to_json(), separators=(",", ":"))


def write_prediction_lines(path: PathLike, records: Mapping[str, str]) -> None:
    """Write the predictions file atomically from records serialized by
    :func:`prediction_json`, keyed by sample id in the given order, one sample per line."""
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write("{")
        for i, (sid, record) in enumerate(records.items()):
            fh.write(("\n" if i == 0 else ",\n") + json.dumps(sid) + ":" + record)
        fh.write("\n}\n")


def write_predictions(path: PathLike, predictions: Mapping[str, Prediction]) -> None:
    """Write the predictions atomically, keyed by sample id in the given order."""
    write_prediction_lines(path, {sid: prediction_json(p) for sid, p in predictions.items()})


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_record(rec: Any, where: str) -> BoxArrays:
    """The record's boxes as arrays; InputError (``<where>: field <name>: ...``) unless ``rec``
    follows the contract."""
    if not isinstance(rec, dict):
        raise InputError(f"{where}: expected an object, got {type(rec).__name__}")
    error = rec.get("error")
    if error is not None and not isinstance(error, str):
        raise InputError(f"{where}: field error must be a string, got {error!r}")
    _check_span(rec.get("span"), error is not None, where)
    boxes = check_box_map(rec.get("boxes_xyxy", {}), where, "boxes_xyxy")
    track_id = rec.get("track_id")
    if track_id is not None and not _is_int(track_id):
        raise InputError(f"{where}: field track_id must be an integer or null, got {track_id!r}")
    flags = rec.get("flags", [])
    if not (isinstance(flags, list) and all(isinstance(f, str) for f in flags)):
        raise InputError(f"{where}: field flags must be a list of strings, got {flags!r}")
    return boxes


def _check_span(span: Any, has_error: bool, where: str) -> None:
    """Two integers [start, end) with start < end; only a failed sample (an error) may lack it."""
    if span is None:
        if not has_error:
            raise InputError(f"{where}: field span is missing or null and there is no error")
    elif not (isinstance(span, list) and len(span) == 2 and all(_is_int(v) for v in span)):
        raise InputError(f"{where}: field span must be two integers [start, end), got {span!r}")
    elif not span[0] < span[1]:
        raise InputError(f"{where}: field span {span!r} must have start < end (half-open)")


def read_checked_records(path: PathLike) -> dict[str, tuple[dict[str, Any], BoxArrays]]:
    """Every record of the file validated (see :func:`check_record`), each with its boxes as
    arrays; the sample ids are not checked here (:func:`check_sample_ids`)."""
    path = Path(path)
    raw = read_json(path, what="predictions file")
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected a JSON object keyed by sample_id")
    return {sid: (rec, check_record(rec, f"{path}: sample {sid}")) for sid, rec in raw.items()}


def check_sample_ids(path: PathLike, ids: Iterable[str], sample_ids: Sequence[str]) -> None:
    """Ids not in ``sample_ids`` are an error: a predictions file of another sample list would
    otherwise score as all-missing."""
    known = set(sample_ids)
    unknown = sorted(k for k in ids if k not in known)
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:10])
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        raise InputError(
            f"{path}: {len(unknown)} prediction(s) for sample ids not in the samples file: "
            f"{shown}{more}"
        )


def read_prediction_records(
    path: PathLike, sample_ids: Sequence[str]
) -> dict[str, tuple[dict[str, Any], BoxArrays]]:
    """The validated raw records of ``sample_ids``' predictions, each with its boxes as arrays."""
    checked = read_checked_records(path)
    check_sample_ids(path, checked, sample_ids)
    return checked


def read_predictions(path: PathLike, sample_ids: Sequence[str]) -> dict[str, Prediction]:
    """The predictions as records, validated (see :func:`check_record`)."""
    return {
        sid: Prediction.from_json(sid, rec)
        for sid, (rec, _) in read_prediction_records(path, sample_ids).items()
    }
