"""HC-STVG v1/v2 loader on small files written in the real formats; values computed by hand."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from zstvg.data import load_samples
from zstvg.files.io import InputError

# fps = img_num / 20 = 600 / 20 = 30. st_frame 5 is 1-based: floor(0.14 * 30) + 1 = 4 + 1 = 5.
# Three boxes on 0-based frames 4, 5, 6 -> gt_span [4, 7).
V1_ENTRY = {
    "bbox": [[10, 20, 30, 40], [12, 22, 30, 40], [14, 24, 30, 40]],
    "st_time": 0.14,
    "ed_time": 0.24,
    "img_num": 600,
    "caption": "The man in red walks to the door.",
    "width": 640,
    "height": 480,
    "st_frame": 5,
}
EXPECTED_BOXES = {
    4: (10.0, 20.0, 40.0, 60.0),
    5: (12.0, 22.0, 42.0, 62.0),
    6: (14.0, 24.0, 44.0, 64.0),
}


def v2_entry(v1: dict) -> dict:
    """The same entry in the v2 spelling: English, img_size = [height, width]."""
    e = {k: v for k, v in v1.items() if k not in ("caption", "width", "height")}
    e["English"] = v1["caption"]
    e["img_size"] = [v1["height"], v1["width"]]
    return e


def write(tmp_path: Path, data: object, name: str = "test.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("fmt", ["hcstvg-v1", "hcstvg-v2", "synthetic"])
@pytest.mark.parametrize("spelling", ["v1", "v2"])
def test_entry_conventions(tmp_path: Path, fmt: str, spelling: str) -> None:
    entry = V1_ENTRY if spelling == "v1" else v2_entry(V1_ENTRY)
    path = write(tmp_path, {"12_abcDEF.mp4": entry})
    [s] = load_samples(fmt, path)
    assert s.sample_id == "12_abcDEF"
    assert s.video_id == "12_abcDEF"
    assert s.video_path == "12_abcDEF.mp4"  # no --videos: as the annotation names it
    assert s.query == "The man in red walks to the door."
    assert s.qtype == "declarative"
    assert s.fps == 30.0
    assert s.n_frames == 600
    assert (s.width, s.height) == (640, 480)
    assert s.gt_span == (4, 7)
    assert s.clip_span == (0, 600)
    assert s.gt_boxes_xyxy == EXPECTED_BOXES
    assert s.has_gt_boxes
    assert s.flags == ()
    assert s.error is None


def test_order_and_roundtrip_through_json(tmp_path: Path) -> None:
    second = dict(V1_ENTRY, st_frame=1, bbox=[[0, 0, 10, 10]], st_time=0.0, ed_time=0.03)
    path = write(tmp_path, {"b.mp4": V1_ENTRY, "a.mkv": second})
    samples = load_samples("hcstvg-v1", path)
    assert [s.sample_id for s in samples] == ["b", "a"]  # file order
    assert samples[1].gt_span == (0, 1)
    assert samples[1].gt_boxes_xyxy == {0: (0.0, 0.0, 10.0, 10.0)}
    from zstvg.files.records import Sample

    assert [Sample.from_json(json.loads(json.dumps(s.to_json()))) for s in samples] == samples


def test_box_outside_frame_is_clipped_and_flagged(tmp_path: Path) -> None:
    entry = copy.deepcopy(V1_ENTRY)
    entry["bbox"][1] = [600, 400, 100, 100]  # xyxy (600, 400, 700, 500) in a 640 x 480 frame
    path = write(tmp_path, {"a.mp4": entry, "b.mp4": V1_ENTRY})
    a, b = load_samples("hcstvg-v1", path)
    assert a.gt_boxes_xyxy[5] == (600.0, 400.0, 640.0, 480.0)
    assert a.gt_boxes_xyxy[4] == EXPECTED_BOXES[4]
    assert a.flags == ("box_clipped",)
    assert a.error is None  # clipping is a flag, not a failure
    assert b.flags == ()


def test_inverted_time_span_is_kept_with_error(tmp_path: Path) -> None:
    bad = dict(V1_ENTRY, st_time=5.0, ed_time=3.0, st_frame=151)
    path = write(tmp_path, {"bad.mp4": bad, "good.mp4": V1_ENTRY})
    bad_s, good_s = load_samples("hcstvg-v1", path)
    assert bad_s.error is not None
    assert str(path) in bad_s.error
    assert "entry bad.mp4" in bad_s.error
    assert "field st_time/ed_time: inverted time span [5.0, 3.0) s" in bad_s.error
    assert good_s.error is None
    assert good_s.gt_boxes_xyxy == EXPECTED_BOXES


def test_empty_bbox_list_gives_empty_span_error(tmp_path: Path) -> None:
    path = write(tmp_path, {"e.mp4": dict(V1_ENTRY, bbox=[])})
    [s] = load_samples("hcstvg-v1", path)
    assert s.gt_span == (4, 4)
    assert s.gt_boxes_xyxy == {}
    assert s.error == f"{path}: entry e.mp4: field st_frame/bbox: gt_span: empty span [4, 4)"


def test_span_past_last_frame_is_an_error(tmp_path: Path) -> None:
    # st_frame 599 -> 0-based 598; three boxes reach frame 600 of a 600-frame video.
    entry = dict(V1_ENTRY, st_frame=599, st_time=19.94, ed_time=19.99)
    path = write(tmp_path, {"late.mp4": entry})
    [s] = load_samples("hcstvg-v1", path)
    assert s.gt_span == (598, 601)
    assert "span [598, 601) outside the video's frames [0, 600)" in s.error


def test_st_frame_far_from_st_time_is_flagged(tmp_path: Path) -> None:
    # st_time 0.14 s at 30 fps is 1-based frame 5; st_frame 50 disagrees by 45 frames.
    path = write(tmp_path, {"m.mp4": dict(V1_ENTRY, st_frame=50)})
    [s] = load_samples("hcstvg-v1", path)
    assert s.flags == ("st_frame_mismatch",)
    assert s.gt_span == (49, 52)  # st_frame stays the source of truth


@pytest.mark.parametrize("key", ["bbox", "st_frame", "st_time", "ed_time", "img_num"])
def test_missing_required_key_names_file_entry_and_key(tmp_path: Path, key: str) -> None:
    entry = {k: v for k, v in V1_ENTRY.items() if k != key}
    path = write(tmp_path, {"ok.mp4": V1_ENTRY, "broken.mp4": entry})
    with pytest.raises(InputError) as exc:
        load_samples("hcstvg-v1", path)
    assert str(exc.value) == f"{path}: entry broken.mp4: missing required key {key!r}"


def test_missing_query_and_size_keys_name_both_spellings(tmp_path: Path) -> None:
    no_query = {k: v for k, v in V1_ENTRY.items() if k != "caption"}
    with pytest.raises(InputError, match="q.mp4: missing required key 'caption' or 'English'"):
        load_samples("hcstvg-v2", write(tmp_path, {"q.mp4": no_query}))
    no_size = {k: v for k, v in V1_ENTRY.items() if k not in ("width", "height")}
    with pytest.raises(InputError, match="missing required key 'width' and 'height' or 'img_size'"):
        load_samples("hcstvg-v2", write(tmp_path, {"s.mp4": no_size}))


def test_wrongly_typed_field_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, {"t.mp4": dict(V1_ENTRY, img_num="600")})
    with pytest.raises(InputError, match=r"entry t.mp4: field img_num must be a number, got '600'"):
        load_samples("hcstvg-v1", path)
    bad_box = copy.deepcopy(V1_ENTRY)
    bad_box["bbox"][2] = [1, 2, 3]
    with pytest.raises(InputError, match=r"field bbox\[2\] must be 4 numbers, got \[1, 2, 3\]"):
        load_samples("hcstvg-v1", write(tmp_path, {"t.mp4": bad_box}))


def test_missing_annotation_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"HC-STVG annotation file not found: .*nope\.json"):
        load_samples("hcstvg-v1", tmp_path / "nope.json")


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"a.mp4": {\n  "bbox": [[1, 2, 3, 4],\n  "st_frame": 5}}\n')
    with pytest.raises(InputError) as exc:
        load_samples("hcstvg-v1", path)
    assert str(exc.value).startswith(f"{path}: malformed JSON at line 3 column")


def test_top_level_must_be_an_object(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="expected a JSON object keyed by video file name"):
        load_samples("hcstvg-v1", write(tmp_path, [V1_ENTRY]))


def test_boxes_option_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--boxes is for the raw vidstg format"):
        load_samples("hcstvg-v1", write(tmp_path, {"a.mp4": V1_ENTRY}), boxes=tmp_path)


def test_missing_video_marks_only_that_sample_failed(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    (videos / "0001").mkdir(parents=True)
    (videos / "here.mp4").write_bytes(b"x")
    (videos / "0001" / "nested.mkv").write_bytes(b"x")  # TubeDETR keeps videos in sub-folders
    path = write(tmp_path, {"here.mp4": V1_ENTRY, "gone.mp4": V1_ENTRY, "nested.mkv": V1_ENTRY})
    here, gone, nested = load_samples("hcstvg-v1", path, videos=videos)
    assert here.video_path == str(videos / "here.mp4")
    assert here.error is None
    assert nested.video_path == str(videos / "0001" / "nested.mkv")
    assert nested.error is None
    assert gone.error == f"video file not found: {videos / 'gone.mp4'}"
    assert gone.gt_boxes_xyxy == EXPECTED_BOXES  # the rest of the sample is intact
