"""``zstvg fingerprint-inputs``: the content identity of the raw inputs that ``run`` selects.

DVC's first stage. The option becomes one call of :func:`zstvg.config.inputs.fingerprint_inputs`,
which fingerprints the datasets and models that ``run`` selects and writes one file per kind of
reader (that module says which and why).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zstvg.config.params import Params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder: datasets/<name>.json, proposal_checkpoints.json, "
        "mllm_checkpoints.json",
    )


def run(args: argparse.Namespace, params: Params) -> int:
    from zstvg.config.inputs import fingerprint_inputs

    return fingerprint_inputs(params, out=Path(args.out))
