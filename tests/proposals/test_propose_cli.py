"""``zstvg propose`` and ``zstvg import-proposals`` on real JPEG frames and tiny checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zstvg.cli import main
from zstvg.files import proposal_tracks as official_format
from zstvg.files import rle
from zstvg.files.decompositions import Decomposition
from zstvg.files.records import Sample
from zstvg.files.samples import write_samples
from zstvg.proposals.propose import detection_frames, video_classes


def test_detection_frames_and_classes() -> None:
    # every 10 native frames on a 5-native-frame grid: every 2nd grid frame
    assert detection_frames([0, 5, 10, 15, 20, 25], 10, dense=False) == [0, 10, 20]
    # a sparser grid (every 6 native frames): the first grid frame in each 10-frame bucket
    assert detection_frames([0, 6, 12, 18, 24, 30], 10, dense=False) == [0, 12, 24, 30]
    assert detection_frames([0, 5, 10], 2, dense=True) == [0, 5, 10]
    assert video_classes(["a", "b", "c"], {"a": "dog", "b": "", "c": "dog"}, "person") == [
        "dog",
        "person",
    ]


def write_inputs(root: Path, synthetic_frames) -> dict[str, Path]:
    """Two videos as sample-frames leaves them (one ok, one failed) and their samples."""
    frames_dir = root / "frames"
    vdir = frames_dir / "vid_ok"
    vdir.mkdir(parents=True)
    frames = synthetic_frames(n_frames=12)
    for f, img in frames.items():
        Image.fromarray(img).save(vdir / f"{f:06d}.jpg", quality=95)
    grid = sorted(frames)
    index = {
        "video_id": "vid_ok",
        "fps": 10.0,
        "width": 96,
        "height": 64,
        "n_frames": 24,
        "samples": {
            "s1": {"status": "ok", "grid_frame_idx": grid[:8], "mllm_frame_idx": []},
            "s2": {"status": "ok", "grid_frame_idx": grid[4:], "mllm_frame_idx": []},
        },
    }
    (vdir / "index.json").write_text(json.dumps(index))
    manifest = {
        "videos": {
            "vid_ok": {"status": "ok", "frames_dir": "vid_ok", "index": "vid_ok/index.json"},
            "vid_bad": {"status": "failed", "frames_dir": "vid_bad", "error": "corrupt video"},
        }
    }
    (frames_dir / "manifest.json").write_text(json.dumps(manifest))
    samples = root / "samples.jsonl"
    write_samples(
        samples,
        [
            Sample(s, v, f"{v}.mp4", "a person", "declarative", 10.0, 24, 96, 64, (0, 24), (0, 24))
            for s, v in [("s1", "vid_ok"), ("s2", "vid_ok"), ("s3", "vid_bad")]
        ],
    )
    decomp = root / "decompositions.jsonl"
    row = Decomposition("s1", "a person", "person", "a person", "walks", "", "", "test", None, None)
    decomp.write_text(json.dumps(row.to_json()) + "\n")
    return {"samples": samples, "frames": frames_dir / "manifest.json", "decomp": decomp}


def propose(inputs: dict[str, Path], out: Path, *settings: str, extra: tuple[str, ...] = ()) -> int:
    args = [
        "propose",
        "--samples",
        str(inputs["samples"]),
        "--frames",
        str(inputs["frames"]),
        "--decompositions",
        str(inputs["decomp"]),
        "--out",
        str(out),
    ]
    for s in settings:
        args += ["--set", s]
    return main([*args, *extra])


@pytest.mark.parametrize(
    "tracker", ["sam2-hf", "sam2-official", "bytetrack", "botsort", "ocsort", "sort"]
)
def test_propose_writes_valid_files_for_every_video(
    tracker, tiny_gdino, request, tmp_path, capsys, make_frames
) -> None:
    inputs = write_inputs(tmp_path, make_frames)
    out = tmp_path / "proposals"
    if tracker == "sam2-official":
        from zstvg.tiny.proposals import SAM2_OFFICIAL_TINY_OVERRIDES

        checkpoint = request.getfixturevalue("tiny_sam2_official")
        overrides = ", ".join(f'"{o}"' for o in SAM2_OFFICIAL_TINY_OVERRIDES)
        tracker_settings = [f"proposals.tracker_config_overrides=[{overrides}]"]
    else:
        checkpoint = request.getfixturevalue("tiny_sam2")
        tracker_settings = []
    if tracker in ("ocsort", "sort"):
        # The random-weight detector's boxes jump between frames; OC-SORT and SORT confirm a
        # track after 3 matches at IoU >= 0.3, which such boxes rarely give: any overlap matches.
        tracker_settings = [f"proposals.box_trackers.{tracker}.minimum_iou_threshold=0.0"]
    settings = [
        *tracker_settings,
        f"proposals.detector_checkpoint={tiny_gdino}",
        f"proposals.tracker_checkpoint={checkpoint}",
        f"proposals.tracker={tracker}",
        "proposals.box_threshold=0.0",
        "proposals.text_threshold=0.0",
        "proposals.detect_every_n_frames=4",
        "proposals.max_detections_per_frame=2",
        "proposals.min_track_frames=1",
        "proposals.device=cpu",
    ]
    assert propose(inputs, out, *settings) == 0
    ok = official_format.read(out / "vid_ok.json")
    assert ok.frame_idx == tuple(range(0, 24, 2))  # union of both samples' grids
    assert ok.tracks and {t.class_name for t in ok.tracks} <= {"person"}
    assert [t.track_id for t in ok.tracks] == list(range(len(ok.tracks)))
    bad = official_format.read(out / "vid_bad.json")  # failed frames: valid and empty
    assert bad.tracks == () and bad.frame_idx == ()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["videos"]["vid_bad"]["status"] == "failed"
    assert "corrupt video" in manifest["videos"]["vid_bad"]["error"]
    assert manifest["videos"]["vid_ok"]["status"] == "ok"
    prov = json.loads((out / "vid_ok.json.provenance.json").read_text())
    assert prov["params"]["tracker"] == tracker and prov["classes"] == ["person"]
    assert "1 failed" in capsys.readouterr().out
    # Rerun: the finished video is skipped, the failed one retried.
    assert propose(inputs, out, *settings) == 0
    assert "1 already done" in capsys.readouterr().out


def test_video_without_detections_gets_an_empty_valid_file(
    tiny_gdino, tmp_path, make_frames
) -> None:
    inputs = write_inputs(tmp_path, make_frames)
    out = tmp_path / "proposals"
    assert (
        propose(
            inputs,
            out,
            f"proposals.detector_checkpoint={tiny_gdino}",
            "proposals.tracker=bytetrack",
            "proposals.box_threshold=1.0",
        )
        == 0
    )
    empty = official_format.read(out / "vid_ok.json")
    assert empty.tracks == () and len(empty.frame_idx) == 12
    assert json.loads((out / "manifest.json").read_text())["videos"]["vid_ok"]["status"] == "empty"


def test_progress_bar_only_on_a_terminal_and_not_with_no_progress(
    tmp_path, make_frames, capsys, request
) -> None:
    inputs = write_inputs(tmp_path, make_frames)
    # vid_bad failed upstream: a real run over one video that loads no model
    only_bad = ("--video-id", "vid_bad")
    bar = "propose: 100%"
    assert propose(inputs, tmp_path / "p", extra=only_bad) == 0  # stderr captured: no terminal
    assert bar not in capsys.readouterr().err
    terminal = request.getfixturevalue("terminal_stderr")
    assert propose(inputs, tmp_path / "p", extra=(*only_bad, "--no-progress")) == 0
    assert bar not in terminal.getvalue()
    assert propose(inputs, tmp_path / "p", extra=only_bad) == 0
    assert bar in terminal.getvalue() and "1/1" in terminal.getvalue()


def test_missing_checkpoint_stops_the_run_with_exit_2(tmp_path, make_frames) -> None:
    inputs = write_inputs(tmp_path, make_frames)
    assert propose(inputs, tmp_path / "p", f"proposals.detector_checkpoint={tmp_path}/none") == 2


def test_import_proposals_round_trip_and_rejects_bad_files(tmp_path, capsys) -> None:
    src = tmp_path / "released"
    src.mkdir()
    hand_written = {
        "sample_frames": ["00000.jpg", "00010.jpg"],
        "dino_sam2_proposals": [
            {
                "track_id": 3,
                "bboxes": [[[1, 2, 11, 12]], [[0, 0, 0, 0]]],
                "rles": [{"size": [20, 30], "counts": "0"}, {"size": [20, 30], "counts": "0"}],
                "class_name": "person",
                "box_format": "xyxy",
                "img_width": 30,
                "img_height": 20,
            }
        ],
    }
    mask = np.zeros((20, 30), bool)
    mask[2:12, 1:11] = True
    hand_written["dino_sam2_proposals"][0]["rles"] = [rle.encode(mask), rle.empty(20, 30)]
    (src / "v1.json").write_text(json.dumps(hand_written))
    (src / "v2.json").write_text(json.dumps({"sample_frames": []}))
    out = tmp_path / "imported"
    assert main(["import-proposals", "--src", str(src), "--out", str(out)]) == 0
    back = official_format.read(out / "v1.json")
    assert back.frame_idx == (0, 10)
    assert back.tracks[0].boxes_xyxy == {0: (1.0, 2.0, 11.0, 12.0)}
    assert rle.box_xyxy(back.tracks[0].rles[0]) == (1.0, 2.0, 11.0, 12.0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["videos"]["v1"]["status"] == "ok"
    assert "dino_sam2_proposals" in manifest["videos"]["v2"]["error"]
    assert not (out / "v2.json").exists()
    assert "1 rejected" in capsys.readouterr().out
    # Our files import too (the same reader).
    again = tmp_path / "again"
    assert main(["import-proposals", "--src", str(out), "--out", str(again)]) == 0
    assert official_format.read(again / "v1.json") == back


def test_propose_with_gdino_official_end_to_end(
    tiny_gdino_official, gdino_python, tmp_path, make_frames
) -> None:
    """`propose --set proposals.detector=gdino-official`: the authors' model detects in its own
    environment, our tracker links the boxes in this one."""
    inputs = write_inputs(tmp_path, make_frames)
    out = tmp_path / "proposals"
    settings = ["proposals.detector=gdino-official",
                f"proposals.detector_checkpoint={tiny_gdino_official}",
                f"proposals.detector_python={gdino_python}", "proposals.tracker=bytetrack",
                # random weights: boxes jump frame to frame, so any overlap links them
                "proposals.box_trackers.bytetrack.minimum_iou_threshold=0.0",
                "proposals.box_threshold=0.0", "proposals.text_threshold=0.0",
                "proposals.max_detections_per_frame=2", "proposals.min_track_frames=1",
                "proposals.device=cpu"]  # fmt: skip
    assert propose(inputs, out, *settings) == 0
    ok = official_format.read(out / "vid_ok.json")
    assert ok.tracks and {t.class_name for t in ok.tracks} == {"person"}
    for track in ok.tracks:
        for x1, y1, x2, y2 in track.boxes_xyxy.values():
            assert 0 <= x1 < x2 <= 96 and 0 <= y1 < y2 <= 64
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["videos"]["vid_ok"]["status"] == "ok"
    prov = json.loads((out / "vid_ok.json.provenance.json").read_text())
    assert prov["params"]["detector"] == "gdino-official"


def test_changed_checkpoint_redoes_the_videos(tiny_gdino, tmp_path, make_frames, capsys) -> None:
    """Same path, other weights (a re-download, a fine-tune saved over it): nothing is reused."""
    import shutil

    ckpt = tmp_path / "gdino"
    shutil.copytree(tiny_gdino, ckpt)
    inputs = write_inputs(tmp_path, make_frames)
    out = tmp_path / "proposals"
    settings = [f"proposals.detector_checkpoint={ckpt}", "proposals.tracker=bytetrack",
                "proposals.box_threshold=1.0"]  # fmt: skip
    assert propose(inputs, out, *settings) == 0
    assert propose(inputs, out, *settings) == 0
    assert "1 already done" in capsys.readouterr().out
    config = ckpt / "config.json"
    config.write_text(config.read_text() + "\n")
    assert propose(inputs, out, *settings) == 0
    assert "0 already done" in capsys.readouterr().out
    prov = json.loads((out / "provenance.json").read_text())
    assert set(prov["checkpoint_fingerprints"]) == {"detector"}


def test_shards_and_their_merge_give_the_one_job_manifest(
    tiny_gdino, tiny_sam2, tmp_path, capsys, make_frames
) -> None:
    """propose --shard I/N over the videos of shard I, then --merge N: the manifest (a failed
    video included, with its reason) is the one-job run's; a shard never run is named."""
    from zstvg.jobs.shards import shard_of

    inputs = write_inputs(tmp_path, make_frames)
    settings = [f"proposals.detector_checkpoint={tiny_gdino}",
                f"proposals.tracker_checkpoint={tiny_sam2}", "proposals.box_threshold=0.0",
                "proposals.text_threshold=0.0", "proposals.device=cpu"]  # fmt: skip
    assert propose(inputs, tmp_path / "one", *settings) == 0
    n = 3
    # one video in shard 0, one in shard 2, none in shard 1 (an empty shard is fine too)
    assert [shard_of(v, n) for v in ("vid_ok", "vid_bad")] == [0, 2]
    out = tmp_path / "sharded"
    for i in range(n):
        assert main(["propose", "--samples", str(inputs["samples"]), "--frames",
                     str(inputs["frames"]), "--decompositions", str(inputs["decomp"]),
                     "--out", str(out), "--shard", f"{i}/{n}",
                     *[a for s in settings for a in ("--set", s)]]) == 0  # fmt: skip
    assert not (out / "manifest.json").exists()  # shards write only their files
    merge = ["propose", "--samples", str(inputs["samples"]), "--frames", str(inputs["frames"]),
             "--decompositions", str(inputs["decomp"]), "--out", str(out), "--merge", str(n),
             *[a for s in settings for a in ("--set", s)]]  # fmt: skip
    assert main(merge) == 0
    one = json.loads((tmp_path / "one/manifest.json").read_text())["videos"]
    merged = json.loads((out / "manifest.json").read_text())["videos"]
    assert merged == one
    (out / "vid_ok.json").unlink()  # as if its shard had never run
    assert main(merge) == 0
    merged = json.loads((out / "manifest.json").read_text())["videos"]
    assert "its shard did not finish" in merged["vid_ok"]["error"]
    capsys.readouterr()
