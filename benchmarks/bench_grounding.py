"""Seconds per video and LLM work per variant of ``zstvg ground``, both engines, one run.

Builds a small synthetic benchmark and a random-weight Qwen2-VL checkpoint in a scratch folder
(the real commands: make-synthetic, prepare-data, sample-frames, import-proposals,
import-decompositions, decompose --offline, make-tiny-checkpoint), then runs ``ground`` for
each variant alone with ``ground.engine`` reference and fast, and Table 2's six variants in one
job, and reads the per-sample records:

- ``s_per_video``: mean grounding seconds per video (model load excluded; records' total_s);
- ``forwards`` / ``backwards``: LLM calls per video as the engine counts them (a prefix and a
  suffix forward count one each);
- ``forward_equivalents``: the engine's work counter: per call, (tokens x layers run) / (full
  sequence x all layers); a backward counts 1. A naive ``full`` with N = 1 is 9 + 3 = 12.

Shapes (``--shape``):

- ``tiny`` (default): hidden 64, but 28 LLM layers and 4,000 visual tokens (20 frames at
  560 x 560: 10 temporal slots x 20 x 20) before a ~35-token text, so the captured range
  [-26:-6] is layers 2-21, a map-only forward stops after 22 of 28 layers and a text suffix is
  ~1% of the sequence, as at 7B: the work counts are those of the real models; the seconds
  are mostly per-call overhead, not LLM work.
- ``cpu-7b``: Qwen2-7B widths (hidden 3584, MLP 18944, 28 heads / 4 KV heads) with 8 layers in
  bfloat16 on CPU, frames sized for 4,000 visual tokens (20 frames at 560 x 560: 10 temporal
  slots x 20 x 20); layers [-7:-2] (1-5) keep the cut at 6 of 8 layers (0.75; 0.79 at 28).
  Here the LLM's work dominates: the engines' wall-time ratio is measured on it.
  ``--memory`` adds the tuning step's peak memory per layer (with and without
  ``ground.gradient_checkpointing``) and its projection to 28 layers.
- ``gpu-7b``: the same widths with all 28 layers on ``cuda`` (Qwen2-VL-7B / LLaVA-OV-7B's LLM,
  Qwen2-7B; the vision tower stays tiny: it runs once per video). Only where a GPU is lent.

Writes ``results/benchmarks/grounding.json``: ``{"engines": {"<engine>": {"variants":
{"<variant>": {...}}, "table2_job": ...}}, "shapes": {"<shape>": ...}, "targets": [...]}``; a
run of one shape replaces that shape's entries and keeps the others.

    .venv/bin/python benchmarks/bench_grounding.py                  # tiny, ~3.5 min
    .venv/bin/python benchmarks/bench_grounding.py --shape cpu-7b --memory   # ~22 min + memory
    .venv/bin/python benchmarks/bench_grounding.py --shape gpu-7b   # on a GPU machine
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _memory import peak_bytes, reset_peak, rss_bytes

from zstvg.cli import main as zstvg
from zstvg.config.variants import VARIANTS

TABLE2 = ("baseline-mean-special", "gti", "gti+spatial", "gti+temporal", "gti+dsth", "full")
WIDTH_7B = ["hidden_size=3584", "intermediate_size=18944", "num_attention_heads=28",
            "num_key_value_heads=4"]  # fmt: skip
# Qwen2-VL's per-frame pixel budget for 400 merged tokens per slot (28 x 28 px each).
BUDGET_4K = {"size": {"shortest_edge": 3136, "longest_edge": 313600}}
SHAPES: dict[str, dict[str, Any]] = {
    "tiny": dict(text=["num_hidden_layers=28"], dtype="float32", device="cpu", layers=None,
                 size=(560, 560), videos=1, variants=tuple(VARIANTS), processor=BUDGET_4K,
                 table2=True),
    "cpu-7b": dict(text=[*WIDTH_7B, "num_hidden_layers=8"], dtype="bfloat16", device="cpu",
                   layers=(-7, -2), size=(560, 560), videos=1, variants=("gti", "full"),
                   processor=BUDGET_4K, table2=False),
    # run_all.py --quick: the plumbing of every stage in seconds, not a measurement
    "quick": dict(text=["num_hidden_layers=4"], dtype="float32", device="cpu", layers=(-3, -1),
                  size=(112, 112), videos=1, variants=("gti", "full"), processor=None,
                  table2=False),
    "gpu-7b": dict(text=[*WIDTH_7B, "num_hidden_layers=28"], dtype="bfloat16", device="cuda",
                   layers=None, size=(560, 560), videos=4, variants=("gti", "full"),
                   processor=BUDGET_4K, table2=True),
}  # fmt: skip
# Qwen2-VL-7B: 8.29e9 parameters (LLaVA-OV-7B 8.03e9), bf16 weights.
WEIGHTS_7B_GIB = 8.29e9 * 2 / 2**30
# A "24 GB" card (RTX 3090/4090, A10) has 24 GiB (24,576 MiB); ~0.5 GiB go to the CUDA context.
BUDGET_24GB_GIB = 24.0 - 0.5


def _quiet(argv: list[str]) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        rc = zstvg(argv)
    if rc != 0:
        raise SystemExit(f"zstvg {' '.join(argv)} exited {rc}")


def _ground(root: Path, sets: list[str], engine: str, out: Path, *variant: str) -> None:
    _quiet(["ground", *sets, "--set", f"ground.engine={engine}", "--samples",
            str(root / "samples.jsonl"), "--frames", str(root / "frames/manifest.json"),
            "--proposals", str(root / "props/manifest.json"), "--decompositions",
            str(root / "dec.jsonl"), "--model", "tiny-qwen2-vl", *variant,
            "--out", str(out), "--no-progress"])  # fmt: skip


def read_records(out: Path) -> list[dict]:
    """The per-sample records of a ``ground --out`` folder, each with its run record under
    ``"run"``: the seconds are not in a record (identical reruns write identical records) but
    in ``records/<sample>.run.json`` beside it."""
    from zstvg.grounding.ground import read_run_record, record_files

    return [{**json.loads(p.read_text()), "run": read_run_record(p) or {}}
            for p in record_files(out / "records")]  # fmt: skip


def _variant_figures(records: list[dict]) -> dict:
    ok = [r for r in records if r.get("status") == "ok"]
    if not ok:  # figures of nothing would hide the cause
        raise SystemExit(f"every sample failed: {records[0].get('error') if records else None}")
    calls = [r["llm_calls"] for r in ok]
    return {
        "s_per_video": round(statistics.mean(r["run"]["times_s"]["total_s"] for r in ok), 4),
        "forwards": statistics.mean(c["forwards"] for c in calls),
        "backwards": statistics.mean(c["backwards"] for c in calls),
        "forward_equivalents": round(statistics.mean(c["forward_equivalents"] for c in calls), 3),
        "n_videos": len(ok),
    }


def _run_engine(root: Path, sets: list[str], engine: str, shape: dict) -> dict:
    """Every variant alone, then Table 2's six in one job, with one engine."""
    results = {}
    print(f"engine {engine}")
    print(f"  {'variant':24s} {'s/video':>8s} {'forwards':>9s} {'backwards':>10s} {'fwd-eq':>7s}")
    for name in shape["variants"]:
        out = root / "ground" / engine / name
        _ground(root, sets, engine, out, "--variant", name)
        results[name] = r = _variant_figures(read_records(out))
        print(f"  {name:24s} {r['s_per_video']:8.3f} {r['forwards']:9.1f} {r['backwards']:10.1f}"
              f" {r['forward_equivalents']:7.2f}", flush=True)  # fmt: skip
    report: dict[str, Any] = {"variants": results}
    if shape["table2"]:
        out = root / "ground" / engine / "table2-job"
        _ground(root, sets, engine, out, "--variants", ",".join(TABLE2))
        run_record = out / TABLE2[0] / "manifest.json.provenance.run.json"
        job = json.loads(run_record.read_text())["llm_calls"]
        per_video = job["forward_equivalents"] / shape["videos"]
        full = results["full"]["forward_equivalents"]
        report["table2_job"] = {"variants": list(TABLE2), "forward_equivalents": round(
            per_video, 3), "vs_full": round(per_video / full, 3)}  # fmt: skip
        print(f"  Table 2 job ({len(TABLE2)} variants): {per_video:.2f} forward-equivalents per "
              f"video = {per_video / full:.2f} x full alone ({full:.2f})")  # fmt: skip
    return report


