"""The ``sample-frames`` step: decode each video once and store the frames later steps look at.

For every sample of ``samples.jsonl`` two frame selections are made over its ``clip_span``
(``zstvg.video.index``): ``frames.n_mllm_frames`` uniform frames for the MLLM and the
``frames.grid_fps`` evaluation/proposal grid. Samples of one video share one decode over the
union of their selections (:func:`store_frames`, the JPEG writer). Outputs, under the
manifest's folder::

    <video dir>/<frame_idx:06d>.jpg   one JPEG per kept frame (quality frames.jpeg_quality)
    <video dir>/index.json            video facts, per-sample selections, times, hashes
    manifest.json                     every video and sample: ok or failed with the reason

``<video dir>`` is the video_id when that is a safe folder name, else a sanitised name plus a
short hash (the manifest records it). A video's index.json is written last (atomically), so an
interrupted run resumes by skipping videos whose index.json carries the same job hash.
A missing or corrupt video marks its samples failed; the others are unaffected; exit 0.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zstvg.config.params import FramesConfig, Params
from zstvg.files.frames import STEP, frame_path, video_dir_name
from zstvg.files.io import (
    WRITE_ERRNOS,
    InputError,
    PathLike,
    atomic_open,
    fingerprint,
    read_json,
    remove_dead_temp_files,
    sha256_json,
    write_json,
)
from zstvg.files.provenance import write_provenance
from zstvg.files.samples import read_sample_rows
from zstvg.jobs.failures import print_failures
from zstvg.jobs.shards import shard_of, shard_path
from zstvg.video import decode

if TYPE_CHECKING:
    from PIL.Image import Image
    from tqdm import tqdm

log = logging.getLogger(__name__)

INDEX_NAME = "index.json"
# Part of every video's job hash: raised when the same bytes decode to other stored frames or
# index fields, so an earlier run's index is not resumed. 2: mirrored display matrices give the
# mirror image (they failed the video before) and the index records `mirrored`.
DECODE_VERSION = 2
# Annotation and decoded frame sizes may differ by rounding (a 321x241 annotation of a 320x240
# encode); a ratio that agrees on both axes to within this is a uniform scaling of the boxes.
UNIFORM_SCALE_TOL = 0.01
# A video whose decoded length differs from its annotation's n_frames by more than one frame per
# second of annotated video (at least 1) is not the annotated video: 400 decoded frames for an
# HC-STVG img_num of 200 (fps 10, 20 s) would make frames 0-199, the first 10 s, stand for the
# whole clip, so every GT span would point at the wrong moment. Its samples fail with both
# numbers; no uniform rescale is guessed (HC-STVG's fps = img_num / 20 assumes 20 s clips, and a
# longer or shorter file may be a different cut, not a resampled one).
FRAME_COUNT_TOL_PER_S = 1.0
# A worker checks this often whether the process that started it is still alive.
PARENT_POLL_S = 0.5


def store_frames(
    video_path: PathLike,
    frame_idx: Iterable[int],
    directory: PathLike,
    jpeg_quality: int,
    *,
    indexed: bool = True,
    max_pending: int = 8,
) -> tuple[decode.DecodeReport, int]:
    """Decode the frames and store each as ``<directory>/<frame_idx:06d>.jpg``; returns the
    decode report and the number of files written (raises what decoding or writing raised,
    after every pending write has finished, so the folder is quiet when the caller cleans up).

    JPEG encoding runs on a writer thread while decoding goes on: Pillow's encoder releases the
    GIL, and done one after the other the step kept only 1.3 of 2 cores busy (a 20 s 720p
    video, benchmarks/hot_paths.md). At most ``max_pending`` decoded images wait for the writer
    (8 x 2.7 MB at 720p), so memory does not grow with the video's length.
    """
    directory = Path(directory)
    slots = threading.BoundedSemaphore(max_pending)
    errors: list[BaseException] = []

    def write(f: int, image: Image) -> None:
        try:
            # fsync skipped: a frame lost to a power cut is redone, index.json is written last.
            with atomic_open(frame_path(directory, f), "wb", fsync=False) as fh:
                image.save(fh, format="JPEG", quality=jpeg_quality)
        finally:
            slots.release()

    def done(future: Future[None]) -> None:
        if (exc := future.exception()) is not None:
            errors.append(exc)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="zstvg-jpeg") as pool:

        def submit(f: int, _t: float | None, image: Image) -> None:
            if errors:  # a write failed (disk full): stop decoding now
                raise errors[0]
            slots.acquire()
            pool.submit(write, f, image).add_done_callback(done)

        # looked up on the module at each call: a test fails one video's decode through it
        report = decode.decode_frames(video_path, frame_idx, submit, indexed=indexed)
    if errors:
        raise errors[0]
    return report, len(report.t_sec)


@dataclass
class _SampleSpec:
    sample_id: str
    fps: float
    clip_span: tuple[int, int]
    error: str | None
    width: int = 0  # the annotation's frame size (0: unknown)
    height: int = 0
    n_frames: int = 0  # the annotation's video length in frames (0: unknown)


@dataclass
class _VideoJob:
    video_id: str
    video_path: str
    out_dir: str
    samples: list[_SampleSpec] = field(default_factory=list)


def _plan(rows: list[dict[str, Any]], out_root: Path, path: Path) -> list[_VideoJob]:
    jobs: dict[str, _VideoJob] = {}
    dirs: dict[str, str] = {}
    for row in rows:
        vid = str(row["video_id"])
        job = jobs.get(vid)
        if job is None:
            name = video_dir_name(vid)
            if name in dirs:
                raise InputError(
                    f"{path}: video_ids {dirs[name]!r} and {vid!r} map to the same "
                    f"frame folder {name!r}"
                )
            dirs[name] = vid
            job = jobs[vid] = _VideoJob(vid, str(row["video_path"]), str(out_root / name))
        elif str(row["video_path"]) != job.video_path:
            raise InputError(
                f"{path}: sample {row['sample_id']}: video_path {row['video_path']!r} differs "
                f"from {job.video_path!r} given earlier for video_id {vid!r}"
            )
        span = (int(row["clip_span"][0]), int(row["clip_span"][1]))
        job.samples.append(
            _SampleSpec(
                str(row["sample_id"]),
                float(row["fps"]),
                span,
                row.get("error"),
                int(row.get("width") or 0),
                int(row.get("height") or 0),
                int(row.get("n_frames") or 0),
            )
        )
    return list(jobs.values())


def _selections(spec: _SampleSpec, cfg: FramesConfig) -> tuple[list[int], list[int]]:
    from zstvg.video.index import grid_frame_idx, uniform_subset

    grid = grid_frame_idx(spec.clip_span, spec.fps, cfg.grid_fps, cfg.max_grid_frames)
    # The MLLM frames are a uniform subset of the grid, where proposals are computed
    # (docs/method.md#frame-sampling-a-frame-stands-for-its-bin): every MLLM frame then has
    # every track's mask, none is guessed.
    mllm, _ = uniform_subset(grid, spec.clip_span, cfg.n_mllm_frames)
    return mllm, grid


def _job_hash(job: _VideoJob, frames_params: dict[str, Any], video_sha256: str) -> str:
    """What a finished video's frames depend on: the parameters, the video's bytes, its samples."""
    return sha256_json(
        {
            "decode_version": DECODE_VERSION,
            "frames": frames_params,
            "video_path": job.video_path,
            "video_sha256": video_sha256,
            # the annotation's size and length decide the checks recorded in index.json
            "samples": [
                [s.sample_id, s.fps, list(s.clip_span), s.width, s.height, s.n_frames]
                for s in job.samples
                if s.error is None
            ],
        }
    )


def _previous_index(index_path: Path) -> dict[str, Any] | None:
    """The index.json an earlier run left, or None (absent or unreadable: redo the video)."""
    if not index_path.is_file():
        return None
    try:
        index = read_json(index_path)
    except InputError:
        return None
    return index if isinstance(index, dict) else None


def _resumable(index: dict[str, Any] | None, index_path: Path, job_hash: str) -> bool:
    """Whether ``index`` is the finished index of this exact job with all its frames on disk."""
    if index is None or index.get("job_sha256") != job_hash:
        return False
    folder = index_path.parent
    return all(frame_path(folder, f).is_file() for f in index.get("frame_idx", []))


def _process_video(job: _VideoJob, frames_params: dict[str, Any]) -> dict[str, Any]:
    """Decode one video and write its frames and index.json. Runs in a worker process.

    Returns ``{"video_id", "video": manifest entry, "samples": {sample_id: manifest entry},
    "n_written": int, "resumed": bool, "fingerprint_s": float}``. Any exception of this one
    video (an unwritable frame folder, a decoder bug, out of memory) fails the video and its
    samples with the exception's type and message; the other videos are unaffected.
    """
    try:
        return _process_video_unguarded(job, frames_params)
    except Exception as exc:  # one video's failure is data; the run goes on
        # ... but a full, read-only or forbidden frames folder is no video's fault and would
        # fail every video after it: the run stops (zstvg.cli.main: one line, exit 1).
        if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
            if _under(exc.filename, Path(job.out_dir).parent):
                raise
        reason = f"{type(exc).__name__}: {exc}"
        log.warning("video %s: %s", job.video_id, reason)
        return _failed_video(job, reason, {})


def _under(filename: Any, folder: Path) -> bool:
    """Whether ``filename`` (an OSError's, maybe None) is ``folder`` or inside it."""
    if not isinstance(filename, str):
        return False
    path = Path(filename)
    return path == folder or folder in path.parents


def _failed_video(
    job: _VideoJob, reason: str, samples: dict[str, dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    """The result of a video whose frames cannot be used: it and its remaining samples fail."""
    out_dir = Path(job.out_dir)
    for spec in job.samples:
        samples.setdefault(spec.sample_id, _failed(job, reason))
    video = {
        "video_path": job.video_path,
        "frames_dir": out_dir.name,
        "index": f"{out_dir.name}/{INDEX_NAME}",
        "samples": [s.sample_id for s in job.samples],
        "status": "failed",
        "error": reason,
        **extra,
    }
    return {
        "video_id": job.video_id,
        "video": video,
        "samples": samples,
        "n_written": 0,
        "resumed": False,
        "fingerprint_s": 0.0,
    }


def _size_check(spec: _SampleSpec, width: int, height: int) -> dict[str, Any]:
    """Flags (and the GT box scale) when the annotation's frame size is not the decoded one
    (upright: a phone video's display matrix is applied first, as players and the annotators'
    tools show it).

    A uniform ratio (both axes within 1%) means the annotation was made on a rescaled copy:
    boxes map onto the decoded frames by ``gt_scale_xy``, which readers apply. Otherwise only
    the flag is set: no single scale would be right.
    """
    if not (spec.width and spec.height) or (spec.width, spec.height) == (width, height):
        return {}
    sx, sy = width / spec.width, height / spec.height
    flag = f"frame_size_mismatch:{spec.width}x{spec.height}->{width}x{height}"
    if abs(sx - sy) <= UNIFORM_SCALE_TOL * max(sx, sy):
        return {"flags": [flag], "gt_scale_xy": [sx, sy]}
    return {"flags": [flag, "frame_size_nonuniform"]}


def _length_check(spec: _SampleSpec, video_path: str, n_decoded: int) -> str | None:
    """The error when the decoded length is not the annotation's (:data:`FRAME_COUNT_TOL_PER_S`),
    else None."""
    if not spec.n_frames:
        return None
    tol = max(1, round(FRAME_COUNT_TOL_PER_S * spec.n_frames / spec.fps))
    if abs(n_decoded - spec.n_frames) <= tol:
        return None
    return (
        f"{video_path}: video decodes to {n_decoded} frames; the annotation's n_frames is "
        f"{spec.n_frames} (tolerance {tol}: one frame per second of video at fps {spec.fps:g}), "
        f"so its frame numbers would point at other moments"
    )


def _process_video_unguarded(job: _VideoJob, frames_params: dict[str, Any]) -> dict[str, Any]:
    cfg = FramesConfig(**frames_params)
    out_dir = Path(job.out_dir)
    index_path = out_dir / INDEX_NAME
    samples, selections = _sample_selections(job, cfg)
    if not selections:
        reason = "no sample of this video can be decoded (all failed before decoding)"
        return _failed_video(job, reason, samples)

    if not Path(job.video_path).is_file():
        return _failed_video(job, f"video file not found: {job.video_path}", samples)
    previous = _previous_index(index_path)
    t0 = time.perf_counter()
    try:
        video_fp = fingerprint(job.video_path)
    except InputError as exc:
        return _failed_video(job, f"video file unreadable: {exc}", samples)
    fingerprint_s = time.perf_counter() - t0
    job_hash = _job_hash(job, frames_params, video_fp["sha256"])
    resumed = _resumable(previous, index_path, job_hash)
    n_written = 0
    if resumed and previous is not None:
        index = previous
    else:
        index, n_written = _decode(job, cfg, frames_params, selections, job_hash, video_fp)
    if index.get("status") == "failed":
        # Also when resumed: the same bytes failed to decode last time; decoding is
        # deterministic, so the failure is reused like a success would be (a replaced file has
        # another hash).
        result = _failed_video(job, str(index.get("error")), samples)
        result.update(n_written=n_written, resumed=resumed, fingerprint_s=fingerprint_s)
        return result
    for sid, entry in index["samples"].items():
        samples[sid] = _sample_entry(job, entry, out_dir.name)
    video_entry: dict[str, Any] = {
        "video_path": job.video_path,
        "frames_dir": out_dir.name,
        "index": f"{out_dir.name}/{INDEX_NAME}",
        "samples": [s.sample_id for s in job.samples],
        "status": "ok",
        "n_frames": index["n_frames"],
        "fps": index["fps"],
        "width": index["width"],
        "height": index["height"],
        "rotation_deg": index["rotation_deg"],
        "mirrored": index["mirrored"],
        "n_frames_stored": len(index["frame_idx"]),
        "video_sha256": video_fp["sha256"],
    }
    return {
        "video_id": job.video_id,
        "video": video_entry,
        "samples": samples,
        "n_written": n_written,
        "resumed": resumed,
        "fingerprint_s": fingerprint_s,
    }


def _sample_selections(
    job: _VideoJob, cfg: FramesConfig
) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[list[int], list[int]]]]:
    """The entries of the samples that failed before decoding, and the (MLLM, grid) frames of
    the others."""
    samples: dict[str, dict[str, Any]] = {}
    selections: dict[str, tuple[list[int], list[int]]] = {}
    for spec in job.samples:
        if spec.error is not None:
            samples[spec.sample_id] = _failed(job, spec.error, step="prepare-data")
            continue
        try:
            selections[spec.sample_id] = _selections(spec, cfg)
        except ValueError as exc:
            samples[spec.sample_id] = _failed(job, str(exc))
    return samples, selections


def _decode(
    job: _VideoJob,
    cfg: FramesConfig,
    frames_params: dict[str, Any],
    selections: dict[str, tuple[list[int], list[int]]],
    job_hash: str,
    video_fp: dict[str, Any],
) -> tuple[dict[str, Any], int]:
    """Decode the frames the samples select, store them as JPEGs and write index.json (a
    failed one, ``status: failed``, when the video cannot be decoded); returns the index and
    the number of frames written."""
    out_dir = Path(job.out_dir)
    index_path = out_dir / INDEX_NAME
    wanted = sorted({f for m, g in selections.values() for f in (*m, *g)})
    out_dir.mkdir(parents=True, exist_ok=True)
    n_written = 0
    try:
        report, n_written = store_frames(job.video_path, wanted, out_dir, cfg.jpeg_quality)
    except decode.VideoDecodeError as exc:
        _remove_stale_frames(out_dir, set())
        failed_index = {
            "video_id": job.video_id,
            "video_path": job.video_path,
            "status": "failed",
            "error": str(exc),
            "frame_idx": [],
            "job_sha256": job_hash,
            "video_fingerprint": video_fp,
        }
        write_json(index_path, failed_index, indent=None)
        return failed_index, n_written
    index = _build_index(job, report, selections, frames_params, job_hash)
    index["video_fingerprint"] = video_fp
    for spec in job.samples:
        entry = index["samples"].get(spec.sample_id)
        if entry is not None:
            check = _size_check(spec, report.width, report.height)
            entry["flags"] = [*entry["flags"], *check.get("flags", [])]
            if (error := _length_check(spec, job.video_path, report.n_frames)) is not None:
                # the root cause: replaces "MLLM frames missing", which a short video also gives
                entry["status"], entry["error"] = "failed", error
            if "gt_scale_xy" in check:
                entry["gt_scale_xy"] = check["gt_scale_xy"]
    _remove_stale_frames(out_dir, set(index["frame_idx"]))
    write_json(index_path, index, indent=None)
    return index, n_written


def _sample_entry(job: _VideoJob, entry: dict[str, Any], frames_dir: str) -> dict[str, Any]:
    """A sample's manifest entry from its entry in the video's index.json."""
    return {
        "video_id": job.video_id,
        "status": entry["status"],
        **({"step": STEP, "error": entry["error"]} if "error" in entry else {}),
        "flags": entry["flags"],
        "frames_dir": frames_dir,
        "mllm_frame_idx": entry["mllm_frame_idx"],
        "n_grid_frames": len(entry["grid_frame_idx"]),
        **({"gt_scale_xy": entry["gt_scale_xy"]} if "gt_scale_xy" in entry else {}),
    }


def _failed(job: _VideoJob, reason: str, step: str = STEP) -> dict[str, Any]:
    """A failed sample's manifest entry; ``step`` is where the failure arose."""
    return {"video_id": job.video_id, "status": "failed", "step": step, "error": reason}


def _build_index(
    job: _VideoJob,
    report: Any,
    selections: dict[str, tuple[list[int], list[int]]],
    frames_params: dict[str, Any],
    job_hash: str,
) -> dict[str, Any]:
    """index.json: facts of the decoded video and, per sample, its frames and their times.

    A sample fails when any of its MLLM frames is missing from the video (the method needs all
    of them); grid frames past the video's end only flag it (``missing_grid_frames``), since
    the grid is also what the evaluator scores and its own definition stays the same.
    """
    missing = set(report.missing_frame_idx)
    requested = FramesConfig(**frames_params).n_mllm_frames
    per_sample: dict[str, dict[str, Any]] = {}
    for sid, (mllm, grid) in selections.items():
        flags = []
        entry: dict[str, Any] = {"status": "ok"}
        lost_mllm = [f for f in mllm if f in missing]
        lost_grid = [f for f in grid if f in missing]
        if len(mllm) < requested:
            flags.append("fewer_frames_than_requested")
        if lost_mllm:
            entry = {
                "status": "failed",
                "error": (
                    f"{job.video_path}: video decodes to {report.n_frames} frames; MLLM frames "
                    f"{lost_mllm[:5]}{' ...' if len(lost_mllm) > 5 else ''} are missing"
                ),
            }
        if lost_grid:
            flags.append("missing_grid_frames")
        kept_mllm = [f for f in mllm if f not in missing]
        kept_grid = [f for f in grid if f not in missing]
        per_sample[sid] = {
            **entry,
            "flags": flags,
            "mllm_frame_idx": kept_mllm,
            "mllm_t_sec": [report.t_sec[f] for f in kept_mllm],
            "grid_frame_idx": kept_grid,
            "grid_t_sec": [report.t_sec[f] for f in kept_grid],
            "missing_frame_idx": sorted(set(lost_mllm) | set(lost_grid)),
        }
    return {
        "video_id": job.video_id,
        "video_path": job.video_path,
        "fps": report.fps,
        "fps_source": report.fps_source,
        "width": report.width,  # upright (after rotation_deg), as the stored frames are
        "height": report.height,
        "rotation_deg": report.rotation_deg,
        "mirrored": report.mirrored,
        "n_frames": report.n_frames,
        "decode_method": report.method,
        "frame_idx": sorted(report.t_sec),
        "params_sha256": sha256_json(frames_params),
        "job_sha256": job_hash,
        "samples": per_sample,
    }


def _remove_stale_frames(out_dir: Path, keep: set[int]) -> None:
    """Drop JPEGs of an earlier run with other parameters, so the folder matches index.json."""
    for path in out_dir.glob("*.jpg"):
        stem = path.stem
        if not (stem.isdigit() and int(stem) in keep):
            path.unlink()
    remove_dead_temp_files(out_dir)  # left by a run killed while writing


def _watch_parent(parent_pid: int) -> None:
    """Worker initializer: exit as soon as the parent is gone.

    A parent killed by SIGKILL (a scheduler's time limit, the OOM killer) cannot stop its
    workers, which would decode on, reparented, for minutes; a daemon thread polling the
    parent pid ends them within PARENT_POLL_S.
    """

    def poll() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=poll, name="watch-parent", daemon=True).start()


