"""`snakemake layers` (issue 27) on the tiny synthetic benchmark: a held-out split, probe-layers,
choose-layers, the figures and the Table 2-style rows, for the planted-head backend (its answer
is known: layer 5, head 2) and a tiny real Qwen2-VL."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from wf_helpers import copy_outputs, make_workdir, run, tiny_params


@pytest.fixture(scope="module")
def layers_dir(seed_dir, tmp_path_factory):
    params = tiny_params()
    params["run"]["models"] = ["tiny-qwen2-vl", "planted-head"]
    params["layers"].update(holdout_fraction=0.5, variants=["gti"])
    work = make_workdir(tmp_path_factory.mktemp("layers") / "w", params)
    copy_outputs(seed_dir, work, ["results/synthetic", "results/samples", "results/checkpoints"])
    run(["snakemake", "--cores", "2", "layers"], work, timeout=900)
    return work


def test_the_layers_target_finds_the_planted_layer_and_compares_the_ranges(layers_dir):
    base = layers_dir / "results/layers/synthetic"
    held = (base / "samples.held-out.jsonl").read_text().splitlines()
    rest = (base / "samples.rest.jsonl").read_text().splitlines()
    assert len(held) == len(rest) == 1  # 2 videos, half held out
    overlay = yaml.safe_load((base / "planted-head/overlay.yaml").read_text())
    a, b = overlay["models"]["planted-head"]["layers"]
    assert a <= 5 < b
    for model in ("planted-head", "tiny-qwen2-vl"):
        table = pd.read_csv(base / model / "layers_table.csv")
        assert sorted(table["protocol"].unique()) == ["official", "tubedetr"]
        assert sorted(table["range"]) == ["chosen", "chosen", "default", "default"]
        assert (table["n_samples"] == 1).all()
        figures = sorted(p.name for p in (base / model / "figures").glob("*.png"))
        assert figures == [f"layers_synthetic_{model}_curve.png",
                           f"layers_synthetic_{model}_heads.png"]  # fmt: skip
    planted = pd.read_csv(base / "planted-head/layers_table.csv").set_index(["protocol", "range"])
    # the planted layer picks the GT's track on the rest; the default range (noise) did not
    assert (
        planted.loc[("tubedetr", "chosen"), "m_vIoU"]
        > planted.loc[("tubedetr", "default"), "m_vIoU"]
    )


def test_a_rerun_of_the_layers_target_is_a_no_op(layers_dir):
    out = run(["snakemake", "--cores", "2", "-n", "layers"], layers_dir).stdout
    assert "Nothing to be done" in out


def test_the_html_report_holds_the_layer_figures_and_tables(layers_dir):
    run(["snakemake", "--report", "report.html", "layers"], layers_dir)
    html = (layers_dir / "report.html").read_text(encoding="utf-8", errors="replace")
    for model in ("planted-head", "tiny-qwen2-vl"):
        assert f"layers_synthetic_{model}_heads.png" in html
        assert f"layers_synthetic_{model}_curve.png" in html
    assert "layers_table.html" in html and "Layers" in html
