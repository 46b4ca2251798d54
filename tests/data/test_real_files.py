"""The loaders on the real annotation files in ``../shared/data`` (skipped where absent).

See ``../shared/data/README.md``: VidSTG test/val sentence files (complete) and the first 8
HC-STVG v1 test entries, unchanged from the datasets' repositories.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from zstvg.data import load_samples

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def real_file(rel: str) -> Path:
    path = SHARED_DATA / rel
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return path


def test_vidstg_test_split_has_all_10303_queries() -> None:
    samples = load_samples("vidstg", real_file("vidstg/test_annotations.json"))
    assert len(samples) == 10_303
    assert Counter(s.qtype for s in samples) == {"declarative": 4_610, "interrogative": 5_693}
    assert len({s.sample_id for s in samples}) == 10_303
    assert len({s.video_id for s in samples}) == 732
    assert all(s.error is None for s in samples)
    assert all(not s.has_gt_boxes and "no_gt_boxes" in s.flags for s in samples)
    # The clip stops at frame_count - 1 while the moment runs to frame_count in 768 entries
    # (1,745 queries); kept as given and flagged.
    assert sum("gt_span_exceeds_clip" in s.flags for s in samples) == 1_745
    first = samples[0]
    assert first.sample_id == "7771650716:0:declarative:0"
    assert first.query == "a dog with a rope walks in front of a man in white."
    assert (first.gt_span, first.clip_span) == ((0, 390), (0, 479))
    assert (first.n_frames, first.width, first.height) == (1805, 640, 360)
    assert first.fps == pytest.approx(29.97002997)


def test_vidstg_val_split_loads() -> None:
    samples = load_samples("vidstg", real_file("vidstg/val_annotations.json"))
    assert len(samples) == 8_956
    assert all(s.error is None for s in samples)


def test_hcstvg_v1_sample_file_loads_with_st_frame_consistency() -> None:
    path = real_file("hcstvg-v1/test_first8.json")
    raw = json.loads(path.read_text())
    samples = load_samples("hcstvg-v1", path)
    assert len(samples) == len(raw) == 8
    for s, (name, entry) in zip(samples, raw.items(), strict=True):
        fps = entry["img_num"] / 20
        # st_frame is 1-based: the 0-based frame of st_time, plus one.
        assert entry["st_frame"] == math.floor(entry["st_time"] * fps) + 1
        assert s.sample_id == Path(name).stem
        assert s.fps == fps
        assert s.gt_span == (entry["st_frame"] - 1, entry["st_frame"] - 1 + len(entry["bbox"]))
        assert s.clip_span == (0, entry["img_num"])
        assert len(s.gt_boxes_xyxy) == len(entry["bbox"])
        assert "st_frame_mismatch" not in s.flags
        assert s.error is None
    first = samples[0]
    assert first.sample_id == "55_vfjywN5CN0Y"
    assert first.fps == 24.0  # 480 frames / 20 s
    assert first.gt_span == (156, 278)  # st_frame 157, 122 boxes
    assert first.gt_boxes_xyxy[156] == (194.0, 0.0, 434.0, 359.0)  # xywh [194, 0, 240, 359]
