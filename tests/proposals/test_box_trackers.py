"""The box trackers (Roboflow's ``trackers`` behind our adapters) on hand-made detections."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from zstvg.config.params import ParamsError, load_params, parse, schema
from zstvg.proposals.boxes import iou_matrix
from zstvg.proposals.detectors import Detection
from zstvg.proposals.frames import ArrayFrames
from zstvg.proposals.trackers import TRACKERS, build_tracker

N_FRAMES = 20
BOX_TRACKERS = ["bytetrack", "botsort", "ocsort", "sort"]


def blank_frames(n: int = N_FRAMES) -> ArrayFrames:
    return ArrayFrames("v", {f: np.zeros((120, 240, 3), np.uint8) for f in range(n)})


def box_at(x: float, y: float, w: float = 40, h: float = 40) -> tuple[float, float, float, float]:
    return (x, y, x + w, y + h)


def build(name: str, params_raw: dict | None = None, **settings):
    """The backend ``name`` with params.yaml's settings, ``settings`` overriding its own."""
    if params_raw is None:
        cfg = load_params().proposals
    else:
        params_raw["proposals"]["box_trackers"][name].update(settings)
        cfg = parse(params_raw).proposals
    return TRACKERS.build(name, cfg=cfg)


@pytest.fixture(params=BOX_TRACKERS)
def tracker(request: pytest.FixtureRequest):
    return build(request.param)


def test_iou_matrix_hand_values() -> None:
    iou = iou_matrix([(0, 0, 10, 10)], [(0, 0, 10, 10), (5, 0, 15, 10), (20, 20, 30, 30)])
    np.testing.assert_allclose(iou, [[1.0, 50 / 150, 0.0]])
    assert iou_matrix([], [(0, 0, 1, 1)]).shape == (0, 1)


def test_two_boxes_crossing_keep_their_identity(tracker) -> None:
    # A moves right, B moves left, 10 px/frame; they cross between frames 9 and 10.
    dets = {
        t: [Detection(box_at(10 * t, 0), 0.9), Detection(box_at(190 - 10 * t, 10), 0.9)]
        for t in range(N_FRAMES)
    }
    tracks = tracker.track(blank_frames(), dets, "person")
    assert len(tracks) == 2
    for track in tracks:
        # frame 0 included: the birth frames the library leaves unlabelled are given back
        assert track.frame_idx == list(range(N_FRAMES))
        xs = [track.boxes_xyxy[f][0] for f in track.frame_idx]
        steps = set(np.diff(xs).tolist())
        assert steps in ({10.0}, {-10.0})  # never jumps to the other box
    assert {t.class_name for t in tracks} == {"person"}
    assert [t.score for t in tracks] == pytest.approx([0.9, 0.9])


def test_short_occlusion_gap_keeps_the_track(tracker) -> None:
    gap = {8, 9, 10}  # 3 frames <= lost_track_buffer (5)
    dets = {t: [] if t in gap else [Detection(box_at(5 * t, 20), 0.9)] for t in range(N_FRAMES)}
    tracks = tracker.track(blank_frames(), dets, "person")
    assert len(tracks) == 1
    assert tracks[0].frame_idx == [t for t in range(N_FRAMES) if t not in gap]


def test_object_reappearing_after_a_long_absence_is_a_new_track(tracker) -> None:
    absent = set(range(6, 14))  # 8 frames > lost_track_buffer: the first track is forgotten
    dets = {t: [] if t in absent else [Detection(box_at(50, 20), 0.9)] for t in range(N_FRAMES)}
    tracks = tracker.track(blank_frames(), dets, "person")
    assert [t.frame_idx for t in tracks] == [list(range(6)), list(range(14, N_FRAMES))]
    assert [t.track_id for t in tracks] == [0, 1]


def test_detection_overlapping_an_existing_track_starts_no_track(tracker) -> None:
    # Frame 5 has a duplicate detection shifted by 2 px (a second box on the same person):
    # it matches nothing, starts an unconfirmed track, and that track dies on frame 6.
    dets = {t: [Detection(box_at(5 * t, 20), 0.9)] for t in range(N_FRAMES)}
    dets[5] = [*dets[5], Detection(box_at(5 * 5 + 2, 22), 0.85)]
    tracks = tracker.track(blank_frames(), dets, "person")
    assert len(tracks) == 1
    assert tracks[0].boxes_xyxy[5] == box_at(25, 20)


