"""Track management for the mask-propagating trackers (SAM 2, through transformers or ``sam2``).

The paper's recipe (docs/method.md#object-proposals): the detector runs on every k-th proposal
frame; each detection that does not overlap an existing track by more than ``new_track_iou`` (box
IoU with the track's mask box on that frame) starts a new track, which the segmenter propagates
forward and backward into per-frame masks. Masks become COCO RLE at once (a 720p boolean mask is
0.9 MB, its RLE a few hundred bytes) and boxes are the masks' tight boxes; a frame where the mask
is empty is a frame where the track is absent.

Long videos are processed in windows of ``window_frames`` proposal frames that share their
boundary frame: the tracks alive on a window's last frame are re-prompted with their box on the
next window's first frame and keep their id, so memory is bounded by the window, not the video.
A new detection's backward propagation stops at its window's first frame.
``max_tracks_per_video`` caps the tracks started (it bounds the compute); tracks present on
fewer than ``min_track_frames`` frames are dropped afterwards.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from zstvg.config.params import ProposalsConfig
from zstvg.files import rle as rle_utils
from zstvg.files.records import BoxXYXY, Track
from zstvg.proposals.boxes import iou_matrix
from zstvg.proposals.detectors import Detection
from zstvg.proposals.frames import FrameSource
from zstvg.proposals.trackers import Tracker, finalize_tracks


class WindowSession(Protocol):
    def propagate(
        self, prompt_frame: int, boxes: Mapping[int, BoxXYXY]
    ) -> Iterator[tuple[int, int, np.ndarray]]:
        """Prompt each object id with its box on ``prompt_frame``; propagate over the whole
        window both ways; yield ``(frame_idx, obj_id, mask)`` with a (height, width) bool mask."""
        ...


class Propagator(Protocol):
    def window(
        self, frames: FrameSource, window: Sequence[int]
    ) -> contextlib.AbstractContextManager[WindowSession]:
        """A session over the frames ``window`` (native indices, ascending) of ``frames``."""
        ...


def split_windows(frame_idx: Sequence[int], window_frames: int) -> list[list[int]]:
    """Consecutive windows of ``window_frames`` frames, each starting on the previous one's last
    frame (window_frames >= 2): [0..9] with 4 -> [0,1,2,3], [3,4,5,6], [6,7,8,9]."""
    if window_frames < 2:
        raise ValueError(f"window_frames must be >= 2, got {window_frames}")
    frames = list(frame_idx)
    if len(frames) <= window_frames:
        return [frames] if frames else []
    windows, start = [], 0
    while start < len(frames) - 1:
        windows.append(frames[start : start + window_frames])
        start += window_frames - 1
    return windows


def select_new_detections(
    detections: Sequence[Detection],
    existing_boxes: Sequence[BoxXYXY],
    new_track_iou: float,
    budget: int,
) -> list[Detection]:
    """Detections that start tracks: best score first, skipping any whose IoU with an existing
    track box (or with a detection already accepted on this frame) exceeds ``new_track_iou``;
    at most ``budget`` of them."""
    accepted: list[Detection] = []
    for det in sorted(detections, key=lambda d: -d.score):
        if len(accepted) >= budget:
            break
        others = list(existing_boxes) + [a.box_xyxy for a in accepted]
        if others and iou_matrix([det.box_xyxy], others).max() > new_track_iou:
            continue
        accepted.append(det)
    return accepted


@dataclass
class _Building:
    score: float
    boxes_xyxy: dict[int, BoxXYXY] = field(default_factory=dict)
    rles: dict[int, dict[str, Any]] = field(default_factory=dict)


def _record(tracks: dict[int, _Building], results: Iterator[tuple[int, int, np.ndarray]]) -> None:
    for frame_idx, obj_id, mask in results:
        rle = rle_utils.encode(mask)
        box = rle_utils.box_xyxy(rle)
        track = tracks[obj_id]
        if box is None:  # empty mask: absent here (drop what an earlier window may have said)
            track.boxes_xyxy.pop(frame_idx, None)
            track.rles.pop(frame_idx, None)
            continue
        track.boxes_xyxy[frame_idx] = box
        track.rles[frame_idx] = rle


class PropagatingTracker(Tracker):
    """The ``Tracker`` interface of a ``Propagator`` (both SAM 2 backends): detections on every
    ``detect_every_n_frames``-th proposal frame, masks propagated in between."""

    dense_detections = False
    cfg: ProposalsConfig

    @abc.abstractmethod
    def window(
        self, frames: FrameSource, window: Sequence[int]
    ) -> contextlib.AbstractContextManager[WindowSession]:
        """A propagation session over the window's frames (each SAM 2 backend its own)."""

    def track(
        self, frames: FrameSource, detections: Mapping[int, Sequence[Detection]], class_name: str
    ) -> list[Track]:
        return track_with_propagation(self, frames, detections, class_name, self.cfg)


def track_with_propagation(
    propagator: Propagator,
    frames: FrameSource,
    detections: Mapping[int, Sequence[Detection]],
    class_name: str,
    cfg: ProposalsConfig,
) -> list[Track]:
    """Tracks over ``frames.frame_idx`` from detections on some of those frames."""
    tracks: dict[int, _Building] = {}
    for window in split_windows(frames.frame_idx, cfg.window_frames):
        with propagator.window(frames, window) as session:
            first = window[0]
            carry = {tid: t.boxes_xyxy[first] for tid, t in tracks.items() if first in t.boxes_xyxy}
            if carry:
                _record(tracks, session.propagate(first, carry))
            for frame_idx in window:
                dets = detections.get(frame_idx, ())
                budget = cfg.max_tracks_per_video - len(tracks)
                if not dets or budget <= 0:
                    continue
                existing = [
                    t.boxes_xyxy[frame_idx] for t in tracks.values() if frame_idx in t.boxes_xyxy
                ]
                new = select_new_detections(dets, existing, cfg.new_track_iou, budget)
                if not new:
                    continue
                prompts = {}
                for det in new:
                    tid = len(tracks)
                    tracks[tid] = _Building(score=det.score)
                    prompts[tid] = det.box_xyxy
                _record(tracks, session.propagate(frame_idx, prompts))
    built = [
        Track(
            track_id=tid,
            class_name=class_name,
            boxes_xyxy=dict(sorted(t.boxes_xyxy.items())),
            rles=dict(sorted(t.rles.items())),
            score=t.score,
        )
        for tid, t in tracks.items()
    ]
    return finalize_tracks(built, cfg.min_track_frames, cfg.max_tracks_per_video)
