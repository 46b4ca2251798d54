"""Track management for the SAM 2 trackers, with a fake segmenter whose masks are known."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pytest

from zstvg.config.params import load_params
from zstvg.files import rle
from zstvg.files.records import BoxXYXY
from zstvg.proposals.detectors import Detection
from zstvg.proposals.frames import ArrayFrames
from zstvg.proposals.propagation import select_new_detections, split_windows, track_with_propagation

H, W = 60, 200


class FakeSegmenter:
    """Propagates a box prompt as a rectangle moving right 4 px per frame index step of the
    window (absent once it leaves the image); records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], int, dict[int, BoxXYXY]]] = []

    @contextlib.contextmanager
    def window(self, frames: ArrayFrames, window: Sequence[int]) -> Iterator[FakeSegmenter]:
        self._window = list(window)
        yield self

    def propagate(
        self, prompt_frame: int, boxes: Mapping[int, BoxXYXY]
    ) -> Iterator[tuple[int, int, np.ndarray]]:
        self.calls.append((tuple(self._window), prompt_frame, dict(boxes)))
        for f in self._window:
            for obj_id, (x1, y1, x2, y2) in boxes.items():
                dx = 4 * (f - prompt_frame)
                mask = np.zeros((H, W), bool)
                lo, hi = max(int(x1) + dx, 0), min(int(x2) + dx, W)
                if lo < hi:
                    mask[int(y1) : int(y2), lo:hi] = True
                yield f, obj_id, mask


def video(n: int) -> ArrayFrames:
    return ArrayFrames("v", {f: np.zeros((H, W, 3), np.uint8) for f in range(n)})


def cfg(**overrides):
    base = dict(window_frames=100, min_track_frames=1, max_tracks_per_video=20, new_track_iou=0.5)
    return dataclasses.replace(load_params().proposals, **{**base, **overrides})


def test_split_windows_share_their_boundary_frame() -> None:
    assert split_windows(range(10), 4) == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    assert split_windows(range(3), 4) == [[0, 1, 2]]
    assert split_windows([], 4) == []
    with pytest.raises(ValueError, match="window_frames"):
        split_windows(range(5), 1)


def test_select_new_detections_skips_overlaps_above_the_threshold() -> None:
    existing = [(0.0, 0.0, 10.0, 10.0)]
    dets = [
        Detection((0, 0, 10, 9), 0.9),  # IoU 0.9 with the track: no new track
        Detection((5, 0, 15, 10), 0.8),  # IoU 1/3: new track
        Detection((6, 0, 16, 10), 0.7),  # IoU 0.67 with the one accepted just before: skipped
        Detection((50, 50, 60, 60), 0.6),  # no overlap: new track
    ]
    new = select_new_detections(dets, existing, 0.5, budget=10)
    assert [d.score for d in new] == [0.8, 0.6]
    assert [d.score for d in select_new_detections(dets, existing, 0.5, budget=1)] == [0.8]


def test_detection_overlapping_a_propagated_track_starts_no_track() -> None:
    seg = FakeSegmenter()
    dets = {
        0: [Detection((10, 10, 30, 30), 0.9)],
        # Frame 5: the track is at x 30..50 (moved 4 px/frame); the first detection is on it
        # (IoU 0.82), the second is elsewhere.
        5: [Detection((32, 10, 52, 30), 0.9), Detection((100, 30, 120, 50), 0.8)],
    }
    tracks = track_with_propagation(seg, video(10), dets, "person", cfg())
    assert [t.track_id for t in tracks] == [0, 1]
    assert [c[1] for c in seg.calls] == [0, 5]  # one propagation per frame with new tracks
    assert tracks[0].boxes_xyxy[5] == (30.0, 10.0, 50.0, 30.0)
    # The second track was propagated backward too: on frame 0 it is 20 px to the left.
    assert tracks[1].boxes_xyxy[0] == (80.0, 30.0, 100.0, 50.0)
    assert tracks[1].score == 0.8


def test_boxes_are_the_tight_boxes_of_the_rle_masks() -> None:
    tracks = track_with_propagation(
        FakeSegmenter(), video(6), {2: [Detection((10, 5, 30, 25), 0.9)]}, "dog", cfg()
    )
    (track,) = tracks
    assert track.frame_idx == list(range(6)) and set(track.rles) == set(track.boxes_xyxy)
    for f, box in track.boxes_xyxy.items():
        assert rle.box_xyxy(track.rles[f]) == box
        assert rle.decode(track.rles[f]).sum() == (box[2] - box[0]) * (box[3] - box[1])
    assert track.class_name == "dog"


def test_windows_carry_tracks_over_with_their_id() -> None:
    seg = FakeSegmenter()
    tracks = track_with_propagation(
        seg, video(10), {0: [Detection((0, 10, 20, 30), 0.9)]}, "person", cfg(window_frames=4)
    )
    assert len(tracks) == 1 and tracks[0].frame_idx == list(range(10))
    assert [(c[0], c[1]) for c in seg.calls] == [
        ((0, 1, 2, 3), 0),
        ((3, 4, 5, 6), 3),
        ((6, 7, 8, 9), 6),
    ]
    assert tracks[0].boxes_xyxy[9] == (36.0, 10.0, 56.0, 30.0)


def test_object_leaving_the_image_ends_its_track_and_short_tracks_are_dropped() -> None:
    # Prompted at x 170..190 on frame 0, the first object leaves the 200-px image after frame
    # 7; the second, prompted at x 0..20 on frame 9, is inside the image from frame 5 on.
    dets = {0: [Detection((170, 0, 190, 20), 0.9)], 9: [Detection((0, 40, 20, 60), 0.8)]}
    tracks = track_with_propagation(FakeSegmenter(), video(10), dets, "person", cfg())
    assert [t.frame_idx for t in tracks] == [list(range(8)), list(range(5, 10))]
    tracks = track_with_propagation(
        FakeSegmenter(), video(10), dets, "person", cfg(min_track_frames=6)
    )
    assert [t.frame_idx for t in tracks] == [list(range(8))]
    dets[0] = []
    tracks = track_with_propagation(
        FakeSegmenter(), video(10), dets, "person", cfg(min_track_frames=5)
    )
    assert [(t.track_id, t.score) for t in tracks] == [(0, 0.8)]  # numbered densely


def test_cap_on_started_tracks() -> None:
    dets = {0: [Detection((10 + 40 * i, 0, 30 + 40 * i, 20), 0.9 - 0.1 * i) for i in range(4)]}
    tracks = track_with_propagation(
        FakeSegmenter(), video(3), dets, "person", cfg(max_tracks_per_video=2)
    )
    assert [t.score for t in tracks] == pytest.approx([0.9, 0.8])
