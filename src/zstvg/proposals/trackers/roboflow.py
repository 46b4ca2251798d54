"""Box trackers from Roboflow's ``trackers`` package: ByteTrack, BoT-SORT, OC-SORT and SORT.

Tracking-by-detection: each proposal frame's detections go to the library's ``update`` as a
``supervision.Detections``; the boxes that come back with a ``tracker_id`` >= 0 are the track's
boxes on that frame (the detections themselves, not the Kalman estimate), so frames where a
track was not matched (occlusion gaps) carry no box. Settings: ``proposals.box_trackers.<name>``,
passed as keyword arguments to the library's class.

Two adaptations, stated:
- Unlabelled matches. The library labels a detection with its track only once the track is
  confirmed (``minimum_consecutive_frames`` matches; a new track's birth frame is never
  labelled), and OC-SORT also only while the track's current run of matches is that long (after
  a gap, its first re-matched frames come back unlabelled), so detections that did extend a
  track come back as -1. They are given back to it: after each frame, every track the library
  started or matched on that frame without labelling a detection is paired with the unlabelled
  detection it sits on (the highest IoU, at least 0.5: the filter's state after a match is
  within a few pixels of the detection); an unconfirmed track keeps its pairs until it is
  confirmed, and is dropped if it never is.
- Time. The library counts ``lost_track_buffer`` in frames of a 30-fps video and scales it by
  ``frame_rate``; the adapter runs it at 30 fps, so the buffer counts our proposal-grid frames
  (5 = 1 s on the 5 fps grid).
BoT-SORT runs without re-ID (the library's BoT-SORT has none: IoU fused with the score) and
with its camera-motion compensation (``cmc_method``) on the frame images.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from zstvg.config.params import ProposalsConfig
from zstvg.files.records import BoxXYXY, Track
from zstvg.proposals.boxes import iou_matrix
from zstvg.proposals.detectors import Detection
from zstvg.proposals.frames import FrameSource
from zstvg.proposals.trackers import Tracker, finalize_tracks

# The library's reference rate: at this frame_rate its lost_track_buffer counts calls to update.
_REFERENCE_FPS = 30.0
# A track the library matched on a frame without labelling a detection, and an unlabelled
# detection of that frame, are the same object when the track's state box (after the match)
# overlaps the detection this much (at a birth: IoU 1).
_MIN_PAIR_IOU = 0.5


def _to_supervision(detections: Sequence[Detection]) -> Any:
    import supervision as sv

    xyxy = np.array([d.box_xyxy for d in detections], dtype=np.float64).reshape(-1, 4)
    return sv.Detections(xyxy=xyxy, confidence=np.array([d.score for d in detections], float))


class _Boxes:
    """The boxes and scores gathered for each track while the library runs."""

    def __init__(self) -> None:
        self.boxes: dict[int, dict[int, BoxXYXY]] = defaultdict(dict)  # id -> frame -> box
        self.scores: dict[int, list[float]] = defaultdict(list)
        # unconfirmed library tracklet -> its (frame, box, score) so far
        self.pending: dict[Any, list[tuple[int, BoxXYXY, float]]] = {}

    def add(self, track_id: int, frame_idx: int, box: BoxXYXY, score: float) -> None:
        self.boxes[track_id][frame_idx] = box
        self.scores[track_id].append(score)

    def record(self, frame_idx: int, out: Any, tracklets: Sequence[Any]) -> None:
        """The library's output on one frame, and its tracklets after it."""
        rows: list[tuple[int, BoxXYXY, float]] = []
        if len(out):  # an empty result has no confidence array
            for tid, (x1, y1, x2, y2), score in zip(
                out.tracker_id, out.xyxy.tolist(), out.confidence.tolist(), strict=True
            ):
                rows.append((int(tid), (x1, y1, x2, y2), score))
        for tid, box, score in rows:
            if tid >= 0:
                self.add(tid, frame_idx, box, score)
        self._pair_silent(frame_idx, rows, tracklets)
        self._settle_pending(tracklets)

    def _pair_silent(
        self, frame_idx: int, rows: Sequence[tuple[int, BoxXYXY, float]], tracklets: Sequence[Any]
    ) -> None:
        """Give each tracklet matched on this frame, yet named by no detection, the unlabelled
        detection it sits on."""
        labelled = {tid for tid, _, _ in rows if tid >= 0}
        silent = [t for t in tracklets if t.time_since_update == 0 and t.tracker_id not in labelled]
        unlabelled = [(box, score) for tid, box, score in rows if tid < 0]
        if not silent or not unlabelled:
            return
        iou = iou_matrix([t.get_state_bbox() for t in silent], [b for b, _ in unlabelled])
        for i, tracklet in enumerate(silent):
            j = int(iou[i].argmax())
            if iou[i, j] < _MIN_PAIR_IOU:
                continue
            box, score = unlabelled[j]
            if tracklet.tracker_id >= 0:
                self.add(tracklet.tracker_id, frame_idx, box, score)
            else:
                self.pending.setdefault(tracklet, []).append((frame_idx, box, score))

    def _settle_pending(self, tracklets: Sequence[Any]) -> None:
        """Boxes of tracklets confirmed now join their track; those of removed ones go."""
        alive = set(map(id, tracklets))
        for tracklet in list(self.pending):
            if tracklet.tracker_id >= 0:
                for f, box, score in self.pending.pop(tracklet):
                    self.add(tracklet.tracker_id, f, box, score)
            elif id(tracklet) not in alive:
                del self.pending[tracklet]

    def tracks(self, class_name: str) -> list[Track]:
        """Confirmed tracks in the order they started (first frame, then library id)."""
        order = sorted(self.boxes, key=lambda tid: (min(self.boxes[tid]), tid))
        return [
            Track(
                track_id=tid,
                class_name=class_name,
                boxes_xyxy=dict(sorted(self.boxes[tid].items())),
                score=float(np.mean(self.scores[tid])),
            )
            for tid in order
        ]


