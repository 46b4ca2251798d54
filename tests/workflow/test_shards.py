"""Shards: a dataset's grounding as N GPU jobs over stable subsets of its videos, merged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from wf_helpers import copy_outputs, make_workdir, run, tiny_params

from zstvg.jobs.shards import parse_shard, shard_of

pytestmark = pytest.mark.workflow

VARIANTS = ["gti", "full"]
TARGET = "results/predictions/synthetic/tiny-qwen2-vl/{}.json"
ATTENTION = "results/attention/synthetic/tiny-qwen2-vl/manifest.json"


def test_shards_partition_the_videos_stably():
    ids = [f"video_{i:04d}" for i in range(1000)]
    shards = [shard_of(v, 4) for v in ids]
    assert set(shards) == {0, 1, 2, 3}
    assert min(shards.count(i) for i in range(4)) > 200  # no shard starves (even ids)
    assert shards == [shard_of(v, 4) for v in ids]  # the same every time
    assert parse_shard("3/4") == (3, 4)
    for bad in ("4/4", "-1/4", "1", "a/b", "0/0"):
        with pytest.raises(ValueError, match="expected I/N"):
            parse_shard(bad)


@pytest.fixture(scope="module")
def sharded(tmp_path_factory, seed_dir):
    params = tiny_params()
    params["datasets"]["synthetic"]["shards"] = 2
    params["run"]["variants"] = VARIANTS
    work = make_workdir(tmp_path_factory.mktemp("shards") / "w", params)
    # samples.jsonl is not copied: `shards` is a dataset setting, prepare_data's param
    copy_outputs(seed_dir, work, ["results/synthetic", "results/checkpoints/tiny-qwen2-vl"])
    targets = [*[TARGET.format(v) for v in VARIANTS], ATTENTION]
    dry = run(["snakemake", "-n", "--cores", "1", *targets], work)
    run(["snakemake", "--cores", "2", *targets], work)
    return work, dry.stdout + dry.stderr


def test_dry_run_plans_every_shard_job(sharded):
    _, dry = sharded
    assert "ground_shard" in dry and "0-of-2" in dry and "1-of-2" in dry
    assert "probe_attention_shard" in dry and "sample_frames_shard" in dry


def test_frames_of_the_shards_equal_the_one_job_run(sharded, demo_dir):
    work, _ = sharded
    name = "results/frames/synthetic/manifest.json"
    merged, one = (json.loads((d / name).read_text()) for d in (work, demo_dir))
    assert merged["videos"] == one["videos"] and merged["samples"] == one["samples"]
    shards = [json.loads((work / f"results/frames/synthetic/shards/{i}-of-2.json").read_text())
              for i in range(2)]  # fmt: skip
    assert sorted(v for s in shards for v in s["videos"]) == sorted(one["videos"])


def test_merged_attention_probe_equals_the_one_job_run(sharded, demo_dir):
    work, _ = sharded
    merged = json.loads((work / ATTENTION).read_text())
    assert merged["samples"] == json.loads((demo_dir / ATTENTION).read_text())["samples"]
    rerun = run(["zstvg", "probe-attention", "--samples", "results/samples/synthetic.jsonl",
                 "--frames", "results/frames/synthetic/manifest.json", "--model",
                 "tiny-qwen2-vl", "--out", str(Path(ATTENTION).parent)], work)  # fmt: skip
    assert "2 samples, 0 failed, 2 already done" in rerun.stdout  # resumed per sample


def test_merged_shards_equal_the_one_job_run(sharded, demo_dir):
    work, _ = sharded
    for v in VARIANTS:
        merged = (work / TARGET.format(v)).read_bytes()
        assert merged == (demo_dir / TARGET.format(v)).read_bytes(), v
    shards = sorted((work / "results/grounding/synthetic/tiny-qwen2-vl/shards").glob("*-of-2.json"))
    assert [p.name for p in shards] == ["0-of-2.json", "1-of-2.json"]
    manifest = json.loads(
        (work / "results/grounding/synthetic/tiny-qwen2-vl/full/manifest.json").read_text()
    )
    assert manifest["n_samples"] == 2 and manifest["n_failed"] == 0
    assert manifest["n_samples"] == 2
    run_record = json.loads(
        (work / "results/grounding/synthetic/tiny-qwen2-vl/full/manifest.json.provenance.run.json")
        .read_text()
    )  # fmt: skip
    assert run_record["llm_calls"]["forwards"] > 0  # the shards' calls, summed


def test_a_killed_shard_reruns_alone(sharded):
    work, _ = sharded
    folder = work / "results/grounding/synthetic/tiny-qwen2-vl"
    shard = json.loads((folder / "shards/1-of-2.json").read_text())
    (sid,) = shard["variants"]["gti"]
    # killed mid-way: its manifest and one of its records never got written, nor the merge
    (folder / "shards/1-of-2.json").unlink()
    (folder / "gti/records" / f"{sid}.json").unlink()
    for v in VARIANTS:
        (work / TARGET.format(v)).unlink()
        (folder / v / "manifest.json").unlink()
    dry = run(["snakemake", "-n", "--cores", "1", TARGET.format("gti"), "--quiet", "rules"], work)
    out = dry.stdout + dry.stderr
    assert "ground_shard" in out and "sample_frames" not in out
    rerun = run(["snakemake", "--cores", "1", "--printshellcmds", TARGET.format("gti")], work)
    log = rerun.stdout + rerun.stderr
    assert "--shard 1/2" in log and "--shard 0/2" not in log
    assert (folder / "gti/records" / f"{sid}.json").is_file()
    # the full variant's record of that sample was kept: only gti's was recomputed
    (line,) = [x for x in log.splitlines() if x.startswith("ground shard 1/2")]
    assert "1 samples, 0 failed, 1 already done" in line


def test_merge_names_a_sample_its_shard_never_wrote(sharded, tmp_path):
    work, _ = sharded
    out = tmp_path / "g"
    args = ["zstvg", "ground", "--samples", "results/samples/synthetic.jsonl", "--frames",
            "results/frames/synthetic/manifest.json", "--proposals",
            "results/proposals/synthetic/released/manifest.json", "--decompositions",
            "results/decompositions/synthetic.jsonl", "--model", "tiny-qwen2-vl",
            "--variants", "gti", "--out", str(out)]  # fmt: skip
    run([*args, "--shard", "0/2"], work)
    run([*args, "--merge", "2"], work)
    preds = json.loads((out / "gti/predictions.json").read_text())
    failed = {k: p["error"] for k, p in preds.items() if "error" in p}
    assert len(preds) == 2 and len(failed) == 1
    assert next(iter(failed.values())) == "ground: no record of this job (its shard did not finish)"
    bad = run([*args, "--shard", "2/2"], work, check=False)
    assert bad.returncode == 2 and "expected I/N" in bad.stderr
