"""Peak memory and seconds per sample of ``zstvg probe-layers`` vs ``zstvg probe-attention``.

The issue's acceptance point: probe-layers' peak memory per sample stays within 1.2x of
probe-attention's at the same frames. Both steps run here on one sample of the same 20 frames,
each in its own child process (``--child``), on a random-weight Qwen2-VL checkpoint built by
``zstvg make-tiny-checkpoint`` at ``bench_grounding.py``'s ``cpu-7b`` shape: Qwen2-7B widths
(hidden 3584, MLP 18944, 28 heads / 4 KV heads) with 8 layers in bfloat16 on CPU, 20 frames
of 560 x 560 at ``BUDGET_4K`` (4,000 visual tokens: 10 temporal slots x 20 x 20). The model's
range is ``cpu-7b``'s ``[-7, -2)`` (layers 1-5 of 8), set as ``models.tiny-qwen2-vl.layers``
(the model's entry overrides ``mllm.layer_start/stop``; its params.yaml value [0, 2] would
otherwise win).

What each child measures, after loading the model (``zstvg.mllm.load_model``, as both steps do)
and one warm-up forward without capture (oneDNN packs the bf16 weights on the first forward):

- ``probe-attention``: :func:`zstvg.mllm.probe.probe_sample` itself on the sample's frames with
  the step's default prompt (``{query}``): encode, one forward capturing the head-averaged rows
  of the range, the layer mean, the GTI choice.
- ``probe-layers``: the real ``_Prober.sample`` of ``zstvg.grounding.probe_layers`` (built by
  its own ``__init__`` from the params), given small stand-ins for what it reads from disk: the
  sample (a real :class:`~zstvg.files.records.Sample`: GT boxes on every native frame of its
  GT span, about half the MLLM frames), the proposals (4 real :class:`Track` s with a box on
  every 10th native frame, no RLE, so ``track_masks`` uses the box pixels, as for released
  box-only proposals), the frames (the same random images as the other child) and the frame
  store's fps. So: encode both texts, the visual features once, two forwards with
  ``per_head=True``, then ``probe_scores`` on the real ``ProbeTarget``. ``probe_scores`` is
  wrapped (instrumentation only) to split the peak and the seconds into the forwards and the
  scoring.

Figures per child: ``peak_extra_gib`` (VmHWM minus RSS right before the sample, _memory.py;
the heap is trimmed first, ``malloc_trim``, so memory the warm-up freed is not silently reused),
``peak_total_gib`` (the process's VmHWM over the sample), ``rss_before_gib`` (weights, packed
weights, what the warm-up left), seconds, tokens and the load average (the machine may be
shared: seconds drift, memory does not); then the ratios probe-layers / probe-attention of extra
and total, and the size of the per-head rows themselves (candidates x layers x heads x grid x
4 B x 2 texts). ``--json`` writes them (default results/benchmarks/probe_layers.json).
A run_all.py stage (``probe_layers``; ``--shape quick`` there with ``--quick``). Measured
2026-12-07, 2-core AMD EPYC, no GPU: probe-attention 0.86 GiB extra / 6.26 GiB total, 71 s;
probe-layers 0.91 / 6.31 GiB, 174 s; ratios 1.06x extra, 1.01x total, 2.45x seconds
(docs/performance.md#probe-layers-memory-and-time).

    .venv/bin/python benchmarks/bench_probe_layers.py                  # cpu-7b, ~8 min
    .venv/bin/python benchmarks/bench_probe_layers.py --n-layers 4     # run_all's, ~3 min
    .venv/bin/python benchmarks/bench_probe_layers.py --shape quick    # plumbing, seconds
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _memory import peak_bytes, reset_peak, rss_bytes
from bench_grounding import SHAPES, _quiet

GIB = 2**30
STEPS = ("probe-attention", "probe-layers")
N_FRAMES = 20
N_TRACKS = 4
NATIVE_FRAMES = 500  # a 20 s clip at 25 fps; proposals on every 10th frame
FPS = 25.0
PROMPT_TEMPLATE = "{query}"
QUERY = "the man in the red shirt walks to the door"


def _params(ckpt: str, shape: dict) -> Any:
    from zstvg.config.params import default_params_path, load_params

    sets = [
        f"models.tiny-qwen2-vl.checkpoint={ckpt}",
        f"mllm.dtype={shape['dtype']}",
        f"mllm.device={shape['device']}",
        f"ground.n_frames={N_FRAMES}",
    ]
    if shape["layers"]:
        a, b = shape["layers"]
        sets += [f"mllm.layer_start={a}", f"mllm.layer_stop={b}",
                 f"models.tiny-qwen2-vl.layers=[{a}, {b}]"]  # fmt: skip
    if shape["processor"]:
        sets.append(f"models.tiny-qwen2-vl.processor={json.dumps(shape['processor'])}")
    return load_params(default_params_path(), sets)


def _sample_and_tracks(width: int, height: int) -> tuple[Any, list[Any]]:
    """A sample whose GT box follows track 0 over the middle half of the clip, and 4 tracks
    with boxes on every 10th frame across the whole clip."""
    from zstvg.files.records import Sample, Track

    proposal_frames = list(range(0, NATIVE_FRAMES, 10))
    tracks = []
    for k in range(N_TRACKS):
        boxes = {}
        for f in proposal_frames:
            x0 = (0.05 + 0.22 * k + 0.0002 * f) * width
            y0 = (0.15 + 0.05 * k) * height
            boxes[f] = (x0, y0, x0 + 0.18 * width, y0 + 0.5 * height)
        tracks.append(Track(track_id=k, class_name="person", boxes_xyxy=boxes))
    gt_span = (NATIVE_FRAMES // 4, 3 * NATIVE_FRAMES // 4)
    gt = {}
    for f in range(*gt_span):
        x0 = (0.05 + 0.0002 * f) * width  # track 0's box, interpolated
        gt[f] = (x0, 0.15 * height, x0 + 0.18 * width, 0.65 * height)
    sample = Sample(sample_id="bench-0", video_id="bench", video_path="bench.mp4", query=QUERY,
                    qtype="declarative", fps=FPS, n_frames=NATIVE_FRAMES, width=width,
                    height=height, gt_span=gt_span, clip_span=(0, NATIVE_FRAMES),
                    gt_boxes_xyxy=gt)  # fmt: skip
    return sample, tracks


class _Proposals:
    def __init__(self, tracks: list[Any]) -> None:
        self.tracks = tracks
        self.frame_idx = sorted({f for t in tracks for f in t.boxes_xyxy})


class _Props:  # ProposalStore's read()
    def __init__(self, tracks: list[Any]) -> None:
        self.proposals = _Proposals(tracks)

    def read(self, video_id: str) -> _Proposals:
        return self.proposals


class _VideoFrames:  # VideoFrames' get(): the same random image per frame index in both children
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height

    def get(self, video_id: str, video_path: str, frame_idx: list[int]) -> list[Any]:
        import numpy as np

        shape = (self.height, self.width, 3)
        return [np.random.default_rng(f).integers(0, 255, shape, np.uint8) for f in frame_idx]


class _Store:  # FrameStore's index()
    def index(self, video_id: str) -> dict[str, Any]:
        return {"fps": FPS}


def _malloc_trim() -> bool:
    """Give the heap's free pages back to the OS (glibc) so that both children start the
    sample from the same state: what the load and the warm-up freed but the allocator kept
    would otherwise be reused by the sample and hidden from its extra figure, by amounts
    that differ between processes (0.15 GiB in a first run without this)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return True


