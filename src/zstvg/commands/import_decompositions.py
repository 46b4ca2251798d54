"""``zstvg import-decompositions``: load the authors' released decomposition JSON into the cache.

The options become one call of :func:`zstvg.decompose.official_import.import_decompositions`,
which matches the file's entries to the samples, stores them in the decomposition cache and
writes the optional report; see that module for the format and matching.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zstvg.config.params import Params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--file",
        required=True,
        metavar="PATH",
        help="the authors' decomposition JSON (e.g. "
        "gpt4_decompose_attr_action.json), keyed by video file name",
    )
    parser.add_argument(
        "--samples",
        required=True,
        metavar="PATH",
        help="samples.jsonl whose samples the entries are matched to",
    )
    parser.add_argument(
        "--report",
        metavar="PATH",
        help="also write the import report (counts, unmatched keys) as JSON",
    )


def run(args: argparse.Namespace, params: Params) -> int:
    from zstvg.decompose.official_import import import_decompositions

    return import_decompositions(
        Path(args.file),
        Path(args.samples),
        params,
        report_path=Path(args.report) if args.report else None,
    )
