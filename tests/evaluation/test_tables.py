from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import yaml

from zstvg.cli import main
from zstvg.evaluation.tables import build_tables, load_reference, parse_result
from zstvg.files.io import InputError


def metrics(dataset, backend, variant, v, protocol="tubedetr"):
    met = {"m_vIoU": v, "vIoU@0.3": v, "vIoU@0.5": v / 2, "m_tIoU": 0.4, "gt_vIoU": 0.5}
    m = {
        "protocol": protocol,
        "dataset": dataset,
        "backend": backend,
        "variant": variant,
        "n_samples": 4,
        "n_missing": 0,
        "n_failed": 0,
    }
    if dataset == "vidstg":
        m["declarative"] = {"n_samples": 2, "n_missing": 0, "n_failed": 0, **met}
        m["interrogative"] = {"n_samples": 2, "n_missing": 0, "n_failed": 0, **met}
    else:
        m.update(met)
    return m


def test_reference_records_the_printed_numbers():
    ref = load_reference()
    rows = {(r["method"], r["backend"]): r for r in ref["table1"]["rows"]}
    assert rows[("full", "llava-ov")]["hcstvg-v1"] == {
        "m_vIoU": 24.8,
        "vIoU@0.3": 41.5,
        "vIoU@0.5": 16.3,
    }
    assert rows[("full", "llava-next-video")]["vidstg-declarative"]["vIoU@0.3"] == 26.8
    t2 = {r["variant"]: r for r in ref["table2"]["rows"]}
    assert t2["baseline-mean-special"]["llava-next-video"]["m_vIoU"] == 15.2
    assert t2["gti+temporal"]["llava-ov"] == {"m_vIoU": 23.8, "vIoU@0.3": 39.7, "vIoU@0.5": 15.5}
    # Table 1's full rows and Table 2's full rows are the same experiment.
    for backend in ("llava-next-video", "llava-ov"):
        assert rows[("full", backend)]["hcstvg-v1"] == t2["full"][backend]


def test_table1_paper_vs_ours_and_difference():
    results = [
        parse_result("a.json", metrics("hcstvg-v1", "llava-ov", "full", 0.25)),
        parse_result("b.json", metrics("vidstg", "llava-ov", "full", 0.2)),
        parse_result("c.json", metrics("hcstvg-v1", "llava-ov", "full", 0.9, "seed")),
    ]
    t1 = build_tables(results, load_reference(), protocol="tubedetr", ablation_dataset="hcstvg-v1")[
        "table1"
    ]
    rows = t1.set_index("source")
    assert rows.loc["ours", "HCSTVG-v1 m_vIoU"] == 25.0
    assert rows.loc["paper", "HCSTVG-v1 m_vIoU"] == 24.8
    assert rows.loc["ours - paper", "HCSTVG-v1 m_vIoU"] == pytest.approx(0.2)
    assert rows.loc["ours", "VidSTG interr. vIoU@0.5"] == 10.0
    assert math.isnan(rows.loc["paper", "VidSTG interr. m_vIoU"])  # not in the paper's text


def test_table2_rows_follow_the_ablation_order_and_sweeps_parse():
    results = [
        parse_result(f"{v}.json", metrics("hcstvg-v1", "llava-ov", v, 0.2))
        for v in ("full", "gti", "baseline-mean-special")
    ]
    results += [
        parse_result(f"s{n}.json", metrics("hcstvg-v1", "llava-ov", f"full@n_frames={n}", n / 100))
        for n in (16, 8, 32)
    ]
    t = build_tables(results, None, protocol="tubedetr", ablation_dataset="hcstvg-v1")
    assert list(t["table2"].variant) == ["baseline-mean-special", "gti", "full"]
    assert list(t["sweeps"].value) == ["8", "16", "32"]
    assert list(t["sweeps"].m_vIoU) == [8.0, 16.0, 32.0]


def test_duplicate_cells_and_bad_files_are_errors():
    a = parse_result("a.json", metrics("hcstvg-v1", "llava-ov", "full", 0.2))
    b = parse_result("b.json", metrics("hcstvg-v1", "llava-ov", "full", 0.3))
    with pytest.raises(InputError, match="a.json and b.json"):
        build_tables([a, b], None, protocol="tubedetr", ablation_dataset="hcstvg-v1")
    with pytest.raises(InputError, match="x.json: not a metrics file: missing key 'backend'"):
        parse_result("x.json", {"protocol": "p", "dataset": "d", "variant": "v"})


