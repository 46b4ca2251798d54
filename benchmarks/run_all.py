"""Run every stage benchmark and write the performance report (docs/performance.md).

Each stage runs as its own subprocess (``benchmarks/bench_<stage>.py ... --json
results/benchmarks/<stage>.json``; its output goes to ``<stage>.log`` beside it), then
``run_all.json`` records the machine, the date, each stage's command, exit status and wall time,
and the report is rendered from the JSON files alone: ``--report-only`` rebuilds it without
rerunning anything. Full sizes take ~15 minutes on the project's 2-core CPU machine
(docs/development.md); ``--quick`` runs every stage at tiny sizes (a test of the plumbing, not a
measurement: the report says so in its header and marks every target "not measured" at those sizes).
The targets table, where each target's figure is read and how it is compared, is _targets.py.

    python benchmarks/run_all.py                 # every stage, then the report (make bench)
    python benchmarks/run_all.py --stages frames attention
    python benchmarks/run_all.py --report-only   # re-render docs/performance.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _targets import NO_GPU, Target, target_row, targets

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


@dataclass(frozen=True)
class Stage:
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    json_flag: str = "--json"


STAGES: dict[str, Stage] = {
    "frames": Stage(
        "bench_frames.py",
        ("--repeats", "3"),
        ("--seconds", "2", "--width", "320", "--height", "180", "--repeats", "1"),
    ),
    "attention": Stage(
        "bench_attention.py",
        (),
        (
            "--hidden",
            "128",
            "--intermediate",
            "256",
            "--heads",
            "4",
            "--kv-heads",
            "2",
            "--layers",
            "1",
            "--lengths",
            "256",
            "--dtype",
            "float32",
        ),
    ),
    "grounding": Stage(
        "bench_grounding.py", ("--shape", "tiny"), ("--shape", "quick"), json_flag="--out"
    ),
    # 4 of cpu-7b's 8 layers: ~3 min instead of ~8, the same tokens and widths
    "probe_layers": Stage("bench_probe_layers.py", ("--n-layers", "4"), ("--shape", "quick")),
    "decompose": Stage("bench_decompose.py", (), ("--n", "20", "--cached-n", "200")),
    "evaluate": Stage("bench_evaluate.py", (), ("--n", "100")),
    "workflow": Stage("bench_workflow.py", (), ("--scale", "0.01", "--jobs", "5")),
    "scaling": Stage("bench_scaling.py", (), ("--quick", "--inproc")),
    "longjob": Stage("bench_longjob.py", (), ("--videos", "9", "--every", "3")),
    "gpu": Stage("bench_gpu.py", (), ("--dry-run", "--no-proposals", "--repeats", "1")),
}
GPU_EXIT = 2  # bench_gpu.py without a CUDA device


# ------------------------------------------------------------------------------ running
def machine() -> dict[str, Any]:
    """CPU model and cores (/proc/cpuinfo), memory, and the GPU when torch sees one."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        kib = int(Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1])
        mem_gib = round(kib / 2**20, 1)
    except (OSError, IndexError, ValueError):
        pass
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "cores": cores,
        "memory_gib": mem_gib,
        "gpu": gpu,
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def run_stage(
    name: str, results: Path, quick: bool, timeout_s: float, host: dict[str, Any]
) -> dict[str, Any]:
    stage = STAGES[name]
    out = results / f"{name}.json"
    args = [*(stage.quick if quick else stage.full), stage.json_flag, str(out)]
    cmd = [sys.executable, str(HERE / stage.script), *args]
    shown = " ".join(["python", f"benchmarks/{stage.script}", *map(shlex.quote, args)])
    print(f"[{name}] {shown}", flush=True)
    t0 = time.perf_counter()
    with (results / f"{name}.log").open("w") as log:
        try:
            rc = subprocess.run(
                cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s
            ).returncode
        except subprocess.TimeoutExpired:
            rc = None
    wall = time.perf_counter() - t0
    status = "ok" if rc == 0 else ("timeout" if rc is None else f"exit {rc}")
    if name == "gpu" and rc == GPU_EXIT:
        status = NO_GPU
    print(f"[{name}] {status} in {wall:.1f} s", flush=True)
    return {
        "command": shown,
        "status": status,
        "wall_s": round(wall, 1),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "json": out.name,
        "machine": host,  # per stage: `--stages gpu` may run on another machine
    }


