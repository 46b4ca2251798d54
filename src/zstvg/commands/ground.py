"""``zstvg ground``: the method on every sample, one or more variants, one MLLM. The options
below become one call of :func:`zstvg.grounding.ground.ground`, which plans the samples (all,
``--sample-id``, or one ``--shard``), resumes finished records, loads the MLLM on the first
sample to compute, writes each variant's records, predictions and manifest (or merges the shards'
records) and prints the summary.
"""

from __future__ import annotations

import argparse

from zstvg.config.params import Params
from zstvg.grounding.ground import ground
from zstvg.jobs import shards


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from zstvg.config.variants import ALL_VARIANTS as VARIANTS
    from zstvg.files.samples import add_sample_id_argument

    parser.add_argument("--samples", required=True, help="samples.jsonl from prepare-data")
    parser.add_argument("--frames", required=True, help="frames manifest.json (sample-frames)")
    parser.add_argument(
        "--proposals", required=True, help="proposals manifest.json (import-proposals/propose)"
    )
    parser.add_argument("--decompositions", required=True, help="decompositions.jsonl (decompose)")
    parser.add_argument("--model", required=True, help="a key of `models` in the params")
    parser.add_argument("--variant", default=None, choices=list(VARIANTS), help="method variant")
    parser.add_argument(
        "--variants", default=None, metavar="A,B,C",
        help="several variants in one job, sharing every stage they have in common (features, "
        f"p = 0 maps, tuned prompts); results equal separate runs. Known: {', '.join(VARIANTS)}",
    )  # fmt: skip
    parser.add_argument("--out", required=True, metavar="DIR", help="records + manifest folder")
    parser.add_argument(
        "--predictions", default=None, metavar="FILE",
        help="predictions JSON to write (default: <out>/predictions.json)",
    )  # fmt: skip
    parser.add_argument(
        "--predictions-dir", default=None, metavar="DIR",
        help="with --variants: write <DIR>/<variant>.json "
        "(default: <out>/<variant>/predictions.json)",
    )  # fmt: skip
    add_sample_id_argument(parser)
    shards.add_arguments(
        parser, "their samples' records (per variant folder)", merges="predictions and manifests"
    )


def run(args: argparse.Namespace, params: Params) -> int:
    return ground(
        params=params,
        samples=args.samples,
        frames=args.frames,
        proposals=args.proposals,
        decompositions=args.decompositions,
        model=args.model,
        out=args.out,
        variant=args.variant,
        variants=args.variants,
        predictions=args.predictions,
        predictions_dir=args.predictions_dir,
        sample_ids=args.sample_ids,
        shard=args.shard,
        merge=args.merge,
        show_progress=not args.no_progress,
    )
