"""VidSTG loaders (raw sentences + VidOR boxes, TubeDETR format) on small real-format files."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from zstvg.data import load_samples
from zstvg.files.io import InputError

# One raw entry: clip = used_segment [10, 60), moment = temporal_gt [20, 23) (end exclusive: the
# target's boxes on frames 20, 21, 22). One caption on tid 1, two questions on tids 1 and 0.
ENTRY = {
    "vid": "1001",
    "frame_count": 100,
    "fps": 25.0,
    "width": 320,
    "height": 240,
    "used_segment": {"begin_fid": 10, "end_fid": 60},
    "temporal_gt": {"begin_fid": 20, "end_fid": 23},
    "subject/objects": [{"tid": 0, "category": "adult"}, {"tid": 1, "category": "dog"}],
    "captions": [{"description": "a dog chases the ball.", "target_id": 1, "type": "object"}],
    "questions": [
        {"description": "what chases the ball?", "target_id": 1, "type": "object"},
        {"description": "who throws the ball?", "target_id": 0, "type": "object"},
    ],
    "used_relation": {
        "begin_fid": 20,
        "end_fid": 23,
        "subject_tid": 1,
        "object_tid": 0,
        "predicate": "chase",
    },
}


def vidor_file(vid: str = "1001", folder: str = "0001", frame_count: int = 100) -> dict:
    """A VidOR annotation file: one list of boxes per frame of the whole video.

    tid 1 (the dog) is at x = 10 + f .. 50 + f, y = 20 .. 80 on every frame f; tid 0 (the adult)
    is at (100, 50, 200, 200) except on frame 22, where xmax = 400 reaches past the 320-px frame.
    """
    traj = []
    for f in range(frame_count):
        objs = [
            {
                "tid": 1,
                "bbox": {"xmin": 10 + f, "ymin": 20, "xmax": 50 + f, "ymax": 80},
                "generated": 0,
                "tracker": "none",
            }
        ]
        xmax = 400 if f == 22 else 200
        objs.append(
            {
                "tid": 0,
                "bbox": {"xmin": 100, "ymin": 50, "xmax": xmax, "ymax": 200},
                "generated": 1,
                "tracker": "none",
            }
        )
        traj.append(objs)
    return {
        "version": "VERSION 1.0",
        "video_id": vid,
        "video_hash": "h",
        "video_path": f"{folder}/{vid}.mp4",
        "frame_count": frame_count,
        "fps": 25.0,
        "width": 320,
        "height": 240,
        "subject/objects": ENTRY["subject/objects"],
        "trajectories": traj,
        "relation_instances": [],
    }


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_raw_without_boxes_carries_spans_and_flags_no_boxes(tmp_path: Path) -> None:
    ann = write(tmp_path / "test_annotations.json", [ENTRY])
    samples = load_samples("vidstg", ann)
    assert [s.sample_id for s in samples] == [
        "1001:0:declarative:0",
        "1001:0:interrogative:0",
        "1001:0:interrogative:1",
    ]
    assert [s.qtype for s in samples] == ["declarative", "interrogative", "interrogative"]
    assert [s.query for s in samples] == [
        "a dog chases the ball.",
        "what chases the ball?",
        "who throws the ball?",
    ]
    for s in samples:
        assert s.video_id == "1001"
        assert s.video_path == "1001.mp4"
        assert (s.fps, s.n_frames, s.width, s.height) == (25.0, 100, 320, 240)
        assert s.gt_span == (20, 23)
        assert s.clip_span == (10, 60)
        assert not s.has_gt_boxes
        assert s.gt_boxes_xyxy == {}
        assert s.flags == ("no_gt_boxes",)
        assert s.error is None


def test_raw_with_vidor_boxes(tmp_path: Path) -> None:
    ann = write(tmp_path / "test_annotations.json", [ENTRY])
    boxes = tmp_path / "vidor" / "annotation"
    write(boxes / "validation" / "0001" / "1001.json", vidor_file())
    decl, q_dog, q_adult = load_samples("vidstg", ann, boxes=boxes)
    dog = {
        20: (30.0, 20.0, 70.0, 80.0),
        21: (31.0, 20.0, 71.0, 80.0),
        22: (32.0, 20.0, 72.0, 80.0),
    }  # frame 23 is past the exclusive end_fid
    assert decl.gt_boxes_xyxy == dog
    assert q_dog.gt_boxes_xyxy == dog
    assert decl.has_gt_boxes and decl.flags == () and decl.error is None
    # The adult's frame-22 box (100, 50, 400, 200) is clipped to the 320-px-wide frame.
    assert q_adult.gt_boxes_xyxy == {
        20: (100.0, 50.0, 200.0, 200.0),
        21: (100.0, 50.0, 200.0, 200.0),
        22: (100.0, 50.0, 320.0, 200.0),
    }
    assert q_adult.flags == ("box_clipped",)
    assert decl.video_path == "0001/1001.mp4"  # VidOR's video_path names the folder


def test_raw_missing_box_frames_are_flagged(tmp_path: Path) -> None:
    vidor = vidor_file()
    vidor["trajectories"][21] = [o for o in vidor["trajectories"][21] if o["tid"] != 1]
    ann = write(tmp_path / "a.json", [ENTRY])
    write(tmp_path / "boxes" / "0001" / "1001.json", vidor)
    decl = load_samples("vidstg", ann, boxes=tmp_path / "boxes")[0]
    assert sorted(decl.gt_boxes_xyxy) == [20, 22]
    assert decl.flags == ("missing_gt_boxes",)
    assert decl.error is None


def test_raw_repeated_vid_and_missing_box_file_only_fail_their_samples(tmp_path: Path) -> None:
    second = dict(copy.deepcopy(ENTRY), temporal_gt={"begin_fid": 30, "end_fid": 32}, questions=[])
    other = dict(copy.deepcopy(ENTRY), vid="2002", questions=[])
    ann = write(tmp_path / "a.json", [ENTRY, second, other])
    write(tmp_path / "boxes" / "0001" / "1001.json", vidor_file())
    samples = load_samples("vidstg", ann, boxes=tmp_path / "boxes")
    ids = [s.sample_id for s in samples]
    assert ids == [
        "1001:0:declarative:0",
        "1001:0:interrogative:0",
        "1001:0:interrogative:1",
        "1001:1:declarative:0",
        "2002:2:declarative:0",
    ]
    assert samples[3].gt_span == (30, 32)
    assert samples[3].gt_boxes_xyxy == {30: (40.0, 20.0, 80.0, 80.0), 31: (41.0, 20.0, 81.0, 80.0)}
    assert all(s.error is None for s in samples[:4])
    failed = samples[4]
    assert failed.error == f"VidOR box file not found: {tmp_path / 'boxes'}/**/2002.json"
    assert not failed.has_gt_boxes
    assert failed.flags == ("no_gt_boxes",)
    assert failed.gt_span == (20, 23)


def test_raw_malformed_box_file_fails_that_video_with_file_and_line(tmp_path: Path) -> None:
    ann = write(tmp_path / "a.json", [ENTRY])
    bad = tmp_path / "boxes" / "0001" / "1001.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"trajectories": [\n[{"tid": 1,,}]]}')
    samples = load_samples("vidstg", ann, boxes=tmp_path / "boxes")
    assert len(samples) == 3
    assert all(s.error.startswith(f"{bad}: malformed JSON at line 2") for s in samples)


def test_raw_gt_beyond_clip_is_flagged_not_failed(tmp_path: Path) -> None:
    # As in 768 real test entries: the clip stops at frame_count - 1, the moment at frame_count.
    entry = dict(
        copy.deepcopy(ENTRY),
        used_segment={"begin_fid": 50, "end_fid": 99},
        temporal_gt={"begin_fid": 90, "end_fid": 100},
    )
    [s, *_] = load_samples("vidstg", write(tmp_path / "a.json", [entry]))
    assert s.gt_span == (90, 100)
    assert s.clip_span == (50, 99)
    assert s.flags == ("gt_span_exceeds_clip", "no_gt_boxes")
    assert s.error is None


def test_raw_inverted_span_is_kept_with_error_naming_file_entry_field(tmp_path: Path) -> None:
    bad = dict(copy.deepcopy(ENTRY), vid="3003", temporal_gt={"begin_fid": 40, "end_fid": 30})
    path = write(tmp_path / "a.json", [ENTRY, bad])
    samples = load_samples("vidstg", path)
    assert len(samples) == 6
    assert all(s.error is None for s in samples[:3])
    for s in samples[3:]:
        assert s.error == (f"{path}: entry 1 (vid 3003): field temporal_gt: inverted span [40, 30)")
    empty = dict(copy.deepcopy(ENTRY), used_segment={"begin_fid": 10, "end_fid": 10})
    [s, *_] = load_samples("vidstg", write(tmp_path / "b.json", [empty]))
    assert s.error.endswith("entry 0 (vid 1001): field used_segment: empty span [10, 10)")


@pytest.mark.parametrize(
    "key",
    [
        "vid",
        "frame_count",
        "fps",
        "width",
        "height",
        "used_segment",
        "temporal_gt",
        "captions",
        "questions",
    ],
)
def test_raw_missing_entry_key(tmp_path: Path, key: str) -> None:
    broken = {k: v for k, v in ENTRY.items() if k != key}
    path = write(tmp_path / "a.json", [ENTRY, broken])
    entry_id = "1" if key == "vid" else "1 (vid 1001)"
    with pytest.raises(InputError) as exc:
        load_samples("vidstg", path)
    assert str(exc.value) == f"{path}: entry {entry_id}: missing required key {key!r}"


def test_raw_missing_sentence_or_fid_key(tmp_path: Path) -> None:
    broken = copy.deepcopy(ENTRY)
    del broken["questions"][1]["target_id"]
    path = write(tmp_path / "a.json", [broken])
    with pytest.raises(
        InputError,
        match=r"entry 0 \(vid 1001\) questions\[1\]: missing required "
        r"key 'target_id'",
    ):
        load_samples("vidstg", path)
    broken = copy.deepcopy(ENTRY)
    del broken["temporal_gt"]["end_fid"]
    with pytest.raises(InputError, match=r"entry 0 \(vid 1001\): missing required key 'end_fid'"):
        load_samples("vidstg", write(tmp_path / "b.json", [broken]))


def test_raw_missing_and_malformed_annotation_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="VidSTG annotation file not found"):
        load_samples("vidstg", tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text('[\n{"vid": "1"\n')
    with pytest.raises(InputError, match=rf"^{bad}: malformed JSON at line 3 column"):
        load_samples("vidstg", bad)
    with pytest.raises(InputError, match="expected a JSON list of VidSTG entries, got dict"):
        load_samples("vidstg", write(tmp_path / "d.json", {"a": ENTRY}))


def test_raw_video_paths_with_videos_folder(tmp_path: Path) -> None:
    videos = tmp_path / "vidor" / "video"
    (videos / "0001").mkdir(parents=True)
    (videos / "0001" / "1001.mp4").write_bytes(b"x")
    other = dict(copy.deepcopy(ENTRY), vid="2002", questions=[])
    ann = write(tmp_path / "a.json", [ENTRY, other])
    # Without box files the folder is unknown: <vid>.mp4 is found under --videos by name.
    samples = load_samples("vidstg", ann, videos=videos)
    assert samples[0].video_path == str(videos / "0001" / "1001.mp4")
    assert all(s.error is None for s in samples[:3])
    assert samples[3].error == f"video file not found: {videos / '2002.mp4'}"
    # With the box file, its video_path is used directly.
    write(tmp_path / "boxes" / "0001" / "1001.json", vidor_file())
    write(tmp_path / "boxes" / "0002" / "2002.json", vidor_file("2002", "0002"))
    samples = load_samples("vidstg", ann, videos=videos, boxes=tmp_path / "boxes")
    assert samples[0].video_path == str(videos / "0001" / "1001.mp4")
    assert samples[0].error is None
    assert samples[3].error == f"video file not found: {videos / '0002' / '2002.mp4'}"


# TubeDETR's preprocessed file: one `videos` item per sentence; boxes are xywh keyed by frame.
def tubedetr_file() -> dict:
    common = {
        "original_video_id": "1001",
        "frame_count": 100,
        "fps": 25.0,
        "width": 320,
        "height": 240,
        "start_frame": 10,
        "end_frame": 60,
        "tube_start_frame": 20,
        "tube_end_frame": 23,
        "video_path": "0001/1001.mp4",
    }
    videos = [
        dict(
            common,
            caption="what chases the ball?",
            type="object",
            target_id=1,
            video_id=0,
            qtype="interrogative",
        ),
        dict(
            common,
            caption="a dog chases the ball.",
            type="object",
            target_id=1,
            video_id=1,
            qtype="declarative",
        ),
    ]
    track = {
        str(f): {"bbox": [10 + f, 20, 40, 60], "generated": 0, "tracker": "none", "category_id": 3}
        for f in range(18, 25)
    }
    track["22"]["bbox"] = [300, 200, 40, 60]  # reaches x = 340 > 320 and y = 260 > 240
    return {"videos": videos, "trajectories": {"1001": {"1": track}}}


def test_tubedetr_format(tmp_path: Path) -> None:
    path = write(tmp_path / "test.json", tubedetr_file())
    inter, decl = load_samples("vidstg-tubedetr", path)
    assert inter.sample_id == "1001:0:interrogative"
    assert decl.sample_id == "1001:1:declarative"
    assert (inter.qtype, decl.qtype) == ("interrogative", "declarative")
    assert decl.query == "a dog chases the ball."
    assert inter.gt_span == (20, 23)
    assert inter.clip_span == (10, 60)
    assert inter.video_path == "0001/1001.mp4"
    assert inter.gt_boxes_xyxy == {
        20: (30.0, 20.0, 70.0, 80.0),
        21: (31.0, 20.0, 71.0, 80.0),
        22: (300.0, 200.0, 320.0, 240.0),
    }
    assert inter.has_gt_boxes
    assert inter.flags == ("box_clipped",)
    assert inter.error is None


def test_tubedetr_bad_input(tmp_path: Path) -> None:
    data = tubedetr_file()
    del data["videos"][1]["tube_end_frame"]
    path = write(tmp_path / "a.json", data)
    with pytest.raises(InputError) as exc:
        load_samples("vidstg-tubedetr", path)
    assert str(exc.value) == f"{path}: entry 1 (video_id 1): missing required key 'tube_end_frame'"

    data = tubedetr_file()
    data["videos"][0]["target_id"] = 7
    with pytest.raises(
        InputError,
        match=r"entry 0 \(video_id 0\): missing required key "
        r"trajectories\['1001'\]\['7'\]",
    ):
        load_samples("vidstg-tubedetr", write(tmp_path / "b.json", data))

    data = tubedetr_file()
    data["videos"][0]["tube_start_frame"] = 30
    inter, decl = load_samples("vidstg-tubedetr", write(tmp_path / "c.json", data))
    assert "field tube_start_frame/tube_end_frame: inverted span [30, 23)" in inter.error
    assert decl.error is None

    with pytest.raises(InputError, match="missing required key 'videos'"):
        load_samples("vidstg-tubedetr", write(tmp_path / "d.json", {"trajectories": {}}))
    with pytest.raises(InputError, match="--boxes is for the raw vidstg format"):
        load_samples("vidstg-tubedetr", path, boxes=tmp_path)
