"""PyAV decoding of selected frames, on real video files whose frames encode their index."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from fractions import Fraction

import numpy as np
import pytest
from frame_videos import read_index  # noqa: I001

from zstvg.video import decode
from zstvg.video.decode import VideoDecodeError, decode_frames

# irregular frame durations (ms) repeating every 5 frames: 300 ms per cycle
VFR_STEPS = [40, 40, 80, 20, 120]
VFR_PTS = [sum((VFR_STEPS * 20)[:i]) for i in range(40)]


def _collect(path, frames, **kwargs):
    got: dict[int, tuple[float | None, np.ndarray]] = {}

    def sink(f, t, image):
        got[f] = (t, np.asarray(image))

    report = decode_frames(path, frames, sink, **kwargs)
    return report, got


@pytest.fixture(scope="module")
def gop_video(make_video):
    # 60 frames at 25 fps, keyframe every 10 frames, B-frames: reordered decode order.
    return make_video("gop10.mp4", 60, gop=10)


def test_decodes_exactly_the_requested_frames(gop_video):
    wanted = [35, 0, 3, 17, 29, 59, 3]
    report, got = _collect(gop_video, wanted)
    assert sorted(got) == [0, 3, 17, 29, 35, 59]
    assert {f: read_index(img) for f, (_, img) in got.items()} == {f: f for f in got}
    assert {f: t for f, (t, _) in got.items()} == pytest.approx({f: f / 25 for f in got})
    assert report.method == "indexed"
    assert (report.n_frames, report.width, report.height, report.fps) == (60, 64, 48, 25.0)
    assert report.missing_frame_idx == []
    # keyframes at 0, 10, ..., 50: the keyframes 10, 20, 30 lie within 8 frames of the wanted
    # frame before them (3, 17, 29), so 0-35 is one run; 50 is 15 past 35: a second run
    assert decode.MIN_FRAMES_SKIPPED_PER_SEEK == 8
    assert report.n_seeks == 2
    assert report.n_decoded < 60  # unneeded non-reference pictures were skipped


def test_indexed_equals_sequential_pixels(gop_video):
    wanted = list(range(0, 60, 7))
    fast_report, fast = _collect(gop_video, wanted)
    slow_report, slow = _collect(gop_video, wanted, indexed=False)
    assert (fast_report.method, slow_report.method) == ("indexed", "sequential")
    assert slow_report.n_decoded == 60
    assert sorted(fast) == sorted(slow) == wanted
    for f in wanted:
        assert fast[f][0] == pytest.approx(slow[f][0])
        np.testing.assert_array_equal(fast[f][1], slow[f][1])


def test_frames_past_the_end_are_reported_missing(gop_video):
    report, got = _collect(gop_video, [58, 59, 60, 75])
    assert sorted(got) == [58, 59]
    assert report.missing_frame_idx == [60, 75]
    assert report.n_frames == 60


def test_variable_frame_rate_indexes_by_order_and_times_by_pts(make_video):
    path = make_video("vfr.mp4", 40, pts_ms=VFR_PTS)
    wanted = [0, 3, 17, 29, 39]
    for indexed in (True, False):
        report, got = _collect(path, wanted, indexed=indexed)
        assert {f: read_index(img) for f, (_, img) in got.items()} == {f: f for f in wanted}
        # frame 17 = 3 cycles (900 ms) + 40 + 40 ms; constant-rate f / fps would be wrong.
        assert got[17][0] == pytest.approx(0.98)
        assert {f: t for f, (t, _) in got.items()} == pytest.approx(
            {f: VFR_PTS[f] / 1000 for f in wanted}
        )
        assert report.n_frames == 40


def test_odd_frame_size(make_video):
    path = make_video("odd.avi", 30, width=321, height=239, codec="mpeg4", gop=7)
    report, got = _collect(path, [0, 13, 29])
    assert (report.width, report.height) == (321, 239)
    for f, (_, img) in got.items():
        assert img.shape == (239, 321, 3)
        assert read_index(img) == f
        # the right edge (odd column 320, chroma padded in yuv420p) is background grey, not junk
        assert abs(int(img[40, 320].mean()) - 96) < 12


def test_frames_are_streamed_one_at_a_time(gop_video):
    """The sink sees each frame as soon as it is decoded, in increasing index order."""
    order: list[int] = []
    decode_frames(gop_video, range(60), lambda f, t, im: order.append(f))
    assert order == list(range(60))


def test_fallback_to_sequential_when_the_index_disagrees(gop_video, monkeypatch, caplog):
    real = decode._index_packets

    def wrong_index(container, stream):
        index = real(container, stream)
        # forget one packet's timestamp: the decoder then returns a frame the index lacks
        shifted = index.pts[:-1]
        return decode._PacketIndex(shifted, {p: i for i, p in enumerate(shifted)}, index.keyframes)

    monkeypatch.setattr(decode, "_index_packets", wrong_index)
    with caplog.at_level(logging.WARNING, logger="zstvg.video.decode"):
        report, got = _collect(gop_video, [5, 58, 59])
    assert report.method == "sequential"
    assert "decoding sequentially instead" in caplog.text
    assert {f: read_index(img) for f, (_, img) in got.items()} == {5: 5, 58: 58, 59: 59}


def test_missing_file(tmp_path):
    with pytest.raises(VideoDecodeError, match=r"video file not found: .*nope\.mp4"):
        decode_frames(tmp_path / "nope.mp4", [0], lambda *a: None)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 20_000, np.uint8).tobytes())
    with pytest.raises(VideoDecodeError, match=r"noise\.mp4: cannot open video"):
        decode_frames(path, [0], lambda *a: None)


def test_truncated_file(tmp_path, gop_video):
    path = tmp_path / "half.mp4"
    data = gop_video.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # MP4 index (moov) is at the end: gone
    with pytest.raises(VideoDecodeError, match=r"half\.mp4"):
        decode_frames(path, [0], lambda *a: None)


def test_directory_is_not_a_video(tmp_path):
    os.mkdir(tmp_path / "dir.mp4")
    with pytest.raises(VideoDecodeError, match=r"not found"):
        decode_frames(tmp_path / "dir.mp4", [0], lambda *a: None)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("c.mkv", {"gop": 10}),
        ("c.mov", {"gop": 12}),
        ("c.webm", {"codec": "libvpx", "gop": 8}),
        ("c.avi", {"codec": "mpeg4", "gop": 7}),
        ("c.ts", {"gop": 10}),  # MPEG-TS seeks inexactly: the sequential fallback answers
    ],
)
def test_containers_agree_with_sequential_decoding(make_video, name, kwargs):
    path = make_video(name, 40, **kwargs)
    wanted = [0, 9, 10, 21, 39, 41]
    fast_report, fast = _collect(path, wanted)
    slow_report, slow = _collect(path, wanted, indexed=False)
    assert {f: read_index(img) for f, (_, img) in fast.items()} == {f: f for f in wanted[:-1]}
    assert fast_report.missing_frame_idx == slow_report.missing_frame_idx == [41]
    assert fast_report.n_frames == slow_report.n_frames == 40
    for f in fast:
        np.testing.assert_array_equal(fast[f][1], slow[f][1])
        assert fast[f][0] == pytest.approx(slow[f][0])


@pytest.mark.parametrize(
    ("rotation_deg", "size_wh", "turn_back"),
    # ffmpeg and players show a 90° counter-clockwise matrix with the coded top row (the index
    # blocks) down the left side: np.rot90 by -1 turns it back to the coded 64x48 picture
    [(90, (48, 64), -1), (-90, (48, 64), 1), (180, (64, 48), 2)],
)
@pytest.mark.parametrize("indexed", [True, False])
def test_display_matrix_gives_upright_frames(make_video, rotation_deg, size_wh, turn_back, indexed):
    video = make_video(f"rot{rotation_deg}.mp4", 12, gop=4, rotation_deg=rotation_deg)
    report, got = _collect(video, [0, 5, 11], indexed=indexed)
    # the matrix holds -180 for 180: one turn, two names
    assert (report.width, report.height, report.rotation_deg % 360) == (
        *size_wh,
        rotation_deg % 360,
    )
    for f, (_t, img) in got.items():
        assert img.shape[1::-1] == size_wh
        assert read_index(np.rot90(img, turn_back)) == f
    probe = decode.probe_video(video)
    assert (probe.width, probe.height, probe.rotation_deg) == (*size_wh, report.rotation_deg)
    assert (probe.n_frames, probe.n_frames_source) == (12, "stream_header")


# The eight pictures a quarter-turn or flip display matrix can show, as PyAV writes the matrix
# (counter-clockwise degrees, then mirrored) -> the upright picture as an operation on the coded
# one; each is the picture ffmpeg 5.1 shows (measured: all 16 combinations of 0/90/180/-90 and
# the two flips, on a picture with no symmetry).
MATRICES = {
    "none": ((0, False, False), lambda a: a, False),
    "vflip": ((0, False, True), lambda a: a[::-1], True),
    "hflip": ((0, True, False), lambda a: a[:, ::-1], True),
    "rot180": ((180, False, False), lambda a: a[::-1, ::-1], False),
    "cclock": ((90, False, False), lambda a: np.rot90(a, 1), False),
    "clock": ((-90, False, False), lambda a: np.rot90(a, -1), False),
    "transpose": ((90, False, True), lambda a: a.swapaxes(0, 1), True),
    "transverse": ((90, True, False), lambda a: np.rot90(a, -1)[::-1], True),
}


def _coded_frames(path) -> list[np.ndarray]:
    """The pictures as coded (PyAV's frames, display matrix not applied)."""
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _ffmpeg_first_frame(path, width: int, height: int) -> np.ndarray:
    """The first frame as ffmpeg shows it (its autorotate applies the display matrix)."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"], capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(height, width, 3)


@pytest.mark.parametrize("name", list(MATRICES))
def test_every_quarter_turn_and_flip_gives_the_picture_players_show(make_video, name):
    (rotation_deg, hflip, vflip), upright, mirrored = MATRICES[name]
    # frame 5: bits 0 and 2 white, along the top row only: no symmetry
    video = make_video(f"m_{name}.mp4", 6, rotation_deg=rotation_deg, hflip=hflip, vflip=vflip)
    coded = _coded_frames(video)
    assert read_index(coded[5]) == 5
    want = upright(coded[5])
    report, got = _collect(video, [5])
    np.testing.assert_array_equal(got[5][1], want)
    assert (report.width, report.height, report.mirrored) == (
        want.shape[1],
        want.shape[0],
        mirrored,
    )
    probe = decode.probe_video(video)
    assert (probe.width, probe.height, probe.mirrored) == (report.width, report.height, mirrored)
    if shutil.which("ffmpeg"):
        first = _ffmpeg_first_frame(video, report.width, report.height)
        np.testing.assert_array_equal(first, upright(coded[0]))


@pytest.mark.parametrize(("name", "codec"), [("p.mkv", "ffv1"), ("p.webm", "libvpx-vp9")])
def test_probe_counts_packets_where_the_container_has_no_frame_count(make_video, name, codec):
    probe = decode.probe_video(make_video(name, 17, fps=10, codec=codec))
    assert (probe.n_frames, probe.n_frames_source) == (17, "packet_count")
    assert (probe.fps, probe.fps_source) == (10.0, "average_rate")


def test_a_stream_without_a_rate_takes_its_length_over_the_container_duration():
    from types import SimpleNamespace

    no_rate = SimpleNamespace(average_rate=None, guessed_rate=None)
    # 50 frames in 4 s (the container's duration is in microseconds)
    assert decode._stream_fps(SimpleNamespace(duration=4_000_000), no_rate, 50) == (
        12.5, "duration")  # fmt: skip
    assert decode._stream_fps(SimpleNamespace(duration=None), no_rate, 50) == (None, "none")
    guessed = SimpleNamespace(average_rate=None, guessed_rate=Fraction(30000, 1001))
    fps, source = decode._stream_fps(SimpleNamespace(duration=None), guessed, 0)
    assert (fps, source) == (pytest.approx(29.97, rel=1e-4), "guessed_rate")
