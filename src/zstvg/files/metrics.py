"""metrics.json (docs/workflow.md#files-passed-between-steps): its one writer (``evaluate``) and its
one reader (``tables``).

``{"protocol", "dataset", "backend", "variant", "n_samples", "n_missing", "n_failed",
"n_pred_outside_frame", "m_vIoU", "vIoU@<R>"..., "m_tIoU", "gt_vIoU"}``, scores as fractions in
[0, 1] (null when a dataset has no GT boxes); VidSTG nests the counts and scores under
"declarative" and "interrogative". ``n_pred_outside_frame`` (samples with a predicted box less
than half inside the frame) is newer than the others, so the reader does not require it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from zstvg.files.io import InputError, PathLike, read_json, write_json

IDENTITY_KEYS = ("protocol", "dataset", "backend", "variant")
COUNT_KEYS = ("n_samples", "n_missing", "n_failed")
SCORE_KEYS = ("m_vIoU", "m_tIoU", "gt_vIoU")
QTYPE_GROUPS = ("declarative", "interrogative")


def write_metrics(path: PathLike, metrics: dict[str, Any]) -> None:
    check_metrics(metrics, str(path))
    write_json(path, metrics)


def _check_group(group: Any, where: str) -> None:
    if not isinstance(group, dict):
        raise InputError(f"{where}: expected an object of counts and scores")
    for key in COUNT_KEYS:
        value = group.get(key)
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            raise InputError(f"{where}: field {key} must be an integer >= 0, got {value!r}")
    scores = [k for k in group if k in SCORE_KEYS or k.startswith("vIoU@")]
    for key in SCORE_KEYS:
        if key not in group:
            raise InputError(f"{where}: missing required key {key!r}")
    for key in scores:
        value = group[key]
        if value is None:
            continue
        if not (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and 0.0 <= value <= 1.0
        ):
            raise InputError(f"{where}: field {key} must be a fraction in [0, 1], got {value!r}")


def check_metrics(metrics: Any, where: str) -> None:
    """Raise InputError (``<where>: field <name> ...``) unless ``metrics`` is a metrics record."""
    if not isinstance(metrics, dict):
        raise InputError(f"{where}: not a metrics file (expected a JSON object)")
    for key in IDENTITY_KEYS:
        if not isinstance(metrics.get(key), str):
            raise InputError(f"{where}: not a metrics file: missing key {key!r}")
    groups = [q for q in QTYPE_GROUPS if q in metrics]
    for q in groups:
        _check_group(metrics[q], f"{where}: {q}")
    if not groups:
        _check_group(metrics, where)


def is_metrics(obj: Any) -> bool:
    """Whether a parsed JSON file looks like a metrics record (for directory scans)."""
    return isinstance(obj, dict) and "protocol" in obj and "variant" in obj


def read_metrics(path: PathLike) -> dict[str, Any]:
    """A validated metrics record."""
    metrics: dict[str, Any] = read_json(Path(path), what="metrics file")
    check_metrics(metrics, str(path))
    return metrics
