"""The propose step (``zstvg propose``): candidate object tracks per video.

``propose`` (docs/method.md#object-proposals): for each video, the proposal frames are the union of
its samples' grid frames (from sample-frames' index.json); the detector runs on every
``detect_every_n_frames`` native frames (on all of them for the box trackers, which are
tracking-by-detection) with the prompt = each sample's target class from the decompositions
(fallback: ``--default-class``, "person" for HC-STVG); the tracker links the detections into
tracks. Outputs, under ``--out``::

    <video>.json                  the authors' proposal format (zstvg.files.proposal_tracks)
    <video>.json.provenance.json  params hash, backends, checkpoints, classes, status, timing
    manifest.json                 every video: ok / empty / failed (with the reason)

A video whose frames failed, or that has no detection, gets a valid file with no tracks (its
samples are later scored 0, not dropped); an error while processing one video is recorded in
its entry and the run goes on. Finished videos (same parameters and inputs) are skipped on rerun.

See ``zstvg.commands.import_proposals`` for ``import-proposals``, which reads the authors'
released files.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zstvg.config.params import Params, ProposalsConfig
from zstvg.files.frames import FrameStore
from zstvg.files.io import InputError, sha256_json, write_json
from zstvg.files.provenance import write_provenance
from zstvg.files.records import Track
from zstvg.jobs import shards
from zstvg.jobs.failures import print_failures
from zstvg.jobs.shards import shard_of, shard_path
from zstvg.proposals.frames import FrameSource, JpegFrames
from zstvg.proposals.trackers import renumber_tracks

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
STEP = "propose"


def detection_frames(frame_idx: Sequence[int], every_n: int, dense: bool) -> list[int]:
    """Frames the detector runs on: all proposal frames (box trackers), or every ``every_n``
    *native* frames, as the paper's "every 10 frames" (the authors' released proposals sit on
    every 10th native frame): the first proposal frame of each ``frame // every_n`` bucket. On
    a 5 fps grid of a 25 fps video that is every 2nd grid frame (0.4 s), not every 10th (2 s)."""
    frames = sorted(frame_idx)
    if dense:
        return frames
    chosen, last_bucket = [], None
    for f in frames:
        if f // every_n != last_bucket:
            chosen.append(f)
            last_bucket = f // every_n
    return chosen


def propose_video(
    frames: FrameSource,
    classes: Sequence[str],
    detector: Any,
    tracker: Any,
    cfg: ProposalsConfig,
) -> list[Track]:
    """Detect and track each class on one video; tracks numbered 0.. across classes, capped at
    ``max_tracks_per_video`` in class order."""
    det_frames = detection_frames(
        frames.frame_idx, cfg.detect_every_n_frames, tracker.dense_detections
    )
    tracks: list[Track] = []
    for class_name in classes:
        detections = {f: detector.detect(frames.read(f), class_name) for f in det_frames}
        tracks.extend(tracker.track(frames, detections, class_name))
    return renumber_tracks(tracks[: cfg.max_tracks_per_video])


def video_classes(
    sample_ids: Sequence[str], target_class: Mapping[str, str], default_class: str
) -> list[str]:
    """Distinct detector prompts of a video's samples, in first-seen order."""
    classes: list[str] = []
    for sid in sample_ids:
        cls = (target_class.get(sid) or "").strip() or default_class
        if cls not in classes:
            classes.append(cls)
    return classes


def output_name(video_id: str, frames_dir: str | None) -> str:
    """The file stem: sample-frames' folder name for the video (the video_id when it is safe)."""
    return frames_dir or video_id


def _load_inputs(
    samples: str, frames: str, decompositions: str
) -> tuple[dict[str, list[str]], FrameStore, dict[str, str]]:
    """Samples by video, the frames store, and each sample's detector prompt (target class)."""
    from zstvg.files.decompositions import read_decompositions
    from zstvg.files.samples import read_samples

    by_video: dict[str, list[str]] = {}
    for sample in read_samples(samples):
        by_video.setdefault(sample.video_id, []).append(sample.sample_id)
    store = FrameStore(frames)
    target = {sid: d.target_class or "" for sid, d in read_decompositions(decompositions).items()}
    return by_video, store, target


def _video_frames(store: FrameStore, video_id: str, sample_ids: Sequence[str]) -> JpegFrames:
    """The proposal frames of one video: the union of its ok samples' grid frames."""
    frames = store.video_frames(video_id, sample_ids, kind="grid")
    return JpegFrames(
        video_id=video_id,
        directory=frames.directory,
        frame_idx=list(frames.frame_idx),
        width=frames.width,
        height=frames.height,
    )


