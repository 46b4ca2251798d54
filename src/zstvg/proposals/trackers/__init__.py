"""Trackers: link per-frame detections into candidate object tracks
(docs/method.md#object-proposals).

Backends, registered by name and imported only when built:
- ``sam2-hf`` (default): transformers ``Sam2VideoModel``; each new detection is a box prompt
  propagated forward and backward into per-frame masks (see ``zstvg.proposals.propagation``);
- ``sam2-official``: the ``sam2`` package's video predictor, same track management (without
  the package: refuses with how to install it);
- ``bytetrack``, ``botsort``, ``ocsort`` and ``sort``: box trackers (Kalman filter +
  assignment) from Roboflow's ``trackers`` package (``roboflow.py``), for the tracker ablation
  (paper Fig. 6c), their settings in ``proposals.box_trackers.<name>``. They are
  tracking-by-detection, so they ask for detections on every proposal frame
  (``dense_detections``), not only on every ``detect_every_n_frames``-th.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import ClassVar

from zstvg.config.params import ProposalsConfig
from zstvg.config.registry import Registry
from zstvg.files.records import Track
from zstvg.proposals.detectors import Detection
from zstvg.proposals.frames import FrameSource


class Tracker(abc.ABC):
    """The interface of every tracker backend."""

    # True: the tracker needs detections on every proposal frame; False: only on every
    # ``detect_every_n_frames``-th one (the SAM 2 trackers propagate in between).
    dense_detections: ClassVar[bool]
    cfg: ProposalsConfig

    @abc.abstractmethod
    def track(
        self, frames: FrameSource, detections: Mapping[int, Sequence[Detection]], class_name: str
    ) -> list[Track]:
        """Tracks over ``frames.frame_idx`` from detections keyed by native frame index: those
        seen on fewer than ``cfg.min_track_frames`` frames dropped, the first
        ``cfg.max_tracks_per_video`` kept, numbered 0.. in creation order
        (``finalize_tracks``)."""


TRACKERS = Registry("tracker")
TRACKERS.register("sam2-hf", "zstvg.proposals.trackers.sam2_hf:Sam2HFTracker")
TRACKERS.register("sam2-official", "zstvg.proposals.trackers.sam2_official:Sam2OfficialTracker")
TRACKERS.register("bytetrack", "zstvg.proposals.trackers.roboflow:ByteTrack")
TRACKERS.register("botsort", "zstvg.proposals.trackers.roboflow:BotSort")
TRACKERS.register("ocsort", "zstvg.proposals.trackers.roboflow:OcSort")
TRACKERS.register("sort", "zstvg.proposals.trackers.roboflow:Sort")


def build_tracker(cfg: ProposalsConfig, device: str = "cpu") -> Tracker:
    """The tracker named by ``cfg.tracker``, with the settings of ``cfg`` (track management,
    and ``cfg.box_trackers[cfg.tracker]`` for a box tracker)."""
    return TRACKERS.build(cfg.tracker, cfg=cfg, device=device)


def renumber_tracks(tracks: Sequence[Track]) -> list[Track]:
    """The tracks numbered 0, 1, ... in their order (ids in a file are dense)."""
    return [replace(t, track_id=i) for i, t in enumerate(tracks)]


def finalize_tracks(tracks: Sequence[Track], min_track_frames: int, max_tracks: int) -> list[Track]:
    """Drop tracks seen on fewer than ``min_track_frames`` frames, keep the first ``max_tracks``
    in creation order, and renumber them in that order."""
    kept = [t for t in tracks if len(t.boxes_xyxy) >= min_track_frames]
    return renumber_tracks(kept[:max_tracks])
