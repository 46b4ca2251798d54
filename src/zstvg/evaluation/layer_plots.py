"""``zstvg plot --layers``: figures of the layer/head grounding probe (``zstvg choose-layers``'s
``layers.json``; matplotlib, Agg backend, PNG).

- ``layers_<dataset>_<model>_heads.png``: one heat map per metric (pointing, mass, track) of
  layer against head on one 0..1 colour scale, the best cell of each boxed;
- ``layers_<dataset>_<model>_curve.png``: the per-layer (head-mean) metrics against the layer,
  with the default and the chosen layer range shaded.

A report holds L = ``n_layers`` decoder layers and H = ``n_heads`` heads; every metric value is a
mean over samples in [0, 1], or null where no sample could be scored. Layer ranges are half-open
absolute decoder-layer indices [start, stop).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zstvg.evaluation.layer_choice import METRICS
from zstvg.evaluation.plots import _pyplot, _save
from zstvg.files.io import InputError, PathLike, read_json

_KEYS = (
    "model",
    "backend",
    "dataset",
    "n_layers",
    "n_heads",
    "n_scored",
    "heads",
    "layers",
    "default",
    "chosen",
)
# Drawn over viridis: red reads on both its dark and its light end.
_BEST_COLOUR = "red"
# Neither is a curve's colour, so a curve stays readable inside a span.
_SPAN_COLOURS = {"default": "tab:grey", "chosen": "tab:red"}
_CURVE_COLOURS = {"pointing": "tab:blue", "mass": "tab:orange", "track": "tab:green"}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)  # JSON true is no count


def _is_score(v: Any) -> bool:
    """A metric value: null, or a number in [0, 1] (NaN fails the comparison)."""
    if v is None:
        return True
    return isinstance(v, int | float) and not isinstance(v, bool) and 0.0 <= v <= 1.0


def _scores(path: Path, field: str, values: Any, n: int, what: str) -> None:
    if not isinstance(values, list) or len(values) != n:
        got = f"{len(values)}" if isinstance(values, list) else type(values).__name__
        raise InputError(f"{path}: field {field}: expected a list of {n} {what}, got {got}")
    for i, v in enumerate(values):
        if not _is_score(v):
            raise InputError(f"{path}: field {field}[{i}]: {v!r} is not a number in [0, 1] or null")


def _layer_range(path: Path, field: str, r: Any, n_layers: int) -> None:
    ok = isinstance(r, list) and len(r) == 2 and all(_is_int(v) for v in r)
    if not ok or not 0 <= r[0] < r[1] <= n_layers:
        raise InputError(
            f"{path}: field {field}: {r!r} is no layer range [start, stop) with "
            f"0 <= start < stop <= n_layers ({n_layers})"
        )


def _scores_grid(path: Path, field: str, rows: Any, n_layers: int, n_heads: int) -> None:
    if not isinstance(rows, list) or len(rows) != n_layers:
        got = f"{len(rows)} rows" if isinstance(rows, list) else type(rows).__name__
        raise InputError(
            f"{path}: field {field}: expected {n_layers} rows (n_layers) of {n_heads} heads "
            f"(n_heads), got {got}"
        )
    for i, row in enumerate(rows):
        _scores(path, f"{field}[{i}]", row, n_heads, "values (n_heads)")


def _section(path: Path, report: dict[str, Any], key: str) -> dict[str, Any]:
    value = report[key]
    if not isinstance(value, dict):
        raise InputError(f"{path}: field {key}: expected an object, got {type(value).__name__}")
    return value


def read_layer_report(path: PathLike) -> dict[str, Any]:
    """``zstvg choose-layers``' report, checked: the keys the figures read, every ``heads``
    metric L x H, every ``layers`` metric of length L, the values in [0, 1] or null and the
    ``default``/``chosen`` layer ranges within the L layers. A bad file raises InputError
    naming the file and the field."""
    path = Path(path)
    report = read_json(path, what="layer report")
    if not isinstance(report, dict):
        raise InputError(f"{path}: not a layer report: expected a JSON object")
    for key in _KEYS:
        if key not in report:
            raise InputError(f"{path}: not a layer report: missing field {key!r}")
    for key in ("n_layers", "n_heads"):
        if not _is_int(report[key]) or report[key] < 1:
            raise InputError(f"{path}: field {key}: {report[key]!r} is not a positive integer")
    if not _is_int(report["n_scored"]) or report["n_scored"] < 0:
        raise InputError(f"{path}: field n_scored: {report['n_scored']!r} is not a count")
    n_layers, n_heads = report["n_layers"], report["n_heads"]
    heads, layers = _section(path, report, "heads"), _section(path, report, "layers")
    for m in METRICS:
        if m not in heads:
            raise InputError(f"{path}: field heads: missing metric {m!r}")
        _scores_grid(path, f"heads.{m}", heads[m], n_layers, n_heads)
        if m not in layers:
            raise InputError(f"{path}: field layers: missing metric {m!r}")
        _scores(path, f"layers.{m}", layers[m], n_layers, "values (n_layers)")
    for key in ("default", "chosen"):
        section = _section(path, report, key)
        if "layers" not in section:
            raise InputError(f"{path}: field {key}: missing 'layers'")
        _layer_range(path, f"{key}.layers", section["layers"], n_layers)
        if "track" not in section or not _is_score(section["track"]):
            raise InputError(
                f"{path}: field {key}.track: {section.get('track')!r} is not a number in [0, 1] "
                "or null"
            )
    chosen_heads = report["chosen"].get("heads")
    if chosen_heads is not None and not (
        isinstance(chosen_heads, list)
        and chosen_heads
        and all(_is_int(h) and 0 <= h < n_heads for h in chosen_heads)
    ):
        raise InputError(
            f"{path}: field chosen.heads: {chosen_heads!r} is neither null (all heads) nor a "
            f"list of head indices in [0, n_heads) ({n_heads})"
        )
    return report


def _array(values: Sequence[Any]) -> Any:
    """Nested lists of numbers and nulls as a float array, null -> NaN."""
    import numpy as np

    def fill(v: Any) -> Any:
        return [fill(x) for x in v] if isinstance(v, list) else (math.nan if v is None else v)

    return np.array(fill(list(values)), dtype=float)


def best_cell(grid: Any, ties: Sequence[Any] = ()) -> tuple[int, int] | None:
    """(layer, head) of the largest non-NaN value of an L x H array; equal values go to the
    larger value of each grid of ``ties`` in turn (choose-layers ranks heads by track, then
    pointing, then mass), then to the first in row-major order (the lowest layer, then the
    lowest head); None when every cell is NaN."""
    import numpy as np

    if np.isnan(grid).all():
        return None
    best = grid == np.nanmax(grid)
    for other in ties:
        values = np.where(best & ~np.isnan(other), other, -np.inf)
        if np.isfinite(values).any():
            best &= values == values.max()
    layer, head = np.unravel_index(int(np.argmax(best)), grid.shape)
    return int(layer), int(head)


def _title(report: dict[str, Any], what: str) -> str:
    return (
        f"{what}: {report['model']} ({report['backend']}) on {report['dataset']}, "
        f"n_scored {report['n_scored']}"
    )


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def plot_layer_heads(report: dict[str, Any], path: Path, dpi: int = 120) -> Path:
    """One heat map per metric of a checked report (:func:`read_layer_report`): layer (0 at the
    top) against head, colour scale 0..1 shared by the panels, null cells grey, the best
    (layer, head) of each metric boxed in red."""
    import numpy as np
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    n_layers, n_heads = report["n_layers"], report["n_heads"]
    # Cells stay legible from the tiny models (4 x 3) to 7B ones (28 x 28) and beyond.
    panel_w = min(max(0.22 * n_heads, 2.6), 8.0)
    panel_h = min(max(0.22 * n_layers, 2.6), 10.0)
    fig, axes = plt.subplots(
        1,
        len(METRICS),
        figsize=(panel_w * len(METRICS) + 1.2, panel_h + 1.0),
        squeeze=False,
        layout="constrained",
    )
    cmap = plt.get_cmap("viridis").with_extremes(bad="lightgrey")
    image = None
    for ax, metric in zip(axes[0], METRICS, strict=True):
        grid = _array(report["heads"][metric])
        image = ax.imshow(
            np.ma.masked_invalid(grid),
            cmap=cmap,
            vmin=0.0,
            vmax=1.0,
            aspect="auto",
            interpolation="nearest",
        )
        # ties broken as choose-layers ranks heads: track, then pointing, then mass
        ties = [_array(report["heads"][m]) for m in ("track", "pointing", "mass") if m != metric]
        best = best_cell(grid, ties)
        label = "best: none scored"
        if best is not None:
            layer, head = best
            ax.add_patch(
                Rectangle(
                    (head - 0.5, layer - 0.5),
                    1,
                    1,
                    fill=False,
                    edgecolor=_BEST_COLOUR,
                    linewidth=2.0,
                )
            )
            label = f"best: layer {layer}, head {head} = {grid[layer, head]:.2f}"
        ax.set_title(f"{metric}\n{label}", fontsize=10)
        ax.set(xlabel="head", xlim=(-0.5, n_heads - 0.5), ylim=(n_layers - 0.5, -0.5))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0][0].set_ylabel("decoder layer (0 at the top)")
    fig.colorbar(image, ax=axes[0].tolist(), label="mean over samples (grey: none scored)")
    fig.suptitle(_title(report, "per-head grounding"))
    return _save(fig, path, dpi)


def plot_layer_curve(report: dict[str, Any], path: Path, dpi: int = 120) -> Path:
    """The per-layer (head-mean) metrics of a checked report against the layer index, the
    ``default`` and ``chosen`` ranges shaded; nulls leave gaps in the curves."""
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    n_layers = report["n_layers"]
    fig, ax = plt.subplots(figsize=(min(max(0.25 * n_layers, 6.5), 14.0), 4))
    x = np.arange(n_layers)
    for key in ("default", "chosen"):
        section = report[key]
        start, stop = section["layers"]
        label = f"{key} [{start}, {stop})"
        if key == "chosen" and section.get("heads") is not None:
            label += f" heads {section['heads']}"
        # Layer i is the point at x = i, so [start, stop) covers start - 0.5 .. stop - 0.5.
        ax.axvspan(
            start - 0.5,
            stop - 0.5,
            color=_SPAN_COLOURS[key],
            alpha=0.18,
            label=f"{label}: track {_fmt(section['track'])}",
        )
    for metric in METRICS:
        ax.plot(
            x,
            _array(report["layers"][metric]),
            marker="o",
            markersize=4,
            color=_CURVE_COLOURS[metric],
            label=metric,
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(
        xlabel="decoder layer",
        ylabel="mean over samples (heads averaged)",
        xlim=(-0.5, n_layers - 0.5),
        ylim=(0, 1),
        title=_title(report, "per-layer grounding"),
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, path, dpi)


def _name_part(value: Any) -> str:
    # Model names may be hub ids ("Qwen/Qwen2-VL-7B"): a slash would make a subdirectory.
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(value))


def read_layer_reports(paths: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The checked reports by their figures' stem, ``layers_<dataset>_<model>``; two reports of
    one dataset and model are an error (one's figures would overwrite the other's)."""
    checked: dict[str, dict[str, Any]] = {}
    source: dict[str, str] = {}
    for p in paths:
        report = read_layer_report(p)
        stem = f"layers_{_name_part(report['dataset'])}_{_name_part(report['model'])}"
        if stem in checked:
            raise InputError(
                f"two layer reports of dataset {report['dataset']!r} and model "
                f"{report['model']!r} would write the same figures: {source[stem]} and {p}"
            )
        checked[stem], source[stem] = report, p
    return checked


def plot_layer_reports(
    reports: dict[str, dict[str, Any]], out_dir: Path, dpi: int = 120
) -> list[Path]:
    """Both figures of each of :func:`read_layer_reports`' reports, as
    ``out_dir/<stem>_heads.png`` and ``out_dir/<stem>_curve.png``."""
    written: list[Path] = []
    for stem, report in reports.items():
        written.append(plot_layer_heads(report, out_dir / f"{stem}_heads.png", dpi))
        written.append(plot_layer_curve(report, out_dir / f"{stem}_curve.png", dpi))
    return written
