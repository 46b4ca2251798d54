"""DVC stages over the workflow: real `dvc repro` in a scratch git repository."""

from __future__ import annotations

import json

import pytest
import yaml
from wf_helpers import make_workdir, run, tiny_params

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def dvc_repo(tmp_path_factory):
    work = make_workdir(tmp_path_factory.mktemp("dvc") / "repo", tiny_params())
    run(["git", "init", "-q"], work)
    run(["git", "config", "user.email", "ci@example.invalid"], work)
    run(["git", "config", "user.name", "ci"], work)
    run(["dvc", "init", "-q"], work)
    run(["git", "add", "-A"], work)
    run(["git", "commit", "-qm", "init"], work)
    run(["dvc", "repro", "frames"], work)
    return work


def test_repro_builds_the_chain_and_locks_params(dvc_repo):
    lock = yaml.safe_load((dvc_repo / "dvc.lock").read_text())
    assert {"synthetic", "samples", "frames"} <= set(lock["stages"])
    assert lock["stages"]["frames"]["params"]["params.yaml"]["frames"]["n_mllm_frames"] == 4
    manifest = json.loads((dvc_repo / "results/frames/synthetic/manifest.json").read_text())
    assert manifest["n_videos"] == 2 and manifest["n_videos_failed"] == 0


def test_second_repro_is_up_to_date_and_a_param_change_invalidates_only_its_stage(dvc_repo):
    out = run(["dvc", "repro", "frames"], dvc_repo).stdout
    assert "didn't change, skipping" in out and "Running stage" not in out
    params = yaml.safe_load((dvc_repo / "params.yaml").read_text())
    params["frames"]["n_mllm_frames"] = 6
    (dvc_repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = json.loads(run(["dvc", "status", "--json", "frames"], dvc_repo).stdout)
    assert set(status) == {"frames"}  # synthetic and samples do not read `frames`


def test_a_rerun_at_a_new_commit_leaves_the_stages_after_it_up_to_date(dvc_repo):
    """The sidecars hold only what decides an output (the git revision goes to a .run.json
    that .dvcignore skips): a stage rerun at another commit rewrites the same bytes, so the
    stages after it stay up to date."""
    run(["dvc", "repro", "frames"], dvc_repo)  # up to date, whatever the tests above changed
    (dvc_repo / "NOTES.md").write_text("a commit that touches no stage dependency\n")
    run(["git", "add", "-A"], dvc_repo)
    run(["git", "commit", "-qm", "notes"], dvc_repo)
    assert json.loads(run(["dvc", "status", "--json", "frames"], dvc_repo).stdout) == {}
    run(["dvc", "repro", "--force", "--single-item", "samples"], dvc_repo)
    run_record = dvc_repo / "results/samples/synthetic.jsonl.provenance.run.json"
    assert json.loads(run_record.read_text())["git_revision"]
    # frames depends on results/samples: the rerun rewrote the same bytes
    assert json.loads(run(["dvc", "status", "--json", "frames"], dvc_repo).stdout) == {}
