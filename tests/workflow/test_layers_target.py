"""`snakemake layers` (issue 27) on the tiny synthetic benchmark: a held-out split, probe-layers,
choose-layers, the figures and the Table 2-style rows, for the planted-head backend (its answer
is known: layer 5, head 2; a real tiny backend's probe: tests/grounding/test_probe_layers.py)."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from wf_helpers import copy_outputs, make_workdir, run, tiny_params


@pytest.fixture(scope="module")
def layers_dir(seed_dir, tmp_path_factory):
    params = tiny_params()
    params["run"].update(models=["planted-head"], protocols=["tubedetr"])
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
    table = pd.read_csv(base / "planted-head/layers_table.csv")
    assert table["protocol"].tolist() == ["tubedetr", "tubedetr"]
    assert table["range"].tolist() == ["default", "chosen"]
    assert (table["n_samples"] == 1).all()
    figures = sorted(p.name for p in (base / "planted-head/figures").glob("*.png"))
    assert figures == ["layers_synthetic_planted-head_curve.png",
                       "layers_synthetic_planted-head_heads.png"]  # fmt: skip
    rows = table.set_index("range")
    # the planted layer picks the GT's track on the rest; the default range (noise) did not
    assert rows.loc["chosen", "m_vIoU"] > rows.loc["default", "m_vIoU"]


def test_a_rerun_of_the_layers_target_is_a_no_op(layers_dir):
    out = run(["snakemake", "--cores", "2", "-n", "layers"], layers_dir).stdout
    assert "Nothing to be done" in out


def test_the_html_report_holds_the_layer_figures_and_tables(layers_dir):
    run(["snakemake", "--report", "report.html", "layers"], layers_dir)
    html = (layers_dir / "report.html").read_text(encoding="utf-8", errors="replace")
    assert "layers_synthetic_planted-head_heads.png" in html
    assert "layers_synthetic_planted-head_curve.png" in html
    assert "layers_table.html" in html and "Layers" in html
