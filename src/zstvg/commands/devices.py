"""TODO docstring."""

from __future__ import annotations

import argparse
import json
import os
import time

from zstvg.config.params import Params
from zstvg.jobs.gpus import gpu_count, resolve_device


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hold", type=float, default=0.0, metavar="SECONDS",
        help="keep the claimed slot this long before exiting (to watch the pool)",
    )  # fmt: skip


def run(args: argparse.Namespace, params: Params) -> int:
    """Print the device a step would use here: the visible GPUs, the slot, torch's pick."""
    print(json.dumps({
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "gpus_on_machine": gpu_count(),
        "device": resolve_device(params.mllm.device),
        "pid": os.getpid(),
        "t_start": time.time(),
    }), flush=True)  # fmt: skip
    time.sleep(args.hold)
    return 0
