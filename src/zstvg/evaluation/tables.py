"""The paper's tables built from metrics.json files, with the published numbers beside ours.

Every metrics file carries ``protocol``, ``dataset``, ``backend`` and ``variant`` (set by
``zstvg evaluate --dataset/--backend/--variant``), which is all a table needs:

- Table 1: rows method (variant) x MLLM backend; columns HCSTVG-v1, HCSTVG-v2, VidSTG
  declarative / interrogative (and any other dataset found, e.g. the synthetic demo), each
  m_vIoU and vIoU@R at every threshold R of ``evaluate.viou_thresholds`` (the paper's: 0.3, 0.5;
  the paper's rows fill the columns it printed).
- Table 2: the ablation variants (``ABLATION_VARIANTS``) as rows, backends as column groups, on one
  dataset (the paper's: HCSTVG-v1).
- Table 3: the tuning objectives (``TUNING_VARIANTS``), same layout.
- Sweeps (Fig. 6): a variant written ``<variant>@<param>=<value>`` is one point of the sweep over
  ``param`` (frames, top-K, tracker); one row per point.
- Table 7: points ``<variant>@lr=<a>,n_steps=<b>`` of the learning rate x iterations grid; rows
  learning rate, columns iterations (zstvg.config.experiments writes these names).

Numbers are shown in percent with one decimal, as the paper prints them. With the paper's
published numbers (``resources/paper_reference.yaml``, :func:`load_reference`) a row of ours that
the paper also reports is followed by the paper's row and the difference (ours - paper).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from zstvg.evaluation.protocols import threshold_key
from zstvg.files.io import InputError, read_json
from zstvg.files.metrics import is_metrics, read_metrics
from zstvg.files.provenance import is_sidecar

log = logging.getLogger(__name__)

ABLATION_VARIANTS = (
    "baseline-mean-special",
    "gti",
    "gti+spatial",
    "gti+temporal",
    "gti+dsth",
    "full",
)
TUNING_VARIANTS = ("gti", "gti+entropy", "gti+yesno")
# The vIoU@R columns the paper prints; the tables show those of `evaluate.viou_thresholds`.
PAPER_THRESHOLDS = (0.3, 0.5)
DATASET_ORDER = ("hcstvg-v1", "hcstvg-v2", "vidstg-declarative", "vidstg-interrogative")
DATASET_LABELS = {
    "hcstvg-v1": "HCSTVG-v1",
    "hcstvg-v2": "HCSTVG-v2",
    "vidstg-declarative": "VidSTG decl.",
    "vidstg-interrogative": "VidSTG interr.",
}


@dataclass(frozen=True)
class Result:
    """One metrics file, flattened to (dataset column -> metric -> fraction)."""

    path: str
    protocol: str
    backend: str
    variant: str
    # ((param, value), ...) for "<variant>@<param>=<value>[,<param>=<value>]"; None at defaults
    sweep: tuple[tuple[str, str], ...] | None
    columns: Mapping[str, Mapping[str, float | None]]


def load_reference() -> dict[str, Any]:
    """The paper's published numbers (``resources/paper_reference.yaml``)."""
    text = resources.files("zstvg").joinpath("resources/paper_reference.yaml").read_text()
    published: dict[str, Any] = yaml.safe_load(text)
    return published


def parse_result(path: str, m: Mapping[str, Any]) -> Result:
    """Flatten one metrics dict; VidSTG's per-type groups become two dataset columns."""
    for key in ("protocol", "dataset", "backend", "variant"):
        if key not in m:
            raise InputError(f"{path}: not a metrics file: missing key {key!r}")
    dataset = str(m["dataset"])
    if "declarative" in m or "interrogative" in m:
        columns = {f"{dataset}-{q}": m[q] for q in ("declarative", "interrogative") if q in m}
    else:
        columns = {dataset: m}
    variant = str(m["variant"])
    sweep = None
    if "@" in variant:
        variant, point = variant.split("@", 1)
        pairs = [item.partition("=") for item in point.split(",")]
        if any(not sep or not param for param, sep, _ in pairs):
            raise InputError(
                f"{path}: variant {m['variant']!r}: expected <variant>@<param>=<value>[,...]"
            )
        sweep = tuple((param, value) for param, _, value in pairs)
    return Result(path, str(m["protocol"]), str(m["backend"]), variant, sweep, columns)


def metric_names(thresholds: Sequence[float]) -> tuple[str, ...]:
    """The score columns of Tables 1-3: m_vIoU, then vIoU@R per threshold (as evaluate names
    them)."""
    return ("m_vIoU", *(threshold_key(t) for t in thresholds))


def _pct(v: Any) -> float:
    return math.nan if v is None else round(100.0 * float(v), 1)


