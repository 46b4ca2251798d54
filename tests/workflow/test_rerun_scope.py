"""What a job reads and what a change reruns.

Every job reads the merged config its own invocation planned with (results/config/<hash>.yaml,
written once, never rewritten), so no other Snakemake call can change it mid-run; and a params
edit reruns the jobs that read the edited key, not every job of the section it sits in.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from wf_helpers import BIN, copy_outputs, make_workdir, run, tiny_params

pytestmark = pytest.mark.workflow

# Six `evaluate` jobs of the demo: the proposal-only reference predictors and three variants.
EVALUATED = [
    f"results/metrics/synthetic/{cell}/tubedetr.json"
    for cell in ("reference/oracle", "reference/largest", "reference/random",
                 "tiny-qwen2-vl/gti", "tiny-qwen2-vl/full", "tiny-qwen2-vl/fixed-token")
]  # fmt: skip
# The rules that compute (decode, detect, track, probe, ground): the rest merge or format.
COMPUTE_RULES = {
    "make_synthetic", "prepare_data", "sample_frames_shard", "import_decompositions",
    "decompose", "import_proposals", "propose_shard", "propose_tiny_demo", "make_tiny_checkpoint",
    "probe_attention_shard", "ground_shard", "predict_reference", "evaluate",
}  # fmt: skip


def _planned_rules(work: Path, *args: str) -> dict[str, int]:
    """{rule: jobs} of a dry run (empty when there is nothing to do)."""
    proc = run(["snakemake", "-n", "--cores", "1", *args, "--quiet", "rules"], work)
    out = proc.stdout + proc.stderr
    if "Nothing to be done" in out:
        return {}
    counts: dict[str, int] = {}
    table = out.split("job", 1)[1].split("total", 1)[0]  # the "job  count" table
    for line in table.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    assert counts, out
    return counts


def _override(tmp_path: Path, text: str) -> str:
    path = tmp_path / f"override-{hashlib.sha256(text.encode()).hexdigest()[:8]}.yaml"
    path.write_text(text)
    return str(path)


def test_a_dry_run_with_other_overrides_leaves_a_running_workflow_alone(demo_dir, tmp_path):
    """Six `evaluate` jobs run one by one while `snakemake -n --configfile other.yaml` (other
    vIoU thresholds) and `snakemake --lint` run beside them: every output equals the demo's,
    made undisturbed, and each output's run record names the merged config it read."""
    work = make_workdir(tmp_path / "w", tiny_params())
    inputs = ["results/synthetic", "results/samples", "results/frames", "results/predictions"]
    copy_outputs(demo_dir, work, inputs)
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    # one job started every 3 s: the dry run (~3 s) ends while jobs are still to start
    cmd = ["snakemake", "--cores", "1", "--max-jobs-per-timespan", "1/3s", *EVALUATED]
    lint = main = subprocess.Popen(
        cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        logs = work / "results/logs"
        deadline = time.monotonic() + 300  # a hang guard: the first job starts in ~10 s
        while main.poll() is None and time.monotonic() < deadline:
            if logs.is_dir() and next(logs.rglob("evaluate_*.log"), None):
                break  # the first job runs: the others are still to start
            time.sleep(0.2)
        other = _override(tmp_path, "evaluate:\n  viou_thresholds: [0.3, 0.4]\n")
        lint = subprocess.Popen(
            ["snakemake", "--lint"], cwd=work, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        run(["snakemake", "-n", "--cores", "1", *EVALUATED, "--configfile", other], work)
        assert main.poll() is None, "the run ended before the dry run: nothing was tested"
        lint.wait(timeout=600)  # its findings are not the point here
        out, _ = main.communicate(timeout=600)
    finally:
        for proc in (main, lint):
            if proc.poll() is None:
                proc.kill()
    assert main.returncode == 0, out[-4000:]
    for rel in EVALUATED:
        for path in (rel, rel.replace(".json", ".per_sample.csv")):
            assert (work / path).read_bytes() == (demo_dir / path).read_bytes(), path
    for rel in EVALUATED:
        record = json.loads((work / (rel + ".provenance.run.json")).read_text())
        config = work / record["params_file"]
        assert config.parent == work / "results/config"
        assert hashlib.sha256(config.read_bytes()).hexdigest() == record["params_file_sha256"]
        assert yaml.safe_load(config.read_text())["evaluate"]["viou_thresholds"] == [0.3, 0.5]


def test_adding_a_model_that_run_does_not_select_reruns_nothing(demo_dir, tmp_path):
    entry = yaml.safe_load((demo_dir / "params.yaml").read_text())["models"]["tiny-qwen2-vl"]
    other = _override(tmp_path, yaml.safe_dump({"models": {"another-qwen": entry}}))
    assert _planned_rules(demo_dir, "demo", "--configfile", other) == {}


def test_changing_shards_reruns_no_compute_job(demo_dir, tmp_path):
    other = _override(tmp_path, "datasets:\n  synthetic:\n    shards: 2\n")
    planned = _planned_rules(demo_dir, "demo", "--configfile", other)
    assert not set(planned) & COMPUTE_RULES, planned


def _planned_outputs(work: Path, *args: str) -> set[str]:
    """The output files of every job a dry run plans."""
    out = run(["snakemake", "-n", "--cores", "1", *args], work).stdout
    return {
        path.strip()
        for line in out.splitlines()
        if line.startswith("    output: ")
        for path in line.removeprefix("    output: ").split(",")
    }


def test_ground_lr_reruns_only_the_variants_that_tune(demo_dir, tmp_path):
    """A new learning rate reruns the grounding job of each group with a variant that tunes,
    where the untuned variants' records are reused (test_snakemake's
    test_a_tuning_setting_recomputes_only_the_variants_that_tune), and no other computing job;
    the params of the untuned variants' predictions, and of the grid points that set their own
    learning rate, did not change."""
    other = _override(tmp_path, "ground:\n  lr: 3.0\n")
    planned = _planned_rules(demo_dir, "demo", "--configfile", other)
    assert set(planned) & COMPUTE_RULES == {"ground_shard", "evaluate"}, planned
    shards = {p for p in _planned_outputs(demo_dir, "demo", "--configfile", other)
              if "/shards/" in p}  # fmt: skip
    assert shards == {
        f"results/grounding/synthetic/{group}/shards/0-of-1.json"
        for group in ("tiny-qwen2-vl", "attention-oracle", "attention-oracle@k_frames=3",
                      "attention-oracle@k_frames=9")
    }  # fmt: skip
    # Only `ground` may rerun, so no shard job's rerun hides what else changed: the merges
    # whose params changed are those of the variants that tune, at the base learning rate.
    merged = _planned_outputs(demo_dir, "demo", "--configfile", other, "--allowed-rules", "ground")
    predictions = {p for p in merged if p.startswith("results/predictions/")}
    tuning = ("gti+spatial", "gti+temporal", "gti+dsth", "full", "vanilla-tuning", "gti+entropy",
              "gti+yesno")  # fmt: skip
    assert predictions == {
        *(f"results/predictions/synthetic/{m}/{v}.json" for m in ("tiny-qwen2-vl",
          "attention-oracle") for v in tuning),
        "results/predictions/synthetic/attention-oracle/full@k_frames=3.json",
        "results/predictions/synthetic/attention-oracle/full@k_frames=9.json",
    }  # fmt: skip
