"""A job-wide failure stops the workflow: a checkpoint without its weights fails the ground
job (exit 2, the file named) and no table is written from it, instead of every sample failing
and the tables filling with zeros."""

from __future__ import annotations

import pytest
from wf_helpers import copy_outputs, make_workdir, run, tiny_params

pytestmark = pytest.mark.workflow

TABLE = "results/tables/tubedetr/table1.md"


def test_a_checkpoint_without_weights_stops_the_run(tmp_path, seed_dir):
    params = tiny_params()
    params["run"].update(models=["tiny-qwen2-vl"], variants=["gti"], experiments=[])
    work = make_workdir(tmp_path / "w", params)
    copy_outputs(seed_dir, work, ["results/synthetic", "results/samples",
                                  "results/checkpoints/tiny-qwen2-vl"])  # fmt: skip
    weights = work / "results/checkpoints/tiny-qwen2-vl/model.safetensors"
    weights.unlink()
    proc = run(["snakemake", "--cores", "1", TABLE], work, check=False)
    assert proc.returncode != 0
    log = "".join(p.read_text() for p in (work / "results/logs").rglob("ground*.log"))
    assert "results/checkpoints/tiny-qwen2-vl: cannot load the qwen2-vl model" in log
    assert "model.safetensors" in log
    assert not (work / TABLE).exists()
    assert not (work / "results/predictions/synthetic/tiny-qwen2-vl/gti.json").exists()
