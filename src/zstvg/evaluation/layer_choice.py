"""The layer range (and optionally the heads) probe-layers found best
(docs/method.md#which-layers-and-heads-ground): means over samples, the recommended range, and
the params overlay that makes ``ground`` use it.

The range is the contiguous one with the highest track-choice accuracy over the probed samples
(the held-out split the workflow probes; the table row compares it with the default on the
others); equal accuracies go to the higher pointing accuracy, then the higher mass, then the
wider range, then the earlier one. With ``top_heads`` N the overlay also names the N heads whose
own maps, in the chosen range's layers, pick the GT's track most often (then point, then hold
mass): a subset the probe ranks but does not score as a whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

# What probe-layers scores per configuration (zstvg.grounding.layer_probe), in report order.
METRICS = ("pointing", "mass", "track")
METRIC_TEXT = {
    "pointing": "the map's peak inside the GT box on GT frames",
    "mass": "attention mass inside the GT box on GT frames",
    "track": "the map alone picks the GT's track (the method's track score)",
}


def range_pairs(n_layers: int) -> list[tuple[int, int]]:
    """Every contiguous range [a, b) of ``n_layers`` layers, a < b, in (a, b) order."""
    return [(a, b) for a in range(n_layers) for b in range(a + 1, n_layers + 1)]


def _mean(stack: list[np.ndarray]) -> np.ndarray:
    """Mean over samples (axis 0) ignoring NaN; NaN where no sample has a value."""
    a = np.stack(stack).astype(np.float64)
    count = np.isfinite(a).sum(axis=0)
    total = np.where(np.isfinite(a), a, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _json(a: np.ndarray) -> Any:
    """An array as nested lists, NaN as None, 6 decimals."""
    if a.ndim == 0:
        v = float(a)
        return None if not np.isfinite(v) else round(v, 6)
    return [_json(x) for x in a]


def choose(
    scores: Sequence[dict[str, np.ndarray]], default_layers: Sequence[int], top_heads: int = 0
) -> dict[str, Any]:
    """The report's numbers from the per-sample scores of one model (``probe_scores``'s
    arrays): means per (layer, head) and per layer, the default range's and the chosen
    range's means, and the head ranking."""
    if not scores:
        raise ValueError("no probed sample to choose layers from")
    mean = {k: _mean([s[k] for s in scores]) for k in scores[0]}
    n_layers, n_heads = mean["heads_track"].shape
    if top_heads > n_heads:
        raise ValueError(f"--top-heads {top_heads}: the model has {n_heads} heads per layer")

    def key(a: int, b: int) -> tuple[float, ...]:
        values = [mean[f"ranges_{m}"][a, b] for m in ("track", "pointing", "mass")]
        return (*(v if np.isfinite(v) else -1.0 for v in values), b - a, -a)

    a, b = max(range_pairs(n_layers), key=lambda r: key(*r))
    da, db = (int(v) for v in default_layers)

    def at(ra: int, rb: int) -> dict[str, Any]:
        return {m: _json(mean[f"ranges_{m}"][ra, rb]) for m in METRICS}

    heads = None
    if top_heads:
        in_range = {m: mean[f"heads_{m}"][a:b].copy() for m in ("track", "pointing", "mass")}
        per_head = [np.where(np.isfinite(v), v, -1.0).mean(axis=0) for v in in_range.values()]
        order = sorted(range(n_heads), key=lambda h: tuple(-v[h] for v in per_head) + (h,))
        heads = sorted(order[:top_heads])
    flat = [(layer, head) for layer in range(n_layers) for head in range(n_heads)]
    ranked = sorted(
        flat,
        key=lambda lh: tuple(
            -(mean[f"heads_{m}"][lh] if np.isfinite(mean[f"heads_{m}"][lh]) else -1.0)
            for m in ("track", "pointing", "mass")
        ),
    )
    return {
        "n_layers": n_layers,
        "n_heads": n_heads,
        "metrics": METRIC_TEXT,
        "heads": {m: _json(mean[f"heads_{m}"]) for m in METRICS},
        "layers": {m: _json(mean[f"layers_{m}"]) for m in METRICS},
        "default": {"layers": [da, db], **at(da, db)},
        "chosen": {"layers": [a, b], "heads": heads, **at(a, b)},
        "ranked_heads": [
            {
                "layer": layer,
                "head": head,
                **{m: _json(mean[f"heads_{m}"][layer, head]) for m in METRICS},
            }
            for layer, head in ranked[:10]
        ],  # fmt: skip
    }


def overlay_yaml(model: str, report: dict[str, Any]) -> str:
    """The params overlay of the chosen range (``models.<model>.layers``, and ``heads`` where
    chosen), with a comment saying where it comes from; pass it with ``--configfile``."""
    import yaml

    chosen, default = report["chosen"], report["default"]
    da, db = default["layers"]
    entry: dict[str, Any] = {"layers": list(chosen["layers"])}
    if chosen["heads"] is not None:
        entry["heads"] = list(chosen["heads"])
    lines = [
        f"# zstvg choose-layers: the layer range probe-layers found best for {model} on "
        f"{report.get('dataset', '?')}",
        f"# (track choice {chosen['track']} on {report['n_scored']} held-out sample(s); the "
        f"default [{da}, {db}): {default['track']}). Pass it with --configfile: the model's own",
        "# range (models.<name>.layers/heads) is what the method averages over mllm's.",
    ]
    body = yaml.safe_dump({"models": {model: entry}}, sort_keys=False, default_flow_style=None)
    return "\n".join(lines) + "\n" + body