def _prepare(root: Path, shape: dict, frames: int) -> list[str]:
    """The scratch benchmark and checkpoint; the ``--set`` overrides every command takes."""
    sets = [
        "--set", f"synthetic.n_videos={shape['videos']}",
        "--set", f"synthetic.width={shape['size'][0]}",
        "--set", f"synthetic.height={shape['size'][1]}",
        "--set", f"ground.n_frames={frames}",
        # no experiment cells: the demo's K sweep (K 9) is invalid below 9 MLLM frames
        "--set", "run.experiments=[]",
        "--set", f"decompose.cache_dir={root / 'cache'}",
        "--set", f"models.tiny-qwen2-vl.checkpoint={root / 'ckpt'}",
        "--set", f"mllm.dtype={shape['dtype']}", "--set", f"mllm.device={shape['device']}",
    ]  # fmt: skip
    # the model's own range: params' models.tiny-qwen2-vl.layers ([0, 2], for the 8-layer demo
    # model) wins over mllm's; null hands it back to mllm's [-26, -6) (the 28-layer shapes)
    layers = list(shape["layers"]) if shape["layers"] else None
    sets += ["--set", f"models.tiny-qwen2-vl.layers={json.dumps(layers)}"]
    if shape["processor"]:
        sets += ["--set", f"models.tiny-qwen2-vl.processor={json.dumps(shape['processor'])}"]
    syn = root / "synthetic"
    text = [a for t in shape["text"] for a in ("--text-config", t)]
    steps = [
        ["make-synthetic", "--out", str(syn)],
        ["prepare-data", "--dataset", "synthetic", "--annotations",
         str(syn / "annotations/test_v2.json"), "--videos", str(syn / "videos"), "--out",
         str(root / "samples.jsonl")],
        ["sample-frames", "--samples", str(root / "samples.jsonl"), "--out",
         str(root / "frames/manifest.json"), "--workers", "1"],
        ["import-proposals", "--src", str(syn / "proposals"), "--out", str(root / "props")],
        ["import-decompositions", "--file",
         str(syn / "annotations/gpt4_decompose_attr_action.json"), "--samples",
         str(root / "samples.jsonl"), "--report", str(root / "import.json")],
        ["decompose", "--samples", str(root / "samples.jsonl"), "--out",
         str(root / "dec.jsonl"), "--offline", "--no-progress"],
        ["make-tiny-checkpoint", "--family", "qwen2-vl", "--out", str(root / "ckpt"), *text,
         "--dtype", shape["dtype"]],
    ]  # fmt: skip
    for step in steps:
        _quiet([*step[:1], *sets, *step[1:]])
    return sets


