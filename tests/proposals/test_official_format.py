from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from zstvg.files import proposal_tracks as of
from zstvg.files import rle
from zstvg.files.io import InputError
from zstvg.files.records import Track

# A 4 x 6 (height x width) video, three sample frames every 10th native frame, as the authors
# write them. Masks are compressed COCO RLE strings worked out by hand (column-major runs from
# index 3 on stored as deltas to the run two before, one char chr(48 + v) for small v):
#   "5220;": columns 1-2, rows 1-2 -> runs [5, 2, 2, 2, 13] -> "5", "2", "2", 2-2=0, 13-2=11
#   "<<": columns 3-5, all rows -> runs [12, 12]
#   "h0": empty 4 x 6 mask, runs [24] (24 needs two 5-bit chunks: "h", "0")
HAND_WRITTEN = {
    "sample_frames": ["00000.jpg", "00010.jpg", "00020.jpg"],
    "dino_sam2_proposals": [
        {
            "track_id": 0,
            "bboxes": [[[1, 1, 3, 3]], [[3, 0, 6, 4]], [[0, 0, 0, 0]]],
            "rles": [
                {"size": [4, 6], "counts": "5220;"},
                {"size": [4, 6], "counts": "<<"},
                {"size": [4, 6], "counts": "h0"},
            ],
            "class_name": "person",
            "box_format": "xyxy",
            "img_width": 6,
            "img_height": 4,
        },
        {
            "track_id": 1,
            "bboxes": [[], [3.5, 0.5, 6.0, 4.0], None],
            "rles": [None, {"size": [4, 6], "counts": [12, 12]}, None],
            "class_name": "person",
            "box_format": "xyxy",
            "img_width": 6,
            "img_height": 4,
        },
    ],
}


def _write(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj))
    return path


def test_hand_written_file_reads_into_tracks(tmp_path):
    got = of.read(_write(tmp_path / "v.json", HAND_WRITTEN))
    assert got.frame_idx == (0, 10, 20)
    assert (got.width, got.height) == (6, 4)
    t0, t1 = got.tracks
    assert t0.track_id == 0 and t0.class_name == "person"
    # Frame 20 holds the all-zero box: the track is absent there.
    assert t0.boxes_xyxy == {0: (1.0, 1.0, 3.0, 3.0), 10: (3.0, 0.0, 6.0, 4.0)}
    assert sorted(t0.rles) == [0, 10]
    assert rle.box_xyxy(t0.rles[0]) == (1.0, 1.0, 3.0, 3.0)
    assert rle.box_xyxy(t0.rles[10]) == (3.0, 0.0, 6.0, 4.0)
    # Flat boxes, [] and null are read too; list counts are normalised to a string.
    assert t1.boxes_xyxy == {10: (3.5, 0.5, 6.0, 4.0)}
    assert t1.rles == {10: {"size": [4, 6], "counts": "<<"}}


def test_integer_sample_frames_are_read_as_native_indices(tmp_path):
    obj = copy.deepcopy(HAND_WRITTEN)
    obj["sample_frames"] = [0, 10, 20]
    assert of.read(_write(tmp_path / "v.json", obj)).frame_idx == (0, 10, 20)


def test_writer_output_round_trips_and_matches_the_authors_layout(tmp_path):
    tracks = [
        Track(
            7,
            "person",
            {0: (1.0, 1.0, 3.0, 3.0)},
            {0: rle.encode(rle.decode({"size": [4, 6], "counts": "5220;"}))},
        ),
        # Box only (a box tracker): the box is stored as its mask.
        Track(9, "dog", {10: (3.0, 0.0, 6.0, 4.0), 20: (0.0, 0.0, 2.0, 1.0)}),
    ]
    path = tmp_path / "out.json"
    of.write(path, [0, 10, 20], tracks, width=6, height=4)
    raw = json.loads(path.read_text())
    assert raw["sample_frames"] == ["00000.jpg", "00010.jpg", "00020.jpg"]
    first = raw["dino_sam2_proposals"][0]
    # The authors' loader unpacks track.items() positionally: the key order matters.
    assert list(first) == [
        "track_id",
        "bboxes",
        "rles",
        "class_name",
        "box_format",
        "img_width",
        "img_height",
    ]
    assert first["bboxes"] == [
        [[1.0, 1.0, 3.0, 3.0]],
        [[0.0, 0.0, 0.0, 0.0]],
        [[0.0, 0.0, 0.0, 0.0]],
    ]
    assert first["rles"][1] == {"size": [4, 6], "counts": "h0"}

    back = of.read(path)
    assert back.frame_idx == (0, 10, 20)
    assert [t.track_id for t in back.tracks] == [7, 9]
    assert back.tracks[0].boxes_xyxy == tracks[0].boxes_xyxy
    assert back.tracks[0].rles == tracks[0].rles
    assert back.tracks[1].boxes_xyxy == tracks[1].boxes_xyxy
    assert rle.area(back.tracks[1].rles[10]) == 3 * 4
    assert rle.box_xyxy(back.tracks[1].rles[20]) == (0.0, 0.0, 2.0, 1.0)


