"""Time `zstvg evaluate` on 10,303 synthetic samples, VidSTG's test size (target: under 5 s).

Each sample: a 20 s video at 25 fps (500 frames), a GT span of 100-300 frames with a box on
every frame, and a prediction as `ground` writes it: a span overlapping the GT, and the chosen
track (present from up to 6 s before the GT to up to 6 s after it, a box every 5th frame as on
the 5 fps proposal grid, jittered) on every native frame of its extent and of the span
(``grounding.scoring.dense_boxes``: interpolated, held, rounded to 1/100 px). Prints the
predictions file's size and the wall time of the whole command (reading, scoring, writing
metrics.json and the per-sample CSV) per protocol, run as a subprocess like a user would, the
fastest of ``--repeats`` runs (as timeit does: the least disturbed by other jobs on a shared
machine), and its CPU time (both processes: at this size the predictions file is read in a
second one while the samples are read). Then the phases, timed one by one in this process.
Bytecode caching is switched on for the subprocess (PYTHONPYCACHEPREFIX under the temporary
directory, one untimed warm-up run): this machine sets PYTHONDONTWRITEBYTECODE=1, which makes
every run recompile the zstvg package from source, which an installed package never does.

    .venv/bin/python benchmarks/bench_evaluate.py [--n 10303] [--repeats 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from zstvg.files.io import write_jsonl
from zstvg.files.predictions import write_predictions
from zstvg.files.records import Prediction
from zstvg.grounding.scoring import dense_boxes


def write_inputs(root: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    samples, preds = [], {}
    for i in range(n):
        gs = int(rng.integers(0, 200))
        ge = gs + int(rng.integers(100, 300))
        ps = max(0, gs + int(rng.integers(-80, 80)))
        pe = min(500, ps + int(rng.integers(50, 300)))
        box = np.array([100.0, 80.0, 220.0, 300.0])
        gt_boxes = {str(f): (box + rng.normal(0, 3, 4)).round(1).tolist() for f in range(gs, ge)}
        samples.append(
            {
                "sample_id": f"s{i:05d}",
                "video_id": f"v{i:05d}",
                "video_path": f"v{i:05d}.mp4",
                "query": "q",
                "qtype": "declarative",
                "fps": 25.0,
                "n_frames": 500,
                "width": 640,
                "height": 360,
                "gt_span": [gs, ge],
                "clip_span": [0, 500],
                "gt_boxes_xyxy": gt_boxes,
                "has_gt_boxes": True,
                "flags": [],
                "error": None,
            }
        )
        shift = rng.normal(0, 20, 4)
        ts = max(0, gs - int(rng.integers(0, 150)))
        te = min(500, ge + int(rng.integers(0, 150)))
        track = {f: (box + shift + rng.normal(0, 2, 4)).tolist() for f in range(ts, te, 5)}
        dense = dense_boxes(track, (ps, pe), (0, 500))
        preds[f"s{i:05d}"] = Prediction(
            f"s{i:05d}", (ps, pe), dense.boxes_xyxy, track_id=1, flags=dense.flags
        )
    write_jsonl(root / "samples.jsonl", samples)
    write_predictions(root / "predictions.json", preds)  # as ground writes it
    return root / "samples.jsonl", root / "predictions.json"


def breakdown(samples: Path, preds: Path) -> dict[str, float]:
    """Where the command's time goes, phase by phase in this process (the tubedetr protocol):
    parsing alone, then the readers evaluate uses (parse + check + arrays), then scoring."""
    from zstvg.evaluation.io import load_predictions, load_samples
    from zstvg.evaluation.protocols import evaluate
    from zstvg.files.io import gc_paused, read_json, read_jsonl

    out: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        value = fn()
        out[name] = round(time.perf_counter() - t0, 3)
        return value

    with gc_paused():
        timed("parse samples (orjson)", lambda: read_jsonl(samples))
        timed("parse predictions (orjson)", lambda: read_json(preds))
        rows, gt = timed("read + check samples", lambda: load_samples(samples))
        ids = [s.sample_id for s in rows]
        pr, pb = timed("read + check predictions", lambda: load_predictions(preds, ids))
        timed("score", lambda: evaluate(rows, pr, "tubedetr", dataset="hcstvg-v1",
                                         backend="-", variant="-", grid_fps=5.0,
                                         max_grid_frames=200, thresholds=(0.3, 0.5),
                                         gt_boxes=gt, pred_boxes=pb))  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10303, help="number of synthetic samples")
    ap.add_argument(
        "--repeats", type=int, default=2, help="runs per protocol; the fastest is reported"
    )
    ap.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = ap.parse_args()
    zstvg = str(Path(sys.executable).with_name("zstvg"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        samples, preds = write_inputs(root, args.n)
        size_mb = (samples.stat().st_size + preds.stat().st_size) / 1e6
        preds_mb = preds.stat().st_size / 1e6
        print(f"{args.n} samples, {size_mb:.0f} MB of input JSON ({preds_mb:.0f} MB predictions)")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        protocols = {}
        for protocol in ("warm-up", "tubedetr", "official", "seed"):
            name = "tubedetr" if protocol == "warm-up" else protocol
            cmd = [zstvg, "evaluate", "-q", "--samples", str(samples), "--predictions",
                   str(preds), "--protocol", name, "--out", str(root / f"{name}.json"),
                   "--per-sample", str(root / f"{name}.csv"), "--dataset", "hcstvg-v1"]  # fmt: skip
            walls, cpus = [], []
            for _ in range(1 if protocol == "warm-up" else args.repeats):
                t0 = time.perf_counter()
                c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                subprocess.run(cmd, check=True, capture_output=True, env=env)
                walls.append(time.perf_counter() - t0)
                c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus.append((c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime))
            if protocol == "warm-up":
                continue
            dt, cpu = min(walls), min(cpus)
            m = json.loads((root / f"{protocol}.json").read_text())
            print(
                f"zstvg evaluate --protocol {protocol:8s}: {dt:5.2f} s wall, {cpu:5.2f} s CPU  "
                f"(min of {args.repeats}; m_vIoU {100 * m['m_vIoU']:.1f}, target < 5 s)"
            )
            protocols[protocol] = {"seconds": round(dt, 3), "cpu_s": round(cpu, 3),
                                   "all_s": [round(w, 3) for w in walls]}  # fmt: skip
        phases = breakdown(samples, preds)
    print("in one process (tubedetr): " + ", ".join(f"{k} {v} s" for k, v in phases.items()))
    if args.json:
        report = {"config": {"n": args.n, "input_mb": round(size_mb, 1),
                             "predictions_mb": round(preds_mb, 1), "repeats": args.repeats},
                  "protocols": protocols,
                  "phases_s": phases}  # fmt: skip
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
