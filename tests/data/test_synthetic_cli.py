"""``zstvg make-synthetic`` end to end: real mp4 files, HC-STVG v2 loading, official proposals."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from pathlib import Path

import av
import numpy as np
import pytest

from zstvg.cli import main
from zstvg.commands import make_synthetic as synthetic_cli
from zstvg.config.params import load_params
from zstvg.data import synthetic as syn
from zstvg.data.hcstvg import load_hcstvg
from zstvg.files import proposal_tracks as official_format
from zstvg.files.io import InputError
from zstvg.files.provenance import provenance_path

OVERRIDES = ["synthetic.width=160", "synthetic.height=120", "synthetic.fps=5"]
V2_KEYS = {"English", "st_time", "ed_time", "st_frame", "img_num", "img_size", "bbox"}


def _run(out: Path, *, seed: int = 3, n_videos: int = 3, codec: str | None = None) -> str:
    params = load_params(None, OVERRIDES)
    args = argparse.Namespace(out=str(out), n_videos=n_videos, seed=seed, codec=codec)
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert synthetic_cli.run(args, params) == 0
    return stdout.getvalue()


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("synthetic") / "raw"
    return out, _run(out)


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def test_writes_every_output_and_says_where(bench):
    out, printed = bench
    ids = [f"synthetic_{i:03d}" for i in range(3)]
    assert sorted(p.name for p in (out / "videos").glob("*.mp4")) == [f"{v}.mp4" for v in ids]
    assert sorted(p.name for p in (out / "proposals").glob("*.json")) == [f"{v}.json" for v in ids]
    for rel in (
        "annotations/test_v2.json",
        "annotations/gpt4_decompose_attr_action.json",
        "manifest.json",
    ):
        assert (out / rel).is_file()
        assert str(out / rel) in printed
    assert "3 videos" in printed and str(out / "videos") in printed
    # Atomic writes leave no temporary files behind.
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    sidecar = json.loads(provenance_path(out).read_text())
    assert str(provenance_path(out)) in printed
    assert sidecar["step"] == "make-synthetic"
    assert sidecar["params"]["seed"] == 3 and sidecar["params"]["synthetic"]["width"] == 160
    assert "annotations/test_v2.json" in sidecar["files"]


def test_annotations_are_hcstvg_v2_and_load_with_its_loader(bench):
    out, _ = bench
    raw = json.loads((out / "annotations/test_v2.json").read_text())
    manifest = _manifest(out)["videos"]
    assert sorted(raw) == [f"synthetic_{i:03d}.mp4" for i in range(3)]
    for name, entry in raw.items():
        assert set(entry) == V2_KEYS
        assert entry["img_num"] == 100 and entry["img_size"] == [120, 160]  # 20 s at 5 fps
        assert entry["English"] == manifest[name[:-4]]["query"]
    samples = {s.video_id: s for s in load_hcstvg(out / "annotations/test_v2.json", out / "videos")}
    assert sorted(samples) == [f"synthetic_{i:03d}" for i in range(3)]
    for vid, sample in samples.items():
        assert sample.error is None and sample.flags == ()
        assert sample.fps == 5.0 and (sample.width, sample.height) == (160, 120)
        assert list(sample.gt_span) == manifest[vid]["gt_span"]
        assert Path(sample.video_path).name == f"{vid}.mp4"


def test_videos_are_20_s_and_decode_close_to_the_drawn_frames(bench):
    out, _ = bench
    plan = syn.plan_video(3, 1, width=160, height=120, fps=5, min_actors=2, max_actors=4)
    with av.open(str(out / "videos" / plan.file_name)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (160, 120)
        assert stream.average_rate == 5
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == 100
    start, end = plan.gt_span
    for f in (0, start, (start + end) // 2, 99):
        drawn, label = syn.render_frame(plan, f)
        diff = np.abs(frames[f].astype(int) - drawn.astype(int))
        assert diff.mean() < 4.0  # RGB -> yuv420p -> RGB rounding shifts flat areas by ~2
        if f != (start + end) // 2:
            continue  # elsewhere the target may be absent or one column wide (entering)
        # Away from edges (chroma is subsampled 2x2), colours are within a few levels.
        target = label == plan.target_track_id
        inner = (
            target[1:-1, 1:-1]
            & target[:-2, 1:-1]
            & target[2:, 1:-1]
            & target[1:-1, :-2]
            & target[1:-1, 2:]
        )
        ys, xs = np.nonzero(inner)
        assert ys.size > 0
        assert np.median(diff[ys + 1, xs + 1]) <= 6


def test_proposals_validate_and_the_target_track_is_the_ground_truth(bench):
    out, _ = bench
    raw = json.loads((out / "annotations/test_v2.json").read_text())
    manifest = _manifest(out)["videos"]
    for vid, info in manifest.items():
        props = official_format.read(out / "proposals" / f"{vid}.json")
        assert props.frame_idx == tuple(range(100))
        assert (props.width, props.height) == (160, 120)
        assert [t.track_id for t in props.tracks] == [a["track_id"] for a in info["actors"]]
        target = props.tracks[info["target_track_id"]]
        entry = raw[info["video_file"]]
        first = entry["st_frame"] - 1
        for i, (x, y, w, h) in enumerate(entry["bbox"]):
            x1, y1, x2, y2 = target.boxes_xyxy[first + i]
            inter = (min(x2, x + w) - max(x1, x)) * (min(y2, y + h) - max(y1, y))
            union = (x2 - x1) * (y2 - y1) + w * h - inter
            assert inter / union == 1.0
        # Actors that enter or leave are absent on some frames and have no box there.
        for actor, track in zip(info["actors"], props.tracks, strict=True):
            absent = [s for s in actor["segments"] if s["action"] == "absent"]
            for seg in absent:
                assert not set(range(seg["start"], seg["end"])) & set(track.boxes_xyxy)


def test_decompositions_follow_the_authors_format(bench):
    out, _ = bench
    dec = json.loads((out / "annotations/gpt4_decompose_attr_action.json").read_text())
    manifest = _manifest(out)["videos"]
    for info in manifest.values():
        entry = dec[info["video_file"]]
        assert set(entry) == {"decompose_attribute", "decompose_action"}
        target = info["actors"][info["target_track_id"]]
        # Lists of sentences, as in the authors' file (their code uses the last one).
        assert entry["decompose_attribute"] == [f"a {target['description']}"]
        assert entry["decompose_action"] == ["a person " + syn.ACTIONS[target["main_action"]][1]]


def test_same_seed_same_bytes_and_rerun_reuses_videos(bench, tmp_path):
    out, _ = bench
    again = tmp_path / "again"
    _run(again)
    for rel in [
        "annotations/test_v2.json",
        "annotations/gpt4_decompose_attr_action.json",
        "manifest.json",
        *(f"proposals/synthetic_{i:03d}.json" for i in range(3)),
    ]:
        assert (again / rel).read_bytes() == (out / rel).read_bytes(), rel
    video = again / "videos" / "synthetic_000.mp4"
    stamp = video.stat().st_mtime_ns
    printed = _run(again)
    assert "0 encoded" in printed and "3 reused" in printed
    assert video.stat().st_mtime_ns == stamp
    other = tmp_path / "other"
    _run(other, seed=4, n_videos=1)
    assert (other / "manifest.json").read_bytes() != (out / "manifest.json").read_bytes()


def test_mpeg4_fallback_codec_writes_a_decodable_video(tmp_path):
    printed = _run(tmp_path / "m", n_videos=1, codec="mpeg4")
    assert "encoded with mpeg4" in printed
    plan = syn.plan_video(3, 0, width=160, height=120, fps=5, min_actors=2, max_actors=4)
    with av.open(str(tmp_path / "m" / "videos" / plan.file_name)) as container:
        assert container.streams.video[0].codec_context.name == "mpeg4"
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 100
    drawn, _ = syn.render_frame(plan, 50)
    assert np.abs(frames[50].astype(int) - drawn.astype(int)).mean() < 6.0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["synthetic.width=161"], r"synthetic\.width: got 161; expected an even"),
        (
            ["synthetic.width=64", "synthetic.height=240"],
            r"synthetic\.width: got 64; expected at least half of synthetic\.height",
        ),
    ],
)
def test_unusable_frame_sizes_are_refused_naming_the_key(tmp_path, overrides, message):
    params = load_params(None, overrides)
    args = argparse.Namespace(out=str(tmp_path / "x"), n_videos=1, seed=0, codec=None)
    with pytest.raises(InputError, match=message):
        synthetic_cli.run(args, params)
    assert not (tmp_path / "x").exists()


def test_cli_exits_2_on_bad_input_and_flags_override_params(tmp_path, capsys):
    assert main(["make-synthetic", "--out", str(tmp_path / "x"), "--n-videos", "0"]) == 2
    assert "--n-videos: got 0" in capsys.readouterr().err
    rc = main(
        [
            "make-synthetic",
            "--out",
            str(tmp_path / "y"),
            "--n-videos",
            "1",
            "--seed",
            "9",
            *(a for o in OVERRIDES for a in ("--set", o)),
        ]
    )
    assert rc == 0
    assert json.loads((tmp_path / "y" / "manifest.json").read_text())["seed"] == 9
    assert "make-synthetic: 1 videos" in capsys.readouterr().out
