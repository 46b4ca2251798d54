"""The workflow through its SLURM profile on a real (local, single-node) SLURM.

Run by `make test-slurm` (tools/slurm-local.sh brings the cluster up and down); skipped where no
SLURM controller answers, so `make test` does not need one. Every Snakemake call has a hard
timeout that kills its whole process group: the executor plugin must never hang a test run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess

import pytest
from test_gpu_slots import SNAKEFILE, overlapping_pairs_share_no_device
from wf_helpers import BIN, REPO, make_workdir, tiny_params

pytestmark = pytest.mark.slurm


def _cluster_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    proc = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
    return proc.returncode == 0 and "UP" in proc.stdout


skip_without_slurm = pytest.mark.skipif(
    not _cluster_up(), reason="no SLURM controller answers (tools/slurm-local.sh up)"
)


def _snakemake(args: list[str], cwd, timeout: float) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    proc = subprocess.Popen([str(BIN / "snakemake"), *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        subprocess.run(["scancel", "--user", str(os.getuid())], check=False)
        pytest.fail(f"snakemake through SLURM hung past {timeout} s:\n{out[-4000:]}")
    if proc.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} exited {proc.returncode}:\n{out[-6000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


@skip_without_slurm
def test_concurrent_gpu_jobs_get_distinct_devices_from_slurm(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    shutil.copytree(REPO / "profiles", tmp_path / "profiles")
    _snakemake(["--workflow-profile", "slurm", "--jobs", "4"], tmp_path, timeout=300)
    jobs = []
    for f in sorted((tmp_path / "out").glob("*.json")):
        job = json.loads(f.read_text())
        job["t_end"] = job["t_start"] + 2
        jobs.append(job)
    assert len(jobs) == 4
    assert {j["cuda_visible_devices"] for j in jobs} <= {"0", "1"}  # set by SLURM, not by us
    overlapping_pairs_share_no_device(jobs)


@skip_without_slurm
def test_tiny_workflow_runs_through_the_slurm_profile(tmp_path):
    params = tiny_params()
    params["run"]["variants"] = ["gti"]
    work = make_workdir(tmp_path / "w", params)
    targets = [f"results/predictions/synthetic/{m}/gti.json"
               for m in ("tiny-qwen2-vl", "attention-oracle")]  # fmt: skip
    # The rules ask for what real data needs (ground: 64 GB); this node has less.
    small = [f"{rule}:mem_mb=2000" for rule in ("ground_shard", "propose", "probe_attention",
                                                 "sample_frames")]  # fmt: skip
    _snakemake(["--workflow-profile", "slurm", "--set-resources", *small, "--", *targets], work,
               timeout=900)  # fmt: skip
    for t in targets:
        preds = json.loads((work / t).read_text())
        assert preds and all("error" not in p for p in preds.values()), t
    log = (work / "results/logs/synthetic/ground_tiny-qwen2-vl_0-of-1.log").read_text()
    assert "set by the scheduler" in log
    # Each SLURM job's own Snakemake parses the Snakefile again; the jobs read the merged config
    # their invocation wrote (its name travels in the environment), which every output names.
    (config,) = (work / "results/config").glob("*.yaml")
    named = {json.loads(p.read_text()).get("params_file")
             for p in (work / "results").rglob("*provenance.run.json")}  # fmt: skip
    assert named == {str(config.relative_to(work))}
