"""ByteTrack-style box tracker (Zhang et al., ECCV 2022), our own implementation.

Per frame: predict every track with a constant-velocity Kalman filter; match confirmed and lost
tracks to high-score detections (IoU fused with the detection score, ``lap`` assignment); match
the tracks still unmatched to the low-score detections (ByteTrack's idea: a partly occluded
object often gets a low score, and dropping those detections breaks the track); match the
tentative tracks (born on the previous frame) to the remaining high-score detections; start a
tentative track for each high-score detection left whose score clears ``new_track_thresh``.
A lost track is kept for ``max_lost_frames`` frames, then removed.

A track's box on a frame is the detection matched to it there (not the filter's estimate), so
frames where it was not matched (occlusion gaps) carry no box.
Thresholds are ByteTrack's defaults (track 0.5, new track 0.6, first match IoU-distance 0.8,
second 0.5, tentative 0.7). ``max_lost_frames`` = 5: ByteTrack keeps a lost track for 30 frames
at 30 fps (1 s), which is 5 frames on the 5 fps proposal grid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from zstvg.config import ProposalsConfig
from zstvg.proposals.boxes import assign, iou_matrix
from zstvg.proposals.detectors import Detection
from zstvg.proposals.frames import FrameSource
from zstvg.proposals.trackers import finalize_tracks
from zstvg.proposals.trackers.kalman import KalmanFilter, cxcywh_to_xyxy, xyxy_to_cxcywh
from zstvg.structures import BoxXYXY, Track

TRACKED, LOST, REMOVED = "tracked", "lost", "removed"


@dataclass
class BoxTrack:
    """Mutable state of one track while the tracker runs."""

    track_id: int
    mean: np.ndarray
    cov: np.ndarray
    score: float
    confirmed: bool
    last_step: int
    state: str = TRACKED
    boxes_xyxy: dict[int, BoxXYXY] = field(default_factory=dict)
    scores: list[float] = field(default_factory=list)

    @property
    def predicted_xyxy(self) -> BoxXYXY:
        return cxcywh_to_xyxy(self.mean)


class ByteTrack:
    """ByteTrack on boxes only; ``track`` turns per-frame detections into ``Track`` records."""

    dense_detections = True
    # Whether ``step`` needs the frame image (BoT-SORT's camera-motion compensation does).
    needs_images = False

    def __init__(
        self,
        cfg: ProposalsConfig | None = None,
        device: str = "cpu",
        *,
        track_thresh: float = 0.5,
        low_thresh: float = 0.1,
        new_track_thresh: float = 0.6,
        match_thresh: float = 0.8,
        low_match_thresh: float = 0.5,
        tentative_match_thresh: float = 0.7,
        max_lost_frames: int = 5,
        fuse_score: bool = True,
    ) -> None:
        del device  # numpy only
        self.track_thresh = track_thresh
        self.low_thresh = low_thresh
        self.new_track_thresh = new_track_thresh
        self.match_thresh = match_thresh
        self.low_match_thresh = low_match_thresh
        self.tentative_match_thresh = tentative_match_thresh
        self.max_lost_frames = max_lost_frames
        self.fuse_score = fuse_score
        self.min_track_frames = cfg.min_track_frames if cfg is not None else 1
        self.max_tracks = cfg.max_tracks_per_video if cfg is not None else 10**9
        self.kf = KalmanFilter()
        self.reset()

    def reset(self) -> None:
        self.tracks: list[BoxTrack] = []  # every track ever started, in creation order
        self._step = -1

    # -- hooks for BoT-SORT ------------------------------------------------------------------
    def _compensate_motion(self, image: np.ndarray | None, tracks: list[BoxTrack]) -> None:
        """Shift predicted states by the camera motion; ByteTrack assumes a static camera."""

    # -- one frame ---------------------------------------------------------------------------
    def _cost(self, tracks: list[BoxTrack], dets: list[Detection], fuse: bool) -> np.ndarray:
        iou = iou_matrix([t.predicted_xyxy for t in tracks], [d.box_xyxy for d in dets])
        if fuse and len(dets):
            iou = iou * np.array([d.score for d in dets])[None, :]
        return 1.0 - iou

    def _update(self, track: BoxTrack, det: Detection, frame_idx: int) -> None:
        track.mean, track.cov = self.kf.update(track.mean, track.cov, xyxy_to_cxcywh(det.box_xyxy))
        track.state = TRACKED
        track.score = det.score
        track.last_step = self._step
        track.boxes_xyxy[frame_idx] = tuple(float(v) for v in det.box_xyxy)  # type: ignore[assignment]
        track.scores.append(det.score)

    def step(
        self, frame_idx: int, detections: Sequence[Detection], image: np.ndarray | None = None
    ) -> list[BoxTrack]:
        """Advance by one frame; returns the tracks matched on this frame."""
        self._step += 1
        dets = [d for d in detections if d.score >= self.low_thresh]
        high = [d for d in dets if d.score >= self.track_thresh]
        low = [d for d in dets if d.score < self.track_thresh]

        alive = [t for t in self.tracks if t.state != REMOVED]
        for t in alive:
            t.mean, t.cov = self.kf.predict(t.mean, t.cov)
        self._compensate_motion(image, alive)
        confirmed = [t for t in alive if t.confirmed]
        tentative = [t for t in alive if not t.confirmed]
        matched: list[BoxTrack] = []

        # 1) confirmed (tracked or lost) tracks <-> high-score detections.
        pairs, free_tracks, free_high = assign(
            self._cost(confirmed, high, self.fuse_score), self.match_thresh
        )
        for ti, di in pairs:
            self._update(confirmed[ti], high[di], frame_idx)
            matched.append(confirmed[ti])
        # 2) tracks that were tracked on the previous frame <-> low-score detections.
        rest = [confirmed[i] for i in free_tracks if confirmed[i].state == TRACKED]
        pairs, free_rest, _ = assign(self._cost(rest, low, False), self.low_match_thresh)
        for ti, di in pairs:
            self._update(rest[ti], low[di], frame_idx)
            matched.append(rest[ti])
        for i in free_rest:
            rest[i].state = LOST
        # 3) tentative tracks <-> the high-score detections left; unmatched tentative ones die.
        high = [high[i] for i in free_high]
        pairs, free_tent, free_high = assign(
            self._cost(tentative, high, self.fuse_score), self.tentative_match_thresh
        )
        for ti, di in pairs:
            tentative[ti].confirmed = True
            self._update(tentative[ti], high[di], frame_idx)
            matched.append(tentative[ti])
        for i in free_tent:
            tentative[i].state = REMOVED
        # 4) new tracks; on the very first frame they are confirmed at once (as in ByteTrack).
        for i in free_high:
            det = high[i]
            if det.score < self.new_track_thresh:
                continue
            mean, cov = self.kf.initiate(xyxy_to_cxcywh(det.box_xyxy))
            track = BoxTrack(
                track_id=len(self.tracks),
                mean=mean,
                cov=cov,
                score=det.score,
                confirmed=self._step == 0,
                last_step=self._step,
            )
            track.boxes_xyxy[frame_idx] = tuple(float(v) for v in det.box_xyxy)  # type: ignore[assignment]
            track.scores.append(det.score)
            self.tracks.append(track)
            matched.append(track)
        # 5) forget tracks lost for too long.
        for t in alive:
            if t.state == LOST and self._step - t.last_step > self.max_lost_frames:
                t.state = REMOVED
        return matched

    # -- whole video -------------------------------------------------------------------------
    def track(
        self,
        frames: FrameSource,
        detections: Mapping[int, Sequence[Detection]],
        class_name: str,
    ) -> list[Track]:
        self.reset()
        for f in frames.frame_idx:
            image = frames.read(f) if self.needs_images else None
            self.step(f, detections.get(f, ()), image)
        tracks = [
            Track(
                track_id=t.track_id,
                class_name=class_name,
                boxes_xyxy=dict(t.boxes_xyxy),
                score=float(np.mean(t.scores)),
            )
            for t in self.tracks
            if t.confirmed
        ]
        return finalize_tracks(tracks, self.min_track_frames, self.max_tracks)
