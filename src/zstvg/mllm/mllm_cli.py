"""``zstvg make-tiny-checkpoint``: write a tiny random-weight checkpoint of one family."""

from __future__ import annotations

import argparse

from zstvg.config import Params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from zstvg.mllm.tiny import FAMILIES

    parser.add_argument(
        "--family", required=True, choices=FAMILIES.names(), help="architecture family to build"
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output directory (created; loadable with from_pretrained(DIR))",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="weight seed (default: the params file's seed)"
    )


def run(args: argparse.Namespace, params: Params) -> int:
    from zstvg.mllm.tiny import make_tiny_checkpoint

    seed = params.seed if args.seed is None else args.seed
    out = make_tiny_checkpoint(args.family, args.out, seed)
    print(
        f"wrote tiny {args.family} checkpoint (seed {seed}, random weights: chance-level "
        f"predictions) to {out}"
    )
    return 0
