from __future__ import annotations

import json

import numpy as np
import pandas as pd
from PIL import Image

from zstvg.cli import main

VARIANTS = ("baseline-mean-special", "gti", "gti+spatial", "gti+temporal", "gti+dsth", "full")


def test_plot_writes_all_four_figures(tmp_path, repo_root, capsys):
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 1, 60)
    per = pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(60)],
            "tIoU": t,
            "vIoU": t * rng.uniform(0, 1, 60),
            "status": ["ok"] * 58 + ["missing", "failed"],
        }
    )
    per.to_csv(tmp_path / "per.csv", index=False)
    mdir = tmp_path / "metrics"
    mdir.mkdir()
    runs = [(v, b) for v in VARIANTS for b in ("llava-ov", "qwen2-vl")]
    runs += [(f"full@n_frames={n}", "llava-ov") for n in (4, 8, 16, 20, 32)]
    runs += [(f"full@tracker={k}", "llava-ov") for k in ("sam2-hf", "bytetrack", "botsort")]
    for i, (variant, backend) in enumerate(runs):
        v = 0.1 + 0.01 * i
        (mdir / f"{i}.json").write_text(
            json.dumps(
                {
                    "protocol": "tubedetr",
                    "dataset": "hcstvg-v1",
                    "backend": backend,
                    "variant": variant,
                    "n_samples": 5,
                    "n_missing": 0,
                    "n_failed": 0,
                    "m_vIoU": v,
                    "vIoU@0.3": v + 0.1,
                    "vIoU@0.5": v / 2,
                    "m_tIoU": 0.4,
                    "gt_vIoU": 0.5,
                }
            )
        )
    out = tmp_path / "fig"
    rc = main(
        [
            "plot",
            "--params",
            str(repo_root / "params.yaml"),
            "--per-sample",
            str(tmp_path / "per.csv"),
            "--metrics",
            str(mdir),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    for name in ("viou_hist", "tiou_vs_viou", "ablation", "sweeps"):
        img = Image.open(out / f"{name}.png")
        assert img.format == "PNG" and img.width > 300 and img.height > 300
        # Not blank: a readable figure has many distinct colours.
        assert len(np.unique(np.asarray(img.convert("RGB")).reshape(-1, 3), axis=0)) > 50
    assert "4 figure(s)" in capsys.readouterr().out


def test_plot_needs_inputs(tmp_path, repo_root):
    rc = main(["plot", "--params", str(repo_root / "params.yaml"), "--out", str(tmp_path)])
    assert rc == 2
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    rc = main(
        [
            "plot",
            "--params",
            str(repo_root / "params.yaml"),
            "--per-sample",
            str(tmp_path / "bad.csv"),
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 2


def test_ablation_bars_and_sweeps_follow_the_configured_viou_thresholds(
    tmp_path, params_raw, monkeypatch
):
    """With `evaluate.viou_thresholds: [0.3, 0.4]` the ablation chart's panels are m_vIoU,
    vIoU@0.3 and vIoU@0.4, each drawn from the metrics files' numbers."""
    import yaml

    from zstvg.evaluation import plots

    params_raw["evaluate"]["viou_thresholds"] = [0.3, 0.4]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params_raw))
    mdir = tmp_path / "metrics"
    mdir.mkdir()
    for i, variant in enumerate(("gti", "full", "full@k_frames=5")):
        m = {"protocol": "tubedetr", "dataset": "hcstvg-v1", "backend": "llava-ov",
             "variant": variant, "n_samples": 5, "n_missing": 0, "n_failed": 0,
             "m_vIoU": 0.2, "vIoU@0.3": 0.4, "vIoU@0.4": 0.1 * (i + 1), "m_tIoU": 0.4,
             "gt_vIoU": 0.5}  # fmt: skip
        (mdir / f"{i}.json").write_text(json.dumps(m))
    drawn = {}
    real = plots.plot_ablation

    def spy(table, path, dataset, metrics, dpi=120):
        drawn["metrics"], drawn["table"] = tuple(metrics), table
        return real(table, path, dataset, metrics, dpi)

    monkeypatch.setattr(plots, "plot_ablation", spy)
    argv = ["plot", "--params", str(tmp_path / "params.yaml"), "--metrics", str(mdir),
            "--out", str(tmp_path / "fig")]  # fmt: skip
    assert main(argv) == 0
    assert drawn["metrics"] == ("m_vIoU", "vIoU@0.3", "vIoU@0.4")
    assert list(drawn["table"]["llava-ov vIoU@0.4"]) == [10.0, 20.0]  # gti, full: Table 2 order
    assert (tmp_path / "fig/ablation.png").is_file() and (tmp_path / "fig/sweeps.png").is_file()
