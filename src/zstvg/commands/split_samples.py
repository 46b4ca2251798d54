"""``zstvg split-samples``: a held-out split of a dataset's samples (a ``layers.holdout_fraction``
of its videos, drawn by a hash of ``seed`` and the video id) and the rest, as two samples.jsonl
files: probe-layers chooses a layer range on the held-out split, and the range is compared with
the default on the rest (:func:`zstvg.files.samples.holdout_split`).
"""

from __future__ import annotations

import argparse

from zstvg.config.params import Params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--samples", required=True, metavar="PATH", help="samples.jsonl from prepare-data"
    )
    parser.add_argument(
        "--held-out", required=True, metavar="PATH", help="samples.jsonl of the held-out split"
    )
    parser.add_argument("--rest", required=True, metavar="PATH", help="samples.jsonl of the rest")


def run(args: argparse.Namespace, params: Params) -> int:
    from zstvg.files.samples import holdout_split, read_samples, write_samples

    samples = read_samples(args.samples)
    held, rest = holdout_split(samples, params.layers.holdout_fraction, params.seed)
    write_samples(args.held_out, held)
    write_samples(args.rest, rest)
    print(f"split-samples: {len(held)} held-out samples ({len({s.video_id for s in held})} "
          f"videos) -> {args.held_out}, {len(rest)} others -> {args.rest}")  # fmt: skip
    return 0
