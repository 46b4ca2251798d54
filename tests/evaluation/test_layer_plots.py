"""``zstvg plot --layers``: the layer/head probe's figures from ``layers.json`` reports."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from PIL import Image

from zstvg.cli import main
from zstvg.evaluation.layer_plots import best_cell, read_layer_report
from zstvg.files.io import InputError

L, H = 4, 3


def _report() -> dict:
    heads = {
        "pointing": [[0.1, 0.2, 0.3], [0.4, 0.9, 0.5], [0.2, None, 0.1], [0.0, 0.3, 0.6]],
        "mass": [[0.05, 0.1, 0.1], [0.2, 0.3, 0.25], [0.1, None, 0.0], [0.0, 0.1, 0.4]],
        "track": [[0.5, 0.5, 0.6], [0.7, 1.0, 0.8], [0.4, None, 0.3], [0.2, 0.5, 0.9]],
    }
    layers = {
        m: [None if all(v is None for v in row) else float(np.nanmean(np.array(row, float)))
            for row in rows]
        for m, rows in heads.items()
    }  # fmt: skip
    return {
        "model": "tiny-qwen2-vl", "backend": "qwen2-vl", "dataset": "synthetic",
        "n_layers": L, "n_heads": H, "n_samples": 8, "n_scored": 7, "n_failed": 1,
        "metrics": {"pointing": "the map's peak inside the GT box on GT frames",
                    "mass": "attention mass inside the GT box on GT frames",
                    "track": "the map alone picks the GT's track (the method's track score)"},
        "heads": heads,
        "layers": layers,
        "default": {"layers": [0, 2], "pointing": 0.4, "mass": 0.2, "track": 0.5},
        "chosen": {"layers": [1, 3], "heads": [1], "pointing": 0.7, "mass": 0.3, "track": 0.9},
    }  # fmt: skip


def _plot(repo_root, out, *reports) -> int:
    argv = ["plot", "--params", str(repo_root / "params.yaml"), "--layers", *map(str, reports),
            "--out", str(out)]  # fmt: skip
    return main(argv)


def test_plot_layers_writes_the_heat_maps_and_the_curve(tmp_path, repo_root, capsys):
    (tmp_path / "layers.json").write_text(json.dumps(_report()))
    out = tmp_path / "fig"
    assert _plot(repo_root, out, tmp_path / "layers.json") == 0
    for suffix in ("heads", "curve"):
        img = Image.open(out / f"layers_synthetic_tiny-qwen2-vl_{suffix}.png")
        assert img.format == "PNG" and img.width > 400 and img.height > 250
        # Not blank: a colour map, curves and text make many distinct colours.
        assert len(np.unique(np.asarray(img.convert("RGB")).reshape(-1, 3), axis=0)) > 50
    printed = capsys.readouterr().out
    assert "2 figure(s)" in printed
    assert "layers_synthetic_tiny-qwen2-vl_heads.png" in printed
    assert "layers_synthetic_tiny-qwen2-vl_curve.png" in printed


def test_a_wrong_shaped_heads_metric_is_named_and_nothing_is_drawn(tmp_path, repo_root, capsys):
    bad = _report()
    bad["heads"]["track"] = bad["heads"]["track"][:3]  # 3 layers of the report's 4
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    out = tmp_path / "fig"
    assert _plot(repo_root, out, tmp_path / "bad.json") == 2
    err = capsys.readouterr().err  # the CLI logs to stderr (its own handler)
    assert "bad.json: field heads.track: expected 4 rows (n_layers)" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda r: r["heads"]["mass"][1].pop(), "heads.mass[1]"),
        (lambda r: r["heads"]["pointing"][0].__setitem__(2, 1.5), "heads.pointing[0][2]"),
        (lambda r: r["layers"]["track"].pop(), "layers.track"),
        (lambda r: r["layers"].pop("mass"), "layers"),
        (lambda r: r["chosen"].__setitem__("layers", [3, 5]), "chosen.layers"),
        (lambda r: r["default"].__setitem__("layers", [2, 2]), "default.layers"),
        (lambda r: r["chosen"].__setitem__("heads", [3]), "chosen.heads"),
        (lambda r: r.__setitem__("n_heads", True), "n_heads"),
        (lambda r: r.pop("dataset"), "'dataset'"),
    ],
)
def test_bad_reports_name_the_file_and_the_field(tmp_path, edit, field):
    report = copy.deepcopy(_report())
    edit(report)
    (tmp_path / "layers.json").write_text(json.dumps(report))
    with pytest.raises(InputError, match="layers.json: ") as exc:
        read_layer_report(tmp_path / "layers.json")
    assert field in str(exc.value)


def test_two_reports_of_one_dataset_and_model_are_refused(tmp_path, repo_root, capsys):
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps(_report()))
    assert _plot(repo_root, tmp_path / "fig", tmp_path / "a.json", tmp_path / "b.json") == 2
    assert "would write the same figures" in capsys.readouterr().err


def test_the_best_cell_skips_nulls_and_takes_the_first_of_a_tie():
    grid = np.array([[0.2, np.nan], [0.7, 0.7]])
    assert best_cell(grid) == (1, 0)
    assert best_cell(np.full((2, 2), np.nan)) is None


def test_a_tie_goes_to_the_better_cell_of_the_next_metrics():
    track = np.array([[1.0, 0.0], [0.0, 1.0]])  # (0, 0) and (1, 1) tie
    pointing = np.array([[0.2, 0.9], [0.9, 0.8]])  # (1, 1) points better
    assert best_cell(track, [pointing]) == (1, 1)
    even = np.array([[0.5, 0.0], [0.0, 0.5]])  # still tied: the next grid, then row-major
    assert best_cell(track, [even, np.array([[0.1, 0.0], [0.0, 0.3]])]) == (1, 1)
    assert best_cell(track, [even, even]) == (0, 0)