@contextlib.contextmanager
def _terminate_children_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into SystemExit(143) after terminating this process's worker children.

    Python's default SIGTERM kills only the parent; exiting through SystemExit would make the
    pool wait for the videos in flight. Terminating the workers first lets the run end at once;
    the frames they were writing are temp files, and the next run resumes.
    """

    def handler(signum: int, _frame: Any) -> None:
        for child in multiprocessing.active_children():
            child.terminate()
        raise SystemExit(128 + signum)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_jobs(
    jobs: list[_VideoJob], frames_params: dict[str, Any], workers: int, show_progress: bool
) -> Iterator[dict[str, Any]]:
    from zstvg.jobs.progress import progress as progress_bar

    progress: tqdm[Any] = progress_bar(
        desc="sample-frames", unit="video", total=len(jobs), enabled=show_progress
    )
    try:
        if workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                yield _process_video(job, frames_params)
                progress.update()
            return
        # spawn, not fork: forking a process that holds FFmpeg decoder threads is unsafe.
        ctx = multiprocessing.get_context("spawn")
        with (
            _terminate_children_on_sigterm(),
            ProcessPoolExecutor(
                max_workers=min(workers, len(jobs)),
                mp_context=ctx,
                initializer=_watch_parent,
                initargs=(os.getpid(),),
            ) as pool,
        ):
            futures = [pool.submit(_process_video, job, frames_params) for job in jobs]
            for future in as_completed(futures):
                yield future.result()
                progress.update()
    finally:
        progress.close()


def sample_frames(
    samples_path: Path,
    manifest_path: Path,
    params: Params,
    *,
    workers: int,
    shard: tuple[int, int] | None,
    progress: bool,
) -> int:
    """Store the frames of every video of ``samples_path`` and write ``manifest_path`` (its
    provenance sidecar beside it), ``workers`` videos at a time; prints the summary and returns
    the exit code (0: a failed video or sample is data, recorded in the manifest).

    With ``shard`` (I, N) only the videos of that shard are done and their entries go to
    ``<manifest folder>/shards/I-of-N.json`` instead: the run without a shard after the N shard
    jobs resumes every video (a stat each) and writes the manifest.
    """
    started = time.perf_counter()
    rows = read_sample_rows(samples_path)
    jobs = _plan(rows, manifest_path.parent, samples_path)
    if shard:
        jobs = [j for j in jobs if shard_of(j.video_id, shard[1]) == shard[0]]
        rows = [r for r in rows if shard_of(str(r["video_id"]), shard[1]) == shard[0]]
    frames_params = params.section("frames")

    results = {r["video_id"]: r for r in _run_jobs(jobs, frames_params, workers, progress)}
    # Manifest order = samples.jsonl order, whatever order the workers finished in.
    videos = {job.video_id: results[job.video_id]["video"] for job in jobs}
    sample_entries = {
        row["sample_id"]: results[str(row["video_id"])]["samples"][row["sample_id"]] for row in rows
    }
    n_written = sum(r["n_written"] for r in results.values())
    n_resumed = sum(int(r["resumed"]) for r in results.values())

    failed_videos = {v: e for v, e in videos.items() if e["status"] != "ok"}
    failed_samples = {s: e for s, e in sample_entries.items() if e["status"] != "ok"}
    if shard:  # the frames are the output; the unsharded run after it writes the manifest
        shard_file = shard_path(manifest_path.parent, *shard)
        label = f"{shard[0]}/{shard[1]}"
        write_json(shard_file, {"step": STEP, "shard": label, "videos": videos,
                                "samples": sample_entries})  # fmt: skip
        print(f"sample-frames shard {label}: {len(videos)} videos "
              f"({len(failed_videos)} failed, {n_resumed} already done), {n_written} frames "
              f"written in {time.perf_counter() - started:.1f} s -> {shard_file}")  # fmt: skip
        return 0
    manifest = {
        "samples_file": str(samples_path),
        "params_sha256": sha256_json(frames_params),
        "n_videos": len(videos),
        "n_videos_failed": len(failed_videos),
        "n_samples": len(sample_entries),
        "n_samples_failed": len(failed_samples),
        "videos": videos,
        "samples": sample_entries,
    }
    write_json(manifest_path, manifest)
    write_provenance(
        manifest_path,
        step="sample-frames",
        params=frames_params,
        samples=str(samples_path),
        samples_fingerprint=fingerprint(samples_path),
    )
    fingerprint_s = sum(r["fingerprint_s"] for r in results.values())

    seconds = time.perf_counter() - started
    print(
        f"sample-frames: {len(videos)} videos ({len(videos) - len(failed_videos)} ok, "
        f"{len(failed_videos)} failed, {n_resumed} already done), {len(sample_entries)} "
        f"samples ({len(sample_entries) - len(failed_samples)} ok, {len(failed_samples)} "
        f"failed), {n_written} frames written in {seconds:.1f} s "
        f"(fingerprinting the videos: {fingerprint_s:.2f} s)"
    )
    reasons = {sid: f"{e.get('step', STEP)}: {e['error']}" for sid, e in failed_samples.items()}
    print_failures(reasons, manifest_path)
    print(f"  wrote {manifest_path} (+ .provenance.json) and frames under {manifest_path.parent}")
    return 0
