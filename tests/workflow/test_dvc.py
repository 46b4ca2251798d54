"""DVC stages over the workflow: real `dvc repro` in a scratch git repository.

One repository for the module (a repro of the first three stages costs about a minute): the
built-in synthetic dataset (a stage output) and "toy", a copy of it standing in for a real
dataset under data/ (`dvc add data/toy`, as README.md says for HC-STVG and VidSTG). The tests
run in order and each leaves the repository up to date.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil

import pytest
import yaml
from wf_helpers import REPO, make_workdir, run, tiny_params

pytestmark = pytest.mark.workflow

TOY_ANNOTATIONS = "data/toy/annotations/test_v2.json"
SYNTHETIC_ANNOTATIONS = "results/synthetic/annotations/test_v2.json"


def _params() -> dict:
    raw = tiny_params()
    toy = copy.deepcopy(raw["datasets"]["synthetic"])
    for key in ("annotations", "videos", "decompositions", "proposals"):
        toy[key] = toy[key].replace("results/synthetic", "data/toy")
    raw["datasets"]["toy"] = toy
    raw["run"]["datasets"] = ["synthetic", "toy"]
    return raw


def _status(repo, *targets: str) -> dict:
    return json.loads(run(["dvc", "status", "--json", *targets], repo).stdout)


def _edit_first_query(annotations: bytes, query: str = "The edited query.") -> str:
    entries = json.loads(annotations)
    next(iter(entries.values()))["English"] = query
    return json.dumps(entries)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def dvc_repo(tmp_path_factory):
    work = make_workdir(tmp_path_factory.mktemp("dvc") / "repo", _params())
    run(["git", "init", "-q"], work)
    run(["git", "config", "user.email", "ci@example.invalid"], work)
    run(["git", "config", "user.name", "ci"], work)
    run(["dvc", "init", "-q"], work)
    # the project's DVC config: its demo remote is ../zstvg-dvc-remote, beside this scratch repo
    shutil.copy(REPO / ".dvc" / "config", work / ".dvc" / "config")
    # results/ and .snakemake/ stay out of git as in the project: a clone has neither
    shutil.copy(REPO / ".gitignore", work / ".gitignore")
    run(["zstvg", "make-synthetic", "--params", "params.yaml", "--out", "data/toy"], work)
    run(["dvc", "add", "-q", "data/toy"], work)
    run(["git", "add", "-A"], work)
    run(["git", "commit", "-qm", "init"], work)
    run(["dvc", "repro", "frames"], work)
    run(["git", "add", "-A"], work)
    run(["git", "commit", "-qm", "repro"], work)
    return work


def test_repro_builds_the_chain_and_locks_params_and_raw_inputs(dvc_repo):
    lock = yaml.safe_load((dvc_repo / "dvc.lock").read_text())
    per_dataset = {f"{stage}@{d}" for stage in ("samples", "frames") for d in ("synthetic", "toy")}
    assert {"inputs", "synthetic", *per_dataset} <= set(lock["stages"])
    assert lock["stages"]["frames@toy"]["params"]["params.yaml"]["frames"]["n_mllm_frames"] == 4
    assert {"data", "checkpoints"} <= {d["path"] for d in lock["stages"]["inputs"]["deps"]}
    fingerprints = {
        d: json.loads((dvc_repo / f"results/inputs/datasets/{d}.json").read_text())
        for d in ("synthetic", "toy")
    }
    toy = (dvc_repo / TOY_ANNOTATIONS).read_bytes()
    assert fingerprints["toy"]["annotations"] == {
        "path": TOY_ANNOTATIONS, "size": len(toy), "sha256": hashlib.sha256(toy).hexdigest()
    }  # fmt: skip
    assert fingerprints["synthetic"]["videos"]["kind"] == "stage output"
    for dataset in ("synthetic", "toy"):
        manifest = json.loads((dvc_repo / f"results/frames/{dataset}/manifest.json").read_text())
        assert manifest["n_videos"] == 2 and manifest["n_videos_failed"] == 0


def test_an_edited_raw_annotation_file_reaches_the_stage_that_reads_it(dvc_repo):
    """data/ is a dependency of `inputs`, whose fingerprints of each dataset `run` selects
    are the dependency of that dataset's stages; the restored file leaves everything up to
    date again."""
    file = dvc_repo / TOY_ANNOTATIONS
    original = file.read_bytes()
    file.write_text(_edit_first_query(original))
    status = _status(dvc_repo, "--with-deps", "samples")
    assert status["inputs"] == [{"changed deps": {"data": "modified"}}]
    assert status["data/toy.dvc"] == [{"changed outs": {"data/toy": "modified"}}]
    run(["dvc", "repro", "--single-item", "inputs"], dvc_repo)
    changed = {"results/inputs/datasets/toy.json": "modified"}
    assert _status(dvc_repo, "samples") == {"samples@toy": [{"changed deps": changed}]}
    file.write_bytes(original)
    run(["dvc", "repro", "--single-item", "inputs"], dvc_repo)
    assert _status(dvc_repo, "samples") == {}


def test_a_caption_edit_reruns_only_that_datasets_stages_and_decodes_no_video(dvc_repo):
    """The stages are per dataset and the frames persist across a stage rerun: sample-frames
    resumes both videos by their content fingerprint. (A query no earlier test wrote: DVC's
    run cache would restore a stage run before instead of running it.)"""
    file = dvc_repo / TOY_ANNOTATIONS
    original = file.read_bytes()
    file.write_text(_edit_first_query(original, "A caption fix."))
    out = run(["dvc", "repro", "frames"], dvc_repo).stdout
    ran = set(re.findall(r"Running stage '([^']+)'", out))
    assert ran == {"inputs", "samples@toy", "frames@toy"}
    assert "sample-frames: 2 videos (2 ok, 0 failed, 2 already done)" in out
    file.write_bytes(original)
    run(["dvc", "repro", "frames"], dvc_repo)
    assert _status(dvc_repo, "frames") == {}


def test_a_change_run_does_not_select_stops_at_the_inputs_stage(dvc_repo):
    """A new dataset under data/ and new weights under checkpoints/ rerun `inputs`, which
    rewrites the same fingerprints: no stage that reads raw files reruns (DVC would delete
    and recompute their whole phase)."""
    (dvc_repo / "data" / "other").mkdir()
    (dvc_repo / "data" / "other" / "test.json").write_text("{}")
    (dvc_repo / "checkpoints" / "other-model").mkdir()
    (dvc_repo / "checkpoints" / "other-model" / "config.json").write_text("{}")
    assert set(_status(dvc_repo, "--with-deps", "frames")) == {"inputs"}
    out = run(["dvc", "repro", "frames"], dvc_repo).stdout
    assert "Running stage 'inputs'" in out and out.count("Running stage") == 1
    shutil.rmtree(dvc_repo / "data" / "other")
    shutil.rmtree(dvc_repo / "checkpoints" / "other-model")
    run(["dvc", "repro", "--single-item", "inputs"], dvc_repo)


def test_an_edited_synthetic_annotation_file_changes_samples(dvc_repo):
    """The built-in dataset is the `synthetic` stage's output, a direct dependency (of every
    dataset's stages: DVC's foreach lists the same dependencies for each)."""
    file = dvc_repo / SYNTHETIC_ANNOTATIONS
    original = file.read_bytes()
    file.write_text(_edit_first_query(original))
    changed = [{"changed deps": {"results/synthetic": "modified"}}]
    assert _status(dvc_repo, "samples")["samples@synthetic"] == changed
    file.write_bytes(original)
    assert _status(dvc_repo, "samples") == {}


def test_second_repro_is_up_to_date_and_a_param_change_invalidates_only_its_stage(dvc_repo):
    out = run(["dvc", "repro", "frames"], dvc_repo).stdout
    assert "didn't change, skipping" in out and "Running stage" not in out
    params = yaml.safe_load((dvc_repo / "params.yaml").read_text())
    params["frames"]["n_mllm_frames"] = 6
    (dvc_repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # synthetic, samples: no `frames` key
    assert set(_status(dvc_repo, "frames")) == {"frames@synthetic", "frames@toy"}


def test_a_rerun_at_a_new_commit_leaves_the_stages_after_it_up_to_date(dvc_repo):
    """The sidecars hold only what decides an output (the git revision goes to a .run.json
    that .dvcignore skips, fingerprints hold no mtime): a stage rerun at another commit rewrites
    the same bytes, so the stages after it stay up to date."""
    run(["dvc", "repro", "frames"], dvc_repo)  # up to date, whatever the tests above changed
    (dvc_repo / "NOTES.md").write_text("a commit that touches no stage dependency\n")
    run(["git", "add", "-A"], dvc_repo)
    run(["git", "commit", "-qm", "notes"], dvc_repo)
    assert _status(dvc_repo, "frames") == {}
    run(["dvc", "repro", "--force", "--single-item", "samples"], dvc_repo)
    run_record = dvc_repo / "results/samples/toy.jsonl.provenance.run.json"
    assert json.loads(run_record.read_text())["git_revision"]
    # frames depends on results/samples: the rerun rewrote the same bytes
    assert _status(dvc_repo, "frames") == {}
    out = run(["dvc", "repro", "frames"], dvc_repo).stdout
    assert "Running stage" not in out


def test_push_then_pull_restores_outputs_and_raw_data_from_the_demo_remote(dvc_repo):
    remote = dvc_repo.parent / "zstvg-dvc-remote"
    kept = ["results/frames/toy/manifest.json", "results/samples/synthetic.jsonl", TOY_ANNOTATIONS]
    before = {p: _sha(dvc_repo / p) for p in kept}
    run(["dvc", "push"], dvc_repo)
    assert remote.is_dir()
    for path in ("results/synthetic", "results/samples", "results/frames", "data/toy"):
        shutil.rmtree(dvc_repo / path)
    shutil.rmtree(dvc_repo / ".dvc" / "cache")
    # --with-deps: only these stages ran (a plain `dvc pull` wants every stage's outputs)
    run(["dvc", "pull", "--with-deps", "frames"], dvc_repo)
    assert {p: _sha(dvc_repo / p) for p in kept} == before
    assert _status(dvc_repo, "frames", "data/toy.dvc") == {}


def test_a_fresh_clone_pulls_outputs_that_both_tools_take_as_up_to_date(dvc_repo):
    """A clone has no .snakemake/ records and its pulled files carry the pull's mtimes, in no
    order: `make pull` (dvc pull, then Snakemake's --touch --forceall, in DAG order, which also
    records each job) leaves Snakemake nothing to do, and DVC too; a params edit after it still
    reruns its jobs (the records hold the params)."""
    run(["dvc", "push"], dvc_repo)
    clone = dvc_repo.parent / "clone"  # beside the repo: the same ../zstvg-dvc-remote
    run(["git", "clone", "-q", str(dvc_repo), str(clone)], dvc_repo.parent)
    run(["dvc", "pull", "--with-deps", "frames"], clone)
    (clone / "results/samples/toy.jsonl").touch()  # pulled last: the order is the pull's
    assert "sample_frames" in run(["snakemake", "-n", "phase_frames"], clone).stdout
    touch = ["snakemake", "--touch", "--forceall", "--cores", "1", "--quiet", "rules", "--"]
    run([*touch, "phase_frames"], clone)
    assert "Nothing to be done" in run(["snakemake", "-n", "phase_frames"], clone).stdout
    assert _status(clone, "frames", "data/toy.dvc") == {}
    params = clone / "params.yaml"
    params.write_text(params.read_text().replace("jpeg_quality: 95", "jpeg_quality: 90"))
    assert "sample_frames" in run(["snakemake", "-n", "phase_frames"], clone).stdout


def test_exp_run_with_a_set_param_reruns_only_the_stages_that_read_it(dvc_repo):
    out = run(["dvc", "exp", "run", "frames", "-S", "frames.jpeg_quality=90"], dvc_repo).stdout
    assert "Running stage 'frames@synthetic'" in out and "Running stage 'frames@toy'" in out
    for stage in ("inputs", "synthetic", "samples@synthetic", "samples@toy"):  # no `frames` key
        assert f"Running stage '{stage}'" not in out
        assert f"Stage '{stage}' didn't change, skipping" in out
    lock = yaml.safe_load((dvc_repo / "dvc.lock").read_text())
    for dataset in ("synthetic", "toy"):
        frames = lock["stages"][f"frames@{dataset}"]["params"]["params.yaml"]["frames"]
        assert frames["jpeg_quality"] == 90


def test_dvc_set_param_rewrites_only_the_set_line_of_params_yaml(tmp_path):
    """`dvc exp run -S` writes params.yaml back through DVC's round-trip YAML (ruamel, 80
    columns), which re-emits every value: the file's layout is the one it emits, so comments
    and layout survive and only the set line changes."""
    from dvc.utils.serialize import modify_yaml

    original = (REPO / "params.yaml").read_text()
    copy_path = tmp_path / "params.yaml"
    copy_path.write_text(original)
    with modify_yaml(str(copy_path)) as params:
        params["frames"]["jpeg_quality"] = 90
    changed = [
        (old, new)
        for old, new in zip(original.splitlines(), copy_path.read_text().splitlines(), strict=True)
        if old != new
    ]
    assert [new for _, new in changed] == [
        "  jpeg_quality: 90  # stored frames are JPEG files named by native frame index"
    ]


def test_the_committed_dvc_lock_matches_the_stages_code_and_params(tmp_path):
    """dvc.lock is `make dvc-lock`'s record of the demo pipeline: a stage whose command, code,
    raw inputs or params.yaml keys changed since, or a stage no longer in dvc.yaml, fails here
    (its outputs are not built here: each stage's outputs, and the other stages' outputs it
    reads, show as deleted)."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    work = make_workdir(tmp_path / "lock", params)
    shutil.copy(REPO / "dvc.lock", work / "dvc.lock")
    run(["git", "init", "-q"], work)
    run(["dvc", "init", "-q"], work)
    drift = {}
    for stage, entries in _status(work).items():
        for entry in entries:
            changes = entry if isinstance(entry, dict) else {entry: None}
            for kind, change in changes.items():
                if kind == "changed outs":
                    continue
                if kind == "changed deps":
                    change = {p: s for p, s in change.items() if s != "deleted"}
                if change or change is None:
                    drift.setdefault(stage, {})[kind] = change
    assert drift == {}, "dvc.lock is stale: run `make dvc-lock` and commit dvc.lock"
    stages = run(["dvc", "stage", "list", "--name-only"], work).stdout.split()
    locked = yaml.safe_load((work / "dvc.lock").read_text())["stages"]
    assert sorted(locked) == sorted(stages), "dvc.lock holds other stages: run `make dvc-lock`"


