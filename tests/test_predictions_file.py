"""The predictions file's layout: compact, one sample per line, read back exactly."""

from __future__ import annotations

import json

from zstvg.files.predictions import read_predictions, write_predictions
from zstvg.files.records import Prediction


def test_one_compact_line_per_sample_read_back_exactly(tmp_path):
    dense = {f: (10.0 + 0.01 * f, 20.0, 30.5, 40.0) for f in range(100, 700)}  # 600 frames
    preds = {
        "a": Prediction("a", (100, 400), dense, track_id=3, flags=("boxes_interpolated",)),
        "b": Prediction("b", None, error="ground: empty proposal set"),
    }
    path = tmp_path / "p.json"
    write_predictions(path, preds)
    lines = path.read_text().splitlines()
    assert lines[0] == "{" and lines[-1] == "}" and len(lines) == 4
    assert lines[1].startswith('"a":{"span":[100,400],') and lines[2].startswith('"b":')
    # ~40 bytes a box: 600 boxes in < 24 kB (the indented file took ~70 bytes a box)
    assert len(lines[1]) < 600 * 40
    assert json.loads(path.read_text())["a"]["boxes_xyxy"]["100"] == [11.0, 20.0, 30.5, 40.0]
    assert read_predictions(path, ["a", "b"]) == preds
    write_predictions(path, {})
    assert json.loads(path.read_text()) == {}
