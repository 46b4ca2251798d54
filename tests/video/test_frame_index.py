"""Frame-index math, with expectations computed by hand."""

from __future__ import annotations

import pytest

from zstvg.video.index import frame_idx_at, grid_frame_idx, t_sec, uniform_frame_idx


def test_uniform_is_bin_centres():
    # [0, 100), 4 bins of 25 frames: centres 12.5, 37.5, 62.5, 87.5 -> floor.
    assert uniform_frame_idx((0, 100), 4) == [12, 37, 62, 87]
    # [10, 30): 4 bins of 5 frames starting at 10: centres 12.5, 17.5, 22.5, 27.5.
    assert uniform_frame_idx((10, 30), 4) == [12, 17, 22, 27]
    assert uniform_frame_idx((0, 100), 1) == [50]
    # 20 frames over a 20 s, 25 fps HC-STVG video: one frame every 25 frames, 12 in.
    assert uniform_frame_idx((0, 500), 20) == list(range(12, 500, 25))


def test_uniform_exactly_n_frames_takes_each_once():
    assert uniform_frame_idx((3, 7), 4) == [3, 4, 5, 6]


def test_uniform_fewer_frames_than_n_returns_each_frame_once():
    assert uniform_frame_idx((5, 8), 20) == [5, 6, 7]
    assert uniform_frame_idx((0, 1), 20) == [0]


@pytest.mark.parametrize("length", [1, 2, 7, 19, 20, 21, 39, 40, 41, 599, 600, 10_000])
@pytest.mark.parametrize("n", [1, 4, 20])
def test_uniform_strictly_increasing_inside_span(length, n):
    idx = uniform_frame_idx((100, 100 + length), n)
    assert len(idx) == min(n, length)
    assert all(a < b for a, b in zip(idx, idx[1:], strict=False))
    assert idx[0] >= 100 and idx[-1] < 100 + length


@pytest.mark.parametrize("span", [(5, 5), (9, 3), (-1, 4)])
def test_uniform_rejects_empty_inverted_or_negative_span(span):
    with pytest.raises(ValueError, match=r"clip_span"):
        uniform_frame_idx(span, 4)


def test_uniform_rejects_zero_frames():
    with pytest.raises(ValueError, match=r"n: got 0"):
        uniform_frame_idx((0, 10), 0)


def test_grid_25_fps_every_fifth_frame():
    assert grid_frame_idx((0, 30), 25.0) == [0, 5, 10, 15, 20, 25]


def test_grid_30_fps_every_sixth_frame():
    assert grid_frame_idx((0, 40), 30.0) == [0, 6, 12, 18, 24, 30, 36]


def test_grid_7_5_fps_alternates_two_and_one():
    # 5 / 7.5 = 2/3 frame-buckets per frame: floor(f * 2/3) = 0,0,1,2,2,3,4,4,5,6
    assert grid_frame_idx((0, 10), 7.5) == [0, 2, 3, 5, 6, 8, 9]


def test_grid_keeps_first_frame_of_span_then_bucket_starts():
    # VidSTG used_segment starting mid-bucket at 30 fps: 4 (first), then 6, 12, 18.
    assert grid_frame_idx((4, 20), 30.0) == [4, 6, 12, 18]


def test_grid_slower_than_grid_rate_keeps_every_frame():
    assert grid_frame_idx((0, 5), 4.0) == [0, 1, 2, 3, 4]


def test_grid_cap_subsamples_uniformly_to_max_frames():
    # 60 s at 25 fps: 300 grid frames (0, 5, ..., 1495); capped to 200 by kept[(j*300)//200].
    grid = grid_frame_idx((0, 1500), 25.0, grid_fps=5.0, max_frames=200)
    assert len(grid) == 200
    assert grid[:5] == [0, 5, 15, 20, 30]  # kept[0], kept[1], kept[3], kept[4], kept[6]
    assert grid[-1] == 1490  # kept[(199 * 300) // 200] = kept[298]
    assert grid_frame_idx((0, 1000), 25.0, max_frames=200) == list(range(0, 1000, 5))


def test_grid_uses_tubedetr_float_arithmetic():
    # 206 frames in 20 s: fps 10.3; 103 * (5 / 10.3) = 49.99999999999999 in float64, so frame
    # 103 stays in bucket 49 (exactly it would open bucket 50) and 104 opens it, as in TubeDETR.
    grid = grid_frame_idx((0, 206), 10.3)
    assert 103 not in grid and 104 in grid
    assert 101 in grid  # 101 * (5 / 10.3) = 49.03: bucket 49 opens at 101


def test_grid_rejects_bad_rates():
    with pytest.raises(ValueError, match=r"fps: got 0"):
        grid_frame_idx((0, 10), 0)
    with pytest.raises(ValueError, match=r"grid_fps: got -1"):
        grid_frame_idx((0, 10), 25, grid_fps=-1)


def test_time_helpers_are_inverse_on_frame_starts():
    assert t_sec(23, 10.0) == pytest.approx(2.3)
    assert frame_idx_at(2.3, 10.0) == 23  # 2.3 * 10 = 22.999999999999996 in float64
    assert frame_idx_at(0.0999, 10.0) == 0
    for fps in (7.5, 25.0, 29.97, 30000 / 1001):
        assert all(frame_idx_at(t_sec(f, fps), fps) == f for f in range(3000))
    with pytest.raises(ValueError, match=r"t_sec: got -1"):
        frame_idx_at(-1.0, 25.0)
