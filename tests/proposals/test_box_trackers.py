"""ByteTrack / BoT-SORT logic on hand-made detections (no detector, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from zstvg.config import load_params
from zstvg.proposals.boxes import assign, iou_matrix
from zstvg.proposals.detectors import Detection
from zstvg.proposals.frames import ArrayFrames
from zstvg.proposals.trackers import TRACKERS, build_tracker
from zstvg.proposals.trackers.botsort import BotSort, estimate_translation
from zstvg.proposals.trackers.bytetrack import ByteTrack
from zstvg.proposals.trackers.kalman import KalmanFilter, xyxy_to_cxcywh

N_FRAMES = 20


def blank_frames(n: int = N_FRAMES) -> ArrayFrames:
    return ArrayFrames("v", {f: np.zeros((120, 240, 3), np.uint8) for f in range(n)})


def box_at(x: float, y: float, w: float = 40, h: float = 40) -> tuple[float, float, float, float]:
    return (x, y, x + w, y + h)


@pytest.fixture(params=["bytetrack", "botsort"])
def tracker(request: pytest.FixtureRequest):
    cfg = load_params().proposals
    return TRACKERS.build(request.param, cfg=cfg)


def test_iou_matrix_hand_values() -> None:
    iou = iou_matrix([(0, 0, 10, 10)], [(0, 0, 10, 10), (5, 0, 15, 10), (20, 20, 30, 30)])
    np.testing.assert_allclose(iou, [[1.0, 50 / 150, 0.0]])
    assert iou_matrix([], [(0, 0, 1, 1)]).shape == (0, 1)


def test_assign_refuses_pairs_above_max_cost() -> None:
    cost = np.array([[0.1, 0.9], [0.95, 0.99]])
    matches, free_rows, free_cols = assign(cost, 0.8)
    assert matches == [(0, 0)]
    assert free_rows == [1] and free_cols == [1]


def test_kalman_learns_constant_velocity() -> None:
    kf = KalmanFilter()
    mean, cov = kf.initiate(xyxy_to_cxcywh(box_at(0, 0)))
    for t in range(1, 15):
        mean, cov = kf.predict(mean, cov)
        mean, cov = kf.update(mean, cov, xyxy_to_cxcywh(box_at(10 * t, 0)))
    mean, _ = kf.predict(mean, cov)
    assert mean[0] == pytest.approx(20 + 10 * 15, abs=1.0)  # centre of box_at(150, 0)
    assert mean[4] == pytest.approx(10, abs=0.5)


def test_two_boxes_crossing_keep_their_identity(tracker) -> None:
    # A moves right, B moves left, 10 px/frame; they cross between frames 9 and 10.
    dets = {
        t: [Detection(box_at(10 * t, 0), 0.9), Detection(box_at(190 - 10 * t, 10), 0.9)]
        for t in range(N_FRAMES)
    }
    tracks = tracker.track(blank_frames(), dets, "person")
    assert len(tracks) == 2
    for track in tracks:
        assert track.frame_idx == list(range(N_FRAMES))
        xs = [track.boxes_xyxy[f][0] for f in track.frame_idx]
        steps = set(np.diff(xs).tolist())
        assert steps in ({10.0}, {-10.0})  # never jumps to the other box
    assert {t.class_name for t in tracks} == {"person"}


def test_short_occlusion_gap_keeps_the_track(tracker) -> None:
    gap = {8, 9, 10}  # 3 frames <= max_lost_frames (5)
    dets = {t: [] if t in gap else [Detection(box_at(5 * t, 20), 0.9)] for t in range(N_FRAMES)}
    tracks = tracker.track(blank_frames(), dets, "person")
    assert len(tracks) == 1
    assert tracks[0].frame_idx == [t for t in range(N_FRAMES) if t not in gap]


def test_object_reappearing_after_a_long_absence_is_a_new_track(tracker) -> None:
    absent = set(range(6, 14))  # 8 frames > max_lost_frames: the first track is forgotten
    dets = {t: [] if t in absent else [Detection(box_at(50, 20), 0.9)] for t in range(N_FRAMES)}
    tracks = tracker.track(blank_frames(), dets, "person")
    assert [t.frame_idx for t in tracks] == [list(range(6)), list(range(14, N_FRAMES))]
    assert [t.track_id for t in tracks] == [0, 1]


def test_detection_overlapping_an_existing_track_starts_no_track(tracker) -> None:
    # Frame 5 has a duplicate detection shifted by 2 px (a second box on the same person):
    # it matches nothing, starts a tentative track, and that track dies on frame 6.
    dets = {t: [Detection(box_at(5 * t, 20), 0.9)] for t in range(N_FRAMES)}
    dets[5] = [*dets[5], Detection(box_at(5 * 5 + 2, 22), 0.85)]
    tracks = tracker.track(blank_frames(), dets, "person")
    assert len(tracks) == 1
    assert tracks[0].boxes_xyxy[5] == box_at(25, 20)


def test_low_score_detection_bridges_a_partial_occlusion() -> None:
    # Scores 0.3 on frames 8-10 (below track_thresh 0.5): ByteTrack's second association keeps
    # the track on those frames instead of losing it.
    dets = {t: [Detection(box_at(5 * t, 20), 0.3 if 8 <= t <= 10 else 0.9)] for t in range(12)}
    tracks = ByteTrack().track(blank_frames(12), dets, "car")
    assert len(tracks) == 1 and tracks[0].frame_idx == list(range(12))


def test_min_track_frames_and_cap_come_from_params(params_raw) -> None:
    from zstvg.config import parse

    params_raw["proposals"].update(tracker="bytetrack", min_track_frames=5, max_tracks_per_video=1)
    cfg = parse(params_raw).proposals
    dets = {t: [Detection(box_at(0, 0), 0.9)] for t in range(4)}  # 4-frame object: dropped
    dets.update(
        {
            t: [Detection(box_at(100, 50), 0.9), Detection(box_at(0, 60), 0.9)]
            for t in range(4, N_FRAMES)
        }
    )
    tracks = build_tracker(cfg).track(blank_frames(), dets, "person")
    assert len(tracks) == 1  # two long tracks, capped to the first
    assert tracks[0].track_id == 0 and tracks[0].frame_idx == list(range(4, N_FRAMES))


def smooth_texture(height: int, width: int) -> np.ndarray:
    """A natural-looking image: random 8x8-pixel blocks, so it survives downscaling."""
    rng = np.random.default_rng(0)
    coarse = rng.random((height // 8 + 1, width // 8 + 1, 3)) * 255
    return np.kron(coarse, np.ones((8, 8, 1)))[:height, :width].astype(np.uint8)


def test_phase_correlation_finds_a_camera_pan() -> None:
    world = smooth_texture(200, 300)
    prev = world[50:150, 50:250]
    cur = world[46:146, 42:242]  # camera moved left 8 px and up 4 px: content moves +8, +4
    assert estimate_translation(prev, cur) == pytest.approx((8.0, 4.0))
    assert estimate_translation(np.zeros((50, 50, 3)), np.zeros((50, 50, 3))) is None


def test_botsort_compensates_a_fast_pan_that_breaks_bytetrack() -> None:
    # A static object filmed by a camera panning right 32 px/frame: in the image the object
    # moves left 32 px/frame (IoU 8/72 between consecutive 40-px boxes, too low to match).
    world = smooth_texture(120, 1000)
    frames, dets = {}, {}
    for t in range(10):
        left = 100 + 32 * t  # camera window [left, left + 400) over the world
        frames[t] = world[:, left : left + 400].copy()
        dets[t] = [Detection(box_at(500 - left, 40), 0.9)]  # object at world x 500..540
    video = ArrayFrames("v", frames)
    shifts = [estimate_translation(frames[t], frames[t + 1]) for t in range(9)]
    assert all(s == pytest.approx((-32.0, 0.0)) for s in shifts)
    with_cmc = BotSort().track(video, dets, "person")
    assert [t.frame_idx for t in with_cmc] == [list(range(10))]
    without = BotSort(camera_motion_compensation=False).track(video, dets, "person")
    assert all(len(t.frame_idx) == 1 for t in without)
