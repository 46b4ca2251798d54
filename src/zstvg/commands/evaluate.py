"""``zstvg evaluate``: score predictions against samples under a named protocol (tubedetr,
official or seed). The options below become one call of
:func:`zstvg.evaluation.evaluate.evaluate_predictions`, which writes metrics.json (and, with
``--per-sample``, one CSV row per sample) and prints the scores.
"""

from __future__ import annotations

import argparse

from zstvg.config.params import Params
from zstvg.evaluation.evaluate import evaluate_predictions
from zstvg.evaluation.protocols import PROTOCOLS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", required=True, help="samples.jsonl from prepare-data")
    parser.add_argument(
        "--predictions",
        required=True,
        help='predictions JSON: {"<sample_id>": {"span": [start, end), "boxes_xyxy": {...}}}',
    )
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="tubedetr",
        help="tubedetr (canonical, 5 fps grid), official (HC-STVG challenge script) or seed "
        "(the authors' released scoring, for comparison only)",
    )
    parser.add_argument(
        "--frames",
        default=None,
        metavar="MANIFEST",
        help="frames manifest.json from sample-frames: samples it failed score 0 with its "
        "reason under every protocol but seed, whatever the predictions say",
    )
    parser.add_argument("--out", required=True, help="metrics.json to write")
    parser.add_argument(
        "--per-sample",
        default=None,
        metavar="CSV",
        help="also write one row per sample (scores, status, reason) here",
    )
    parser.add_argument(
        "--dataset",
        default="unknown",
        help="dataset name recorded in metrics.json (vidstg* = per query type)",
    )
    parser.add_argument(
        "--backend", default="unknown", help="MLLM backend recorded in metrics.json (a Table 1 row)"
    )
    parser.add_argument(
        "--variant",
        default="full",
        help="method variant recorded in metrics.json (Table 2/3 row); a sweep point is written "
        "'<variant>@<param>=<value>', e.g. full@n_frames=8",
    )


def run(args: argparse.Namespace, params: Params) -> int:
    return evaluate_predictions(
        params=params,
        samples=args.samples,
        predictions=args.predictions,
        out=args.out,
        protocol=args.protocol,
        frames=args.frames,
        per_sample=args.per_sample,
        dataset=args.dataset,
        backend=args.backend,
        variant=args.variant,
    )