def shape_of(name: str, n_layers: int | None) -> dict[str, Any]:
    """``bench_grounding.SHAPES[name]``, with ``n_layers`` decoder layers where given (the range
    then [1, n - 1): cpu-7b's [-7, -2) is layers 1-5 of 8)."""
    shape = dict(SHAPES[name])
    if n_layers is not None:
        text = [t for t in shape["text"] if not t.startswith("num_hidden_layers=")]
        shape["text"] = [*text, f"num_hidden_layers={n_layers}"]
        shape["layers"] = (1 - n_layers, -1)
    return shape


def child(step: str, ckpt: str, shape_name: str, n_layers: int | None = None) -> dict:
    """One step's per-sample work on one sample, after the model's load and a warm-up."""
    import torch

    from zstvg.grounding.engine import query_text
    from zstvg.grounding.ground import mllm_frames
    from zstvg.mllm import load_model, model_config

    torch.manual_seed(0)
    shape = shape_of(shape_name, n_layers)
    width, height = shape["size"]
    params = _params(ckpt, shape)
    model_cfg = model_config(params, "tiny-qwen2-vl")
    sample, tracks = _sample_and_tracks(width, height)
    props, video_frames, store = _Props(tracks), _VideoFrames(width, height), _Store()
    frame_idx, _ = mllm_frames(props.proposals.frame_idx, sample.clip_span, N_FRAMES)
    frames = video_frames.get(sample.video_id, sample.video_path, frame_idx)
    prober: Any = None
    if step == "probe-layers":
        from zstvg.grounding.probe_layers import _Prober

        prober = _Prober(params, model_cfg)
        mllm = prober.mllm
    else:
        mllm = load_model(params, model_cfg)
    cfg = params.ground
    # the per-head rows' size, and the warm-up forward (excluded from the figures)
    texts = [query_text(cfg.query_template, sample.query), cfg.neutral_prompt]
    encoded = [mllm.encode(frames, tuple(frame_idx), t, FPS) for t in texts]
    t, h, w = encoded[0].layout.grid_thw
    candidates = [len(e.candidate_positions) for e in encoded]
    tokens = encoded[0].seq_len
    rows_bytes = sum(candidates) * mllm.num_layers * mllm.num_heads * t * h * w * 4
    with torch.no_grad():
        mllm.forward(encoded[0], capture=False)
    del encoded
    gc.collect()
    trimmed = _malloc_trim()
    load_before = os.getloadavg()[0]
    phases: dict[str, Any] = {}
    base = rss_bytes()
    reset = reset_peak()
    t0 = time.perf_counter()
    if step == "probe-layers":
        from zstvg.grounding import layer_probe

        scores_fn = layer_probe.probe_scores

        def timed_scores(*args: Any, **kwargs: Any) -> Any:
            """The forwards' peak so far, then the scoring's own (VmHWM reset between)."""
            phases["forwards_s"] = time.perf_counter() - t0
            phases["forwards_peak"] = peak_bytes(reset)
            phases["scoring_base"] = rss_bytes()
            reset_peak()
            t1 = time.perf_counter()
            out = scores_fn(*args, **kwargs)
            phases["scoring_s"] = time.perf_counter() - t1
            phases["scoring_peak"] = peak_bytes(reset)
            return out

        layer_probe.probe_scores = timed_scores
        scores, entry = prober.sample(sample, props, video_frames, store)
        layer_probe.probe_scores = scores_fn
        peak = max(phases["forwards_peak"], phases["scoring_peak"])
        details = {"n_gt_frames": entry["n_gt_frames"], "gt_track": entry["gt_track"],
                   "n_tracks": entry["n_tracks"], "texts": entry["texts"],
                   "upsample_bytes": layer_probe.UPSAMPLE_BYTES,
                   "layers_track": [round(float(v), 3) for v in scores["layers_track"]],
                   }  # fmt: skip
    else:
        from zstvg.mllm.probe import probe_sample

        prompt = PROMPT_TEMPLATE.format(query=sample.query)  # probe-attention's --prompt default
        probe = probe_sample(mllm, frames, tuple(frame_idx), FPS, prompt)
        peak = peak_bytes(reset)
        details = {"layers": probe["layers"], "gti_token": probe["gti_token"],
                   "attn_thw_shape": list(probe["attn_thw"].shape)}  # fmt: skip
    seconds = time.perf_counter() - t0
    out = {
        "step": step,
        "tokens": tokens,
        "grid_thw": [t, h, w],
        "candidates": candidates,
        "n_layers": mllm.num_layers,
        "n_heads": mllm.num_heads,
        "model_layers": list(mllm.layers),
        "seconds": round(seconds, 2),
        "rss_before_gib": round(base / GIB, 3),
        "peak_extra_gib": round(max(peak - base, 0) / GIB, 3),
        "peak_total_gib": round(peak / GIB, 3),
        "peak_extra_bytes": max(peak - base, 0),
        "peak_total_bytes": peak,
        "per_head_rows_mib": round(rows_bytes / 2**20, 1),
        "vmhwm_reset": reset,
        "malloc_trim": trimmed,
        "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        **details,
    }
    if phases:
        out["forwards_s"] = round(phases["forwards_s"], 2)
        out["forwards_peak_extra_gib"] = round((phases["forwards_peak"] - base) / GIB, 3)
        out["scoring_s"] = round(phases["scoring_s"], 2)
        # the scoring's peak over the RSS when it started (the two texts' maps held)
        out["scoring_rss_before_extra_gib"] = round((phases["scoring_base"] - base) / GIB, 3)
        out["scoring_peak_extra_gib"] = round((phases["scoring_peak"] - base) / GIB, 3)
    return out


