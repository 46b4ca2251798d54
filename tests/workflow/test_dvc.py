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
    assert {"synthetic", "samples", "frames"} <= set(lock["stages"])
    assert lock["stages"]["frames"]["params"]["params.yaml"]["frames"]["n_mllm_frames"] == 4
    assert "data" in {d["path"] for d in lock["stages"]["samples"]["deps"]}
    for dataset in ("synthetic", "toy"):
        manifest = json.loads((dvc_repo / f"results/frames/{dataset}/manifest.json").read_text())
        assert manifest["n_videos"] == 2 and manifest["n_videos_failed"] == 0


def test_an_edited_annotation_file_changes_the_stage_that_reads_it(dvc_repo):
    """The raw annotations of a `dvc add`ed dataset under data/ and those of the synthetic
    dataset (a stage output) are both dependencies of `samples`."""
    for path, dep in ((TOY_ANNOTATIONS, "data"), (SYNTHETIC_ANNOTATIONS, "results/synthetic")):
        file = dvc_repo / path
        original = file.read_bytes()
        entries = json.loads(original)
        next(iter(entries.values()))["English"] = "The edited query."
        file.write_text(json.dumps(entries))
        status = _status(dvc_repo, "samples")
        assert status["samples"] == [{"changed deps": {dep: "modified"}}]
        file.write_bytes(original)
        assert _status(dvc_repo, "samples") == {}


def test_second_repro_is_up_to_date_and_a_param_change_invalidates_only_its_stage(dvc_repo):
    out = run(["dvc", "repro", "frames"], dvc_repo).stdout
    assert "didn't change, skipping" in out and "Running stage" not in out
    params = yaml.safe_load((dvc_repo / "params.yaml").read_text())
    params["frames"]["n_mllm_frames"] = 6
    (dvc_repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert set(_status(dvc_repo, "frames")) == {"frames"}  # synthetic, samples: no `frames` key


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


def test_exp_run_with_a_set_param_reruns_only_the_stages_that_read_it(dvc_repo):
    out = run(["dvc", "exp", "run", "frames", "-S", "frames.jpeg_quality=90"], dvc_repo).stdout
    assert "Running stage 'frames'" in out
    for stage in ("synthetic", "samples"):  # they read no `frames` key
        assert f"Running stage '{stage}'" not in out
        assert f"Stage '{stage}' didn't change, skipping" in out
    lock = yaml.safe_load((dvc_repo / "dvc.lock").read_text())
    assert lock["stages"]["frames"]["params"]["params.yaml"]["frames"]["jpeg_quality"] == 90
