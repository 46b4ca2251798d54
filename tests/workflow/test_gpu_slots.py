"""GPU slots (zstvg.jobs.gpus): concurrent GPU jobs of a local run each see their own device."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from wf_helpers import run

ZSTVG = [sys.executable, "-m", "zstvg.cli"]


def _start(lock_dir: Path, hold: float, env_extra: dict[str, str]) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env.update(env_extra)
    return subprocess.Popen([*ZSTVG, "devices", "--claim-gpu", str(lock_dir), "--hold",
                             str(hold)], env=env, stdout=subprocess.PIPE, text=True)  # fmt: skip


def overlapping_pairs_share_no_device(jobs: list[dict]) -> None:
    for a in jobs:
        for b in jobs:
            if a is not b and a["t_start"] < b["t_end"] and b["t_start"] < a["t_end"]:
                assert a["cuda_visible_devices"] != b["cuda_visible_devices"], (a, b)


def test_concurrent_jobs_get_distinct_devices_and_a_third_waits(tmp_path):
    procs = [_start(tmp_path / "slots", 1.5, {"ZSTVG_GPU_COUNT": "2"}) for _ in range(3)]
    jobs = []
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0
        job = json.loads(out)
        job["t_end"] = job["t_start"] + 1.5
        jobs.append(job)
    assert {j["cuda_visible_devices"] for j in jobs} == {"0", "1"}
    overlapping_pairs_share_no_device(jobs)
    starts = sorted(j["t_start"] for j in jobs)
    assert starts[2] - starts[0] >= 1.0  # the third waited for a slot


def test_a_killed_job_frees_its_slot(tmp_path):
    holder = _start(tmp_path / "slots", 60, {"ZSTVG_GPU_COUNT": "1"})
    assert json.loads(holder.stdout.readline())["cuda_visible_devices"] == "0"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    nxt = _start(tmp_path / "slots", 0, {"ZSTVG_GPU_COUNT": "1"})
    out, _ = nxt.communicate(timeout=30)
    assert json.loads(out)["cuda_visible_devices"] == "0"


def test_scheduler_assignment_and_no_gpu_are_kept(tmp_path):
    slurm = _start(tmp_path / "slots", 0, {"ZSTVG_GPU_COUNT": "2", "CUDA_VISIBLE_DEVICES": "3"})
    assert json.loads(slurm.communicate(timeout=30)[0])["cuda_visible_devices"] == "3"
    cpu = _start(tmp_path / "slots", 0, {"ZSTVG_GPU_COUNT": "0"})
    assert json.loads(cpu.communicate(timeout=30)[0])["cuda_visible_devices"] is None


SNAKEFILE = """
rule all:
    input:
        expand("out/{i}.json", i=range(4)),


rule gpu_job:
    output:
        "out/{i}.json",
    resources:
        gpu=1,
        mem_mb=500,
        runtime=5,
    shell:
        "zstvg devices --claim-gpu .snakemake/gpu-slots --hold 2 > {output}"
"""


def test_snakemake_gpu_jobs_see_distinct_devices(tmp_path, monkeypatch):
    """Four GPU jobs, two at a time (`--resources gpu=2`) on a two-GPU machine: the pool gives
    the two running ones different devices."""
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    monkeypatch.setenv("ZSTVG_GPU_COUNT", "2")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    run(["snakemake", "--cores", "4", "--resources", "gpu=2"], tmp_path)
    jobs = []
    for f in sorted((tmp_path / "out").glob("*.json")):
        job = json.loads(f.read_text())
        job["t_end"] = job["t_start"] + 2
        jobs.append(job)
    assert len(jobs) == 4 and {j["cuda_visible_devices"] for j in jobs} == {"0", "1"}
    overlapping_pairs_share_no_device(jobs)