def choose_layers(
    probes: Sequence[str | Path], out: str | Path, dataset: str | None = None, top_heads: int = 0
) -> int:
    """Read probe-layers outputs of one model, write ``<out>/layers.json`` (the report) and
    ``<out>/overlay.yaml``; prints the choice and returns the exit code."""
    from zstvg.files.io import InputError, atomic_open, read_json, write_json

    scores: list[dict[str, np.ndarray]] = []
    first: dict[str, Any] | None = None
    n_samples = n_failed = 0
    for probe in probes:
        path = Path(probe)
        path = path / "manifest.json" if path.is_dir() else path
        manifest = read_json(path, what="probe-layers manifest")
        if not isinstance(manifest, dict) or manifest.get("step") != "probe-layers":
            raise InputError(f"{path}: not a probe-layers manifest (its 'step' is missing)")
        if first is not None and manifest.get("model") != first.get("model"):
            raise InputError(
                f"{path}: model {manifest.get('model')!r}, the first probe's "
                f"{first.get('model')!r}: choose layers for one model at a time"
            )
        first = first or manifest
        for sid, entry in manifest["samples"].items():
            n_samples += 1
            if entry.get("status") != "ok":
                n_failed += 1
                continue
            with np.load(path.parent / entry["file"]) as z:
                scores.append({k: z[k] for k in z.files})
            if scores[-1]["heads_track"].shape != scores[0]["heads_track"].shape:
                raise InputError(f"{path}: samples[{sid!r}]: scores of another model shape")
    if first is None or not scores:
        raise InputError(f"{', '.join(map(str, probes))}: no probed sample to choose from")
    report = {
        "model": first["model"], "backend": first["backend"], "dataset": dataset,
        "n_samples": n_samples, "n_scored": len(scores), "n_failed": n_failed,
        **choose(scores, first["default_layers"], top_heads),
    }  # fmt: skip
    a, b = report["chosen"]["layers"]
    # the same choice as mllm's keys, for a run of this one model
    report["mllm"] = {"layer_start": a, "layer_stop": b, "heads": report["chosen"]["heads"]}
    out_dir = Path(out)
    write_json(out_dir / "layers.json", report)
    with atomic_open(out_dir / "overlay.yaml", "w", encoding="utf-8") as fh:
        fh.write(overlay_yaml(first["model"], report))
    chosen, default = report["chosen"], report["default"]
    print(f"choose-layers ({first['model']}, {len(scores)} of {n_samples} samples scored): "
          f"chosen {chosen['layers']} track {chosen['track']} pointing {chosen['pointing']} "
          f"mass {chosen['mass']}; default {default['layers']} track {default['track']} "
          f"-> {out_dir / 'overlay.yaml'}")  # fmt: skip
    return 0


# The comparison rows' score columns, as the paper's Table 2 prints them.
ROW_METRICS = ("m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5")


def layer_table(
    report: dict[str, Any], default: Sequence[str | Path], chosen: Sequence[str | Path]
) -> Any:
    """The Table 2-style rows (a pandas DataFrame): per protocol and variant, the method at the
    default range and at the chosen one (metrics files of ``zstvg evaluate`` on the samples
    the probe did not see), and the probe's track-choice accuracy of each range on the
    held-out split."""
    import pandas as pd

    from zstvg.files.io import InputError, read_json

    rows = []
    for which, files in (("default", default), ("chosen", chosen)):
        side = report[which]
        for path in files:
            m = read_json(path, what="metrics file")
            missing = [k for k in ("protocol", "variant", *ROW_METRICS) if k not in m]
            if missing:
                raise InputError(f"{path}: not a metrics file of zstvg evaluate (no {missing})")
            heads = side.get("heads")
            rows.append({
                "protocol": m["protocol"], "variant": m["variant"], "range": which,
                "layers": f"[{side['layers'][0]}, {side['layers'][1]})",
                "heads": "all" if not heads else ",".join(map(str, heads)),
                **{k: m[k] for k in ROW_METRICS},
                "n_samples": m.get("n_samples"), "probe_track": side["track"],
            })  # fmt: skip
    table = pd.DataFrame(rows)
    return table.sort_values(["protocol", "variant", "range"], ascending=[True, True, False])


def write_layer_table(
    report_path: str | Path,
    default: Sequence[str | Path],
    chosen: Sequence[str | Path],
    out: str | Path,
) -> int:
    """``<out>/layers_table.{md,csv,html}`` from a choose-layers report and the metrics of
    both ranges; prints the Markdown."""
    from zstvg.files.io import atomic_open, read_json

    report = read_json(report_path, what="choose-layers report")
    table = layer_table(report, default, chosen)
    title = (f"Layer range of {report['model']} on {report.get('dataset') or '?'}: the default "
             f"against the range chosen on {report['n_scored']} held-out samples")  # fmt: skip
    shown = table.copy()
    for k in (*ROW_METRICS, "probe_track"):
        shown[k] = shown[k].map(lambda v: "" if v is None else f"{100 * v:.1f}")
    markdown = f"{title} (scores in %)\n\n{shown.to_markdown(index=False)}\n"
    out_dir = Path(out)
    for name, text in (("layers_table.md", markdown),
                       ("layers_table.csv", table.to_csv(index=False)),
                       ("layers_table.html", f"<h3>{title}</h3>\n"
                                             f"{shown.to_html(index=False)}\n")):  # fmt: skip
        with atomic_open(out_dir / name, "w", encoding="utf-8") as fh:
            fh.write(text)
    print(markdown)
    return 0
