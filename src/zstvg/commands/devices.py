"""``zstvg devices``: show the device a step would run on here (the visible GPUs, the slot
``--claim-gpu`` took, torch's choice for ``mllm.device``), as one JSON line. The options below
become one call of :func:`zstvg.jobs.gpus.show_device`.
"""

from __future__ import annotations

import argparse

from zstvg.config.params import Params
from zstvg.jobs.gpus import show_device


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hold", type=float, default=0.0, metavar="SECONDS",
        help="keep the claimed slot this long before exiting (to watch the pool)",
    )  # fmt: skip


def run(args: argparse.Namespace, params: Params) -> int:
    return show_device(params.mllm.device, hold=args.hold)
