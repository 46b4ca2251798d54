"""``zstvg prepare-data`` end to end, in process: output, provenance, summary, exit codes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from zstvg.cli import main
from zstvg.files.io import read_jsonl
from zstvg.files.records import Sample

# st_frame 5 (1-based), three xywh boxes, img_num 600 -> fps 30, gt_span [4, 7).
ENTRY = {
    "bbox": [[10, 20, 30, 40], [12, 22, 30, 40], [14, 24, 30, 40]],
    "st_time": 0.14,
    "ed_time": 0.24,
    "img_num": 600,
    "English": "The man in red sits down.",
    "img_size": [480, 640],
    "st_frame": 5,
}


@pytest.fixture()
def annotations(tmp_path: Path) -> Path:
    outside = dict(ENTRY, bbox=[[600, 400, 100, 100]])  # clipped to (600, 400, 640, 480)
    inverted = dict(ENTRY, st_time=9.0, ed_time=2.0, st_frame=271)
    path = tmp_path / "val_v2.json"
    path.write_text(
        json.dumps({"a.mp4": ENTRY, "b.mp4": outside, "c.mp4": inverted, "d.mp4": ENTRY})
    )
    return path


def test_writes_samples_provenance_and_summary(
    tmp_path: Path, annotations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "samples.jsonl"
    rc = main(
        [
            "prepare-data",
            "--dataset",
            "hcstvg-v2",
            "--annotations",
            str(annotations),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    samples = [Sample.from_json(row) for row in read_jsonl(out)]
    assert [s.sample_id for s in samples] == ["a", "b", "c", "d"]
    a = samples[0]
    assert a.gt_span == (4, 7)
    assert a.gt_boxes_xyxy[6] == (14.0, 24.0, 44.0, 64.0)
    assert samples[1].gt_boxes_xyxy == {4: (600.0, 400.0, 640.0, 480.0)}
    assert samples[1].flags == ("box_clipped",)
    assert "field st_time/ed_time: inverted time span [9.0, 2.0) s" in samples[2].error

    prov = json.loads((tmp_path / "out" / "samples.jsonl.provenance.json").read_text())
    assert prov["step"] == "prepare-data"
    assert prov["dataset_format"] == "hcstvg-v2"
    assert (
        prov["annotations_fingerprint"]["sha256"]
        == hashlib.sha256(annotations.read_bytes()).hexdigest()
    )
    assert prov["annotations_fingerprint"]["size"] == annotations.stat().st_size
    assert set(prov["annotations_fingerprint"]) == {"size", "sha256"}  # no mtime: a checkout's
    assert prov["counts"] == {
        "n_samples": 4,
        "n_videos": 4,
        "by_qtype": {"declarative": 4},
        "n_failed": 1,
        "n_with_gt_boxes": 4,
        "flags": {"box_clipped": 1},
    }
    stdout = capsys.readouterr().out
    assert "4 samples (4 declarative) from 4 videos" in stdout
    assert "flag box_clipped: 1 samples" in stdout
    assert "failed: 1 samples" in stdout
    assert "c: " in stdout and "inverted time span" in stdout
    # Atomic writes leave no temp files behind.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "samples.jsonl",
        "samples.jsonl.provenance.json",
        "samples.jsonl.provenance.run.json",  # the git revision, kept out of DVC's hashes
    ]


def test_missing_video_fails_that_sample_and_exits_zero(
    tmp_path: Path, annotations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        (videos / name).write_bytes(b"x")
    out = tmp_path / "samples.jsonl"
    rc = main(
        [
            "prepare-data",
            "--dataset",
            "hcstvg-v2",
            "--annotations",
            str(annotations),
            "--videos",
            str(videos),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    samples = {s.sample_id: s for s in (Sample.from_json(r) for r in read_jsonl(out))}
    assert samples["d"].error == f"video file not found: {videos / 'd.mp4'}"
    assert samples["d"].gt_span == (4, 7)
    assert samples["a"].error is None
    assert samples["a"].video_path == str(videos / "a.mp4")
    stdout = capsys.readouterr().out
    assert "failed: 2 samples" in stdout
    assert f"d: video file not found: {videos / 'd.mp4'}" in stdout


def test_videos_listed_as_damaged_fail_their_samples(
    tmp_path: Path, annotations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """By file name (b.mp4) or stem (d); the inverted-span sample c keeps its first reason
    before this one."""
    out = tmp_path / "samples.jsonl"
    args = ["--dataset", "hcstvg-v2", "--annotations", str(annotations), "--out", str(out)]
    damaged = ["--damaged-video", "b.mp4", "--damaged-video", "d", "--damaged-video", "c"]
    assert main(["prepare-data", *args, *damaged]) == 0
    samples = {s.sample_id: s for s in (Sample.from_json(r) for r in read_jsonl(out))}
    reason = "video listed as damaged (damaged_videos of the dataset's params)"
    assert samples["a"].error is None
    assert samples["b"].error == samples["d"].error == reason
    assert samples["c"].error.endswith(f"inverted time span [9.0, 2.0) s; {reason}")
    assert "failed: 3 samples" in capsys.readouterr().out
    prov = json.loads(out.with_name(out.name + ".provenance.json").read_text())
    assert prov["damaged_videos"] == ["b.mp4", "c", "d"]


def test_malformed_annotations_exit_2_and_leave_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"a.mp4": {"bbox": [\n}')
    out = tmp_path / "samples.jsonl"
    rc = main(
        ["prepare-data", "--dataset", "hcstvg-v1", "--annotations", str(bad), "--out", str(out)]
    )
    assert rc == 2
    assert f"{bad}: malformed JSON at line 2" in capsys.readouterr().err
    assert not out.exists()


def test_missing_annotations_and_missing_key_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "samples.jsonl"
    rc = main(
        [
            "prepare-data",
            "--dataset",
            "vidstg",
            "--annotations",
            str(tmp_path / "none.json"),
            "--out",
            str(out),
        ]
    )
    assert rc == 2
    assert "VidSTG annotation file not found" in capsys.readouterr().err
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"a.mp4": {k: v for k, v in ENTRY.items() if k != "bbox"}}))
    rc = main(
        ["prepare-data", "--dataset", "hcstvg-v2", "--annotations", str(path), "--out", str(out)]
    )
    assert rc == 2
    assert f"{path}: entry a.mp4: missing required key 'bbox'" in capsys.readouterr().err
    assert not out.exists()


def test_help_documents_every_argument(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["prepare-data", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for arg in ("--dataset", "--annotations", "--videos", "--boxes", "--damaged-video", "--out"):
        assert arg in text
    assert "vidstg-tubedetr" in text