def _checkpoint_fingerprints(cfg: ProposalsConfig) -> dict[str, dict[str, Any]]:
    """Content fingerprints of the local detector/tracker checkpoints (a hub id has none: its
    revision is its identity). The hash cache keeps GBs of unchanged weights from being re-read
    every run (:func:`zstvg.files.io.fingerprint`)."""
    from zstvg.files.provenance import fingerprint_tree

    paths = {"detector": cfg.detector_checkpoint, "tracker": cfg.tracker_checkpoint}
    return {
        name: fingerprint_tree(path) for name, path in paths.items() if path and Path(path).exists()
    }


def _finished(path: Path, job_hash: str, failed_too: bool = False) -> dict[str, Any] | None:
    """The provenance of this job's proposals file (the record of a video), done when the
    file is there; an empty proposal set is done too (it is a result, not a failure)."""
    from zstvg.files.io import read_finished
    from zstvg.files.provenance import provenance_path

    return read_finished(
        provenance_path(path), job_hash, failed_too=failed_too, complete=lambda r: path.is_file()
    )


def _only_videos(
    by_video: dict[str, list[str]], video_ids: Sequence[str], samples: str
) -> dict[str, list[str]]:
    """The ``--video-id`` selection (all videos without one), in the order given."""
    if not video_ids:
        return by_video
    unknown = sorted(set(video_ids) - set(by_video))
    if unknown:
        raise InputError(f"--video-id {', '.join(unknown)}: not in {samples}")
    return {v: by_video[v] for v in video_ids}


class _Backends:
    """The detector and tracker, built on the first video that needs them: a rerun whose
    videos are all done loads no model. A bad checkpoint stops the run (exit 2)."""

    def __init__(self, cfg: ProposalsConfig) -> None:
        self.cfg = cfg
        self.device: Any = None
        self._models: tuple[Any, Any] | None = None

    def get(self) -> tuple[Any, Any]:
        if self._models is None:
            from zstvg.jobs.gpus import resolve_device
            from zstvg.proposals.detectors import build_detector
            from zstvg.proposals.trackers import build_tracker

            device = resolve_device(self.cfg.device)
            self._models = (build_detector(self.cfg, device), build_tracker(self.cfg, device))
            self.device = device
        return self._models


def _error_text(exc: Exception) -> str:
    """An input error's own message; anything else with its type (for the manifest)."""
    return str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"


@dataclass
class _Proposer:
    """What every video of one run shares: settings, inputs, outputs and the backends."""

    cfg: ProposalsConfig
    section: dict[str, Any]
    checkpoints: dict[str, dict[str, Any]]
    store: FrameStore
    frames_manifest: str
    out: Path
    merging: bool  # --merge: read the shards' records, compute nothing
    backends: _Backends

    def entry(
        self, video_id: str, sample_ids: list[str], classes: list[str]
    ) -> tuple[dict[str, Any], bool]:
        """The manifest entry of one video and whether an earlier job had written it: reused
        when finished with the same inputs, else computed and written (or, in a merge, marked
        failed)."""
        v = self.store.videos.get(video_id)
        path = self.out / f"{output_name(video_id, (v or {}).get('frames_dir'))}.json"
        job_hash = sha256_json(
            {
                "proposals": self.section,
                "checkpoints": {k: fp["sha256"] for k, fp in self.checkpoints.items()},
                "classes": classes,
                "samples": sample_ids,
                "frames": v,
            }
        )
        done = _finished(path, job_hash, failed_too=self.merging)
        if done is not None:
            keys = ("file", "status", "failed_step", "n_tracks", "classes", "error")
            return {("step" if k == "failed_step" else k): done[k] for k in keys if k in done}, True
        if self.merging:
            reason = "no proposals of this job (its shard did not finish)"
            return {"file": path.name, "status": "failed", "step": STEP,
                    "n_tracks": 0, "classes": classes, "error": reason}, False  # fmt: skip
        return self._propose(video_id, sample_ids, classes, v, path, job_hash), False

    def _frames(
        self, video_id: str, sample_ids: Sequence[str], v: dict[str, Any] | None
    ) -> tuple[JpegFrames | None, str | None, str]:
        """The video's proposal frames, or None with the reason and the step where the
        failure arose: here, or upstream (carried on unchanged)."""
        if v is None:
            return None, f"{self.frames_manifest}: video {video_id!r} is not in the manifest", STEP
        if v.get("status") != "ok":
            return None, str(v.get("error") or "failed (no reason given)"), "sample-frames"
        try:
            return _video_frames(self.store, video_id, sample_ids), None, STEP
        except Exception as exc:  # an unreadable index is this video's failure
            return None, _error_text(exc), STEP

    def _propose(
        self,
        video_id: str,
        sample_ids: list[str],
        classes: list[str],
        v: dict[str, Any] | None,
        path: Path,
        job_hash: str,
    ) -> dict[str, Any]:
        """Detect and track one video and write its proposal file (empty on failure) and its
        provenance; returns its manifest entry."""
        from zstvg.files import proposal_tracks as official_format

        t0 = time.perf_counter()
        frames, error, step = self._frames(video_id, sample_ids, v)
        frame_idx: list[int] = list(frames.frame_idx) if frames is not None else []
        width, height = (frames.width, frames.height) if frames is not None else (1, 1)
        tracks: list[Track] = []
        if frames is not None and error is None and frame_idx:
            detector, tracker = self.backends.get()
            try:
                tracks = propose_video(frames, classes, detector, tracker, self.cfg)
            except Exception as exc:  # one video's failure is data; the run goes on
                error = f"{type(exc).__name__}: {exc}"
        if error is not None:
            log.warning("video %s: %s; writing an empty proposal file", video_id, error)
            frame_idx, tracks = [], []
        official_format.write(path, frame_idx, tracks, width, height)
        entry = {
            "file": path.name,
            "status": "failed" if error else ("ok" if tracks else "empty"),
            **({"step": step} if error else {}),
            "n_tracks": len(tracks),
            "classes": classes,
            **({"error": error} if error else {}),
        }
        write_provenance(
            path,
            step="propose",
            params=self.section,
            job_sha256=job_hash,
            video_id=video_id,
            n_frames=len(frame_idx),
            volatile={
                "device": str(self.backends.device),
                "seconds": round(time.perf_counter() - t0, 3),
            },  # fmt: skip
            # a failed video's step and reason too: a merge of shards reads them
            **{("failed_step" if k == "step" else k): v for k, v in entry.items()},
        )
        return entry


