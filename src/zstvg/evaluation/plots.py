"""``zstvg plot``: the evaluation figures (matplotlib, Agg backend, PNG).

- ``viou_hist.png``: per-sample vIoU histogram (from ``zstvg evaluate --per-sample`` CSVs), with
  the vIoU@R thresholds marked;
- ``tiou_vs_viou.png``: per-sample tIoU against vIoU (a sample can only score vIoU up to its
  tIoU, so the points lie under the diagonal);
- ``ablation.png``: m_vIoU and vIoU@R (at ``evaluate.viou_thresholds``) bars per Table 2 variant
  and backend;
- ``sweeps.png``: one panel per Fig. 6 sweep parameter (variants ``<v>@<param>=<value>``);
- ``layers_<dataset>_<model>_heads.png`` and ``..._curve.png``: the layer/head grounding probe
  (``zstvg choose-layers``' reports; :mod:`zstvg.evaluation.layer_plots`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zstvg.files.io import atomic_open

log = logging.getLogger(__name__)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path, dpi: int) -> Path:
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=dpi, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def _series(df: Any) -> list[tuple[str, Any]]:
    """(label, rows) per prediction set: per-sample files of different methods never pool."""
    if "series" not in df.columns:
        return [("", df)]
    return [(str(k), g) for k, g in df.groupby("series", sort=False)]


def plot_histogram(df: Any, path: Path, thresholds: Sequence[float], dpi: int = 120) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label, g in _series(df):
        v = g["vIoU"].dropna().to_numpy()
        at = ", ".join(f"@{t:g} {100 * (v > t).mean():.0f}%" for t in thresholds)
        ax.hist(
            v,
            bins=20,
            range=(0, 1),
            histtype="step",
            linewidth=1.8,
            label=f"{label} (n={len(v)}, m_vIoU {100 * v.mean():.1f}%, {at})".lstrip(),
        )
    for t in thresholds:
        ax.axvline(t, linestyle=":", linewidth=1.0, color="grey")
    ax.legend(fontsize=8, loc="upper center")
    ax.set(
        xlabel="vIoU per sample (dotted: vIoU@R thresholds, counted strictly above)",
        ylabel="samples",
        xlim=(0, 1),
        title="per-sample vIoU",
    )
    return _save(fig, path, dpi)


def plot_scatter(df: Any, path: Path, dpi: int = 120) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    for label, g in _series(df):
        ok = g.dropna(subset=["vIoU"])
        failed = ok["status"] != "ok"
        dots = ax.scatter(
            ok.loc[~failed, "tIoU"],
            ok.loc[~failed, "vIoU"],
            s=16,
            alpha=0.6,
            label=label or "samples",
        )
        if failed.any():
            ax.scatter(
                ok.loc[failed, "tIoU"],
                ok.loc[failed, "vIoU"],
                s=28,
                marker="x",
                color=dots.get_facecolor()[0],
                label=f"{label} missing/failed".lstrip(),
            )
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle=":")
    ax.legend(fontsize=8, loc="upper left")
    ax.set(
        xlabel="tIoU",
        ylabel="vIoU",
        xlim=(0, 1),
        ylim=(0, 1),
        aspect="equal",
        title="tIoU vs vIoU per sample (x: missing/failed)",
    )
    return _save(fig, path, dpi)


def plot_ablation(
    table: Any, path: Path, dataset: str, metrics: Sequence[str], dpi: int = 120
) -> Path:
    """Grouped bars from the Table 2 frame (our rows only), one panel per ``metrics``."""
    import numpy as np

    plt = _pyplot()
    ours = table[table["source"] == "ours"]
    backends = sorted({c.rsplit(" ", 1)[0] for c in ours.columns[2:] if ours[c].notna().any()})
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 4), squeeze=False)
    x = np.arange(len(ours))
    width = 0.8 / max(len(backends), 1)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for i, b in enumerate(backends):
            ax.bar(x + i * width - 0.4 + width / 2, ours[f"{b} {metric}"].fillna(0), width, label=b)
        ax.set_xticks(x, ours["variant"], rotation=35, ha="right", fontsize=9)
        ax.set(title=metric, ylabel="%")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"Ablation (Table 2 variants) on {dataset}")
    return _save(fig, path, dpi)


def plot_sweeps(df: Any, path: Path, dpi: int = 120) -> Path:
    import pandas as pd

    plt = _pyplot()
    params = list(dict.fromkeys(df["param"]))
    fig, axes = plt.subplots(1, len(params), figsize=(5.5 * len(params), 4), squeeze=False)
    for ax, param in zip(axes[0], params, strict=True):
        sub = df[df["param"] == param]
        numeric = pd.to_numeric(sub["value"], errors="coerce").notna().all()
        for (backend, dataset, variant), g in sub.groupby(["backend", "dataset", "variant"]):
            xs = pd.to_numeric(g["value"]) if numeric else g["value"]
            # Categorical sweeps (trackers) get points only: a line would suggest an order.
            ax.plot(
                xs,
                g["m_vIoU"],
                marker="o",
                markersize=7,
                linestyle="-" if numeric else "none",
                label=f"{backend} / {dataset} / {variant}",
            )
        ax.set(title=f"m_vIoU vs {param}", xlabel=param, ylabel="m_vIoU (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path, dpi)


def plot_figures(
    *,
    out: str,
    thresholds: Sequence[float],
    per_sample: Sequence[str] = (),
    metrics: Sequence[str] = (),
    layers: Sequence[str] = (),
    protocol: str = "tubedetr",
    ablation_dataset: str = "hcstvg-v1",
    dpi: int = 120,
) -> int:
    """The plot step: the histogram and scatter of the ``per_sample`` CSVs (``thresholds``
    marked; one series per file, labelled ``<backend>/<variant>`` from its path), the ablation
    bars on ``ablation_dataset`` (m_vIoU and vIoU@R per threshold) and the sweeps of the
    ``metrics`` files of ``protocol`` and the heat maps and curves of the ``layers`` reports, as
    PNGs under ``out``; prints what it drew and returns the exit code."""
    import pandas as pd

    from zstvg.evaluation.layer_plots import plot_layer_reports, read_layer_reports
    from zstvg.evaluation.tables import (
        ABLATION_VARIANTS,
        Result,
        collect,
        metric_names,
        sweeps,
        variant_table,
    )
    from zstvg.files.io import InputError

    if not per_sample and not metrics and not layers:
        raise InputError(
            "nothing to plot: give --per-sample CSVs, --metrics files and/or --layers reports"
        )
    # Checked before any figure is drawn: a bad layer report leaves no figure behind.
    layer_reports = read_layer_reports(layers)
    out_dir = Path(out)
    written: list[Path] = []
    if per_sample:
        frames = []
        for p in per_sample:
            if not Path(p).is_file():
                raise InputError(f"per-sample file not found: {p}")
            df = pd.read_csv(p)
            missing = {"vIoU", "tIoU", "status"} - set(df.columns)
            if missing:
                raise InputError(f"{p}: not a per-sample file: missing columns {sorted(missing)}")
            # <...>/<backend>/<variant>/<protocol>.per_sample.csv -> "backend/variant"
            df["series"] = f"{Path(p).parent.parent.name}/{Path(p).parent.name}"
            frames.append(df)
        df = pd.concat(frames, ignore_index=True)
        written.append(plot_histogram(df, out_dir / "viou_hist.png", thresholds, dpi))
        written.append(plot_scatter(df, out_dir / "tiou_vs_viou.png", dpi))
    if metrics:
        results: list[Result] = [r for r in collect(list(metrics)) if r.protocol == protocol]
        names = metric_names(thresholds)
        table = variant_table(results, ABLATION_VARIANTS, ablation_dataset, None, names)
        if len(table):
            written.append(
                plot_ablation(table, out_dir / "ablation.png", ablation_dataset, names, dpi)
            )
        else:
            log.warning("no Table 2 variants on %s: no ablation chart", ablation_dataset)
        sw = sweeps(results, names)
        if len(sw):
            written.append(plot_sweeps(sw, out_dir / "sweeps.png", dpi))
    written.extend(plot_layer_reports(layer_reports, out_dir, dpi))
    print(f"{len(written)} figure(s) -> {out_dir}: {', '.join(p.name for p in written)}")
    return 0
