"""Seconds per video and LLM work per variant of ``zstvg ground`` (the reference engine).

Builds a small synthetic benchmark and the tiny Qwen2-VL checkpoint in a scratch folder (the
real commands: make-synthetic, prepare-data, sample-frames, import-proposals,
import-decompositions, decompose --offline, make-tiny-checkpoint), then runs ``ground`` for
every variant and reads the per-sample records:

- ``s_per_video``: mean grounding seconds per video (model load excluded; records' total_s);
- ``forwards`` / ``backwards``: full-sequence LLM forward and backward passes per video, as
  the engine counts them (a naive ``full`` with N = 1 is 9 + 3, ``gti`` is 2).

This is the baseline the fast engine of [8/11] must beat. Writes
``results/benchmarks/grounding.json`` as ``{"variants": {"<variant>": {"s_per_video",
"forwards", "backwards"}}, "machine": ..., "config": ...}``.

    .venv/bin/python benchmarks/bench_grounding.py [--videos 4] [--frames 20] [--out PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from zstvg.cli import main as zstvg
from zstvg.grounding.variants import VARIANTS

TABLE2 = ("baseline-mean-special", "gti", "gti+spatial", "gti+temporal", "gti+dsth", "full")


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
            "--out", str(out)])  # fmt: skip


def _run_engine(root: Path, sets: list[str], engine: str, n_videos: int) -> dict:
    """Every variant alone, then Table 2's six in one job, with one engine."""
    results = {}
    print(f"engine {engine}")
    print(f"  {'variant':24s} {'s/video':>8s} {'forwards':>9s} {'backwards':>10s} {'fwd-eq':>7s}")
    for name in VARIANTS:
        out = root / "ground" / engine / name
        _ground(root, sets, engine, out, "--variant", name)
        records = [json.loads(p.read_text()) for p in sorted((out / "records").glob("*.json"))]
        ok = [r for r in records if r.get("status") == "ok"]
        calls = [r["llm_calls"] for r in ok]
        results[name] = {
            "s_per_video": round(statistics.mean(r["times_s"]["total_s"] for r in ok), 4),
            "forwards": statistics.mean(c["forwards"] for c in calls),
            "backwards": statistics.mean(c["backwards"] for c in calls),
            # from the engine's counters: layers run / all layers, a backward counts 1
            "forward_equivalents": round(
                statistics.mean(c["forward_equivalents"] for c in calls), 3
            ),
            "n_videos": len(ok),
        }
        r = results[name]
        print(f"  {name:24s} {r['s_per_video']:8.3f} {r['forwards']:9.1f} {r['backwards']:10.1f}"
              f" {r['forward_equivalents']:7.2f}")  # fmt: skip
    out = root / "ground" / engine / "table2-job"
    _ground(root, sets, engine, out, "--variants", ",".join(TABLE2))
    job = json.loads((out / TABLE2[0] / "manifest.json").read_text())["job"]["llm_calls"]
    per_video = job["forward_equivalents"] / n_videos
    full = results["full"]["forward_equivalents"]
    table2 = {"variants": list(TABLE2), "forward_equivalents": round(per_video, 3),
              "vs_full": round(per_video / full, 3)}  # fmt: skip
    print(f"  Table 2 job ({len(TABLE2)} variants): {per_video:.2f} forward-equivalents per video"
          f" = {table2['vs_full']:.2f} x full alone ({full:.2f}); target <= 1.2")  # fmt: skip
    return {"variants": results, "table2_job": table2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=4, help="synthetic videos (one query each)")
    parser.add_argument("--frames", type=int, default=20, help="MLLM frames (ground.n_frames)")
    parser.add_argument(
        "--size", type=int, nargs=2, default=(320, 240), metavar=("W", "H"),
        help="synthetic frame size: larger frames give more visual tokens, so the LLM's work "
        "outweighs the per-call overhead (the regime of real models)",
    )  # fmt: skip
    parser.add_argument("--out", default="results/benchmarks/grounding.json")
    args = parser.parse_args()
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one "Loading weights" bar per variant otherwise

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sets = [
            "--set", f"synthetic.n_videos={args.videos}",
            "--set", f"synthetic.width={args.size[0]}", "--set", f"synthetic.height={args.size[1]}",
            "--set", f"ground.n_frames={args.frames}",
            "--set", f"decompose.cache_dir={root / 'cache'}",
            "--set", f"models.tiny-qwen2-vl.checkpoint={root / 'ckpt'}",
        ]  # fmt: skip
        syn = root / "synthetic"
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
            ["make-tiny-checkpoint", "--family", "qwen2-vl", "--out", str(root / "ckpt")],
        ]  # fmt: skip
        t0 = time.perf_counter()
        for step in steps:
            _quiet([*step[:1], *sets, *step[1:]])
        print(f"scratch benchmark ready in {time.perf_counter() - t0:.1f} s: {args.videos} "
              f"videos, {args.frames} MLLM frames, tiny Qwen2-VL on CPU")  # fmt: skip
        engines = {}
        for engine in ("reference", "fast"):
            engines[engine] = _run_engine(root, sets, engine, args.videos)
    report = {
        "variants": engines["reference"]["variants"],  # the [7/11] baseline, reference engine
        "engines": engines,
        "config": {
            "videos": args.videos,
            "mllm_frames": args.frames,
            "frame_size": list(args.size),
            "model": "tiny qwen2-vl",
            "llm_layers": 8,
            "captured_layers": "[-26:-6] -> 0, 1",
        },  # fmt: skip
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "date": time.strftime("%Y-%m-%d"),
    }
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