@pytest.mark.parametrize("name", ["bytetrack", "botsort"])
def test_low_score_detection_bridges_a_partial_occlusion(name) -> None:
    # Scores 0.3 on frames 8-10 (below the high/low split, 0.5 and 0.6): ByteTrack's second
    # association keeps the track on those frames instead of losing it.
    dets = {t: [Detection(box_at(5 * t, 20), 0.3 if 8 <= t <= 10 else 0.9)] for t in range(12)}
    tracks = build(name).track(blank_frames(12), dets, "car")
    assert len(tracks) == 1 and tracks[0].frame_idx == list(range(12))


def test_ocsort_ignores_low_score_detections() -> None:
    # OC-SORT has no low-score association: the 0.3 detections are a gap, bridged by the track.
    dets = {t: [Detection(box_at(5 * t, 20), 0.3 if 8 <= t <= 10 else 0.9)] for t in range(12)}
    tracks = build("ocsort").track(blank_frames(12), dets, "car")
    assert [t.frame_idx for t in tracks] == [[0, 1, 2, 3, 4, 5, 6, 7, 11]]


def test_min_track_frames_and_cap_come_from_params(params_raw) -> None:
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


def test_thresholds_come_from_params(params_raw) -> None:
    # A 0.65 object: under ByteTrack's new-track threshold 0.7 no track; at 0.6 one.
    dets = {t: [Detection(box_at(5 * t, 20), 0.65)] for t in range(6)}
    strict = build("bytetrack", params_raw, track_activation_threshold=0.7)
    assert strict.track(blank_frames(6), dets, "person") == []
    assert len(build("bytetrack").track(blank_frames(6), dets, "person")) == 1
    # lost_track_buffer counts proposal frames: 10 -> 10 missed frames.
    patient = build("ocsort", params_raw, lost_track_buffer=10)
    assert patient.tracker.maximum_frames_without_update == 10


def test_unknown_or_bad_threshold_is_an_error_naming_the_field(params_raw) -> None:
    params_raw["proposals"]["box_trackers"]["ocsort"]["track_activation_threshold"] = 0.5
    with pytest.raises(ParamsError, match=r"proposals\.box_trackers\.ocsort: .*"
                       r"'track_activation_threshold' was unexpected"):  # fmt: skip
        parse(params_raw)
    del params_raw["proposals"]["box_trackers"]["ocsort"]["track_activation_threshold"]
    params_raw["proposals"]["box_trackers"]["botsort"]["cmc_method"] = "phase"
    with pytest.raises(ParamsError, match=r"proposals\.box_trackers\.botsort\.cmc_method: got"):
        parse(params_raw)


@pytest.mark.parametrize("name", BOX_TRACKERS)
def test_schema_names_are_the_library_arguments(name) -> None:
    """The settings params.yaml may give are the library class's keyword arguments, less the
    three the adapter owns (its frame rate) or that are objects (state estimator, IoU)."""
    library_class = TRACKERS.get(name).library_class
    import trackers

    arguments = set(inspect.signature(getattr(trackers, library_class)).parameters)
    box_schema = schema()["properties"]["proposals"]["properties"]["box_trackers"]
    assert set(box_schema["properties"][name]["properties"]) == arguments - {
        "frame_rate",
        "state_estimator_class",
        "iou",
    }


def smooth_texture(height: int, width: int) -> np.ndarray:
    """A natural-looking image: noise blurred over ~4 px (corners for optical flow to follow)."""
    import cv2

    noise = np.random.default_rng(0).random((height, width, 3)).astype(np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), 4)
    return cv2.normalize(blurred, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def test_botsort_compensates_a_fast_pan(params_raw) -> None:
    # A static object filmed by a camera panning right 32 px/frame: in the image the object
    # moves left 32 px/frame (IoU 8/72 between consecutive 40-px boxes, too low to match).
    # Frames 400x240, the synthetic benchmark's height: BoT-SORT's optical flow runs at half size
    # and drifts on 60-px-high images.
    world = smooth_texture(240, 1000)
    frames, dets = {}, {}
    for t in range(10):
        left = 100 + 32 * t  # camera window [left, left + 400) over the world
        frames[t] = world[:, left : left + 400].copy()
        dets[t] = [Detection(box_at(500 - left, 40), 0.9)]  # object at world x 500..540
    video = ArrayFrames("v", frames)
    with_cmc = build("botsort").track(video, dets, "person")
    assert [t.frame_idx for t in with_cmc] == [list(range(10))]
    without = build("botsort", params_raw, enable_cmc=False).track(video, dets, "person")
    assert all(len(t.frame_idx) == 1 for t in without)
