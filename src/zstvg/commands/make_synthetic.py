"""``zstvg make-synthetic``: write the built-in synthetic benchmark.

The options (defaults from params: ``seed``, ``synthetic.n_videos``) become one call of
:func:`zstvg.data.synthetic_files.make_synthetic`, which checks the settings, encodes the videos
(reusing those of an unchanged plan) and writes the annotations, decompositions, proposals,
manifest and provenance.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zstvg.config.params import Params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="output folder (default: the parent of params datasets.synthetic.videos, "
        "results/synthetic/raw)",
    )
    parser.add_argument(
        "--n-videos",
        type=int,
        default=None,
        metavar="N",
        help="number of videos, one query each (default: params synthetic.n_videos)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="S",
        help="random seed; video i depends only on (seed, i) (default: params seed)",
    )
    parser.add_argument(
        "--codec",
        choices=["libx264", "mpeg4"],
        default=None,
        help="video encoder (default: libx264 when PyAV has it, else mpeg4)",
    )


def run(args: argparse.Namespace, params: Params) -> int:
    from zstvg.data.synthetic_files import make_synthetic

    return make_synthetic(
        params,
        out=Path(args.out) if args.out else None,
        seed=params.seed if args.seed is None else args.seed,
        n_videos=params.synthetic.n_videos if args.n_videos is None else args.n_videos,
        codec=args.codec,
    )
