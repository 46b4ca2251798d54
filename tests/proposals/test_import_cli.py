"""``zstvg import-proposals``: masks checked against boxes, unchanged files not re-read, and
the rejection reason reaching predict-reference (not "file not found")."""

from __future__ import annotations

import copy
import json
import os
import time

from test_official_format import HAND_WRITTEN

from zstvg.cli import main
from zstvg.files.records import Sample
from zstvg.files.samples import write_samples


def _import(src, out, capsys) -> dict:
    assert main(["import-proposals", "--src", str(src), "--out", str(out)]) == 0
    capsys.readouterr()
    return json.loads((out / "manifest.json").read_text())


def _write(path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def test_rle_that_does_not_decode_or_lies_far_from_its_box_is_rejected(tmp_path, capsys):
    src = tmp_path / "src"
    _write(src / "good.json", HAND_WRITTEN)
    garbled = copy.deepcopy(HAND_WRITTEN)
    garbled["dino_sam2_proposals"][0]["rles"][0]["counts"] = "zzzz"  # runs sum past 4 x 6
    _write(src / "garbled.json", garbled)
    far = copy.deepcopy(HAND_WRITTEN)
    # frame 10's box is columns 3-5; this mask is columns 1-2, rows 1-2 (the frame-0 mask)
    far["dino_sam2_proposals"][0]["rles"][1] = {"size": [4, 6], "counts": "5220;"}
    _write(src / "far.json", far)
    videos = _import(src, tmp_path / "out", capsys)["videos"]
    assert videos["good"]["status"] == "ok"
    assert videos["garbled"]["status"] == "failed"
    assert "track 0: frame 0: rles: RLE counts do not decode" in videos["garbled"]["error"]
    assert videos["far"]["status"] == "failed"
    assert (
        "track 0: frame 10: rles: the mask's box [1.0, 1.0, 3.0, 3.0] is far from"
        in (videos["far"]["error"])
    )
    assert "(IoU 0.00 < 0.5)" in videos["far"]["error"]
    assert not (tmp_path / "out" / "far.json").exists()


def test_unchanged_files_are_reused_and_a_changed_one_is_read_again(tmp_path, capsys):
    src, out = tmp_path / "src", tmp_path / "out"
    _write(src / "a.json", HAND_WRITTEN)
    _write(src / "b.json", HAND_WRITTEN)
    _import(src, out, capsys)
    main(["import-proposals", "--src", str(src), "--out", str(out)])
    assert "2 unchanged since the last import" in capsys.readouterr().out

    os.utime(src / "a.json", ns=(time.time_ns(), time.time_ns()))  # touched, same bytes
    edited = copy.deepcopy(HAND_WRITTEN)
    edited["dino_sam2_proposals"].pop()
    _write(src / "b.json", edited)
    main(["import-proposals", "--src", str(src), "--out", str(out)])
    assert "1 unchanged since the last import" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["videos"]["a"]["n_tracks"] == 2 and manifest["videos"]["b"]["n_tracks"] == 1


def test_rejection_and_decode_reasons_reach_the_prediction(tmp_path, capsys):
    src, out = tmp_path / "src", tmp_path / "out"
    bad = copy.deepcopy(HAND_WRITTEN)
    bad["dino_sam2_proposals"][0]["box_format"] = "xywh"
    _write(src / "rejected.json", bad)
    _write(src / "decodes.json", HAND_WRITTEN)
    _write(src / "undecodable.json", HAND_WRITTEN)
    _import(src, out, capsys)
    samples = tmp_path / "samples.jsonl"
    write_samples(
        samples,
        [
            Sample(
                v,
                v,
                f"{v}.mp4",
                "a man",
                "declarative",
                10.0,
                30,
                6,
                4,
                (0, 20),
                (0, 30),
                {0: (1.0, 1.0, 3.0, 3.0)},
            )  # fmt: skip
            for v in ("rejected", "decodes", "undecodable")
        ],
    )
    frames = tmp_path / "frames" / "manifest.json"
    ok = {"status": "ok", "flags": []}
    _write(
        frames,
        {
            "videos": {},
            "samples": {
                "rejected": ok,
                "decodes": ok,
                "undecodable": {
                    "status": "failed",
                    "step": "sample-frames",
                    "error": "undecodable.mp4: cannot open video",
                },  # fmt: skip
            },
        },
    )
    pred = tmp_path / "pred.json"
    assert main(["predict-reference", "--samples", str(samples), "--frames", str(frames),
                 "--proposals", str(out / "manifest.json"), "--method", "oracle",
                 "--out", str(pred)]) == 0  # fmt: skip
    preds = json.loads(pred.read_text())
    assert preds["rejected"]["error"].startswith("import-proposals: ")
    assert "box_format: got 'xywh'" in preds["rejected"]["error"]
    # the decode failure wins over the (valid) proposals: the first cause travels
    assert preds["undecodable"]["error"] == "sample-frames: undecodable.mp4: cannot open video"
    assert "error" not in preds["decodes"] and preds["decodes"]["track_id"] == 0


def _edited(track: int, key: str, frame: int, value) -> dict:
    obj = copy.deepcopy(HAND_WRITTEN)
    obj["dino_sam2_proposals"][track][key][frame] = value
    return obj


# The hand-written files' frame is 6 x 4 (width x height): sample frames 0, 10, 20 are
# positions 0, 1, 2; track 1 has a box but no mask on frame 10, track 0 is absent on frame 20.
BAD_BOXES_AND_MASKS = {
    "nan_box": (
        _edited(1, "bboxes", 1, [float("nan"), 0.5, 6.0, 4.0]),
        "track 1: frame 10: bboxes: box [nan, 0.5, 6.0, 4.0] is not 4 finite numbers",
    ),
    "far_outside": (
        _edited(1, "bboxes", 1, [5000, 5000, 6000, 6000]),
        "track 1: frame 10: bboxes: box [5000.0, 5000.0, 6000.0, 6000.0] is 0% inside the "
        "6 x 4 frame (expected at least 50%)",
    ),
    # 6 x 4 box, columns 4-5 of it inside: 2 x 4 = 8 of 24 pixels
    "mostly_outside": (
        _edited(1, "bboxes", 1, [4, 0, 10, 4]),
        "track 1: frame 10: bboxes: box [4.0, 0.0, 10.0, 4.0] is 33% inside",
    ),
    "short_runs_absent": (
        _edited(0, "rles", 2, {"size": [4, 6], "counts": "0"}),
        "track 0: frame 20: rles: RLE runs cover 0 pixels, not the 4 x 6 = 24 of its size",
    ),
    "mask_without_box": (
        _edited(0, "rles", 2, {"size": [4, 6], "counts": "5220;"}),
        "track 0: frame 20: rles: a mask of 4 pixels on a frame without a box",
    ),
    # the box [1, 1, 3, 3] holds 4 pixels; its mask is empty ("h0": one run of 24 background)
    "empty_mask_on_box": (
        _edited(0, "rles", 0, {"size": [4, 6], "counts": "h0"}),
        "track 0: frame 0: rles: an empty mask on a frame with box [1.0, 1.0, 3.0, 3.0]",
    ),
    # the whole 6 x 4 frame as the mask of that 4-pixel box: 24 pixels, IoU 4/24
    "mask_beyond_box": (
        _edited(0, "rles", 0, {"size": [4, 6], "counts": "0h0"}),
        "track 0: frame 0: rles: the mask's box [0.0, 0.0, 6.0, 4.0] is far from the frame's "
        "box [1.0, 1.0, 3.0, 3.0] (IoU 0.17 < 0.5)",
    ),
    # runs [5, 2]: 7 of 24 pixels
    "short_runs_present": (
        _edited(0, "rles", 0, {"size": [4, 6], "counts": "52"}),
        "track 0: frame 0: rles: RLE runs cover 7 pixels, not the 4 x 6 = 24 of its size",
    ),
}


def test_bad_boxes_and_masks_fail_their_file_and_the_others_import(tmp_path, capsys):
    src, out = tmp_path / "src", tmp_path / "out"
    _write(src / "good.json", HAND_WRITTEN)
    # half inside (columns 3-5 of 3-8): the limit, still accepted
    _write(src / "half_inside.json", _edited(1, "bboxes", 1, [3, 0, 9, 4]))
    for name, (obj, _) in BAD_BOXES_AND_MASKS.items():
        _write(src / f"{name}.json", obj)
    videos = _import(src, out, capsys)["videos"]
    assert videos["good"]["status"] == videos["half_inside"]["status"] == "ok"
    for name, (_, message) in BAD_BOXES_AND_MASKS.items():
        assert videos[name]["status"] == "failed", name
        assert videos[name]["error"].startswith(f"{src / name}.json: {message}"), name
        assert not (out / f"{name}.json").exists()
    assert sorted(p.name for p in out.glob("*.json") if "provenance" not in p.name) == [
        "good.json",
        "half_inside.json",
        "manifest.json",
    ]