def test_tables_command_writes_markdown_latex_csv(tmp_path, capsys, repo_root):
    for i, v in enumerate(("full", "gti")):
        (tmp_path / f"m{i}.json").write_text(json.dumps(metrics("synthetic", "tiny", v, 0.1)))
    out = tmp_path / "tables"
    rc = main(
        [
            "tables",
            "--params",
            str(repo_root / "params.yaml"),
            "--metrics",
            str(tmp_path),
            "--out",
            str(out),
            "--ablation-dataset",
            "synthetic",
        ]
    )
    assert rc == 0
    tex = (out / "table2.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex and "m\\_vIoU" in tex
    md = (out / "table1.md").read_text()
    assert "| full" in md and "10.0" in md and "nan" not in md
    assert (out / "table2.csv").read_text().splitlines()[0].startswith("variant,source")
    # The report's copy: the same Markdown as an HTML table, numbers right-aligned.
    html = (out / "table1.html").read_text()
    assert '<td style="text-align:right">10.0</td>' in html and "<th" in html
    assert "Table 2" in capsys.readouterr().out


def test_table7_pivots_the_learning_rate_x_iterations_grid():
    results = [
        parse_result(f"{lr}-{n}.json", metrics("hcstvg-v1", "llava-ov", f"full@lr={lr},n_steps={n}",
                                               lr / 100 + n / 1000))
        for lr in (8.0, 4.0) for n in (2, 1)
    ]  # fmt: skip
    results.append(parse_result("k.json", metrics("hcstvg-v1", "llava-ov", "full@k_frames=5", 0.1)))
    t = build_tables(results, None, protocol="tubedetr", ablation_dataset="hcstvg-v1")
    t7 = t["table7"]
    assert list(t7.lr) == [4.0, 8.0]  # rows: learning rate, ascending
    assert list(t7.columns[-2:]) == ["N=1 m_vIoU", "N=2 m_vIoU"]
    assert list(t7["N=2 m_vIoU"]) == [4.2, 8.2]  # 100 * (lr / 100 + 2 / 1000), one decimal
    # a two-key point is the grid's, never a Fig. 6 sweep row; a one-key point is a sweep row
    assert list(t["sweeps"].param) == ["k_frames"]


def test_tables_follow_the_configured_viou_thresholds(tmp_path, repo_root, params_raw):
    """`evaluate.viou_thresholds: [0.3, 0.4]`: a vIoU@0.4 column with our numbers, none for 0.5;
    the paper's row fills only what it printed (m_vIoU, @0.3) and leaves @0.4 empty."""
    params_raw["evaluate"]["viou_thresholds"] = [0.3, 0.4]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params_raw))
    m = metrics("hcstvg-v1", "llava-ov", "full", 0.25)
    del m["vIoU@0.5"]
    m["vIoU@0.4"] = 0.125  # what `zstvg evaluate` writes at these thresholds
    (tmp_path / "m").mkdir()
    (tmp_path / "m/full.json").write_text(json.dumps(m))
    out = tmp_path / "tables"
    argv = ["tables", "--params", str(tmp_path / "params.yaml"), "--metrics", str(tmp_path / "m"),
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    t1 = pd.read_csv(out / "table1.csv").set_index("source")
    assert [c for c in t1.columns if "vIoU@" in c] == ["HCSTVG-v1 vIoU@0.3", "HCSTVG-v1 vIoU@0.4"]
    assert t1.loc["ours", "HCSTVG-v1 vIoU@0.4"] == 12.5
    assert t1.loc["paper", "HCSTVG-v1 vIoU@0.3"] == 41.5  # the published full / llava-ov
    assert math.isnan(t1.loc["paper", "HCSTVG-v1 vIoU@0.4"])
    assert t1.loc["ours - paper", "HCSTVG-v1 m_vIoU"] == pytest.approx(0.2)
    t2 = pd.read_csv(out / "table2.csv")
    assert "llava-ov vIoU@0.4" in t2.columns and "llava-ov vIoU@0.5" not in t2.columns
    assert "m_vIoU / vIoU@0.3 / vIoU@0.4 (%)" in (out / "table1.md").read_text()