def _check_unique(results: Iterable[Result]) -> None:
    seen: dict[tuple[object, ...], str] = {}
    for r in results:
        for col in r.columns:
            key = (r.protocol, r.backend, r.variant, r.sweep, col)
            if key in seen:
                raise InputError(
                    f"two metrics files for the same cell {key}: {seen[key]} and {r.path}"
                )
            seen[key] = r.path


def _dataset_columns(results: Iterable[Result]) -> list[str]:
    found = {c for r in results for c in r.columns}
    return [d for d in DATASET_ORDER if d in found] + sorted(found - set(DATASET_ORDER))


def table1(
    results: Sequence[Result],
    published: Mapping[str, Any] | None,
    variants: Sequence[str] = ("full",),
    metrics: Sequence[str] = metric_names(PAPER_THRESHOLDS),
) -> Any:
    """Rows (method, backend, source) x columns '<dataset> <metric>' in percent, one per
    ``metrics`` (:func:`metric_names`); ``published``: the paper's numbers of this protocol
    (:func:`load_reference`), or None."""
    import pandas as pd

    rows = [r for r in results if r.sweep is None and r.variant in variants]
    datasets = _dataset_columns(rows)
    cols = [f"{DATASET_LABELS.get(d, d)} {m}" for d in datasets for m in metrics]
    paper_rows = {
        (x["method"], x["backend"]): x for x in (published or {}).get("table1", {}).get("rows", [])
    }
    records = []
    keys = sorted(
        {(r.variant, r.backend) for r in rows}, key=lambda k: (list(variants).index(k[0]), k[1])
    )
    for variant, backend in keys:
        ours: dict[str, float] = {}
        for r in rows:
            if (r.variant, r.backend) == (variant, backend):
                for d, mm in r.columns.items():
                    for m in metrics:
                        ours[f"{DATASET_LABELS.get(d, d)} {m}"] = _pct(mm.get(m))
        records.append({"method": variant, "backend": backend, "source": "ours", **ours})
        if (variant, backend) in paper_rows:
            printed = paper_rows[(variant, backend)]
            paper = {
                f"{DATASET_LABELS.get(d, d)} {m}": float(printed[d][m])
                for d in datasets
                if d in printed
                for m in metrics
                if m in printed[d]  # a threshold the paper did not print: no paper cell
            }
            records.append({"method": variant, "backend": backend, "source": "paper", **paper})
            records.append(
                {
                    "method": variant,
                    "backend": backend,
                    "source": "ours - paper",
                    **_ours_minus_paper(ours, paper),
                }
            )
    return pd.DataFrame.from_records(records, columns=["method", "backend", "source", *cols])


def _ours_minus_paper(ours: Mapping[str, float], paper: Mapping[str, float]) -> dict[str, float]:
    """The 'ours - paper' row: each paper column's difference (NaN where ours lacks it)."""
    return {c: round(ours.get(c, math.nan) - v, 1) for c, v in paper.items()}


def variant_table(
    results: Sequence[Result],
    variants: Sequence[str],
    dataset: str,
    paper_table: Mapping[str, Any] | None,
    metrics: Sequence[str] = metric_names(PAPER_THRESHOLDS),
) -> Any:
    """Table 2/3 layout: rows (variant, source) x columns '<backend> <metric>' on one dataset,
    one per ``metrics`` (:func:`metric_names`).

    The paper's rows are shown only when ``dataset`` is the one the paper's table used.
    """
    import pandas as pd

    rows = [
        r for r in results if r.sweep is None and r.variant in variants and dataset in r.columns
    ]
    paper_rows = _paper_variant_rows(paper_table, dataset)
    backends = sorted({r.backend for r in rows})
    backends += sorted(
        {b for x in paper_rows.values() for b in x if b != "variant"} - set(backends)
    )
    cols = [f"{b} {m}" for b in backends for m in metrics]
    records = []
    for variant in variants:
        ours = _our_variant_row([r for r in rows if r.variant == variant], dataset, metrics)
        if ours:
            records.append({"variant": variant, "source": "ours", **ours})
        if variant in paper_rows:
            paper = _paper_variant_row(paper_rows[variant], metrics)
            records.append({"variant": variant, "source": "paper", **paper})
            if ours:
                records.append(
                    {"variant": variant, "source": "ours - paper", **_ours_minus_paper(ours, paper)}
                )
    return pd.DataFrame.from_records(records, columns=["variant", "source", *cols])


def _paper_variant_rows(
    paper_table: Mapping[str, Any] | None, dataset: str
) -> dict[str, dict[str, Any]]:
    """The paper's rows by variant, when its table is on ``dataset`` (else none)."""
    if not paper_table or paper_table.get("dataset") != dataset:
        return {}
    return {x["variant"]: x for x in paper_table.get("rows", [])}


