"""One metrics file per table cell, for DVC: ``dvc metrics show`` prints a row per file and a
column per key, so the cells of a protocol are a folder of flat files (a row per dataset x
backend x variant) rather than one nested file (one row of every cell's every metric).

The rows are copies of the cells' ``evaluate`` records, named by their cell; their provenance
is the source file's sidecar. The folder holds nothing else: DVC would read any other JSON in it
(a provenance sidecar included) as one more row.
"""

from __future__ import annotations

import json
from pathlib import Path

from zstvg.files.io import write_json


def row_name(metrics_path: Path) -> str:
    """``<dataset>--<backend>--<variant>.json`` for results/metrics/<dataset>/<backend>/<variant>/
    <protocol>.json (the variant with its sweep point, e.g. ``full@k_frames=3``)."""
    dataset, backend, variant = metrics_path.parts[-4:-1]
    return f"{dataset}--{backend}--{variant}.json"


def write_metric_rows(metrics: list[Path], out: Path) -> int:
    """Copy each cell's metrics file into ``out`` under its row name; returns the exit code."""
    names = [row_name(p) for p in metrics]
    if len(set(names)) != len(names):
        raise ValueError("two metrics files name the same cell (one protocol per call)")
    out.mkdir(parents=True, exist_ok=True)
    for path, name in zip(metrics, names, strict=True):
        write_json(out / name, json.loads(path.read_text(encoding="utf-8")))
    print(f"metric-rows: {len(names)} cells -> {out}")
    return 0