def propose(
    *,
    params: Params,
    samples: str,
    frames: str,
    decompositions: str,
    out: str,
    video_ids: Sequence[str] = (),
    default_class: str = "person",
    shard: str | None = None,
    merge: int | None = None,
    show_progress: bool = True,
) -> int:
    """The propose step over the videos of ``samples`` (all, those of ``video_ids``, or those of
    shard ``"I/N"``), or, with ``merge`` N, the manifest of what N shard jobs wrote; prints the
    summary and returns the exit code."""
    from zstvg.jobs.progress import progress

    started = time.perf_counter()
    cfg = params.proposals
    by_video, store, target = _load_inputs(samples, frames, decompositions)
    by_video = _only_videos(by_video, video_ids, samples)
    selected = shards.selected(shard, merge)
    if selected:
        by_video = {v: s for v, s in by_video.items() if shard_of(v, selected[1]) == selected[0]}
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    proposer = _Proposer(
        cfg=cfg,
        section=params.section("proposals"),
        checkpoints=_checkpoint_fingerprints(cfg),
        store=store,
        frames_manifest=frames,
        out=out_dir,
        merging=merge is not None,
        backends=_Backends(cfg),
    )
    entries: dict[str, dict[str, Any]] = {}
    n_skipped = 0
    videos = progress(by_video.items(), desc="propose", unit="video", enabled=show_progress)
    for video_id, sample_ids in videos:
        classes = video_classes(sample_ids, target, default_class)
        entries[video_id], reused = proposer.entry(video_id, sample_ids, classes)
        n_skipped += reused
    failed = {vid: e["error"] for vid, e in entries.items() if e["status"] == "failed"}
    n_empty = sum(e["status"] == "empty" for e in entries.values())
    seconds = time.perf_counter() - started
    if selected:  # the per-video files are the output; the merge writes the manifest
        shard_file = shard_path(out_dir, *selected)
        write_json(shard_file, {"step": STEP, "shard": shard, "videos": entries})
        print(f"propose shard {shard}: {len(entries)} videos ({n_empty} empty, "
              f"{len(failed)} failed, {n_skipped} already done) in {seconds:.1f} s "
              f"-> {shard_file}")  # fmt: skip
        print_failures(failed, shard_file)
        return 0
    _write_manifest(out_dir, entries, len(failed), n_empty, proposer,
                    samples=samples, frames=frames, decompositions=decompositions)  # fmt: skip
    print(
        f"propose: {len(entries)} videos ({len(entries) - len(failed) - n_empty} with tracks, "
        f"{n_empty} empty, {len(failed)} failed, {n_skipped} already done) in "
        f"{seconds:.1f} s; detector {cfg.detector}, tracker {cfg.tracker}"
    )
    print_failures(failed, out_dir / MANIFEST)
    print(f"  wrote {len(entries)} proposal files and {out_dir / MANIFEST}")
    return 0


def _write_manifest(
    out: Path,
    entries: dict[str, dict[str, Any]],
    n_failed: int,
    n_empty: int,
    proposer: _Proposer,
    *,
    samples: str,
    frames: str,
    decompositions: str,
) -> None:
    """``manifest.json`` (every video's entry) and the run's provenance beside it."""
    write_json(
        out / MANIFEST,
        {
            "step": STEP,
            "n_videos": len(entries),
            "n_failed": n_failed,
            "n_empty": n_empty,
            "videos": entries,
        },
    )
    write_provenance(
        out,
        step="propose",
        params=proposer.section,
        samples=samples,
        frames=frames,
        decompositions=decompositions,
        checkpoint_fingerprints=proposer.checkpoints,
    )
