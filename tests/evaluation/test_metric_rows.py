"""``zstvg metric-rows``: a folder DVC reads as a table, one row per cell."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from zstvg.cli import main

CELLS = {
    "hc/llava-ov/full": {"m_vIoU": 0.25, "vIoU@0.3": 0.5},
    "hc/llava-ov/full@k_frames=3": {"m_vIoU": 0.125, "vIoU@0.3": 0.25},
    "hc/reference/oracle": {"m_vIoU": 0.75, "vIoU@0.3": 1.0},
}


def test_dvc_metrics_show_prints_a_row_per_cell(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    files = []
    for cell, record in CELLS.items():
        path = Path("results/metrics", cell, "tubedetr.json")
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(record))
        files.append(str(path))
    shutil.copy(Path(__file__).resolve().parents[2] / "params.yaml", "params.yaml")
    out = "results/tables/tubedetr/rows"
    assert main(["metric-rows", "--metrics", *files, "--out", out]) == 0
    dvc = [str(Path(sys.executable).parent / "dvc"), "metrics", "show", "--json", out]
    shown = json.loads(subprocess.run(dvc, capture_output=True, text=True, check=True).stdout)
    rows = shown[""]["data"]
    assert {Path(p).name: r["data"] for p, r in rows.items()} == {
        "hc--llava-ov--full.json": CELLS["hc/llava-ov/full"],
        "hc--llava-ov--full@k_frames=3.json": CELLS["hc/llava-ov/full@k_frames=3"],
        "hc--reference--oracle.json": CELLS["hc/reference/oracle"],
    }
