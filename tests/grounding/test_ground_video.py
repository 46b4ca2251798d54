"""``zstvg ground-video`` on a synthetic video file, offline with tiny checkpoints."""

from __future__ import annotations

import json
from fractions import Fraction

import av
import pytest
from PIL import Image

from zstvg.cli import main
from zstvg.grounding.video import span_t_sec


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


def _rewrite(src, dst, codec: str, *, n_frames: int = 20, rotation_deg: int = 0, pts_ms=None):
    """The first ``n_frames`` of ``src`` re-encoded into ``dst`` (container from its suffix),
    with a display matrix turning them by ``rotation_deg`` counter-clockwise; ``pts_ms``: each
    frame's time in ms (a variable frame rate), else 5 fps."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = out.add_stream(codec, rate=5)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        if rotation_deg:
            stream.set_display_rotation(rotation_deg)
        if pts_ms is not None:
            stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        for i, frame in enumerate(inp.decode(video=0)):
            if i == n_frames:
                break
            new = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
            if pts_ms is not None:
                new.pts, new.time_base = pts_ms[i], Fraction(1, 1000)
            for packet in stream.encode(new):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return dst


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("ckpt")


def _ground(video, tiny_dir, tmp_path) -> dict:
    out = tmp_path / "gv"
    rc = main(["ground-video", str(video), "a person", "--tiny", "--tiny-dir", str(tiny_dir),
               "--out", str(out), "--set",
               f"decompose.cache_dir={tmp_path / 'cache'}"])  # fmt: skip
    assert rc == 0
    return json.loads((out / "prediction.json").read_text())


@pytest.mark.parametrize(("name", "codec"), [("clip.mkv", "ffv1"), ("clip.webm", "libvpx-vp9")])
def test_mkv_and_webm_are_grounded(video, tiny_dir, tmp_path, name, codec):
    # MKV and WebM store no frame count: the 20 packets are counted (4 s at 5 fps)
    pred = _ground(_rewrite(video, tmp_path / name, codec), tiny_dir, tmp_path)
    assert (pred["n_frames"], pred["fps"]) == (20, 5.0)
    assert pred["video_probe"] == {"fps_source": "average_rate", "n_frames_source":
                                   "packet_count", "rotation_deg": 0,
                                   "mirrored": False}  # fmt: skip
    assert (pred["width"], pred["height"]) == (96, 64)


def test_variable_frame_rate_mkv_is_grounded(video, tiny_dir, tmp_path):
    # 20 frames 100 ms apart, then 300 ms, alternately: 4 s; the packets are counted
    pts_ms = [sum(([100, 300] * 10)[:i]) for i in range(20)]
    pred = _ground(_rewrite(video, tmp_path / "vfr.mkv", "ffv1", pts_ms=pts_ms), tiny_dir,
                   tmp_path)  # fmt: skip
    assert pred["n_frames"] == 20 and pred["video_probe"]["n_frames_source"] == "packet_count"
    start, end = pred["span"]
    assert 0 <= start < end <= 20
    # the seconds are the frames' own times (frame 19 is shown at 3.7 s; the end past it is one
    # nominal 1/5 s step later), not frame / 5
    end_ms = pts_ms[end] if end < 20 else pts_ms[19] + 200
    assert pred["t_sec"] == pytest.approx([pts_ms[start] / 1000, end_ms / 1000])


def test_span_seconds_follow_the_decoded_timestamps():
    t_sec = {0: 0.0, 5: 1.0, 10: 1.5, 11: None}
    assert span_t_sec((5, 10), t_sec, 10.0) == pytest.approx([1.0, 1.5])  # on decoded frames
    # 7: two fifths from 5 to 10; 12: two 1/10 s steps past frame 10
    assert span_t_sec((7, 12), t_sec, 10.0) == pytest.approx([1.2, 1.7])
    assert span_t_sec((3, 4), {3: None}, 10.0) == pytest.approx([0.3, 0.4])  # no timestamps


def test_rotated_video_is_grounded_upright(video, tiny_dir, tmp_path):
    # coded 96x64 with a display matrix turning it 90° clockwise (-90 counter-clockwise): the
    # frames, the size and the boxes are the upright 64x96 ones players show
    rotated = _rewrite(video, tmp_path / "phone.mp4", "libx264", rotation_deg=-90)
    pred = _ground(rotated, tiny_dir, tmp_path)
    assert (pred["width"], pred["height"]) == (64, 96)
    assert pred["video_probe"]["rotation_deg"] == -90
    assert pred["video_probe"]["n_frames_source"] == "stream_header"
    for x0, y0, x1, y1 in pred["boxes_xyxy"].values():
        assert 0 <= x0 <= x1 <= 64 and 0 <= y0 <= y1 <= 96
    with av.open(str(tmp_path / "gv" / "phone.mp4")) as c:
        assert next(c.decode(video=0)).height > 96  # the header rows over the upright frames