# ------------------------------------------------------------------------------ analysis
def linearity(points: list[tuple[float, float]]) -> dict[str, Any]:
    """How y grows with x: least-squares slope and R^2, the last segment's slope over the
    first's, and a verdict: flat (range under 10% of the mean), decreasing (the slope is
    negative: noise or one-time costs), linear (segment slopes within 1.5x of each other),
    faster or slower than linear; with two points only flat or not is told."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - my - slope * (x - mx)) ** 2 for x, y in points)
    r2 = 1 - ss_res / ss_tot if ss_tot else 1.0
    first = (ys[1] - ys[0]) / (xs[1] - xs[0])
    last = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
    bend = last / first if first > 0 else float("inf") if last > 0 else 0.0
    if my == 0 or (max(ys) - min(ys)) < 0.1 * abs(my):
        verdict = "flat"
    elif slope < 0:
        verdict = "decreasing"
    elif len(points) == 2:
        verdict = "two points: linearity not told"
    elif 1 / 1.5 <= bend <= 1.5:
        verdict = "linear"
    else:
        verdict = "faster than linear" if bend > 1.5 else "slower than linear"
    return {
        "slope": slope,
        "intercept": my - slope * mx,
        "r2": round(r2, 3),
        "segment_slope_ratio": round(bend, 2) if bend != float("inf") else None,
        "growth": round(ys[-1] / ys[0], 2) if ys[0] else None,
        "x_growth": round(xs[-1] / xs[0], 2),
        "verdict": verdict,
    }


# Why a curve is not linear, per axis and verdict (the mechanism behind the numbers).
WHY = {
    ("frames", "seconds"): {
        "faster than linear": "visual tokens grow with the frames and self-attention is "
        "quadratic in the sequence",
        "slower than linear": "per-video fixed costs (decomposition prompt, scoring, the text "
        "suffix, Python per call) are a large share at these widths",
        "flat": "fixed per-call costs dominate the tiny LLM's work",
    },
    ("frames", "peak"): {
        "slower than linear": "the peak is set by one layer's activations plus the allocator's "
        "reserve, not by the number of frames alone",
        "flat": "the tiny model's activations are small next to the process's working set",
        "faster than linear": "attention scores are quadratic in the sequence",
    },
    ("tracks", "seconds"): {
        "flat": "tracks enter only the scoring (sums of the maps inside each box); the LLM's "
        "work does not depend on them",
        "slower than linear": "the LLM's work is per video; only the scoring grows per track",
    },
    ("tracks", "peak"): {
        "flat": "one mask or box per track and frame: small next to the LLM's activations",
        "slower than linear": "one mask or box per track and frame: small next to the LLM's "
        "activations",
    },
    ("length", "seconds"): {
        "slower than linear": "the 5 fps grid is capped at 200 frames (reached at 40 s) and the "
        "sampler seeks to the keyframe before each needed frame instead of decoding everything",
        "flat": "the stored frames are capped (20 MLLM + at most 200 grid frames) and the "
        "sampler seeks",
        "faster than linear": "seeking cost grows with the GOP reached",
    },
    ("length", "peak"): {
        "flat": "frames are streamed: one decoded frame at a time, whatever the length",
        "slower than linear": "frames are streamed; only the container index grows",
    },
    ("tokens", "seconds"): {
        "faster than linear": "self-attention is quadratic in the sequence; it overtakes the "
        "linear MLP work as the sequence grows",
        "slower than linear": "per-call fixed costs are amortised as the sequence grows",
    },
    ("tokens", "peak"): {
        "faster than linear": "the captured rows are linear, but SDPA's working set per layer "
        "grows with the sequence squared on CPU",
        "slower than linear": "the allocator's reserve and the model dominate at short sequences",
        "flat": "the tiny model's activations are small next to the process's working set",
    },
}


def _x(axis: str, point: dict[str, Any]) -> float:
    """The point's abscissa: the visual tokens the processor made on the tokens axis (the
    pixel budget asks for a count; the frame's aspect rounds it), else the value set."""
    return (point.get("visual_tokens") or point["value"]) if axis == "tokens" else point["value"]


