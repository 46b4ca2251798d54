"""``zstvg propose``: candidate object tracks per video.

``propose`` (DESIGN §2 step 4): for each video, the proposal frames are the union of its
samples' grid frames (from sample-frames' index.json); the detector runs on every
``detect_every_n_frames`` native frames (on all of them for the box trackers, which are
tracking-by-detection) with the prompt = each sample's target class from the decompositions
(fallback: ``--default-class``, "person" for HC-STVG); the tracker links the detections into
tracks. Outputs, under ``--out``::

    <video>.json                  the authors' proposal format (zstvg.proposals.official_format)
    <video>.json.provenance.json  params hash, backends, checkpoints, classes, status, timing
    manifest.json                 every video: ok / empty / failed (with the reason)

A video whose frames failed, or that has no detection, gets a valid file with no tracks (its
samples are later scored 0, not dropped); an error while processing one video is recorded in
its entry and the run goes on. Finished videos (same parameters and inputs) are skipped on rerun.

See ``import_cli`` for ``import-proposals``, which reads the authors' released files.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from zstvg import shards
from zstvg.config import Params, ProposalsConfig
from zstvg.failures import print_failures
from zstvg.io import InputError, sha256_json, write_json, write_provenance
from zstvg.proposals.frames import FrameSource, JpegFrames
from zstvg.proposals.trackers import renumber_tracks
from zstvg.shards import shard_of, shard_path
from zstvg.structures import Track
from zstvg.video.store import FrameStore

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
STEP = "propose"


# -- pure core ------------------------------------------------------------------------------
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


# -- CLI ------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--samples",
        required=True,
        metavar="PATH",
        help="samples.jsonl from prepare-data (sample_id, video_id)",
    )
    parser.add_argument(
        "--frames",
        required=True,
        metavar="PATH",
        help="manifest.json written by sample-frames; frames and index.json "
        "per video are read from its folder",
    )
    parser.add_argument(
        "--decompositions",
        required=True,
        metavar="PATH",
        help="decompositions.jsonl from decompose (sample_id, target_class = the detector prompt)",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder: one <video>.json per video + manifest.json",
    )
    parser.add_argument(
        "--video-id",
        action="append",
        default=[],
        dest="video_ids",
        metavar="ID",
        help="only these videos (repeatable; default: all), e.g. "
        "to run the real models on one video of a benchmark",
    )
    parser.add_argument(
        "--default-class",
        default="person",
        metavar="NOUN",
        help="detector prompt when a sample has no target class "
        "(default: person, the HC-STVG target)",
    )
    shards.add_arguments(parser, "their proposal files", merges="the manifest")


def _load_inputs(
    args: argparse.Namespace,
) -> tuple[dict[str, list[str]], FrameStore, dict[str, str]]:
    """Samples by video, the frames store, and each sample's detector prompt (target class)."""
    from zstvg.data.samples_file import read_samples
    from zstvg.queries.schema import read_decompositions

    by_video: dict[str, list[str]] = {}
    for sample in read_samples(args.samples):
        by_video.setdefault(sample.video_id, []).append(sample.sample_id)
    store = FrameStore(args.frames)
    target = {
        sid: d.target_class or "" for sid, d in read_decompositions(args.decompositions).items()
    }
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
    every run (:func:`zstvg.io.fingerprint`)."""
    from zstvg.io import fingerprint_tree

    paths = {"detector": cfg.detector_checkpoint, "tracker": cfg.tracker_checkpoint}
    return {
        name: fingerprint_tree(path) for name, path in paths.items() if path and Path(path).exists()
    }


def _finished(path: Path, job_hash: str, failed_too: bool = False) -> dict[str, Any] | None:
    """The provenance of this job's proposals file (the record of a video), done when the
    file is there; an empty proposal set is done too (it is a result, not a failure)."""
    from zstvg.io import provenance_path, read_finished

    return read_finished(
        provenance_path(path), job_hash, failed_too=failed_too, complete=lambda r: path.is_file()
    )


def run(args: argparse.Namespace, params: Params) -> int:
    from zstvg.proposals import official_format

    started = time.perf_counter()
    cfg = params.proposals
    by_video, store, target = _load_inputs(args)
    videos = store.videos
    if args.video_ids:
        unknown = sorted(set(args.video_ids) - set(by_video))
        if unknown:
            raise InputError(f"--video-id {', '.join(unknown)}: not in {args.samples}")
        by_video = {v: by_video[v] for v in args.video_ids}
    shard = shards.from_args(args)
    if shard:
        by_video = {v: s for v, s in by_video.items() if shard_of(v, shard[1]) == shard[0]}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    section = params.section("proposals")
    checkpoints = _checkpoint_fingerprints(cfg)
    backends: dict[str, Any] = {}

    def backend() -> tuple[Any, Any, str]:
        if not backends:
            from zstvg.devices import resolve_device
            from zstvg.proposals.detectors import build_detector
            from zstvg.proposals.trackers import build_tracker

            device = resolve_device(cfg.device)
            backends.update(
                detector=build_detector(cfg, device),
                tracker=build_tracker(cfg, device),
                device=device,
            )
        return backends["detector"], backends["tracker"], backends["device"]

    entries: dict[str, dict[str, Any]] = {}
    n_skipped = 0
    for video_id, sample_ids in by_video.items():
        v = videos.get(video_id)
        name = output_name(video_id, (v or {}).get("frames_dir"))
        path = out / f"{name}.json"
        classes = video_classes(sample_ids, target, args.default_class)
        job_hash = sha256_json(
            {
                "proposals": section,
                "checkpoints": {k: fp["sha256"] for k, fp in checkpoints.items()},
                "classes": classes,
                "samples": sample_ids,
                "frames": v,
            }
        )
        done = _finished(path, job_hash, failed_too=args.merge is not None)
        if done is not None:
            keys = ("file", "status", "failed_step", "n_tracks", "classes", "error")
            entries[video_id] = {
                ("step" if k == "failed_step" else k): done[k] for k in keys if k in done
            }
            n_skipped += 1
            continue
        if args.merge is not None:
            reason = "no proposals of this job (its shard did not finish)"
            entries[video_id] = {"file": path.name, "status": "failed", "step": STEP,
                                 "n_tracks": 0, "classes": classes, "error": reason}  # fmt: skip
            continue
        t0 = time.perf_counter()
        frame_idx: list[int] = []
        tracks: list[Track] = []
        width = height = 1
        frames: JpegFrames | None = None
        error = None
        step = STEP  # where a failure arose: here, or upstream (carried on unchanged)
        if v is None:
            error = f"{args.frames}: video {video_id!r} is not in the manifest"
        elif v.get("status") != "ok":
            error, step = str(v.get("error") or "failed (no reason given)"), "sample-frames"
        else:
            try:
                frames = _video_frames(store, video_id, sample_ids)
                frame_idx, width, height = list(frames.frame_idx), frames.width, frames.height
            except Exception as exc:  # an unreadable index is this video's failure
                error = str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
        if error is None and frames is not None and frame_idx:
            detector, tracker, _ = backend()  # a bad checkpoint stops the run (exit 2)
            try:
                tracks = propose_video(frames, classes, detector, tracker, cfg)
            except Exception as exc:  # one video's failure is data; the run goes on
                error = f"{type(exc).__name__}: {exc}"
        if error is not None:
            log.warning("video %s: %s; writing an empty proposal file", video_id, error)
            frame_idx, tracks = [], []
        status = "failed" if error else ("ok" if tracks else "empty")
        official_format.write(path, frame_idx, tracks, width, height)
        entry = {
            "file": path.name,
            "status": status,
            **({"step": step} if error else {}),
            "n_tracks": len(tracks),
            "classes": classes,
            **({"error": error} if error else {}),
        }
        write_provenance(
            path,
            step="propose",
            params=section,
            job_sha256=job_hash,
            video_id=video_id,
            n_frames=len(frame_idx),
            volatile={
                "device": str(backends.get("device")),
                "seconds": round(time.perf_counter() - t0, 3),
            },  # fmt: skip
            # a failed video's step and reason too: a merge of shards reads them
            **{("failed_step" if k == "step" else k): v for k, v in entry.items()},
        )
        entries[video_id] = entry

    failed = {k: e for k, e in entries.items() if e["status"] == "failed"}
    n_empty = sum(e["status"] == "empty" for e in entries.values())
    if shard:  # the per-video files are the output; the merge writes the manifest
        shard_file = shard_path(out, *shard)
        write_json(shard_file, {"step": STEP, "shard": args.shard, "videos": entries})
        print(f"propose shard {args.shard}: {len(entries)} videos ({n_empty} empty, "
              f"{len(failed)} failed, {n_skipped} already done) in "
              f"{time.perf_counter() - started:.1f} s -> {shard_file}")  # fmt: skip
        print_failures({vid: e["error"] for vid, e in failed.items()}, shard_file)
        return 0
    write_json(
        out / MANIFEST,
        {
            "step": STEP,
            "n_videos": len(entries),
            "n_failed": len(failed),
            "n_empty": n_empty,
            "videos": entries,
        },
    )
    write_provenance(
        out,
        step="propose",
        params=section,
        samples=str(args.samples),
        frames=str(args.frames),
        decompositions=str(args.decompositions),
        checkpoint_fingerprints=checkpoints,
    )
    print(
        f"propose: {len(entries)} videos ({len(entries) - len(failed) - n_empty} with tracks, "
        f"{n_empty} empty, {len(failed)} failed, {n_skipped} already done) in "
        f"{time.perf_counter() - started:.1f} s; detector {cfg.detector}, tracker {cfg.tracker}"
    )
    print_failures({vid: e["error"] for vid, e in failed.items()}, out / MANIFEST)
    print(f"  wrote {len(entries)} proposal files and {out / MANIFEST}")
    return 0
