"""Scaling: seconds and peak memory per video vs MLLM frames, tracks, video length, sequence.

Each point runs in its own process (``--inproc``: all in this one, for a smoke test), so its peak
is its own: the extra resident memory of the measured call (``_memory``: VmHWM reset right
before it, minus the RSS before it). The axes:

- ``frames`` (8, 16, 20, 32): ``zstvg ground --variant full`` with ``ground.n_frames`` = N and
  a fixed pixel budget per frame (200 visual tokens per temporal slot of 2 frames), so the LLM's
  sequence grows with N;
- ``tracks`` (2, 8, 32): the same at 20 frames, with the synthetic video's proposals padded to N
  tracks (copies of its tracks under new track ids);
- ``tokens`` (1,000, 2,000, 4,000, 8,000 visual tokens at 20 frames): the processor's pixel
  budget set to give that many;
- ``length`` (20, 60, 180 s): ``sample-frames``' work on one 640x360 30 fps video of that length
  (20 uniform MLLM frames + the 5 fps grid, capped at 200 frames, decoded and written as JPEG),
  the only per-video step whose input grows with the video.

Seconds per video of ``ground`` are the smaller of its records' ``total_s`` over 2 videos (model
load excluded; the first video of a job carries one-time costs). A configuration that two axes
share (20 frames at 2,000 tokens) runs once and is reported on both. The LLM is
the tiny random-weight Qwen2-VL (``make-tiny-checkpoint``: 8 layers, hidden 64, so the attention
over long sequences shows), captured layers 1-5; synthetic videos at 320x240.

    .venv/bin/python benchmarks/bench_scaling.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _memory import peak_bytes, reset_peak, rss_bytes

AXES_FULL = {"frames": [8, 16, 20, 32], "tracks": [2, 8, 32], "length": [20, 60, 180],
             "tokens": [1000, 2000, 4000, 8000]}  # fmt: skip
AXES_QUICK = {"frames": [4, 8], "tracks": [2, 8], "length": [2, 6], "tokens": [100, 200]}
# 28 x 28 pixels per merged visual token (Qwen2-VL: 14-px patches, 2 x 2 merge)
PX_PER_TOKEN = 28 * 28


def _budget(tokens_per_slot: int) -> dict:
    px = tokens_per_slot * PX_PER_TOKEN
    return {"size": {"shortest_edge": px, "longest_edge": px}}


def setup(root: Path, quick: bool) -> None:
    import bench_grounding as bg

    shape = dict(bg.SHAPES["quick" if quick else "tiny"])
    shape.update(videos=1 if quick else 2, size=(160, 120) if quick else (320, 240),
                 processor=None, text=["num_hidden_layers=4" if quick else "num_hidden_layers=8"],
                 layers=(-3, -1) if quick else (-7, -2))  # fmt: skip
    sets = bg._prepare(root, shape, 20)
    src = root / "synthetic" / "proposals"
    for n in (AXES_QUICK if quick else AXES_FULL)["tracks"]:
        padded = root / f"proposals_{n}"
        padded.mkdir()
        for path in src.glob("*.json"):
            data = json.loads(path.read_text())
            tracks = data["dino_sam2_proposals"]
            out = []
            for i in range(n):
                # a copy keeps its mask (a shifted box would no longer match it and the
                # import would reject the track): the per-track work is the same
                out.append({**tracks[i % len(tracks)], "track_id": i})
            data["dino_sam2_proposals"] = out
            (padded / path.name).write_text(json.dumps(data))
        bg._quiet(["import-proposals", *sets, "--src", str(padded), "--out",
                   str(root / f"props_{n}")])  # fmt: skip
    (root / "sets.json").write_text(json.dumps({"sets": sets, "quick": quick}))


def _length_point(root: Path, seconds: int, quick: bool) -> dict:
    import bench_frames as bf

    from zstvg.video.index import grid_frame_idx, uniform_frame_idx
    from zstvg.video.sampling import store_frames

    w, h = (160, 90) if quick else (640, 360)
    video = bf.write_bench_video(root / f"len_{seconds}s.mp4", 250, w, h, seconds)
    n = round(bf.FPS * seconds)
    frames = sorted(set(uniform_frame_idx((0, n), 20)) | set(grid_frame_idx((0, n), bf.FPS)))
    out = root / f"jpeg_{seconds}"
    out.mkdir(exist_ok=True)

    base, reset = rss_bytes(), reset_peak()
    t0 = time.perf_counter()
    store_frames(video, frames, out, jpeg_quality=95)  # what sample-frames runs
    seconds_taken = time.perf_counter() - t0
    return {"seconds": round(seconds_taken, 4), "frames_stored": len(frames),
            "peak_extra_mib": round(max(peak_bytes(reset) - base, 0) / 2**20, 1)}  # fmt: skip


def ground_config(axis: str, value: int, quick: bool) -> tuple[int, int, str]:
    """(MLLM frames, visual tokens asked, proposals folder) of a ground point."""
    frames, tokens, props = 20, (200 if quick else 2000), "props"
    if axis == "frames":
        frames, tokens = value, (20 if quick else 200) * value // 2
    elif axis == "tracks":
        props = f"props_{value}"
    elif axis == "tokens":
        tokens = value
    return frames, tokens, props


def measure(root: Path, axis: str, value: int) -> dict:
    """One point: seconds per video and the extra peak memory of the measured call."""
    import bench_grounding as bg

    cfg = json.loads((root / "sets.json").read_text())
    if axis == "length":
        return {"axis": axis, "value": value, **_length_point(root, value, cfg["quick"])}
    sets = list(cfg["sets"])
    frames, tokens, props_dir = ground_config(axis, value, cfg["quick"])
    props = root / props_dir / "manifest.json"
    slots = frames // 2  # Qwen2-VL merges 2 frames into one temporal slot
    budget = json.dumps(_budget(tokens // slots))
    sets += ["--set", f"ground.n_frames={frames}", "--set", f"ground.k_frames={min(frames, 7)}",
             "--set", f"models.tiny-qwen2-vl.processor={budget}"]  # fmt: skip
    out = root / "ground" / f"{axis}_{value}"
    argv = ["ground", *sets, "--samples", str(root / "samples.jsonl"), "--frames",
            str(root / "frames/manifest.json"), "--proposals", str(props), "--decompositions",
            str(root / "dec.jsonl"), "--model", "tiny-qwen2-vl", "--variant", "full",
            "--out", str(out), "--no-progress"]  # fmt: skip
    base, reset = rss_bytes(), reset_peak()
    bg._quiet(argv)
    peak = peak_bytes(reset)
    records = bg.read_records(out)  # each with its run record (the seconds) under "run"
    ok = [r for r in records if r.get("status") == "ok"]
    if not ok:
        manifest = (out / "manifest.json").read_text()
        raise SystemExit(f"{axis}={value}: every sample failed:\n{manifest[-1500:]}")
    import numpy as np

    # the visual tokens the processor made (one spatial-map cell per merged token)
    maps = sorted((out / "records").glob("*.spatial.npy"))
    made = int(np.load(maps[0]).size) if maps else None
    # the faster of the 2 videos: the first one of a job carries its one-time costs
    return {"axis": axis, "value": value,
            "seconds": round(min(r["run"]["times_s"]["total_s"] for r in ok), 4),
            "peak_extra_mib": round(max(peak - base, 0) / 2**20, 1),
            "frames": frames, "visual_tokens_asked": tokens, "visual_tokens": made,
            "n_videos": len(ok)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two small points per axis")
    ap.add_argument("--inproc", action="store_true", help="every point in this process")
    ap.add_argument("--axes", nargs="+", default=list(AXES_FULL), choices=list(AXES_FULL))
    ap.add_argument("--json", default=None, help="write the figures to this JSON file")
    ap.add_argument("--child", nargs=3, metavar=("ROOT", "AXIS", "VALUE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if args.child:
        root, axis, value = args.child
        print(json.dumps(measure(Path(root), axis, int(value))))
        return
    axes = AXES_QUICK if args.quick else AXES_FULL
    points: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        setup(root, args.quick)
        print(f"set-up {time.perf_counter() - t0:.1f} s")
        done: dict[tuple[int, int, str], dict] = {}  # a config met on two axes runs once
        for axis in args.axes:
            points[axis] = []
            for value in axes[axis]:
                key = ground_config(axis, value, args.quick) if axis != "length" else None
                if key in done:
                    first = done[key]
                    same = f"{first['axis']}={first['value']}"
                    point = {**first, "axis": axis, "value": value, "same_run_as": same}
                elif args.inproc:
                    point = measure(root, axis, value)
                else:
                    cmd = [sys.executable, __file__, "--child", str(root), axis, str(value)]
                    proc = subprocess.run(cmd, capture_output=True, text=True)
                    if proc.returncode != 0:
                        raise SystemExit(f"{axis}={value} failed:\n{proc.stderr[-3000:]}")
                    point = json.loads(proc.stdout.strip().splitlines()[-1])
                if key is not None:
                    done.setdefault(key, point)
                points[axis].append(point)
                print(f"{axis:7s} {value:6d}: {point['seconds']:8.3f} s/video, peak extra "
                      f"{point['peak_extra_mib']:8.1f} MiB", flush=True)  # fmt: skip
    if args.json:
        report = {"config": {"quick": args.quick, "inproc": args.inproc, "variant": "full"},
                  "axes": points}  # fmt: skip
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