class BoxTracker(Tracker):
    """A Roboflow ``trackers`` tracker behind our ``Tracker`` interface; one subclass per backend
    names the library class and its settings key."""

    dense_detections = True
    name: ClassVar[str]  # the backend name: the key in proposals.box_trackers
    library_class: ClassVar[str]  # the class in the ``trackers`` package

    def __init__(self, cfg: ProposalsConfig, device: str = "cpu") -> None:
        import trackers

        del device  # numpy, scipy and OpenCV on the CPU
        self.cfg = cfg
        settings = dict(cfg.box_trackers.get(self.name, {}))
        self.tracker = getattr(trackers, self.library_class)(frame_rate=_REFERENCE_FPS, **settings)

    def image(self, frames: FrameSource, frame_idx: int) -> np.ndarray | None:
        """The frame the library's ``update`` needs (None: it uses none)."""
        return None

    def track(
        self, frames: FrameSource, detections: Mapping[int, Sequence[Detection]], class_name: str
    ) -> list[Track]:
        self.tracker.reset()
        gathered = _Boxes()
        for f in frames.frame_idx:
            frame_dets = _to_supervision(detections.get(f, ()))
            out = self.tracker.update(frame_dets, frame=self.image(frames, f))
            gathered.record(f, out, self.tracker.tracks)
        tracks = gathered.tracks(class_name)
        return finalize_tracks(tracks, self.cfg.min_track_frames, self.cfg.max_tracks_per_video)


class ByteTrack(BoxTracker):
    """ByteTrack (Zhang et al., ECCV 2022): a second association for low-score detections."""

    name = "bytetrack"
    library_class = "ByteTrackTracker"


class BotSort(BoxTracker):
    """BoT-SORT (Aharon et al., 2022) without re-ID, with camera-motion compensation."""

    name = "botsort"
    library_class = "BoTSORTTracker"

    def image(self, frames: FrameSource, frame_idx: int) -> np.ndarray | None:
        if not self.tracker.enable_cmc:
            return None
        return np.ascontiguousarray(frames.read(frame_idx)[:, :, ::-1])  # RGB -> OpenCV's BGR


class OcSort(BoxTracker):
    """OC-SORT (Cao et al., CVPR 2023): observation-centric re-update and momentum."""

    name = "ocsort"
    library_class = "OCSORTTracker"


class Sort(BoxTracker):
    """SORT (Bewley et al., ICIP 2016): Kalman filter + IoU assignment."""

    name = "sort"
    library_class = "SORTTracker"