def _our_variant_row(
    rows: Sequence[Result], dataset: str, metrics: Sequence[str]
) -> dict[str, float]:
    """One variant's '<backend> <metric>' cells (percent) on ``dataset``."""
    return {f"{r.backend} {m}": _pct(r.columns[dataset].get(m)) for r in rows for m in metrics}


def _paper_variant_row(ref_row: Mapping[str, Any], metrics: Sequence[str]) -> dict[str, float]:
    """The paper's '<backend> <metric>' cells of one variant row (those of ``metrics`` it
    printed)."""
    return {
        f"{b} {m}": float(v[m])
        for b, v in ref_row.items()
        if b != "variant"
        for m in metrics
        if m in v
    }


def sweeps(
    results: Sequence[Result], metrics: Sequence[str] = metric_names(PAPER_THRESHOLDS)
) -> Any:
    """Fig. 6 data: one row per sweep point (param, value, backend, dataset, variant), with
    ``metrics`` (:func:`metric_names`) and m_tIoU."""
    import pandas as pd

    scores = [*metrics, "m_tIoU"]
    records = []
    for r in results:
        if r.sweep is None or len(r.sweep) != 1:  # grids have their own table
            continue
        ((param, value),) = r.sweep
        for d, mm in r.columns.items():
            records.append(
                {
                    "param": param,
                    "value": value,
                    "backend": r.backend,
                    "dataset": DATASET_LABELS.get(d, d),
                    "variant": r.variant,
                    **{m: _pct(mm.get(m)) for m in scores},
                }
            )
    df = pd.DataFrame.from_records(
        records, columns=["param", "value", "backend", "dataset", "variant", *scores]
    )
    if len(df):
        num = pd.to_numeric(df["value"], errors="coerce")
        order = ["param", "backend", "dataset", "variant", "_n", "value"]
        df = df.assign(_n=num).sort_values(order)
        df = df.drop(columns="_n").reset_index(drop=True)
    return df


GRID_PARAMS = ("lr", "n_steps")


def table7(results: Sequence[Result]) -> Any:
    """Table 7: m_vIoU (%) per learning rate (rows) x LRA iterations (columns), one row group
    per (backend, dataset, variant)."""
    import pandas as pd

    records = []
    for r in results:
        point = dict(r.sweep or ())
        if set(point) != set(GRID_PARAMS):
            continue
        for d, mm in r.columns.items():
            records.append({
                "backend": r.backend, "dataset": DATASET_LABELS.get(d, d), "variant": r.variant,
                "lr": float(point["lr"]), "N": int(point["n_steps"]),
                "m_vIoU": _pct(mm.get("m_vIoU")),
            })  # fmt: skip
    if not records:
        return pd.DataFrame(columns=["backend", "dataset", "variant", "lr"])
    df = pd.DataFrame.from_records(records)
    wide = df.pivot_table(
        index=["backend", "dataset", "variant", "lr"], columns="N", values="m_vIoU", sort=True
    )
    wide.columns = [f"N={n} m_vIoU" for n in wide.columns]
    return wide.reset_index()


def build_tables(
    results: Sequence[Result],
    published: Mapping[str, Any] | None,
    *,
    protocol: str,
    ablation_dataset: str,
    table1_variants: Sequence[str] = ("full",),
    thresholds: Sequence[float] = PAPER_THRESHOLDS,
) -> dict[str, Any]:
    """All tables for one protocol: name -> DataFrame; ``published``: the paper's numbers
    (:func:`load_reference`), shown where they are of ``protocol``, or None; ``thresholds``:
    the vIoU@R columns (`evaluate.viou_thresholds`)."""
    chosen = [r for r in results if r.protocol == protocol]
    _check_unique(chosen)
    paper = published if published and published.get("protocol") == protocol else None
    metrics = metric_names(thresholds)
    return {
        "table1": table1(chosen, paper, table1_variants, metrics),
        "table2": variant_table(
            chosen, ABLATION_VARIANTS, ablation_dataset, (paper or {}).get("table2"), metrics
        ),
        "table3": variant_table(
            chosen, TUNING_VARIANTS, ablation_dataset, (paper or {}).get("table3"), metrics
        ),
        "table7": table7(chosen),
        "sweeps": sweeps(chosen, metrics),
    }


def to_markdown(df: Any) -> str:
    if not len(df):
        # Say what would fill the table, so an empty one reads as "not run", not as "zero".
        return (
            "_(no results: no metrics file of this table's variants and dataset was given; "
            "metrics.json files record them as `--variant`)_"
        )
    # tabulate's missingval applies to None only, so NaN cells become None first.
    cells = df.astype(object).where(df.notna(), None)
    text: str = cells.to_markdown(index=False, floatfmt=".1f", missingval="–")
    return text


