"""benchmarks/run_all.py: every stage at tiny sizes end to end, the report's sections and target
rows, and the analysis functions on hand-checkable numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import run_all  # noqa: E402

SECTIONS = ["## Targets", "## Frames", "## Attention", "## Grounding",
            "## probe-layers: memory and time", "## Decomposition",
            "## Evaluation", "## Workflow", "## Scaling", "## Memory over a long job",
            "## GPU: real shapes", "## Hot paths: profiled and fixed", "## Run times"]  # fmt: skip
TARGET_ROWS = ["full step / full step decoding every frame", "ffmpeg every frame / full step",
               "eager / capture peak memory", "capture / SDPA time", "grounding:",
               "probe-layers / probe-attention peak memory per sample",
               "10,000 cached queries", "10,303 samples, tubedetr", "10,303 samples, official",
               "10,303 samples, seed", "DAG build at paper scale", "RSS flat",
               "proposals per 20 s video", "gti per video, qwen2-vl-7b",
               "full per video, llava-ov-7b"]  # fmt: skip


@pytest.mark.bench
def test_quick_run_writes_every_stage_and_section(tmp_path):
    """~4 min on 2 busy cores (each stage imports torch in its own process); < 2 min idle."""
    res, md = tmp_path / "res", tmp_path / "docs" / "performance.md"
    cmd = [sys.executable, str(REPO / "benchmarks/run_all.py"), "--quick", "--results", str(res),
           "--report", str(md)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    logs = {p.name: p.read_text()[-1500:] for p in res.glob("*.log")}
    assert proc.returncode == 0, (proc.stdout[-3000:], logs)
    run = json.loads((res / "run_all.json").read_text())
    assert run["quick"] is True
    assert set(run["stages"]) == set(run_all.STAGES)
    for name, stage in run["stages"].items():
        assert stage["status"] == "ok", (name, logs.get(f"{name}.log"))
        assert stage["machine"]["cores"] >= 1 and stage["machine"]["cpu"]
        assert json.loads((res / f"{name}.json").read_text())
    text = md.read_text()
    for heading in SECTIONS:
        assert heading in text, heading
    targets = text.split("## Targets", 1)[1].split("\n## ", 1)[0]
    for row in TARGET_ROWS:
        assert row in targets, row
    # quick sizes are never reported as met
    assert "| met |" not in targets
    assert "not measured: no GPU lent" in text
    for fig in ("frames", "attention", "scaling", "longjob"):
        assert (md.parent / "performance" / f"{fig}.png").stat().st_size > 1000
        assert f"](performance/{fig}.png)" in text
    # every measured section says how it was made, on what, when
    assert text.count("_Made by `python benchmarks/bench_") == len(run_all.STAGES)
    # the report is rebuilt from the JSON files alone, identically
    md.unlink()
    rebuilt = subprocess.run([*cmd[:2], "--report-only", *cmd[3:]], cwd=REPO, timeout=120)
    assert rebuilt.returncode == 0 and md.read_text() == text


def test_linearity_verdicts():
    line = run_all.linearity([(1, 2.0), (2, 4.0), (4, 8.0)])
    assert line["verdict"] == "linear" and line["slope"] == pytest.approx(2.0)
    assert line["r2"] == 1.0 and line["growth"] == 4.0
    # y = x^2: the last segment's slope (16 - 4) / 2 = 6 is 2x the first's (4 - 1) / 1 = 3
    square = run_all.linearity([(1, 1.0), (2, 4.0), (4, 16.0)])
    assert square["verdict"] == "faster than linear" and square["segment_slope_ratio"] == 2.0
    assert run_all.linearity([(1, 10.0), (2, 10.5), (4, 10.2)])["verdict"] == "flat"
    assert run_all.linearity([(1, 9.0), (2, 5.0), (4, 1.0)])["verdict"] == "decreasing"
    assert run_all.linearity([(1, 4.0), (2, 6.0), (4, 7.0)])["verdict"] == "slower than linear"


def _decompose(n: int, seconds: float) -> dict:
    return {"config": {"cached_n": n}, "cached": {"seconds": seconds}}


def test_targets_met_gap_or_not_measured():
    def row(data: dict) -> dict:
        return next(t for t in run_all.targets(data) if "cached queries" in t["target"])

    assert row({"decompose": _decompose(10000, 3.2)})["status"] == "met"
    assert row({"decompose": _decompose(10000, 6.0)})["status"] == "gap: 6.0 vs < 5 s"
    assert row({"decompose": _decompose(200, 0.1)})["status"].startswith("not measured")
    assert row({})["status"] == "not run"
    gpu = next(t for t in run_all.targets({}) if "proposals" in t["target"])
    assert gpu["status"] == run_all.NO_GPU


def test_target_rows_compare_their_figure_only_at_the_goal_sizes():
    gop = {"ratios": {"full_step_vs_decoding_every_frame": 1.4, "ffmpeg_vs_full_step": None}}
    frames = {"config": {"width": 1280, "seconds": 20}, "gops": {"250": gop}}
    rows = {t["target"]: t for t in run_all.targets({"frames": frames})}
    assert rows["frames, GOP 250: full step / full step decoding every frame"]["status"] == (
        "gap: 1.4 vs <= 1.3x"
    )
    ffmpeg = rows["frames, GOP 250: ffmpeg every frame / full step"]
    assert ffmpeg["status"] == "not measured: ffmpeg missing"
    assert rows["frames, GOP 15: ffmpeg every frame / full step"]["status"] == "not run"
    frames["config"]["seconds"] = 2  # quick sizes: the figure is shown, not compared
    row = next(t for t in run_all.targets({"frames": frames}) if "GOP 250: full" in t["target"])
    assert row["measured"] == 1.4 and row["status"].startswith("not measured at 20 s 720p")

    def gti(gpu: dict) -> dict:
        rows = run_all.targets({"gpu": gpu})
        return next(t for t in rows if "gti per video, qwen2-vl-7b" in t["target"])

    tiny = {"dry_run": True, "mllm": {"qwen2-vl-7b": {"gti_s": 0.01, "full_s": 0.02}}}
    assert gti(tiny)["measured"] is None and gti(tiny)["status"] == run_all.NO_GPU
    tiny["dry_run"] = False
    assert gti(tiny)["measured"] == 0.01 and gti(tiny)["status"] == "met"


def test_bench_time_target_counts_only_a_full_run():
    every = {name: {"wall_s": 60.0} for name in run_all.STAGES}  # 10 stages x 1 min
    assert run_all.bench_time_target({"quick": False, "stages": every})["status"] == "met"
    slow = {name: {"wall_s": 180.0} for name in run_all.STAGES}  # 30 min
    assert run_all.bench_time_target({"stages": slow})["status"] == "gap: 30.0 vs < 20"
    some = {"frames": {"wall_s": 60.0}}
    assert run_all.bench_time_target({"stages": some})["status"].startswith("not measured")
    assert run_all.bench_time_target({"quick": True, "stages": every})["status"].startswith(
        "not measured"
    )
    assert run_all.bench_time_target({})["status"] == "not run"


def test_bench_gpu_help_on_cpu():
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks/bench_gpu.py"), "--help"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0 and "--dry-run" in proc.stdout
