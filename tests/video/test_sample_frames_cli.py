"""``zstvg sample-frames`` end to end on real video files (frames encode their own index)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from frame_videos import read_index  # noqa: I001
from PIL import Image

from zstvg.cli import main
from zstvg.files.io import write_jsonl
from zstvg.files.records import Sample


def _sample(
    sid: str,
    video: Path,
    clip_span: tuple[int, int],
    fps: float = 25.0,
    n_frames: int = 60,
    error: str | None = None,
    size: tuple[int, int] = (64, 48),
) -> dict:
    return Sample(
        sample_id=sid,
        video_id=video.stem,
        video_path=str(video),
        query="a person",
        qtype="declarative",
        fps=fps,
        n_frames=n_frames,
        width=size[0],
        height=size[1],
        gt_span=(clip_span[0], clip_span[1]),
        clip_span=clip_span,
        error=error,
    ).to_json()


@pytest.fixture()
def dataset(tmp_path, make_video):
    """Two good videos (one shorter than its annotation says), a missing and a corrupt one."""
    good = make_video("clipA.mp4", 60, gop=10)
    short = make_video("clipB.mp4", 40, gop=10)
    corrupt = tmp_path / "clipC.mp4"
    corrupt.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, np.uint8).tobytes())
    rows = [
        _sample("a-whole", good, (0, 60)),
        _sample("a-part", good, (10, 30)),
        _sample("b-claims-60", short, (0, 60)),  # annotation says 60 frames; video has 40
        _sample("b-tiny", short, (5, 7), n_frames=40),
        _sample("c-corrupt", corrupt, (0, 60)),
        _sample("d-missing", tmp_path / "clipD.mp4", (0, 60)),
        _sample("e-flagged", good, (0, 60), error="inverted span [30, 10)"),
    ]
    samples = tmp_path / "samples.jsonl"
    write_jsonl(samples, rows)
    return samples


def _run(samples: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "sample-frames",
            "--samples",
            str(samples),
            "--out",
            str(out),
            "--set",
            "frames.n_mllm_frames=4",
            "--workers",
            "1",
            *extra,
        ]
    )


def test_frames_index_and_manifest(dataset, tmp_path, capsys):
    out = tmp_path / "frames" / "manifest.json"
    assert _run(dataset, out) == 0
    summary = capsys.readouterr().out
    assert "4 videos (2 ok, 2 failed" in summary
    assert "7 samples (3 ok, 4 failed)" in summary

    index = json.loads((out.parent / "clipA" / "index.json").read_text())
    a_whole, a_part = index["samples"]["a-whole"], index["samples"]["a-part"]
    # The MLLM frames are a uniform subset of the grid: [0, 60)'s 12 grid frames in 4 bins of
    # 3, centres at positions 1, 4, 7, 10 -> frames 5, 20, 35, 50; [10, 30) has 4 grid frames.
    assert a_whole["mllm_frame_idx"] == [5, 20, 35, 50]
    assert a_part["mllm_frame_idx"] == [10, 15, 20, 25]
    assert a_whole["grid_frame_idx"] == list(range(0, 60, 5))  # 25 fps -> every 5th frame
    assert a_part["grid_frame_idx"] == [10, 15, 20, 25]
    assert a_whole["mllm_t_sec"] == pytest.approx([0.2, 0.8, 1.4, 2.0])
    assert (index["n_frames"], index["width"], index["height"], index["fps"]) == (60, 64, 48, 25)
    # one decode for both samples: the union of their frames is stored, each frame once
    union = list(range(0, 60, 5))  # the MLLM frames are grid frames: nothing else stored
    assert index["frame_idx"] == union
    assert sorted(int(p.stem) for p in (out.parent / "clipA").glob("*.jpg")) == union
    for f in (0, 5, 25, 55):
        with Image.open(out.parent / "clipA" / f"{f:06d}.jpg") as img:
            assert read_index(np.asarray(img.convert("RGB"))) == f

    manifest = json.loads(out.read_text())
    samples = manifest["samples"]
    assert list(samples) == [
        "a-whole",
        "a-part",
        "b-claims-60",
        "b-tiny",
        "c-corrupt",
        "d-missing",
        "e-flagged",
    ]
    assert samples["a-whole"]["status"] == "ok" and samples["a-part"]["status"] == "ok"
    assert samples["b-tiny"] == {
        "video_id": "clipB",
        "status": "ok",
        "flags": ["fewer_frames_than_requested"],
        "frames_dir": "clipB",
        "mllm_frame_idx": [5],  # [5, 7) at 25 fps holds one 5 fps grid frame
        "n_grid_frames": 1,
    }
    assert samples["b-claims-60"]["status"] == "failed"
    assert "decodes to 40 frames" in samples["b-claims-60"]["error"]
    assert "cannot open video" in samples["c-corrupt"]["error"]
    assert "video file not found" in samples["d-missing"]["error"]
    assert samples["e-flagged"]["error"] == "inverted span [30, 10)"
    assert samples["e-flagged"]["step"] == "prepare-data"
    assert samples["b-claims-60"]["step"] == samples["c-corrupt"]["step"] == "sample-frames"
    assert manifest["videos"]["clipC"]["status"] == "failed"
    assert manifest["videos"]["clipB"]["status"] == "ok"
    assert (manifest["n_videos_failed"], manifest["n_samples_failed"]) == (2, 4)
    short = json.loads((out.parent / "clipB" / "index.json").read_text())
    assert short["samples"]["b-claims-60"]["missing_frame_idx"][:3] == [40, 45, 50]
    assert "missing_grid_frames" in short["samples"]["b-claims-60"]["flags"]
    provenance = json.loads((out.parent / "manifest.json.provenance.json").read_text())
    assert provenance["step"] == "sample-frames"
    assert provenance["params"]["n_mllm_frames"] == 4


def test_resume_skips_finished_videos_and_redoes_changed_ones(dataset, tmp_path, capsys):
    out = tmp_path / "frames" / "manifest.json"
    assert _run(dataset, out) == 0
    capsys.readouterr()
    folder = out.parent / "clipA"
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    manifest = out.read_text()

    assert _run(dataset, out) == 0
    second = capsys.readouterr().out
    # clipA, clipB ok; clipC's decode failure is reused too (same bytes, same failure)
    assert "3 already done), " in second and " 0 frames written" in second
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps
    assert out.read_text() == manifest

    # other parameters: the video is redone and frames of the old selection are removed
    assert (
        main(
            [
                "sample-frames",
                "--samples",
                str(dataset),
                "--out",
                str(out),
                "--set",
                "frames.n_mllm_frames=2",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    assert "0 already done" in capsys.readouterr().out
    index = json.loads((folder / "index.json").read_text())
    assert index["samples"]["a-whole"]["mllm_frame_idx"] == [15, 45]
    assert sorted(int(p.stem) for p in folder.glob("*.jpg")) == index["frame_idx"]
    assert 7 not in index["frame_idx"]


def test_same_output_twice_and_with_a_process_pool(dataset, tmp_path):
    one, two = tmp_path / "one" / "manifest.json", tmp_path / "two" / "manifest.json"
    assert _run(dataset, one) == 0
    assert (
        main(
            [
                "sample-frames",
                "--samples",
                str(dataset),
                "--out",
                str(two),
                "--set",
                "frames.n_mllm_frames=4",
                "--workers",
                "2",
            ]
        )
        == 0
    )
    files_one = sorted(
        p.relative_to(one.parent)
        for p in one.parent.rglob("*")
        if p.is_file() and not p.name.endswith("provenance.json")
    )
    files_two = sorted(
        p.relative_to(two.parent)
        for p in two.parent.rglob("*")
        if p.is_file() and not p.name.endswith("provenance.json")
    )
    assert files_one == files_two
    for rel in files_one:
        assert (one.parent / rel).read_bytes() == (two.parent / rel).read_bytes(), rel


def test_missing_key_in_samples_names_file_and_key(tmp_path, capsys):
    samples = tmp_path / "samples.jsonl"
    row = _sample("x", tmp_path / "v.mp4", (0, 10))
    del row["clip_span"]
    samples.write_text(json.dumps(row) + "\n")
    assert (
        main(["sample-frames", "--samples", str(samples), "--out", str(tmp_path / "m.json")]) == 2
    )
    assert "samples.jsonl:1: missing required key 'clip_span'" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


def test_video_ids_with_slashes_get_safe_folders(tmp_path, make_video, capsys):
    video = make_video("clipA.mp4", 60, gop=10)
    row = _sample("s", video, (0, 60))
    row["video_id"] = "0001/2401075277"
    samples = tmp_path / "samples.jsonl"
    write_jsonl(samples, [row])
    out = tmp_path / "frames" / "manifest.json"
    assert _run(samples, out) == 0
    entry = json.loads(out.read_text())["videos"]["0001/2401075277"]
    assert entry["frames_dir"].startswith("0001_2401075277-")
    assert (out.parent / entry["frames_dir"] / "index.json").is_file()


def test_changed_video_is_redone_and_touched_one_is_not(dataset, tmp_path, capsys):
    """The resume key holds the video's content hash: truncating a video after a finished run
    redoes it (and fails it); a copy with a new mtime but the same bytes is reused, its hash
    found by reading the file once."""
    rows = [json.loads(line) for line in dataset.read_text().splitlines()]
    video = Path(next(r["video_path"] for r in rows if r["sample_id"] == "a-whole"))
    local = tmp_path / "clipA.mp4"
    local.write_bytes(video.read_bytes())
    mine = tmp_path / "mine.jsonl"
    write_jsonl(mine, [{**r, "video_path": str(local)} for r in rows if r["video_id"] == "clipA"])
    out = tmp_path / "frames" / "manifest.json"
    assert _run(mine, out) == 0
    capsys.readouterr()

    os.utime(local, ns=(time.time_ns(), time.time_ns()))  # same bytes, newer mtime
    assert _run(mine, out) == 0
    assert "1 already done" in capsys.readouterr().out

    data = local.read_bytes()
    local.write_bytes(data[: len(data) // 4])
    assert _run(mine, out) == 0
    printed = capsys.readouterr().out
    assert "0 already done" in printed
    manifest = json.loads(out.read_text())
    assert manifest["samples"]["a-whole"]["status"] == "failed"
    assert manifest["samples"]["a-whole"]["step"] == "sample-frames"


def test_one_unexpected_error_fails_that_video_only(dataset, tmp_path, capsys):
    """The frame folder of one video exists as a file: that video fails with the exception's
    type and message, the others are written, the manifest lists it."""
    out = tmp_path / "frames" / "manifest.json"
    out.parent.mkdir()
    (out.parent / "clipA").write_text("not a folder")
    assert _run(dataset, out) == 0
    manifest = json.loads(out.read_text())
    assert manifest["videos"]["clipA"]["status"] == "failed"
    assert manifest["videos"]["clipA"]["error"].startswith(("FileExistsError", "NotADirectory"))
    assert manifest["samples"]["a-part"]["status"] == "failed"
    assert manifest["videos"]["clipB"]["status"] == "ok"
    assert (out.parent / "clipB" / "index.json").is_file()


def test_two_concurrent_runs_on_one_output_both_finish(dataset, tmp_path):
    out = tmp_path / "frames" / "manifest.json"
    cmd = [str(Path(sys.executable).parent / "zstvg"), "sample-frames", "--samples",
           str(dataset), "--out", str(out), "--workers", "1"]  # fmt: skip
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in "ab"]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert not list(out.parent.rglob("*.tmp"))
    assert json.loads(out.read_text())["videos"]["clipA"]["status"] == "ok"


def test_annotation_size_differs_from_decoded_size(make_video, tmp_path):
    """A 128x96 annotation of a 64x48 video is a uniform 0.5 scale (recorded for readers);
    100x48 has no single scale and is only flagged."""
    video = make_video("clipA.mp4", 60, gop=10)  # 64x48
    rows = [
        {**_sample("same", video, (0, 60))},
        {**_sample("double", video, (0, 60)), "width": 128, "height": 96},
        {**_sample("skewed", video, (0, 60)), "width": 100, "height": 48},
    ]
    samples = tmp_path / "s.jsonl"
    write_jsonl(samples, rows)
    out = tmp_path / "frames" / "manifest.json"
    assert _run(samples, out) == 0
    entries = json.loads(out.read_text())["samples"]
    assert entries["same"]["flags"] == [] and "gt_scale_xy" not in entries["same"]
    assert entries["double"]["flags"] == ["frame_size_mismatch:128x96->64x48"]
    assert entries["double"]["gt_scale_xy"] == [0.5, 0.5]
    assert entries["skewed"]["flags"] == [
        "frame_size_mismatch:100x48->64x48",
        "frame_size_nonuniform",
    ]
    assert "gt_scale_xy" not in entries["skewed"]


def test_out_of_memory_in_one_video_fails_that_video_only(dataset, tmp_path, monkeypatch):
    """A second failure class (MemoryError from the decoder) is data like any other."""
    from zstvg.video import decode

    real = decode.decode_frames

    def flaky(path, *args, **kwargs):
        if Path(path).name == "clipA.mp4":
            raise MemoryError("cannot allocate 3.1 GiB")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(decode, "decode_frames", flaky)
    out = tmp_path / "frames" / "manifest.json"
    assert _run(dataset, out, "--workers", "1") == 0
    manifest = json.loads(out.read_text())
    assert manifest["videos"]["clipA"]["error"] == "MemoryError: cannot allocate 3.1 GiB"
    assert manifest["samples"]["a-whole"]["error"] == "MemoryError: cannot allocate 3.1 GiB"
    assert manifest["videos"]["clipB"]["status"] == "ok"


def test_rotated_phone_video_is_stored_upright(make_video, tmp_path):
    """Coded 64x48 with a display matrix turning it 90° clockwise (-90 counter-clockwise):
    players show 48x64, so the frames are stored 48x64, the annotation drawn on those upright
    frames matches with no flag, and one drawn on the coded 64x48 picture is flagged."""
    video = make_video("phone.mp4", 30, gop=10, rotation_deg=-90)
    rows = [
        _sample("upright", video, (0, 30), n_frames=30, size=(48, 64)),
        _sample("sideways", video, (0, 30), n_frames=30, size=(64, 48)),
    ]
    samples = tmp_path / "s.jsonl"
    write_jsonl(samples, rows)
    out = tmp_path / "frames" / "manifest.json"
    assert _run(samples, out) == 0
    manifest = json.loads(out.read_text())
    entries = manifest["samples"]
    assert entries["upright"]["status"] == "ok" and entries["upright"]["flags"] == []
    assert entries["sideways"]["flags"] == [
        "frame_size_mismatch:64x48->48x64",
        "frame_size_nonuniform",
    ]
    index = json.loads((out.parent / "phone" / "index.json").read_text())
    assert (index["width"], index["height"], index["rotation_deg"]) == (48, 64, -90)
    assert manifest["videos"]["phone"]["rotation_deg"] == -90
    for f in (0, 5, 25):
        with Image.open(out.parent / "phone" / f"{f:06d}.jpg") as img:
            assert img.size == (48, 64)
            # turned back a quarter counter-clockwise it is the coded picture, index on top
            assert read_index(np.rot90(np.asarray(img.convert("RGB")), 1)) == f


def test_selfie_video_is_stored_as_players_show_it(make_video, tmp_path):
    """A front camera's matrix: 90° counter-clockwise, then mirrored left-right (a transverse):
    stored 48x64, recorded as mirrored, each frame the coded one turned clockwise and flipped
    upside down (it failed the video before)."""
    video = make_video("selfie.mp4", 30, gop=10, rotation_deg=90, hflip=True)
    samples = tmp_path / "s.jsonl"
    write_jsonl(samples, [_sample("s", video, (0, 30), n_frames=30, size=(48, 64))])
    out = tmp_path / "frames" / "manifest.json"
    assert _run(samples, out) == 0
    manifest = json.loads(out.read_text())
    assert manifest["samples"]["s"]["status"] == "ok" and manifest["samples"]["s"]["flags"] == []
    assert manifest["videos"]["selfie"]["mirrored"] is True
    index = json.loads((out.parent / "selfie" / "index.json").read_text())
    assert (index["width"], index["height"], index["rotation_deg"], index["mirrored"]) == (
        48, 64, 90, True)  # fmt: skip
    for f in index["frame_idx"]:
        with Image.open(out.parent / "selfie" / f"{f:06d}.jpg") as img:
            # flipped back and turned a quarter counter-clockwise: the coded picture
            assert read_index(np.rot90(np.asarray(img.convert("RGB"))[::-1], 1)) == f


@pytest.mark.parametrize(("name", "codec"), [("mkv.mkv", "ffv1"), ("webm.webm", "libvpx-vp9")])
def test_mkv_and_webm_are_sampled(make_video, tmp_path, name, codec):
    """MKV and WebM store no frame count: the frames are still numbered in decode order."""
    video = make_video(name, 30, codec=codec)
    write_jsonl(tmp_path / "s.jsonl", [_sample("s", video, (0, 30), n_frames=30)])
    out = tmp_path / "frames" / "manifest.json"
    assert _run(tmp_path / "s.jsonl", out) == 0
    assert json.loads(out.read_text())["samples"]["s"]["status"] == "ok"
    index = json.loads((out.parent / video.stem / "index.json").read_text())
    assert (index["n_frames"], index["fps"], index["fps_source"]) == (30, 25, "average_rate")
    assert index["decode_method"] == "indexed"  # the frames counted from the packets
    for f in index["frame_idx"]:  # every 5th frame at 25 fps -> 5 fps
        with Image.open(out.parent / video.stem / f"{f:06d}.jpg") as img:
            assert read_index(np.asarray(img.convert("RGB"))) == f


def test_video_longer_than_its_annotation_fails(make_video, tmp_path):
    """400 frames at 20 fps annotated as HC-STVG img_num 200 (fps 200 / 20 s = 10): frames
    0-199 would stand for the whole 20 s clip. More than one frame per second of video apart
    (20 here) fails with both numbers; 395 (5 apart) is within the tolerance."""
    video = make_video("long.mp4", 400, fps=20, gop=50)
    rows = [
        _sample("img-num-200", video, (0, 200), fps=10, n_frames=200),
        _sample("close", video, (0, 395), fps=20, n_frames=395),
    ]
    write_jsonl(tmp_path / "s.jsonl", rows)
    out = tmp_path / "frames" / "manifest.json"
    assert _run(tmp_path / "s.jsonl", out) == 0
    entries = json.loads(out.read_text())["samples"]
    assert entries["img-num-200"]["status"] == "failed"
    error = entries["img-num-200"]["error"]
    assert "decodes to 400 frames" in error and "n_frames is 200 (tolerance 20" in error
    assert entries["close"]["status"] == "ok"
