"""The ground-video step (``zstvg ground-video VIDEO "QUERY"``): the whole method on one video
file, in one process.

Steps: decode the proposal grid (``frames.grid_fps``) of the whole video; decompose the query
(the cache, the configured LLM, or the flagged rule-based fallback offline); detect the target
class every ``proposals.detect_every_n_frames`` native frames and track it (the configured
detector and tracker); ground with ``variant`` (default ``full``). Writes under ``out``::

    prediction.json    span [start, end) and a box on every native frame of it, the track,
                       the sub-queries, flags, the per-stage record and the seconds (a one-off
                       report, not a pipeline output: its timings stay in it)
    <stem>.mp4         the grid frames with the tube, the attention overlay and the query
    <stem>.gif         the same, at most 48 frames

``tiny`` builds (once, in ``tiny_dir``) and uses tiny random-weight checkpoints of Grounding
DINO, SAM 2 and Qwen2-VL, so the command runs offline anywhere; its output is then meaningless
and says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zstvg.config.params import Params

log = logging.getLogger(__name__)

TINY_WARNING = (
    "NOTE: tiny random-weight checkpoints: this tube is chance-level and says nothing about the "
    "method (use real checkpoints in params.yaml for real predictions)"
)
MAX_GIF_FRAMES = 48


def _tiny_settings(params: Params, tiny_dir: Path, model: str) -> list[str]:
    """Build the tiny checkpoints if missing; the --set overrides that use them."""
    from zstvg.tiny import make_tiny_checkpoint

    paths = {}
    for family in ("gdino", "sam2", "qwen2-vl"):
        out = tiny_dir / f"tiny-{family}"
        if not (out / "config.json").is_file():
            make_tiny_checkpoint(family, out, seed=params.seed)
        paths[family] = out
    return [
        f"proposals.detector_checkpoint={paths['gdino']}",
        f"proposals.tracker_checkpoint={paths['sam2']}",
        "proposals.tracker=sam2-hf",
        "proposals.box_threshold=0.0",  # random weights: any box is a candidate
        "proposals.text_threshold=0.0",
        "proposals.max_detections_per_frame=2",
        "proposals.max_tracks_per_video=3",
        f"models.{model}.backend=qwen2-vl",
        f"models.{model}.checkpoint={paths['qwen2-vl']}",
    ]


def ground_video(
    *,
    params: Params,
    video: str,
    query: str,
    out: str,
    model: str = "tiny-qwen2-vl",
    variant: str = "full",
    tiny: bool = False,
    tiny_dir: str = "results/checkpoints",
    overrides: Sequence[str] = (),
) -> int:
    """The whole method on the video file ``video`` and the sentence ``query``; with ``tiny``,
    on tiny random-weight checkpoints (built in ``tiny_dir`` when missing; ``overrides``: the
    ``--set`` options the params were loaded with, applied again under the tiny ones). Writes
    the prediction and the MP4 and GIF under ``out``, prints the summary, returns the exit
    code."""
    from zstvg.config.params import load_params
    from zstvg.files.io import InputError
    from zstvg.mllm import model_config

    path = Path(video)
    if not path.is_file():
        raise InputError(f"video file not found: {path}")
    model_config(params, model)
    if tiny:
        tiny_overrides = _tiny_settings(params, Path(tiny_dir), model)
        params = load_params(params.source, [*overrides, *tiny_overrides])
        print(TINY_WARNING)
    return _ground_video(params, path, query, Path(out), model, variant, tiny)


def _ground_video(
    params: Params, video: Path, query: str, out: Path, model: str, variant: str, tiny: bool
) -> int:
    import torch

    from zstvg.config.variants import get_variant
    from zstvg.decompose.decompose import decompose_samples
    from zstvg.decompose.prompts import load_prompt
    from zstvg.files.io import InputError, write_json
    from zstvg.files.records import Sample
    from zstvg.grounding.engine import GroundingEngine, GroundInput, texts_for
    from zstvg.grounding.ground import mllm_frames
    from zstvg.jobs.gpus import resolve_device
    from zstvg.mllm import load_model
    from zstvg.proposals.detectors import build_detector
    from zstvg.proposals.frames import ArrayFrames
    from zstvg.proposals.propose import propose_video
    from zstvg.proposals.trackers import build_tracker
    from zstvg.video.decode import VideoDecodeError, decode_frames, probe_video
    from zstvg.video.index import grid_frame_idx

    times: dict[str, float] = {}
    t = time.perf_counter()
    try:  # the count MKV and WebM lack is counted from the packets (probe.n_frames_source)
        probe = probe_video(video)
    except VideoDecodeError as exc:
        raise InputError(str(exc)) from None
    fps, n_frames = probe.fps, probe.n_frames
    grid = grid_frame_idx((0, n_frames), fps, params.frames.grid_fps, params.frames.max_grid_frames)
    frames: dict[int, np.ndarray] = {}
    report = decode_frames(video, grid, lambda f, _t, im: frames.__setitem__(f, np.asarray(im)))
    grid = [f for f in grid if f in frames]
    if not grid:
        raise InputError(f"{video}: no frame decodes")
    n_frames = min(n_frames, report.n_frames or n_frames)
    width, height = report.width, report.height  # upright: boxes are in the frames shown
    times["frames_s"] = time.perf_counter() - t

    t = time.perf_counter()
    sample = Sample(video.stem, video.stem, str(video), query, "declarative", fps, n_frames,
                    width, height, (0, n_frames), (0, n_frames), has_gt_boxes=False)  # fmt: skip
    cfg = params.decompose
    result = decompose_samples([{"sample_id": sample.sample_id, "query": query}], cfg,
                               load_prompt(), offline=cfg.offline,
                               api_key=_api_key(cfg.offline), seed=params.seed,
                               progress=False)  # fmt: skip
    dec = result.rows[0]
    times["decompose_s"] = time.perf_counter() - t

    t = time.perf_counter()
    device = resolve_device(params.proposals.device)
    detector = build_detector(params.proposals, device)
    tracker = build_tracker(params.proposals, device)
    target = (dec.target_class or "").strip() or "person"
    tracks = propose_video(ArrayFrames(video.stem, frames), [target], detector, tracker,
                           params.proposals)  # fmt: skip
    times["proposals_s"] = time.perf_counter() - t

    t = time.perf_counter()
    torch.manual_seed(params.seed)
    engine = GroundingEngine(load_model(params, params.models[model]), params.ground)
    frame_idx, bins = mllm_frames(grid, sample.clip_span, params.ground.n_frames)
    spatial, temporal, text_flags = texts_for(sample, dec, params.ground.subquery_template)
    gin = GroundInput(sample, [frames[f] for f in frame_idx], tuple(frame_idx), tuple(bins), fps,
                      tracks, spatial, temporal, text_flags)  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    try:
        pred, record = engine.ground(gin, get_variant(variant))
    except ValueError as exc:  # no tracks: a failed prediction, still written
        write_json(out / "prediction.json", {"video": str(video), "query": query,
                                             "error": f"ground: {exc}"})  # fmt: skip
        print(f"ground-video: {video}: failed: {exc} -> {out / 'prediction.json'}")
        return 0
    times["ground_s"] = time.perf_counter() - t
    maps = record.pop("_maps")
    run = record.pop("_run")  # one video, one run: its timings stay in prediction.json
    assert pred.span is not None
    boxes = pred.boxes_xyxy
    span_t = span_t_sec(pred.span, report.t_sec, fps)
    prediction = {
        "video": str(video),
        "query": query,
        "model": model,
        "variant": variant,
        "fps": fps,
        "n_frames": n_frames,
        # where fps and n_frames came from (MKV and WebM store no frame count) and the display
        # matrix's turn: frames, boxes, width and height are upright, as players show them
        "video_probe": {
            "fps_source": probe.fps_source,
            "n_frames_source": probe.n_frames_source,
            "rotation_deg": report.rotation_deg,
            "mirrored": report.mirrored,
        },
        "width": width,
        "height": height,
        "span": list(pred.span),
        "t_sec": span_t,
        "track_id": pred.track_id,
        "boxes_xyxy": {str(f): list(b) for f, b in sorted(boxes.items())},
        "sub_queries": {"spatial": spatial, "temporal": temporal},
        "decomposition": dec.to_json(),
        "flags": list(pred.flags) + (["tiny_checkpoints"] if tiny else []),
        "record": record,
        "times_s": {k: round(v, 3) for k, v in times.items()},
        # the ground stage's: per stage (features, maps, TAS, scoring) and per LRA tuning
        "ground_times_s": run["times_s"],
        "tuning_s": run["tuning_s"],
    }
    write_json(out / "prediction.json", prediction)
    t = time.perf_counter()
    in_span = {f: b for f, b in boxes.items() if pred.span[0] <= f < pred.span[1]}
    mp4, gif = _render(out, video.stem, grid, frames, in_span, tracks, maps["spatial"], frame_idx,
                       record, [f"query: {query}", f"spatial: {spatial}",
                                f"temporal: {temporal}"],
                       max(1, round(params.frames.grid_fps)))  # fmt: skip
    print(
        f"ground-video: {video.name}: track {pred.track_id}, frames [{pred.span[0]}, "
        f"{pred.span[1]}) = {span_t[0]:.1f}-{span_t[1]:.1f} s; "
        f"{sum(times.values()) + time.perf_counter() - t:.1f} s -> {out / 'prediction.json'}, "
        f"{mp4}, {gif}"
    )
    if tiny:
        print(TINY_WARNING)
    return 0


def span_t_sec(span: tuple[int, int], t_sec: Mapping[int, float | None], fps: float) -> list[float]:
    """Seconds of a span's first and end (exclusive) frame by the decoded frames' timestamps:
    exact on a decoded frame, linear between the decoded frames around it, one 1/fps step per
    frame before the first or past the last. A phone video's variable frame rate makes
    frame / fps wrong: frames 100 and 300 ms apart at a nominal 5 fps put frame 13 at 2.5 s,
    not 2.6. Where fewer than two frames have a timestamp, frame / fps."""
    known = sorted((f, t) for f, t in t_sec.items() if t is not None)
    if len(known) < 2:
        return [f / fps for f in span]
    (f0, t0), (f1, t1) = known[0], known[-1]
    frames, times = zip(*known, strict=True)
    return [
        t0 - (f0 - f) / fps if f < f0
        else t1 + (f - f1) / fps if f > f1
        else float(np.interp(f, frames, times))
        for f in span
    ]  # fmt: skip


def _api_key(offline: bool) -> str | None:
    import os

    return None if offline else (os.environ.get("OPENAI_API_KEY") or None)


def _render(out: Path, stem: str, grid: list[int], frames: dict[int, np.ndarray],
            boxes: dict[int, Any], tracks: Any, spatial_thw: np.ndarray, mllm_idx: list[int],
            record: dict[str, Any], header: list[str], rate: int) -> tuple[Path, Path]:  # fmt: skip
    """The annotated MP4 (grid frames, at the grid rate) and GIF (at most 48 frames)."""
    import av

    from zstvg.evaluation.visualize import draw_frame, save_gif, with_header
    from zstvg.files.io import atomic_open

    slots = len(spatial_thw)
    mllm = np.asarray(mllm_idx)
    region = record.get("region_xyxy")
    images = []
    for f in grid:
        pos = int(np.argmin(np.abs(mllm - f)))
        slot = min(slots - 1, pos * slots // len(mllm))
        img = draw_frame(frames[f], f, {}, boxes, tracks, spatial_thw[slot], region)
        images.append(with_header(img, header, gt=False))
    w, h = images[0].size
    w2, h2 = w + (w % 2), h + (h % 2)  # yuv420p needs even sizes
    mp4 = out / f"{stem}.mp4"
    with atomic_open(mp4, "wb") as fh, av.open(fh, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=rate)
        stream.width, stream.height, stream.pix_fmt = w2, h2, "yuv420p"
        for img in images:
            canvas = np.zeros((h2, w2, 3), np.uint8)
            canvas[:h, :w] = np.asarray(img)
            for packet in stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    gif = out / f"{stem}.gif"
    keep = np.unique(np.linspace(0, len(images) - 1, min(MAX_GIF_FRAMES, len(images))).astype(int))
    save_gif(gif, [images[i] for i in keep], duration_ms=200)
    return mp4, gif