def to_latex(df: Any, caption: str) -> str:
    """booktabs LaTeX (pandas writes \\toprule/\\midrule/\\bottomrule)."""
    text: str = df.to_latex(
        index=False, float_format="%.1f", na_rep="--", escape=True, caption=caption
    )
    return text


def write_tables(
    tables: Mapping[str, Any], out_dir: Path, captions: Mapping[str, str]
) -> list[Path]:
    """Write ``<name>.md``, ``<name>.tex``, ``<name>.csv`` and ``<name>.html`` (the Markdown
    rendered, for the Snakemake report) per table atomically."""
    from zstvg.evaluation.report_html import html_fragment
    from zstvg.files.io import atomic_open

    written = []
    for name, df in tables.items():
        md = f"**{captions[name]}**\n\n{to_markdown(df)}\n"
        for ext, text in (
            ("md", md),
            ("tex", to_latex(df, captions[name])),
            ("csv", df.to_csv(index=False, float_format="%.1f")),
            ("html", html_fragment(md)),
        ):
            path = out_dir / f"{name}.{ext}"
            with atomic_open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
            written.append(path)
    return written


def collect(paths: list[str]) -> list[Result]:
    """Read metrics files; directories are searched for metrics-shaped JSON files."""
    results = []
    for p in map(Path, paths):
        if p.is_dir():
            files = sorted(f for f in p.rglob("*.json") if not is_sidecar(f))
            for f in files:
                if is_metrics(read_json(f, what="JSON file")):
                    results.append(parse_result(str(f), read_metrics(f)))
                else:
                    log.debug("skipping %s: not a metrics file", f)
        else:
            results.append(parse_result(str(p), read_metrics(p)))
    if not results:
        raise InputError(f"no metrics files found in {', '.join(paths)}")
    return results


def make_tables(
    *,
    metrics: Sequence[str],
    out: str,
    protocol: str = "tubedetr",
    ablation_dataset: str = "hcstvg-v1",
    table1_variants: Sequence[str] = ("full",),
    paper: bool = True,
    thresholds: Sequence[float] = PAPER_THRESHOLDS,
) -> int:
    """The tables step: Tables 1, 2, 3, 7 and the sweeps of ``protocol`` from the metrics files
    (or folders of them) ``metrics``, vIoU@R at each of ``thresholds``, with the paper's numbers
    unless not ``paper``, as Markdown,
    LaTeX and CSV under ``out``, and every cell in ``out/metrics.json``; prints Tables 1 and 2
    and returns the exit code."""
    from zstvg.files.io import write_json
    from zstvg.files.provenance import write_provenance

    results = collect(list(metrics))
    reference = load_reference() if paper else None
    tables = build_tables(
        results,
        reference,
        protocol=protocol,
        ablation_dataset=ablation_dataset,
        table1_variants=table1_variants,
        thresholds=thresholds,
    )
    src = "" if reference is None else " Paper rows: the published numbers (percent)."
    scores = " / ".join(metric_names(thresholds))
    captions = {
        "table1": f"Table 1: {scores} (%), {protocol} protocol.{src}",
        "table2": f"Table 2: ablation on {ablation_dataset} (%), {protocol} protocol.{src}",
        "table3": f"Table 3: tuning objectives on {ablation_dataset} (%), {protocol} protocol.",
        "table7": f"Table 7: m_vIoU (%) per LRA learning rate and iterations N, "
        f"{protocol} protocol.",
        "sweeps": f"Fig. 6 sweeps (%), {protocol} protocol.",
    }
    out_dir = Path(out)
    written = write_tables(tables, out_dir, captions)
    # Every cell of this protocol as one nested JSON (backend/variant -> dataset -> metric):
    # DVC's metrics file (`dvc metrics show`, `dvc metrics diff` across commits).
    cells: dict[str, dict[str, Any]] = {}
    for r in results:
        if r.protocol == protocol:
            point = ",".join(f"{k}={v}" for k, v in r.sweep or ())
            key = f"{r.backend}/{r.variant}" + (f"@{point}" if point else "")
            cells.setdefault(key, {}).update({
                c: {k: v for k, v in m.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)}
                for c, m in r.columns.items()
            })  # fmt: skip
    write_json(out_dir / "metrics.json", dict(sorted(cells.items())))
    written.append(out_dir / "metrics.json")
    write_provenance(
        out_dir, step="tables", params=None, metrics=[r.path for r in results], protocol=protocol
    )
    for name in ("table1", "table2"):
        print(f"\n{captions[name]}\n\n{to_markdown(tables[name])}")
    n = sum(r.protocol == protocol for r in results)
    print(
        f"\n{n} of {len(results)} metrics files used ({protocol}); "
        f"{len(written)} files -> {out_dir}"
    )
    return 0
