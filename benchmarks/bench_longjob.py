"""Memory over a long job: one ``zstvg ground`` over 200 synthetic videos, RSS every 20 videos.

Builds a 200-video synthetic benchmark at 96x64 (the real commands, as bench_grounding.py does)
and a tiny random-weight Qwen2-VL, then runs ``zstvg ground --variant full`` (8 MLLM frames) over
every video as a subprocess and watches it from outside: every 20 ms it reads the child's
``/proc/<pid>/status`` (VmRSS, VmHWM) and counts the records written; each time the count
passes a multiple of ``--every`` (20) it keeps the RSS and the peak so far. The job holds
nothing per video beyond the record it writes, so RSS should be flat: the slope of RSS vs videos
(least squares) times the job's length is compared with the noise (the residuals' standard
deviation). Flat: the growth over the job is under 3 standard deviations of the noise or under
1% of the RSS.

    .venv/bin/python benchmarks/bench_longjob.py [--videos 200] [--every 20] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _status_kib(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


def flatness(points: list[tuple[int, float]]) -> dict:
    """Least-squares slope of (videos, MiB), the growth over the span, and the residual noise."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)
    residuals = [y - (my + slope * (x - mx)) for x, y in points]
    noise = statistics.pstdev(residuals)
    growth = slope * (xs[-1] - xs[0])
    flat = growth < max(3 * noise, 0.01 * my)
    return {"slope_mib_per_100_videos": round(100 * slope, 3), "growth_mib": round(growth, 2),
            "noise_mib": round(noise, 2), "mean_mib": round(my, 1), "flat": flat}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=200)
    ap.add_argument("--every", type=int, default=20, help="record RSS every N videos")
    ap.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = ap.parse_args()
    import bench_grounding as bg

    shape = dict(bg.SHAPES["quick"])
    shape.update(videos=args.videos, size=(96, 64))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        sets = bg._prepare(root, shape, 8)
        print(f"{args.videos} videos ready in {time.perf_counter() - t0:.1f} s")
        out = root / "ground"
        zstvg = str(Path(sys.executable).with_name("zstvg"))
        cmd = [zstvg, "ground", *sets, "--samples", str(root / "samples.jsonl"), "--frames",
               str(root / "frames/manifest.json"), "--proposals",
               str(root / "props/manifest.json"), "--decompositions", str(root / "dec.jsonl"),
               "--model", "tiny-qwen2-vl", "--variant", "full", "--out", str(out),
               "--no-progress"]  # fmt: skip
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        samples, next_mark, last = [], args.every, {}
        while proc.poll() is None:
            try:
                last = _status_kib(proc.pid)
            except OSError:  # exited between poll and read
                break
            records = out / "records"
            done = (sum(n.endswith(".json") and not n.endswith(".run.json")  # not run records
                        for n in os.listdir(records)) if records.is_dir() else 0)  # fmt: skip
            if done >= next_mark:
                samples.append({"videos": done, "rss_mib": round(last["VmRSS"] / 1024, 1),
                                "peak_mib": round(last["VmHWM"] / 1024, 1),
                                "t_s": round(time.perf_counter() - t0, 2)})  # fmt: skip
                print(f"  {done:4d} videos: RSS {samples[-1]['rss_mib']:7.1f} MiB, peak "
                      f"{samples[-1]['peak_mib']:7.1f} MiB", flush=True)  # fmt: skip
                next_mark = (done // args.every + 1) * args.every
            time.sleep(0.02)
        stderr = proc.communicate()[1]
        if proc.returncode != 0:
            raise SystemExit(f"ground exited {proc.returncode}:\n{stderr[-3000:]}")
        wall = time.perf_counter() - t0
        manifest = json.loads((out / "manifest.json").read_text())
    if len(samples) < 3:
        raise SystemExit(f"only {len(samples)} RSS samples: use more --videos or a smaller --every")
    rss = flatness([(s["videos"], s["rss_mib"]) for s in samples])
    peak = flatness([(s["videos"], s["peak_mib"]) for s in samples])
    print(f"RSS: {rss}; peak: {peak}; {wall:.1f} s, {manifest['n_failed']} failed")
    if args.json:
        report = {"config": {"videos": args.videos, "every": args.every, "variant": "full",
                             "frame_size": [96, 64]},
                  "samples": samples, "rss": rss, "peak": peak, "wall_s": round(wall, 1),
                  "n_failed": manifest["n_failed"]}  # fmt: skip
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
