"""``zstvg import-proposals``: validate the authors' released proposal files and copy them.

The options become one call of :func:`zstvg.proposals.official_import.import_proposals`, which
validates each file, writes its normalised copy and records the rejected ones with the reason
in ``<out>/manifest.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zstvg.config.params import Params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--src",
        required=True,
        metavar="DIR",
        help="folder of the authors' per-video proposal JSON files",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder: validated, normalised copies + manifest.json",
    )


def run(args: argparse.Namespace, params: Params) -> int:
    from zstvg.proposals.official_import import import_proposals

    return import_proposals(Path(args.src), Path(args.out))
