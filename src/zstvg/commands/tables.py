"""``zstvg tables``: Table 1, 2, 3 and the Fig. 6 sweeps from metrics files (see tables.py)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from zstvg.config.params import Params
from zstvg.evaluation.protocols import PROTOCOLS
from zstvg.evaluation.tables import (
    build_tables,
    collect,
    load_reference,
    to_markdown,
    write_tables,
)
from zstvg.files.io import write_json, write_provenance

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics",
        nargs="+",
        required=True,
        metavar="PATH",
        help="metrics.json files, or directories searched recursively for *.json metrics files",
    )
    parser.add_argument("--out", required=True, help="directory for the .md, .tex and .csv files")
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="tubedetr",
        help="which protocol's metrics to tabulate (default: tubedetr)",
    )
    parser.add_argument(
        "--ablation-dataset",
        default="hcstvg-v1",
        help="dataset of Tables 2 and 3 (the paper's: hcstvg-v1)",
    )
    parser.add_argument(
        "--table1-variants",
        nargs="+",
        default=["full"],
        metavar="VARIANT",
        help="variants shown as method rows of Table 1 (default: full)",
    )
    parser.add_argument(
        "--no-paper",
        action="store_true",
        help="do not add the paper's published numbers and the differences",
    )


def run(args: argparse.Namespace, params: Params) -> int:
    results = collect(args.metrics)
    reference = None if args.no_paper else load_reference()
    tables = build_tables(
        results,
        reference,
        protocol=args.protocol,
        ablation_dataset=args.ablation_dataset,
        table1_variants=args.table1_variants,
    )
    src = "" if reference is None else " Paper rows: the published numbers (percent)."
    captions = {
        "table1": f"Table 1: m_vIoU / vIoU@0.3 / vIoU@0.5 (%), {args.protocol} protocol.{src}",
        "table2": f"Table 2: ablation on {args.ablation_dataset} (%), "
        f"{args.protocol} protocol.{src}",
        "table3": f"Table 3: tuning objectives on {args.ablation_dataset} (%), "
        f"{args.protocol} protocol.",
        "table7": f"Table 7: m_vIoU (%) per LRA learning rate and iterations N, "
        f"{args.protocol} protocol.",
        "sweeps": f"Fig. 6 sweeps (%), {args.protocol} protocol.",
    }
    out = Path(args.out)
    written = write_tables(tables, out, captions)
    # Every cell of this protocol as one nested JSON (backend/variant -> dataset -> metric):
    # DVC's metrics file (`dvc metrics show`, `dvc metrics diff` across commits).
    cells: dict[str, dict[str, Any]] = {}
    for r in results:
        if r.protocol == args.protocol:
            point = ",".join(f"{k}={v}" for k, v in r.sweep or ())
            key = f"{r.backend}/{r.variant}" + (f"@{point}" if point else "")
            cells.setdefault(key, {}).update({
                c: {k: v for k, v in m.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)}
                for c, m in r.columns.items()
            })  # fmt: skip
    write_json(out / "metrics.json", dict(sorted(cells.items())))
    written.append(out / "metrics.json")
    write_provenance(
        out, step="tables", params=None, metrics=[r.path for r in results], protocol=args.protocol
    )
    for name in ("table1", "table2"):
        print(f"\n{captions[name]}\n\n{to_markdown(tables[name])}")
    n = sum(r.protocol == args.protocol for r in results)
    print(
        f"\n{n} of {len(results)} metrics files used ({args.protocol}); "
        f"{len(written)} files -> {out}"
    )
    return 0
