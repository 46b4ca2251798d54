"""The real workflow end to end on the 2-video synthetic benchmark."""

from __future__ import annotations

import json

import pytest
import yaml
from wf_helpers import make_workdir, run, tiny_params

pytestmark = pytest.mark.workflow


def test_demo_writes_summary_tables_and_figures(demo_dir):
    summary = (demo_dir / "results/demo/SUMMARY.md").read_text()
    assert "samples: **2**" in summary
    assert "table1" in summary and "table2" in summary
    assert "chance-level" in summary
    assert "attention (" in summary and "grounding token chosen" in summary
    assert list((demo_dir / "results/figures/tubedetr").glob("*.png"))


def test_oracle_on_exact_synthetic_proposals_scores_one(demo_dir):
    # The synthetic benchmark's released proposals contain the target's exact masks, and the
    # oracle uses the GT span: a correct evaluator must give exactly 1 on every metric.
    metrics = json.loads(
        (demo_dir / "results/metrics/synthetic/reference/oracle/tubedetr.json").read_text()
    )
    assert metrics["n_samples"] == 2 and metrics["n_failed"] == 0
    for key in ("m_vIoU", "m_tIoU", "vIoU@0.3", "vIoU@0.5", "gt_vIoU"):
        assert metrics[key] == pytest.approx(1.0), key


def test_real_detector_and_tracker_ran_on_one_video(demo_dir):
    manifest = json.loads(
        (demo_dir / "results/proposals/synthetic/tiny-demo/manifest.json").read_text()
    )
    assert len(manifest["videos"]) == 1


def test_rerun_is_a_no_op_and_params_change_reruns_only_dependents(demo_dir):
    dry = run(["snakemake", "-n", "--cores", "1", "demo"], demo_dir)
    assert "Nothing to be done" in dry.stdout + dry.stderr
    params = yaml.safe_load((demo_dir / "params.yaml").read_text())
    params["evaluate"]["viou_thresholds"] = [0.3, 0.5, 0.7]
    (demo_dir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        dry = run(["snakemake", "-n", "--cores", "1", "demo", "--quiet", "rules"], demo_dir)
        out = dry.stdout + dry.stderr
        assert "evaluate" in out and "sample_frames" not in out and "make_synthetic" not in out
    finally:
        params["evaluate"]["viou_thresholds"] = [0.3, 0.5]
        (demo_dir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_invalid_params_fail_before_any_job(tmp_path):
    params = tiny_params()
    params["frames"]["n_mllm_frames"] = "twenty"
    work = make_workdir(tmp_path / "bad", params)
    proc = run(["snakemake", "-n", "--cores", "1", "demo"], work, check=False)
    assert proc.returncode != 0
    assert "n_mllm_frames" in proc.stdout + proc.stderr
    assert not (work / "results").exists()


def test_html_report_embeds_tables_and_figures(demo_dir):
    run(["snakemake", "--report", "results/report.html", "demo"], demo_dir)
    html = (demo_dir / "results/report.html").read_text(errors="replace")
    assert "table1.csv" in html and "viou_hist.png" in html


@pytest.mark.parametrize("profile", ["default", "slurm"])
def test_profiles_parse_and_plan_the_full_run(demo_dir, profile):
    # A dry run validates the profile's keys against this Snakemake and its executor plugin
    # (the SLURM plugin is loaded, nothing is submitted).
    out = run(["snakemake", "-n", "--profile", f"workflow/profiles/{profile}", "all"], demo_dir)
    assert "This was a dry-run" in out.stdout + out.stderr
