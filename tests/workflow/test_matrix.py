"""The experiment matrix in the workflow: one table cell rebuilt alone gives the full run's
bytes, and editing one experiment's sweep reruns only the cells that changed."""

from __future__ import annotations

import re

import pytest
import yaml
from wf_helpers import copy_outputs, make_workdir, run, tiny_params

from zstvg.files.provenance import is_sidecar

pytestmark = pytest.mark.workflow

CELL = "results/metrics/synthetic/attention-oracle/full@k_frames=3/tubedetr.json"


@pytest.fixture(scope="module")
def one_cell(tmp_path_factory, demo_dir, seed_dir):
    work = make_workdir(tmp_path_factory.mktemp("cell") / "w", tiny_params())
    copy_outputs(seed_dir, work, ["results/synthetic", "results/samples"])
    run(["snakemake", "--cores", "2", CELL], work)
    return work


def test_one_cell_rebuilds_alone_with_the_full_runs_bytes(one_cell, demo_dir):
    predictions = "results/predictions/synthetic/attention-oracle/full@k_frames=3.json"
    for path in (CELL, CELL.replace(".json", ".per_sample.csv"), predictions):
        assert (one_cell / path).read_bytes() == (demo_dir / path).read_bytes(), path
    # nothing but that cell's own chain ran: no other setting, model or table
    grounding = sorted(p.name for p in (one_cell / "results/grounding/synthetic").iterdir())
    assert grounding == ["attention-oracle@k_frames=3"]
    metrics = (one_cell / "results/metrics/synthetic").rglob("*.json")
    assert [p.name for p in metrics if not is_sidecar(p)] == ["tubedetr.json"]
    assert not (one_cell / "results/tables").exists()
    assert not (one_cell / "results/checkpoints").exists()  # the oracle has no weights


def test_editing_one_sweep_reruns_only_its_new_points(one_cell):
    params = yaml.safe_load((one_cell / "params.yaml").read_text())
    params["experiments"]["demo-k"]["sweep"]["ground.k_frames"] = [3, 5]  # 9 -> 5
    (one_cell / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    targets = [CELL, CELL.replace("k_frames=3", "k_frames=5")]
    dry = run(["snakemake", "-n", "--cores", "1", *targets], one_cell).stdout
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", dry, flags=re.M))
    assert jobs["ground_shard"] == jobs["ground"] == jobs["evaluate"] == "1"
    # the built cell stays as it is: no job of its setting
    assert "setting=@k_frames=5" in dry and "setting=@k_frames=3" not in dry
