"""``zstvg ground-video`` on a synthetic video file, offline with tiny checkpoints."""

from __future__ import annotations

import json

import av
import pytest
from PIL import Image

from zstvg.cli import main


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """One 64 x 48 synthetic video (10 fps, 20 s) from make-synthetic."""
    out = tmp_path_factory.mktemp("syn")
    assert main(["make-synthetic", "--set", "synthetic.n_videos=1", "--set", "synthetic.width=96",
                 "--set", "synthetic.height=64", "--set", "synthetic.fps=5", "--out",
                 str(out)]) == 0  # fmt: skip
    return next((out / "videos").glob("*.mp4"))


def test_ground_video_writes_prediction_mp4_and_gif(video, tmp_path, capsys):
    out = tmp_path / "gv"
    rc = main(["ground-video", str(video), "The small red person walks to the left.", "--tiny",
               "--tiny-dir", str(tmp_path / "ckpt"), "--out", str(out),
               "--set", f"decompose.cache_dir={tmp_path / 'cache'}"])  # fmt: skip
    assert rc == 0
    printed = capsys.readouterr().out
    assert printed.count("tiny random-weight checkpoints") == 2  # before and after
    pred = json.loads((out / "prediction.json").read_text())
    start, end = pred["span"]
    assert 0 <= start < end <= pred["n_frames"] == 100
    # a box on every native frame of the span where the chosen track is known around it
    frames = sorted(int(f) for f in pred["boxes_xyxy"])
    assert frames == list(range(frames[0], frames[-1] + 1))
    assert "tiny_checkpoints" in pred["flags"] and "decomposition:fallback" in pred["flags"]
    assert pred["sub_queries"]["spatial"].startswith("Is there ")
    with av.open(str(out / f"{video.stem}.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 100  # the 5 fps grid of 100 native frames
    gif = Image.open(out / f"{video.stem}.gif")
    assert gif.n_frames == 48


def test_missing_video_is_named(tmp_path, capsys):
    assert main(["ground-video", str(tmp_path / "none.mp4"), "a man", "--out", str(tmp_path)]) == 2
    assert "video file not found" in capsys.readouterr().err