def _run_child(step: str, ckpt: Path, shape_name: str, n_layers: int | None) -> dict:
    cmd = [sys.executable, __file__, "--child", step, str(ckpt), "--shape", shape_name]
    if n_layers is not None:
        cmd += ["--n-layers", str(n_layers)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{step} child failed: {proc.stderr.strip()[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=("cpu-7b", "quick"), default="cpu-7b")
    parser.add_argument(
        "--n-layers", type=int, default=None,
        help="decoder layers instead of the shape's (run_all.py: 4, half cpu-7b's time)",
    )  # fmt: skip
    parser.add_argument("--checkpoint", help="reuse a checkpoint built for --shape")
    parser.add_argument("--json", default="results/benchmarks/probe_layers.json")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        step, ckpt = args.child
        print(json.dumps(child(step, ckpt, args.shape, args.n_layers)))
        return
    shape = shape_of(args.shape, args.n_layers)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(args.checkpoint or Path(tmp) / "ckpt")
        if not args.checkpoint:
            text = [a for t in shape["text"] for a in ("--text-config", t)]
            _quiet(["make-tiny-checkpoint", "--family", "qwen2-vl", "--out", str(ckpt), *text,
                    "--dtype", shape["dtype"]])  # fmt: skip
            print(f"checkpoint built in {time.perf_counter() - started:.1f} s: Qwen2-VL "
                  f"{args.shape} ({', '.join(shape['text'])}), {shape['dtype']}",
                  flush=True)  # fmt: skip
        rows = {}
        for step in STEPS:
            rows[step] = r = _run_child(step, ckpt, args.shape, args.n_layers)
            print(f"  {step:16s} {r['peak_extra_gib']:6.2f} GiB extra, {r['peak_total_gib']:6.2f}"
                  f" GiB total (before {r['rss_before_gib']:.2f}), {r['seconds']:7.1f} s, "
                  f"{r['tokens']} tokens", flush=True)  # fmt: skip
    a, b = rows["probe-attention"], rows["probe-layers"]
    ratios = {
        "extra": round(b["peak_extra_bytes"] / max(a["peak_extra_bytes"], 1), 3),
        "total": round(b["peak_total_bytes"] / a["peak_total_bytes"], 3),
        "seconds": round(b["seconds"] / a["seconds"], 3),
    }
    print(f"  probe-layers: forwards {b['forwards_s']} s, peak extra "
          f"{b['forwards_peak_extra_gib']} GiB; scoring {b['scoring_s']} s, peak extra "
          f"{b['scoring_peak_extra_gib']} GiB (from "
          f"{b['scoring_rss_before_extra_gib']} GiB)")  # fmt: skip
    print(f"  per-head rows ({b['candidates']} candidates x {b['n_layers']} layers x "
          f"{b['n_heads']} heads x {'x'.join(map(str, b['grid_thw']))} grid x 4 B): "
          f"{b['per_head_rows_mib']} MiB for both texts")  # fmt: skip
    met: bool | str = ratios["extra"] <= 1.2
    if args.shape == "quick":
        met = "not measured (--shape quick is a test of the plumbing)"
    verdict = met if isinstance(met, str) else "met" if met else "not met"
    print(f"  probe-layers / probe-attention: extra {ratios['extra']}x, total "
          f"{ratios['total']}x, seconds {ratios['seconds']}x; target extra <= 1.2x: "
          f"{verdict}")  # fmt: skip
    report = {
        "steps": rows,
        "ratios": ratios,
        "target": {
            "goal": "probe-layers peak <= 1.2x probe-attention's",
            "measured_extra": ratios["extra"],
            "measured_total": ratios["total"],
            "met": met,
        },
        "config": {
            "shape": args.shape,
            "llm": shape["text"],
            "dtype": shape["dtype"],
            "device": shape["device"],
            "frames": N_FRAMES,
            "frame_size": list(shape["size"]),
            "layer_range": shape["layers"],
            "processor": shape["processor"],
            "tracks": N_TRACKS,
        },
        "command": " ".join(["python", *sys.argv]),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "wall_s": round(time.perf_counter() - started, 1),
    }
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out} ({report['wall_s']} s)")


if __name__ == "__main__":
    main()