def test_a_video_without_tracks_is_a_valid_empty_file(tmp_path):
    path = tmp_path / "empty.json"
    of.write(path, [0, 10], [], width=6, height=4)
    got = of.read(path)
    assert got.frame_idx == (0, 10) and got.tracks == ()
    assert (got.width, got.height) == (None, None)


def test_writer_rejects_boxes_off_the_sample_frames():
    with pytest.raises(ValueError, match="not sample frames"):
        of.to_official([0, 10], [Track(0, "person", {5: (0.0, 0.0, 1.0, 1.0)})], 6, 4)


def _bad(tmp_path: Path, edit) -> str:
    obj = copy.deepcopy(HAND_WRITTEN)
    edit(obj)
    path = _write(tmp_path / "bad.json", obj)
    with pytest.raises(InputError) as info:
        of.read(path)
    message = str(info.value)
    assert str(path) in message
    return message


def test_missing_key_is_named(tmp_path):
    msg = _bad(tmp_path, lambda o: o["dino_sam2_proposals"][1].pop("class_name"))
    assert "dino_sam2_proposals[1].class_name: missing key" in msg
    msg = _bad(tmp_path, lambda o: o.pop("sample_frames"))
    assert "sample_frames: missing key" in msg


def test_wrong_box_format_is_named(tmp_path):
    def edit(o):
        o["dino_sam2_proposals"][0]["box_format"] = "xywh"

    msg = _bad(tmp_path, edit)
    assert "dino_sam2_proposals[0].box_format: got 'xywh'; expected 'xyxy'" in msg


def test_length_mismatch_with_sample_frames_is_named(tmp_path):
    msg = _bad(tmp_path, lambda o: o["dino_sam2_proposals"][1]["rles"].pop())
    assert "dino_sam2_proposals[1].rles: 2 entries; expected 3" in msg
    msg = _bad(tmp_path, lambda o: o["sample_frames"].append("00030.jpg"))
    assert "dino_sam2_proposals[0].bboxes: 3 entries; expected 4" in msg


def test_other_bad_fields_are_named(tmp_path):
    def bad_box(o):
        o["dino_sam2_proposals"][0]["bboxes"][1] = [[1, 2, 3]]

    assert "dino_sam2_proposals[0].bboxes[1]: got [[1, 2, 3]]; expected a box" in _bad(
        tmp_path, bad_box
    )

    def bad_size(o):
        o["dino_sam2_proposals"][0]["rles"][2]["size"] = [6, 4]

    assert (
        "dino_sam2_proposals[0].rles[2].size: got [6, 4]; expected [img_height, img_width]"
        in _bad(tmp_path, bad_size)
    )

    def unordered(o):
        o["sample_frames"] = ["00000.jpg", "00020.jpg", "00010.jpg"]

    assert "sample_frames[2]: frame 10 does not come after frame 20" in _bad(tmp_path, unordered)

    def inverted(o):
        o["dino_sam2_proposals"][0]["bboxes"][0] = [[3, 3, 1, 1]]

    assert "dino_sam2_proposals[0].bboxes: frame 0" in _bad(tmp_path, inverted)

    def duplicate(o):
        o["dino_sam2_proposals"][1]["track_id"] = 0

    assert "dino_sam2_proposals[1].track_id: 0 repeats" in _bad(tmp_path, duplicate)


def test_malformed_json_names_the_file_and_position(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"sample_frames": [0, 10,')
    with pytest.raises(InputError, match=r"broken\.json: malformed JSON at line 1"):
        of.read(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match="proposal file not found: .*nope.json"):
        of.read(tmp_path / "nope.json")