def test_a_clone_that_pulled_the_demo_has_nothing_to_do(demo_dir, tmp_path):
    """The demo's outputs, recorded as the DVC stages' outputs (`dvc commit`: what is there, no
    run) and pushed to a local remote; a fresh clone pulls them with `make pull`'s two commands
    (dvc pull, then Snakemake's --touch in DAG order), after which neither `snakemake -n demo`
    nor `dvc status` has anything to do (the pulled files' mtimes alone planned the demo's GPU
    work again before)."""
    repo = tmp_path / "repo"
    shutil.copytree(demo_dir, repo, symlinks=True, ignore=shutil.ignore_patterns(".snakemake"))
    shutil.copy(REPO / ".gitignore", repo / ".gitignore")  # results/ and .snakemake/ stay out
    run(["git", "init", "-q"], repo)
    run(["git", "config", "user.email", "ci@example.invalid"], repo)
    run(["git", "config", "user.name", "ci"], repo)
    run(["dvc", "init", "-q"], repo)
    run(["dvc", "remote", "add", "-q", "-d", "local", str(tmp_path / "remote")], repo)
    run(["dvc", "repro", "-q", "--single-item", "inputs"], repo)  # the raw inputs' fingerprints
    run(["dvc", "commit", "-q", "-f"], repo)
    assert _status(repo) == {}
    run(["dvc", "push", "-q"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "the demo"], repo)

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    run(["dvc", "pull", "-q"], clone)
    assert "ground_shard" in run(["snakemake", "-n", "demo"], clone).stdout  # the mtimes
    run(["snakemake", "--touch", "--forceall", "--cores", "1", "--quiet", "rules", "--", "demo"],
        clone)  # fmt: skip
    dry = run(["snakemake", "-n", "demo"], clone)
    assert "Nothing to be done" in dry.stdout + dry.stderr
    assert _status(clone) == {}