def _why(axis: str, what: str, verdict: str) -> str:
    if verdict == "linear" or verdict.startswith("two points"):
        return ""
    if verdict == "decreasing":
        return "not a cost of the axis: run-to-run noise or one-time costs (first call)"
    return WHY.get((axis, what), {}).get(verdict, "see the table")


# ------------------------------------------------------------------------------ targets
def bench_time_target(run: dict[str, Any]) -> Target:
    """``make bench`` in under 20 minutes: the sum of the stages' wall times of a full run."""
    stages = run.get("stages", {})
    complete = not run.get("quick") and set(stages) == set(STAGES)
    minutes = round(sum(s["wall_s"] for s in stages.values()) / 60, 1) if stages else None
    why = (
        "not run"
        if not stages
        else "not measured: a quick run"
        if run.get("quick")
        else ("not measured: not every stage ran")
    )
    return target_row(
        "make bench, every stage, this machine (minutes)",
        "< 20",
        minutes,
        minutes < 20 if complete and minutes is not None else None,
        why,
    )


# ------------------------------------------------------------------------------ report
class Report:
    def __init__(self, results: Path, md: Path) -> None:
        self.results, self.md = results, md
        self.figures = md.parent / md.stem  # docs/performance/*.png
        index = results / "run_all.json"
        if not index.is_file():
            raise SystemExit(f"{index}: missing; run benchmarks/run_all.py without --report-only")
        self.run = json.loads(index.read_text())
        self.data = {}
        for name in STAGES:
            path = results / f"{name}.json"
            stage = self.run["stages"].get(name, {})
            if path.is_file() and stage.get("status") == "ok":
                self.data[name] = json.loads(path.read_text())
        self.lines: list[str] = []

    def out(self, *lines: str) -> None:
        self.lines.extend(lines)

    def provenance(self, name: str) -> str:
        st = self.run["stages"].get(name)
        if not st:
            return f"_Not run: `python benchmarks/run_all.py --stages {name}`._"
        m = st["machine"]
        gpu = f", {m['gpu']}" if name == "gpu" and m.get("gpu") else ""
        return (
            f"_Made by `{st['command']}` on {m['cpu']} ({m['cores']} cores{gpu}), "
            f"{st['date']}; {st['status']}, {st['wall_s']} s._"
        )

    def table(self, header: list[str], rows: list[list[Any]]) -> None:
        self.out("| " + " | ".join(header) + " |", "|" + "---|" * len(header))
        for r in rows:
            self.out("| " + " | ".join("" if v is None else str(v) for v in r) + " |")
        self.out("")

    def figure(self, name: str, draw: Callable[[Any], None], stage: str, alt: str) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        self.figures.mkdir(parents=True, exist_ok=True)
        fig = plt.figure(figsize=(9, 3.6))
        draw(fig)
        st = self.run["stages"].get(stage, {})
        fig.text(
            0.01,
            0.005,
            f"{st.get('command', '')} | {st['machine']['cpu']} | {st.get('date', '')}",
            fontsize=6,
            color="0.4",
        )
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        fig.savefig(self.figures / f"{name}.png", dpi=110)
        plt.close(fig)
        self.out(f"![{alt}]({self.figures.name}/{name}.png)", "")

    def section(self, title: str, name: str) -> bool:
        self.out(f"## {title}", "", self.provenance(name), "")
        if name not in self.data:
            status = self.run["stages"].get(name, {}).get("status", "not run")
            self.out(f"No figures: {status} (see results/benchmarks/{name}.log).", "")
            return False
        return True

    # -------------------------------------------------------------- sections
    def header(self) -> None:
        hosts = {
            f"{m['cpu']} ({m['cores']} cores, {m['memory_gib']} GiB; GPU: {m['gpu'] or 'none'})"
            for m in (st["machine"] for st in self.run["stages"].values())
        }
        self.out(
            "# Performance and scale",
            "",
            f"Written by `python benchmarks/run_all.py --report-only` from "
            f"results/benchmarks/*.json, measured {self.run['date']} on "
            f"{' and '.join(sorted(hosts))}; each section names its own. "
            "Ratios of two rows of one run are the figures to compare: absolute times on a "
            "shared machine drift.",
            "",
        )
        if self.run["quick"]:
            self.out(
                "**Quick run (`--quick`): tiny sizes that test the scripts, not "
                "measurements. Run `make bench` for the figures.**",
                "",
            )

    def targets(self) -> None:
        self.out("## Targets", "")
        rows = [*targets(self.data), bench_time_target(self.run)]
        self.table(
            ["target", "goal", "measured", "status"],
            [[t["target"], t["goal"], t["measured"], t["status"]] for t in rows],
        )

    def frames(self) -> None:
        if not self.section(
            "Frames: sample-frames vs ffmpeg to JPEG vs decoding every frame", "frames"
        ):
            return
        d = self.data["frames"]
        c = d["config"]
        self.out(
            f"{c['width']}x{c['height']}, {c['fps']} fps, {c['seconds']:g} s, H.264; min of "
            f"{c['repeats']} runs; {d['ffmpeg']}.",
            "",
        )
        names = list(next(iter(d["gops"].values()))["rows"])
        rows = []
        for name in names:
            rows.append(
                [name, *(d["gops"][g]["rows"].get(name, {}).get("min_s") for g in d["gops"])]
            )
        for key in ("full_step_vs_decoding_every_frame", "ffmpeg_vs_full_step"):
            rows.append(
                [
                    f"ratio {key.replace('_', ' ')}",
                    *(d["gops"][g]["ratios"].get(key) for g in d["gops"]),
                ]
            )
        gops = [f"GOP {g} ({d['gops'][g]['keyframes']} keyframes), s" for g in d["gops"]]
        self.table(["", *gops], rows)

        def draw(fig: Any) -> None:
            ax = fig.add_subplot(1, 1, 1)
            width = 0.8 / len(d["gops"])
            for i, g in enumerate(d["gops"]):
                vals = [d["gops"][g]["rows"].get(n, {}).get("min_s", 0) for n in names]
                ax.barh([j + i * width for j in range(len(names))], vals, width, label=f"GOP {g}")
            ax.set_yticks(
                [j + width / 2 for j in range(len(names))], [n[:45] for n in names], fontsize=7
            )
            ax.set_xlabel("seconds per video (min)")
            ax.legend(fontsize=7)

        self.figure("frames", draw, "frames", "frames: seconds per video per method")

    def attention(self) -> None:
        if not self.section("Attention: capture vs eager output_attentions vs SDPA", "attention"):
            return
        d = self.data["attention"]
        c = d["config"]
        self.out(
            f"{c['layers']} decoder layer(s), hidden {c['hidden_size']}, MLP "
            f"{c['intermediate_size']}, {c['num_attention_heads']} heads / "
            f"{c['num_key_value_heads']} KV heads, {c['dtype']}, CPU; each mode and length "
            "in its own process; memory = the forward's extra peak RSS."
            + (f" Failed: {', '.join(d['failed'])}." if d["failed"] else ""),
            "",
        )
        runs = {(r["mode"], r["tokens"]): r for r in d["runs"]}
        lengths = sorted({r["tokens"] for r in d["runs"]})
        rows = []
        for n in lengths:
            row: list[Any] = [n]
            for mode in ("sdpa", "capture", "eager"):
                r = runs.get((mode, n))
                row += (
                    [round(r["seconds"], 2), round(r["peak_extra_bytes"] / 2**30, 3)]
                    if r
                    else [None, None]
                )
            cap_r, eag, sdp = (runs.get((m, n)) for m in ("capture", "eager", "sdpa"))
            row.append(
                round(eag["peak_extra_bytes"] / max(cap_r["peak_extra_bytes"], 1), 1)
                if cap_r and eag
                else None
            )
            row.append(round(cap_r["seconds"] / sdp["seconds"], 2) if cap_r and sdp else None)
            rows.append(row)
        self.table(
            [
                "tokens",
                "SDPA s",
                "SDPA GiB",
                "capture s",
                "capture GiB",
                "eager s",
                "eager GiB",
                "eager / capture memory",
                "capture / SDPA time",
            ],
            rows,
        )

        def draw(fig: Any) -> None:
            for k, (key, label) in enumerate(
                (("peak_extra_bytes", "peak extra GiB"), ("seconds", "seconds"))
            ):
                ax = fig.add_subplot(1, 2, k + 1)
                for mode in ("sdpa", "capture", "eager"):
                    pts = [(n, runs[mode, n][key]) for n in lengths if (mode, n) in runs]
                    scale = 2**30 if key == "peak_extra_bytes" else 1
                    ax.plot([p[0] for p in pts], [p[1] / scale for p in pts], "o-", label=mode)
                ax.set_xlabel("tokens")
                ax.set_ylabel(label)
                ax.legend(fontsize=7)

        self.figure("attention", draw, "attention", "attention: memory and time vs tokens")

    def grounding(self) -> None:
        if not self.section("Grounding: both engines, per variant", "grounding"):
            return
        d = self.data["grounding"]
        stage_shape = STAGES["grounding"].full[1]
        for shape, entry in d.get("shapes", {}).items():
            c = entry["config"]
            self.out(
                f"Shape `{shape}`: {c['videos']} video(s), {c['mllm_frames']} MLLM frames, "
                f"{', '.join(c['llm'])}, {c['dtype']} on {c['device']}.",
                "",
            )
            if shape != stage_shape:  # not part of make bench: run by hand, kept in the JSON
                made = entry.get("command") or (
                    f"python benchmarks/bench_grounding.py --shape {shape} --out "
                    "results/benchmarks/grounding.json"
                )
                when = entry.get("date") or d.get("date", "")
                took = f"; {entry['wall_s']} s" if "wall_s" in entry else ""
                self.out(f"_Made separately by `{made}`, {when}{took}._", "")
            eng = entry["engines"]
            rows = []
            for v in eng["reference"]["variants"]:
                ref, fast = eng["reference"]["variants"][v], eng["fast"]["variants"].get(v, {})
                speed = (
                    round(ref["s_per_video"] / fast["s_per_video"], 2)
                    if fast.get("s_per_video")
                    else None
                )
                rows.append(
                    [
                        v,
                        ref["s_per_video"],
                        fast.get("s_per_video"),
                        speed,
                        ref["forward_equivalents"],
                        fast.get("forward_equivalents"),
                    ]
                )
            self.table(
                [
                    "variant",
                    "reference s/video",
                    "fast s/video",
                    "reference / fast",
                    "reference fwd-eq",
                    "fast fwd-eq",
                ],
                rows,
            )
            for e in ("reference", "fast"):
                if "table2_job" in eng[e]:
                    j = eng[e]["table2_job"]
                    self.out(
                        f"- {e}: Table 2's six variants in one job: "
                        f"{j['forward_equivalents']} forward-equivalents per video = "
                        f"{j['vs_full']}x `full` alone."
                    )
            self.out("")

    def decompose(self) -> None:
        if not self.section("Decomposition: cached and uncached", "decompose"):
            return
        d = self.data["decompose"]
        c = d["config"]
        self.table(
            ["run", "queries", "seconds", "server floor s", "vs floor", "requests"],
            [
                [
                    f"uncached, {c['latency_ms']:g} ms latency, concurrency {c['concurrency']}",
                    c["n"],
                    d["uncached"]["seconds"],
                    d["uncached"]["floor_s"],
                    d["uncached"]["vs_floor"],
                    d["uncached"]["requests"],
                ],
                [
                    "same queries again (cache)",
                    c["n"],
                    d["second_pass"]["seconds"],
                    None,
                    None,
                    d["second_pass"]["requests"],
                ],
                [
                    "cached",
                    d["cached"]["n"],
                    d["cached"]["seconds"],
                    None,
                    None,
                    d["cached"]["requests"],
                ],
                *(
                    [["never seen, offline (fallback)", o["n"], o["seconds"], None, None, 0]]
                    if (o := d.get("offline_uncached"))
                    else []
                ),
            ],
        )

    def hot_paths(self) -> None:
        """The profiled hot paths and their fixes, with before/after figures
        (benchmarks/hot_paths.md, kept by hand: a "before" cannot be re-measured after the fix)."""
        notes = Path(__file__).with_name("hot_paths.md")
        self.out("## Hot paths: profiled and fixed", "", notes.read_text().strip(), "")

    def evaluate(self) -> None:
        if not self.section("Evaluation: `zstvg evaluate` per protocol", "evaluate"):
            return
        d = self.data["evaluate"]
        reps = d["config"].get("repeats", 1)
        self.out(
            f"{d['config']['n']} samples ({d['config']['input_mb']} MB of JSON); the whole "
            f"command as a subprocess (reading, scoring, writing), the fastest of {reps} "
            "run(s); CPU counts both processes (a predictions file this large is read in a "
            "second one while the samples file is read).",
            "",
        )
        self.table(
            ["protocol", "wall s", "CPU s"],
            [[p, v["seconds"], v["cpu_s"]] for p, v in d["protocols"].items()],
        )
        if "phases_s" in d:
            ph = d["phases_s"]
            parse = ph["parse samples (orjson)"] + ph["parse predictions (orjson)"]
            check = ph["read + check samples"] + ph["read + check predictions"] - parse
            self.out(
                "Where the time goes, phase by phase one after the other in one process "
                "(tubedetr; the command overlaps the two reads; the rest of its wall time is "
                "Python's start, imports and writing the outputs): "
                f"parsing the JSON into Python objects {parse:.2f} s (the floor of any reader "
                f"of these files), checking it and making the arrays {check:.2f} s, scoring "
                f"{ph['score']:.2f} s.",
                "",
            )
            self.table(["phase", "s"], [[k, v] for k, v in ph.items()])

    def workflow(self) -> None:
        if not self.section("Workflow: DAG build and Snakemake's cost per job", "workflow"):
            return
        d = self.data["workflow"]
        dag, job = d["dag"], d["per_job"]
        self.table(
            ["", "figure"],
            [
                [f"paper matrix, samples {dag['samples']}: jobs", dag["jobs"]],
                ["DAG build (snakemake -n), s", dag["seconds"]],
                ["DAG build per job, ms", dag["ms_per_job"]],
                [f"{job['jobs']} no-op jobs, --cores 1, s", job["run_n_jobs_s"]],
                ["1 no-op job (start-up), s", job["run_1_job_s"]],
                ["Snakemake's overhead per job, s", job["overhead_s_per_job"]],
                ["the job's own command, s", job["shell_s_per_job"]],
            ],
        )

    def probe_layers(self) -> None:
        if not self.section("probe-layers: memory and time", "probe_layers"):
            return
        d = self.data["probe_layers"]
        c, steps = d["config"], d["steps"]
        att, lay = steps["probe-attention"], steps["probe-layers"]
        a, b = c["layer_range"]
        self.out(
            f"One sample, the same {c['frames']} frames ({c['frame_size'][1]} x "
            f"{c['frame_size'][0]}, {att['tokens']:,} tokens), shape `{c['shape']}` "
            f"({', '.join(c['llm'])}, {c['dtype']}, {c['device']}, range [{a}, {b})); each "
            "step in its own process after the model's load and one warm-up forward. "
            "probe-attention: `probe_sample` (one forward, head-averaged rows of the range); "
            "probe-layers: `_Prober.sample` (two forwards with `per_head=True`, then "
            f"`probe_scores` on {lay['n_tracks']} tracks). Extra = peak RSS minus RSS right "
            "before the sample (heap trimmed first).",
            "",
        )
        r = d["ratios"]
        self.table(
            ["step", "peak extra GiB", "peak total GiB", "s per sample"],
            [
                ["probe-attention", att["peak_extra_gib"], att["peak_total_gib"], att["seconds"]],
                ["probe-layers", lay["peak_extra_gib"], lay["peak_total_gib"], lay["seconds"]],
                ["probe-layers / probe-attention", f"{r['extra']}x", f"{r['total']}x",
                 f"{r['seconds']}x"],
            ],
        )  # fmt: skip
        self.out(
            f"probe-layers' forwards: {lay['forwards_s']} s, peak extra "
            f"{lay['forwards_peak_extra_gib']} GiB; its scoring: {lay['scoring_s']} s, peak extra "
            f"{lay['scoring_peak_extra_gib']} GiB. The per-head rows themselves: "
            f"{lay['per_head_rows_mib']} MiB (both texts).",
            "",
        )

    def scaling(self) -> None:
        if not self.section("Scaling: seconds and peak memory per video", "scaling"):
            return
        d = self.data["scaling"]
        units = {
            "frames": "MLLM frames",
            "tracks": "tracks",
            "length": "video seconds",
            "tokens": "visual tokens",
        }
        rows = []
        for axis, pts in d["axes"].items():
            for what, key in (("seconds", "seconds"), ("peak", "peak_extra_mib")):
                fit = linearity([(_x(axis, p), p[key]) for p in pts])
                values = ", ".join(f"{_x(axis, p)}: {p[key]}" for p in pts)
                rows.append(
                    [
                        units[axis],
                        "seconds" if what == "seconds" else "peak MiB",
                        values,
                        f"{fit['slope']:.3g}",
                        fit["r2"],
                        fit["segment_slope_ratio"],
                        fit["verdict"],
                        _why(axis, what, fit["verdict"]),
                    ]
                )
        self.out(
            "`ground --variant full` for frames, tracks and tokens (seconds: the faster of "
            "2 videos' total_s, read from their run records `records/<sample>.run.json`, "
            "the first of a job carrying one-time costs; 20 frames "
            "at 2,000 tokens is one run shown on both axes); `sample-frames`' decoding and "
            "JPEG writing "
            "for the video length. Peak: the measured call's extra resident memory. "
            "Verdict: linear when the last segment's slope is within 1.5x of the first's; "
            "flat when the range is under 10% of the mean.",
            "",
        )
        self.table(
            [
                "axis",
                "figure",
                "points (x: y)",
                "slope per unit",
                "R^2",
                "last / first segment slope",
                "verdict",
                "why not linear",
            ],
            rows,
        )

        def draw(fig: Any) -> None:
            axes = list(d["axes"].items())
            for k, (axis, pts) in enumerate(axes):
                ax = fig.add_subplot(1, len(axes), k + 1)
                xs = [_x(axis, p) for p in pts]
                ax.plot(xs, [p["seconds"] for p in pts], "o-", color="C0")
                ax.set_xlabel(units[axis])
                ax.set_ylabel("s / video", color="C0", fontsize=7)
                ax2 = ax.twinx()
                ax2.plot(xs, [p["peak_extra_mib"] for p in pts], "s--", color="C1")
                ax2.set_ylabel("peak extra MiB", color="C1", fontsize=7)
                ax.tick_params(labelsize=7)
                ax2.tick_params(labelsize=7)

        self.figure("scaling", draw, "scaling", "scaling curves")

    def longjob(self) -> None:
        if not self.section("Memory over a long job", "longjob"):
            return
        d = self.data["longjob"]
        r = d["rss"]
        verdict = "flat" if r["flat"] else "growing"
        self.out(
            f"One `zstvg ground --variant full` over {d['config']['videos']} synthetic videos "
            f"({d['wall_s']} s, {d['n_failed']} failed), RSS read from /proc every 20 ms and "
            f"kept every {d['config']['every']} videos: **{verdict}** (slope "
            f"{r['slope_mib_per_100_videos']} MiB per 100 videos, growth over the job "
            f"{r['growth_mib']} MiB vs noise {r['noise_mib']} MiB, mean {r['mean_mib']} "
            "MiB).",
            "",
        )
        self.table(
            ["videos", "RSS MiB", "peak MiB", "s"],
            [[s["videos"], s["rss_mib"], s["peak_mib"], s["t_s"]] for s in d["samples"]],
        )

        def draw(fig: Any) -> None:
            ax = fig.add_subplot(1, 1, 1)
            xs = [s["videos"] for s in d["samples"]]
            ax.plot(xs, [s["rss_mib"] for s in d["samples"]], "o-", label="RSS")
            ax.plot(xs, [s["peak_mib"] for s in d["samples"]], "s--", label="peak RSS")
            ax.set_xlabel("videos done")
            ax.set_ylabel("MiB")
            ax.legend(fontsize=7)

        self.figure("longjob", draw, "longjob", "RSS over a 200-video ground job")

    def gpu(self) -> None:
        st = self.run["stages"].get("gpu", {})
        self.out("## GPU: real shapes", "", self.provenance("gpu"), "")
        d = self.data.get("gpu")
        if not d or d.get("dry_run"):
            dry = " (the CPU dry run with tiny widths passed)" if d else ""
            self.out(
                f"{NO_GPU}{dry}; `python benchmarks/bench_gpu.py` is ready (LLaVA-OV-7B and "
                "Qwen2-VL-7B in bf16 with random weights, Grounding DINO-T + SAM 2.1-hiera-T "
                f"on 20 s 720p videos; < 10 minutes on one H200). Status: "
                f"{st.get('status', 'not run')}.",
                "",
            )
            return
        self.out(f"{d['gpu']}.", "")
        self.table(
            [
                "model",
                "visual tokens",
                "vision s",
                "forward s",
                "LRA step s",
                "gti s",
                "full s",
                "peak GiB (LRA)",
            ],
            [
                [
                    m,
                    r["visual_tokens"],
                    r["vision_s"],
                    r["forward_s"],
                    r["lra_step_s"],
                    r["gti_s"],
                    r["full_s"],
                    r["peak_gib"]["lra"],
                ]
                for m, r in d["mllm"].items()
            ],
        )
        props = (d.get("proposals") or {}).get("runs", [])
        self.table(
            ["tracker", "seconds per 20 s video", "CUDA peak MiB"],
            [[r["tracker"], round(r["seconds"], 2), r["cuda_peak_mib"]] for r in props],
        )

    def runtimes(self) -> None:
        self.out("## Run times", "")
        stages = self.run["stages"]
        self.table(
            ["stage", "status", "wall s", "command"],
            [[n, s["status"], s["wall_s"], f"`{s['command']}`"] for n, s in stages.items()],
        )
        self.out(f"Total: {sum(s['wall_s'] for s in stages.values()):.0f} s.", "")

    def write(self) -> Path:
        self.header()
        self.targets()
        for part in (
            self.frames,
            self.attention,
            self.grounding,
            self.probe_layers,
            self.decompose,
            self.evaluate,
            self.workflow,
            self.scaling,
            self.longjob,
            self.gpu,
            self.hot_paths,
            self.runtimes,
        ):
            part()
        self.md.parent.mkdir(parents=True, exist_ok=True)
        self.md.write_text("\n".join(self.lines).rstrip() + "\n")
        return self.md


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a test, not a measurement")
    ap.add_argument("--stages", nargs="+", choices=list(STAGES), default=list(STAGES))
    ap.add_argument("--report-only", action="store_true", help="render the report from the JSONs")
    ap.add_argument("--results", default="results/benchmarks", help="stage JSON folder")
    ap.add_argument("--report", default="docs/performance.md", help="Markdown report to write")
    ap.add_argument(
        "--timeout", type=float, default=None, help="seconds per stage (default 1200, quick 300)"
    )
    args = ap.parse_args()
    results = Path(args.results)
    if not args.report_only:
        results.mkdir(parents=True, exist_ok=True)
        index = results / "run_all.json"
        run = json.loads(index.read_text()) if index.is_file() else {}
        if run.get("quick") != args.quick:  # a quick run's stages never mix with full ones
            run = {}
        run.update(quick=args.quick, date=time.strftime("%Y-%m-%d"))
        run.setdefault("stages", {})
        host = machine()
        timeout = args.timeout or (300 if args.quick else 1200)
        for name in args.stages:
            run["stages"][name] = run_stage(name, results, args.quick, timeout, host)
            index.write_text(json.dumps(run, indent=1) + "\n")
    path = Report(results, Path(args.report)).write()
    print(f"wrote {path}")
    failed = [
        n
        for n, s in json.loads((results / "run_all.json").read_text())["stages"].items()
        if s["status"] not in ("ok", NO_GPU)
    ]
    if failed:
        print(f"failed stages: {', '.join(failed)} (see {results}/<stage>.log)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