# ------------------------------------------------------------------------------ memory
def memory_child(ckpt: str, depth: int, recompute: bool, shape_name: str) -> dict:
    """One LRA step of the fast engine (p = 0 prefix with its graph, the sub-query's suffix,
    the backward) through the first ``depth`` layers: its extra peak memory and seconds."""
    import numpy as np
    import torch

    from zstvg.grounding.tuning import margin
    from zstvg.mllm.qwen2_vl import Qwen2VL

    shape = SHAPES[shape_name]
    m = Qwen2VL.load(ckpt, dtype=shape["dtype"], device="cpu", layer_start=shape["layers"][0],
                     layer_stop=shape["layers"][1], video_kwargs=shape["processor"])  # fmt: skip
    w, h = shape["size"]
    frames = [np.random.default_rng(i).integers(0, 255, (h, w, 3), np.uint8) for i in range(20)]
    inputs = m.encode(frames, tuple(range(0, 500, 25)), "Is there a man in this video?", 25.0)
    features = m.visual_features(inputs)
    with torch.no_grad():  # oneDNN packs the bf16 weights on the first forward (~1x weights)
        m.forward(inputs, features, capture=False)
    base = rss_bytes()
    reset = reset_peak()
    t0 = time.perf_counter()
    with m.truncated(depth):
        x0 = torch.zeros_like(features.embeds, dtype=torch.float32, requires_grad=True)
        with m.recomputing(recompute):
            state = m.prefix(inputs, features, x0)
        loss = 1 - margin(m.suffix(inputs, state, capture=False))
        loss.backward()
    seconds = time.perf_counter() - t0
    return {"layers": depth, "recompute": recompute, "tokens": inputs.seq_len,
            "seconds": round(seconds, 2),
            "peak_extra_gib": round(max(peak_bytes(reset) - base, 0) / 2**30, 3)}  # fmt: skip


def _fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares (intercept, slope) of (layers, GiB)."""
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
    return my - slope * mx, slope


def measure_memory(ckpt: Path, shape_name: str, depths: tuple[int, ...]) -> dict:
    rows = []
    for recompute in (False, True):
        for depth in depths:
            cmd = [sys.executable, __file__, "--memory-child", str(ckpt), str(depth),
                   str(int(recompute)), "--shape", shape_name]  # fmt: skip
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"memory child failed: {proc.stderr.strip()[-2000:]}")
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(f"  LRA step, {depth} layers, recompute {recompute!s:5s}: "
                  f"{r['peak_extra_gib']:6.2f} GiB extra, {r['seconds']:6.1f} s",
                  flush=True)  # fmt: skip
    out: dict[str, Any] = {"steps": rows, "tokens": rows[0]["tokens"]}
    for recompute in (False, True):
        a, b = _fit([(r["layers"], r["peak_extra_gib"]) for r in rows
                     if r["recompute"] == recompute])  # fmt: skip
        key = "recompute" if recompute else "plain"
        at28 = a + 28 * b
        # engine fast, variant full: one p = 0 prefix graph at a time (the forward one is
        # released before the reversed one is built), plus the bf16 weights of a 7B model
        total = WEIGHTS_7B_GIB + at28
        out[key] = {"gib_per_layer": round(b, 3), "gib_fixed": round(a, 3),
                    "projected_28_layers_gib": round(at28, 2),
                    "projected_full_7b_total_gib": round(total, 2),
                    "fits_24_gb": total <= BUDGET_24GB_GIB}  # fmt: skip
        print(f"  {key:9s}: {b:.3f} GiB per layer -> 28 layers {at28:.2f} GiB; full at 7B "
              f"(weights {WEIGHTS_7B_GIB:.1f} GiB + 1 prefix graph) {total:.1f} GiB "
              f"{'fits' if total <= BUDGET_24GB_GIB else 'does not fit'} a 24 GB card "
              f"({BUDGET_24GB_GIB} GiB free)")  # fmt: skip
    return out


# ------------------------------------------------------------------------------ targets
def _targets(report: dict) -> list[dict]:
    """The [8/11] targets with the measured figures beside them."""
    out = []

    def add(name: str, target: str, measured: Any, met: bool | None) -> None:
        out.append({"target": name, "goal": target, "measured": measured,
                    "met": met if met is not None else "not measured"})  # fmt: skip

    tiny = report.get("shapes", {}).get("tiny", {}).get("engines", {})
    fast = tiny.get("fast", {}).get("variants", {})
    if fast and "table2_job" in tiny["fast"]:
        full, gti = fast["full"]["forward_equivalents"], fast["gti"]["forward_equivalents"]
        add("full forward-equivalents (28-layer model)", "<= 7.5", full, full <= 7.5)
        add("gti forward-equivalents (28-layer model)", "<= 1.0", gti, gti <= 1.0)
        job = tiny["fast"]["table2_job"]["vs_full"]
        add("Table 2 six-variant job vs full alone", "<= 1.2x", job, job <= 1.2)
    cpu = report.get("shapes", {}).get("cpu-7b", {}).get("engines", {})
    if cpu:
        ratio = (cpu["reference"]["variants"]["full"]["s_per_video"]
                 / cpu["fast"]["variants"]["full"]["s_per_video"])  # fmt: skip
        add(
            "CPU wall time of full, reference / fast (7B widths, 8 layers, bf16, 4k tokens)",
            ">= 1.5x",
            round(ratio, 2),
            ratio >= 1.5,
        )
    else:
        add("CPU wall time of full, reference / fast", ">= 1.5x", None, None)
    mem = report.get("shapes", {}).get("cpu-7b", {}).get("memory")
    if mem:
        add("full at 7B bf16, 20 frames, with gradient checkpointing, fits a 24 GB card "
            "(projected from the per-layer memory; weights + one prefix graph)",
            f"<= {BUDGET_24GB_GIB} GiB", mem["recompute"]["projected_full_7b_total_gib"],
            mem["recompute"]["fits_24_gb"])  # fmt: skip
    gpu = report.get("shapes", {}).get("gpu-7b", {}).get("engines", {}).get("fast")
    for name, goal in (("gti", 0.2), ("full", 1.2)):
        s = gpu["variants"][name]["s_per_video"] if gpu else None
        add(f"{name} seconds per video, 7B, 20 frames, one H100-class GPU", f"<= {goal} s", s,
            None if s is None else s <= goal)  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=tuple(SHAPES), default="tiny")
    parser.add_argument(
        "--videos", type=int, default=None, help="synthetic videos (one query each)"
    )
    parser.add_argument("--frames", type=int, default=20, help="MLLM frames (ground.n_frames)")
    parser.add_argument(
        "--memory", action="store_true",
        help="cpu-7b: the LRA step's peak memory per layer, both settings",
    )  # fmt: skip
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--out", default="results/benchmarks/grounding.json")
    args = parser.parse_args()
    if args.memory_child:
        ckpt, depth, recompute = args.memory_child
        print(json.dumps(memory_child(ckpt, int(depth), bool(int(recompute)), args.shape)))
        return
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one "Loading weights" bar per variant otherwise
    shape = dict(SHAPES[args.shape])
    if args.videos:
        shape["videos"] = args.videos
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        sets = _prepare(root, shape, args.frames)
        print(f"scratch benchmark ready in {time.perf_counter() - t0:.1f} s: {shape['videos']} "
              f"videos, {args.frames} MLLM frames, Qwen2-VL {args.shape} "
              f"({', '.join(shape['text'])}), {shape['dtype']} on {shape['device']}")  # fmt: skip
        engines = {e: _run_engine(root, sets, e, shape) for e in ("reference", "fast")}
        entry: dict[str, Any] = {
            "engines": engines,
            "config": {"videos": shape["videos"], "mllm_frames": args.frames,
                       "frame_size": list(shape["size"]), "llm": shape["text"],
                       "dtype": shape["dtype"], "device": shape["device"],
                       "layer_range": shape["layers"] or [-26, -6]},
            # this shape's provenance: a run of one shape keeps the others' entries
            "command": " ".join(["python", *sys.argv]),
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "wall_s": round(time.perf_counter() - t0, 1),
        }  # fmt: skip
        if args.memory:
            print("memory of one LRA step (fast engine: p = 0 prefix + suffix + backward)")
            entry["memory"] = measure_memory(root / "ckpt", args.shape, (2, 4, 8))
    out_path = Path(args.out)
    report = json.loads(out_path.read_text()) if out_path.exists() else {}
    report = {k: v for k, v in report.items() if k in ("shapes",)}
    report.setdefault("shapes", {})[args.shape] = entry
    if "tiny" in report["shapes"]:  # the 28-layer tiny run is the headline table
        report["engines"] = report["shapes"]["tiny"]["engines"]
    report["targets"] = _targets(report)
    report["machine"] = {"cpu": platform.processor() or platform.machine(),
                         "cores": os.cpu_count()}  # fmt: skip
    report["date"] = time.strftime("%Y-%m-%d")
    for t in report["targets"]:
        print(f"target {t['target']}: {t['goal']}, measured {t['measured']}, met: {t['met']}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
